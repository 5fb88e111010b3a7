/* 32 threads that each make many system calls through syscall(2) and check every result.
 * Usage: threads [iterations-per-thread] */
#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <time.h>

#define NTHREADS 32

static long iterations = 2000;
static pid_t pid;
static int devnull;
static pthread_barrier_t start;

static void *worker(void *arg)
{
	long id = (long)arg;
	long tid = syscall(SYS_gettid);
	struct timespec prev = {0, 0};
	char buf[64];

	pthread_barrier_wait(&start);
	for (long i = 0; i < iterations; i++) {
		long r = syscall(SYS_getpid);
		CHECK(r == pid, "thread %ld: getpid() = %ld, expected %d", id, r, pid);

		r = syscall(SYS_gettid);
		CHECK(r == tid, "thread %ld: gettid() = %ld, expected %ld", id, r, tid);

		int n = snprintf(buf, sizeof buf, "thread %ld iteration %ld\n", id, i);
		r = syscall(SYS_write, devnull, buf, n);
		CHECK(r == n, "thread %ld: write() = %ld, expected %d", id, r, n);

		struct timespec ts;
		r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		CHECK(r == 0, "thread %ld: clock_gettime() = %ld", id, r);
		CHECK(ts.tv_sec > prev.tv_sec || (ts.tv_sec == prev.tv_sec && ts.tv_nsec >= prev.tv_nsec),
		      "thread %ld: CLOCK_MONOTONIC went backwards", id);
		prev = ts;

		errno = 0;
		r = syscall(SYS_close, -1);
		CHECK(r == -1 && errno == EBADF, "thread %ld: close(-1) = %ld errno %d", id, r, errno);

		if ((i & 63) == 0)
			sched_yield();
	}
	return (void *)(id + 1000);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		iterations = atol(argv[1]);
	pid = getpid();
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(devnull >= 0, "open /dev/null: %s", strerror(errno));
	pthread_barrier_init(&start, NULL, NTHREADS);

	pthread_t threads[NTHREADS];
	for (long i = 0; i < NTHREADS; i++) {
		int e = pthread_create(&threads[i], NULL, worker, (void *)i);
		CHECK(e == 0, "pthread_create: %s", strerror(e));
	}
	for (long i = 0; i < NTHREADS; i++) {
		void *ret;
		int e = pthread_join(threads[i], &ret);
		CHECK(e == 0, "pthread_join: %s", strerror(e));
		CHECK(ret == (void *)(i + 1000), "thread %ld returned %p", i, ret);
	}
	printf("threads: %d threads joined\n", NTHREADS);
	int status = zpt_exit_status();
	printf("threads: %s\n", status ? "FAILED" : "OK");
	return status;
}
