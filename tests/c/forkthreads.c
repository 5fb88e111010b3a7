/* A process with live threads forks: only the forking thread exists in the child, which then
 * runs threads of its own. Each side prints its pid so the test can match audit reports.
 * Usage: forkthreads */
#include "common.h"

#include <pthread.h>
#include <sys/wait.h>

#define NTHREADS 12

static int gate[2];

/* Makes system calls (so it claims a dispatch stack), then waits until released. */
static void *blocked(void *arg)
{
	(void)arg;
	char c;
	CHECK(syscall(SYS_gettid) > 0, "gettid");
	CHECK(read(gate[0], &c, 1) == 1, "read: %s", strerror(errno));
	return NULL;
}

static void *quick(void *arg)
{
	(void)arg;
	CHECK(syscall(SYS_gettid) > 0, "gettid");
	return NULL;
}

static void run_quick_threads(void)
{
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, quick, NULL) == 0, "pthread_create");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
}

int main(void)
{
	CHECK(pipe(gate) == 0, "pipe: %s", strerror(errno));
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&t[i], NULL, blocked, NULL) == 0, "pthread_create");
	usleep(100 * 1000);
	fflush(stdout);
	pid_t c = fork();
	CHECK(c >= 0, "fork: %s", strerror(errno));
	if (c == 0) {
		run_quick_threads();
		printf("forkthreads: child %d OK\n", getpid());
		exit(zpt_exit_status());
	}
	int st = 0;
	CHECK(waitpid(c, &st, 0) == c, "waitpid: %s", strerror(errno));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x", st);
	for (int i = 0; i < NTHREADS; i++)
		CHECK(write(gate[1], "x", 1) == 1, "write: %s", strerror(errno));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	printf("forkthreads: parent %d OK\n", getpid());
	return zpt_exit_status();
}
