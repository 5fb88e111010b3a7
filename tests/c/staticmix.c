/* A program for the launcher's loader, built with -static (and -static-pie): threads, fork,
 * signal handlers (one interrupting blocked system calls), file I/O, malloc large and small,
 * the vDSO, thread-local storage. Prints what it saw; the output must match the native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __thread int tls_value = 7;
static volatile sig_atomic_t usr1_seen, alarms;

static void on_usr1(int sig) { usr1_seen = sig; }
static void on_alarm(int sig) { (void)sig; alarms++; }

static void *worker(void *arg)
{
	long id = (long)arg;
	tls_value = (int)id * 10;
	char path[64];
	snprintf(path, sizeof path, "/tmp/zp-staticmix-%d-%ld", getpid(), id);
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0)
		return (void *)1;
	for (int i = 0; i < 50; i++) {
		char line[32];
		int n = snprintf(line, sizeof line, "%ld:%d\n", id, i);
		if (write(fd, line, n) != n)
			return (void *)2;
	}
	lseek(fd, 0, SEEK_SET);
	char buf[4096];
	ssize_t got = read(fd, buf, sizeof buf);
	close(fd);
	unlink(path);
	char *big = malloc(1 << 20); /* mmap'ed */
	memset(big, (int)id, 1 << 20);
	free(big);
	return (void *)(long)(got > 0 && tls_value == id * 10 ? 0 : 3);
}

int main(int argc, char **argv)
{
	printf("argc %d argv0-base %s last %s\n", argc, strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0], argv[argc - 1]);
	printf("env ZPTEST_GREETING=%s\n", getenv("ZPTEST_GREETING") ? getenv("ZPTEST_GREETING") : "(unset)");
	printf("pagesz %s random %s\n", getauxval(AT_PAGESZ) == 4096 ? "ok" : "bad", getauxval(AT_RANDOM) ? "ok" : "bad");
	printf("tls %d\n", tls_value);

	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	printf("usr1 handler ran: %s\n", usr1_seen == SIGUSR1 ? "yes" : "no");

	/* A timer storm while threads work and the main thread blocks. */
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 500}, {0, 500}};
	setitimer(ITIMER_REAL, &it, NULL);

	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	int bad = 0;
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += r != NULL;
	}
	struct timespec ts = {0, 3000000};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("threads ok: %s, alarms seen: %s\n", bad ? "no" : "yes", alarms > 0 ? "yes" : "no");

	int pipefd[2];
	if (pipe(pipefd))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		const char msg[] = "hello from the child";
		if (write(pipefd[1], msg, sizeof msg) != sizeof msg)
			_exit(1);
		_exit(tls_value == 7 ? 5 : 6);
	}
	close(pipefd[1]);
	char buf[64] = {0};
	ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
	int status;
	waitpid(pid, &status, 0);
	printf("child said '%s' (%zd bytes), exit %d\n", buf, n, WEXITSTATUS(status));

	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("clock %s\n", now.tv_sec > 0 || now.tv_nsec > 0 ? "ok" : "bad");
	fflush(stdout);
	return 0;
}
