/* Interrupted system calls: with SA_RESTART a read blocked on a pipe is restarted and returns the
 * data; without it, read fails with EINTR; a nanosleep stopped by SIGSTOP and continued by
 * SIGCONT (no handler) is restarted by the kernel (restart_syscall) and completes.
 * Usage: restart */
#include "common.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

static volatile sig_atomic_t signals;

static void handler(int sig)
{
	(void)sig;
	signals++;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Waits until `pid` is blocked in system call `nr` (from /proc/<pid>/syscall, which says "running" or "-1 ..." otherwise), so that a signal
 * sent next interrupts that call. Gives up after ten seconds (the test then fails on its output). */
static void wait_blocked(pid_t pid, long nr)
{
	char path[64], buf[128];
	snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < 10000; i++) {
		FILE *f = fopen(path, "r");
		if (f) {
			int ok = fgets(buf, sizeof buf, f) != NULL && buf[0] >= '0' && buf[0] <= '9' && atol(buf) == nr;
			fclose(f);
			if (ok)
				return;
		}
		pause_ms(1);
	}
	fprintf(stderr, "child %d never blocked in system call %ld\n", (int)pid, nr);
}

/* A child blocks in read(); the parent sends it SIGUSR1 three times (once without SA_RESTART),
 * each time once it is blocked, then writes one byte. The child prints what read returned. */
static void read_case(int flags, const char *label)
{
	int p[2], q[2];
	CHECK(pipe(p) == 0 && pipe(q) == 0, "pipe");
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = handler;
		sa.sa_flags = flags;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		close(p[1]);
		close(q[0]);
		if (write(q[1], "r", 1) != 1)
			_exit(3);
		char c = 0;
		errno = 0;
		ssize_t n = read(p[0], &c, 1);
		int e = errno;
		/* Without SA_RESTART the first signal ends the read; report only that. */
		printf("restart: %s: read returned %zd%s%s\n", label, n, n < 0 ? " errno " : "",
		       n < 0 ? strerrorname_np(e) : (c == 'x' ? " with the data" : " with wrong data"));
		fflush(stdout);
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	char c;
	CHECK(read(q[0], &c, 1) == 1, "child did not start");
	for (int i = 0; i < (flags & SA_RESTART ? 3 : 1); i++) {
		wait_blocked(child, SYS_read);
		kill(child, SIGUSR1);
	}
	if (flags & SA_RESTART) {
		wait_blocked(child, SYS_read);
		CHECK(write(p[1], "x", 1) == 1, "write: %s", strerror(errno));
	}
	int status;
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(p[1]);
	close(q[0]);
}

static void stop_case(void)
{
	int q[2];
	CHECK(pipe(q) == 0, "pipe");
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		close(q[0]);
		if (write(q[1], "s", 1) != 1)
			_exit(3);
		struct timespec ts = {0, 200000000}, rem = {0, 0};
		int r = nanosleep(&ts, &rem);
		printf("restart: nanosleep stopped and continued returned %d\n", r);
		fflush(stdout);
		_exit(0);
	}
	close(q[1]);
	char c;
	CHECK(read(q[0], &c, 1) == 1, "child did not start");
	wait_blocked(child, SYS_clock_nanosleep);
	kill(child, SIGSTOP);
	int status;
	CHECK(waitpid(child, &status, WUNTRACED) == child && WIFSTOPPED(status), "child did not stop");
	kill(child, SIGCONT);
	CHECK(waitpid(child, &status, 0) == child, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status 0x%x", status);
	close(q[0]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	read_case(SA_RESTART, "SA_RESTART");
	read_case(0, "no SA_RESTART");
	stop_case();
	int status = zpt_exit_status();
	printf("restart: %s\n", status ? "FAILED" : "OK");
	return status;
}
