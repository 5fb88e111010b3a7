/* pthread_cancel of threads blocked in system calls (read on a pipe, nanosleep, futex wait via
 * pthread_cond_wait): they must be cancelled and joined with PTHREAD_CANCELED.
 * Usage: cancel [rounds] */
#include "common.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void *blocked_read(void *arg)
{
	int fd = *(int *)arg;
	char c;
	for (;;)
		read(fd, &c, 1);
	return NULL;
}

static void *blocked_sleep(void *arg)
{
	(void)arg;
	struct timespec ts = {100, 0};
	for (;;)
		nanosleep(&ts, NULL);
	return NULL;
}

static void unlock(void *arg)
{
	pthread_mutex_unlock(arg);
}

static void *blocked_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	pthread_cleanup_push(unlock, &lock);
	for (;;)
		pthread_cond_wait(&cond, &lock);
	pthread_cleanup_pop(1);
	return NULL;
}

static void cancel_one(const char *what, void *(*fn)(void *), void *arg)
{
	pthread_t t;
	CHECK(pthread_create(&t, NULL, fn, arg) == 0, "pthread_create");
	/* Let it block (or not: cancellation must work either way). */
	sched_yield();
	struct timespec ts = {0, 1000000};
	nanosleep(&ts, NULL);
	CHECK(pthread_cancel(t) == 0, "pthread_cancel");
	void *ret = NULL;
	CHECK(pthread_join(t, &ret) == 0, "pthread_join");
	CHECK(ret == PTHREAD_CANCELED, "%s: thread returned %p, not PTHREAD_CANCELED", what, ret);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 20;
	int p[2];
	CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
	for (int r = 0; r < rounds; r++) {
		cancel_one("read", blocked_read, &p[0]);
		cancel_one("nanosleep", blocked_sleep, NULL);
		cancel_one("pthread_cond_wait", blocked_cond, NULL);
	}
	printf("cancel: %d rounds\n", rounds);
	int status = zpt_exit_status();
	printf("cancel: %s\n", status ? "FAILED" : "OK");
	return status;
}
