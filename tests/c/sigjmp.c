/* A SIGALRM handler that leaves with siglongjmp, often while the main loop is inside a system
 * call (and so, under the runtime, inside the runtime and the hook). After thousands of such
 * escapes, system calls must still work and give right results.
 * Usage: sigjmp [jumps] [interval-µs] */
#include "common.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>

static sigjmp_buf env;
static volatile sig_atomic_t armed;

static void handler(int sig)
{
	(void)sig;
	if (armed) {
		armed = 0;
		siglongjmp(env, 1);
	}
}

int main(int argc, char **argv)
{
	long target = argc > 1 ? atol(argv[1]) : 2000;
	long interval = argc > 2 ? atol(argv[2]) : 100;
	long pid = getpid();
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
	struct itimerval it = {{0, interval}, {0, interval}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer: %s", strerror(errno));

	volatile long jumps = 0;
	volatile long calls = 0;
	/* However slow the machine, stop after this many system calls. */
	long cap = target * 100000;
	sigsetjmp(env, 1);
	while (jumps < target && calls < cap) {
		if (!armed) {
			jumps++;
			armed = 1;
		}
		long r = raw_syscall0(SYS_getpid);
		CHECK(r == pid, "raw getpid = %ld", r);
		CHECK(syscall(SYS_getpid) == pid, "getpid");
		CHECK(write(devnull, "x", 1) == 1, "write: %s", strerror(errno));
		calls++;
	}
	armed = 0;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);

	/* Everything still works after the escapes. */
	CHECK(getpid() == pid, "getpid after the jumps");
	int p[2];
	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
	CHECK(write(p[1], "after", 5) == 5, "write after the jumps");
	char buf[8] = {0};
	CHECK(read(p[0], buf, sizeof buf) == 5 && memcmp(buf, "after", 5) == 0, "read after the jumps");
	printf("sigjmp: %s\n", jumps >= target ? "enough jumps" : "too few jumps");
	fprintf(stderr, "sigjmp: %ld jumps, %ld loop iterations\n", (long)jumps, (long)calls);
	int status = zpt_exit_status();
	printf("sigjmp: %s\n", status ? "FAILED" : "OK");
	return status;
}
