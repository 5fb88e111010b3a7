/* Cases that broke under the launcher's loader (found by review), one per mode; each prints
 * deterministic text and exits 0 when it behaves as natively:
 *   sigret       a signal interrupts a spin loop; the next libc calls must still be hooked
 *                (the counting hook vs strace checks it)
 *   forkdl N     fork N times while 3 threads create threads; each child creates a thread
 *                (the launcher's malloc lock must not be inherited taken)
 *   chain N      N threads, each creating the next and exiting; prints the RSS growth
 *                bucket (a TLS block cache leaked per thread)
 *   clonefs      a CLONE_VM|CLONE_THREAD child without CLONE_SETTLS faults at once; its
 *                SIGSEGV handler must run with the program's thread pointer
 *   setfs        a SIGALRM handler sets %fs with arch_prctl over an interrupted system call;
 *                the new thread pointer must stay after the handler
 *   readlink     readlink of /proc/self/exe leaves the bytes past its answer alone
 *   badmask      rt_sigprocmask with an invalid `how` and an unreadable set answers EFAULT
 *                (abseil's AddressIsReadable) */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long rdfs(void)
{
	unsigned long v;
	__asm__ volatile("rdfsbase %0" : "=r"(v));
	return v;
}

static volatile int hits;
static void on_alarm(int s) { (void)s; hits++; }

static int sigret(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, 0);
	struct itimerval it = {{0, 0}, {0, 2000}};
	setitimer(ITIMER_REAL, &it, 0);
	while (!hits)
		; /* no system call: the signal interrupts application code */
	pid_t p = getppid(), q = getppid();
	printf("sigret: %s\n", p == q ? "ok" : "bad");
	return 0;
}

static void *nop(void *a) { return a; }
static void *churn(void *a)
{
	for (;;) {
		pthread_t t;
		if (pthread_create(&t, 0, nop, 0) == 0)
			pthread_join(t, 0);
	}
	return a;
}

static int forkdl(int n)
{
	for (int i = 0; i < 3; i++) {
		pthread_t t;
		pthread_create(&t, 0, churn, 0);
	}
	int ok = 0;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			alarm(5);
			pthread_t t;
			pthread_create(&t, 0, nop, 0);
			pthread_join(t, 0);
			_exit(0);
		}
		int st;
		waitpid(p, &st, 0);
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	printf("forkdl: %d of %d children fine\n", ok, n);
	fflush(stdout);
	_exit(0);
}

static int left, finished;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void *link_(void *a)
{
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&mu);
	int more = --left > 0;
	pthread_mutex_unlock(&mu);
	if (more) {
		pthread_t t;
		while (pthread_create(&t, &at, link_, 0))
			usleep(100);
	} else {
		pthread_mutex_lock(&mu);
		finished = 1;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&mu);
	}
	return a;
}
static long rss(void)
{
	char b[256];
	long v = 0;
	FILE *f = fopen("/proc/self/status", "r");
	while (f && fgets(b, sizeof b, f))
		if (!strncmp(b, "VmRSS:", 6))
			v = atol(b + 6);
	if (f)
		fclose(f);
	return v;
}
static int chain(int n)
{
	left = n;
	long r0 = rss();
	pthread_t t;
	pthread_create(&t, 0, link_, 0);
	pthread_detach(t);
	pthread_mutex_lock(&mu);
	while (!finished)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	usleep(100000);
	long grew = rss() - r0;
	printf("chain: RSS grew %s\n", grew < 4096 ? "less than 4 MiB" : "4 MiB or more");
	if (grew >= 4096)
		fprintf(stderr, "chain: %d threads, RSS grew by %ld KiB\n", n, grew);
	return 0;
}

static unsigned long parent_fs;
static void on_segv(int s, siginfo_t *si, void *uc)
{
	(void)s, (void)si, (void)uc;
	unsigned long fs = rdfs();
	char b[64];
	int n = snprintf(b, sizeof b, "clonefs: handler thread pointer %s\n",
			 fs == parent_fs ? "ok" : "wrong");
	syscall(SYS_write, 1, b, n);
	syscall(SYS_exit_group, 0);
}
static int faulting_child(void *a)
{
	(void)a;
	*(volatile int *)8 = 1; /* before any system call */
	return 0;
}
static int clonefs(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, 0);
	parent_fs = rdfs();
	char *stk = malloc(1 << 16);
	clone(faulting_child, stk + (1 << 16),
	      CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_FS | CLONE_FILES, 0);
	for (;;)
		pause();
}

static char *area;
static unsigned long new_fs;
static volatile int done;
static void set_fs_in_handler(int s)
{
	(void)s;
	unsigned long tp = rdfs();
	memcpy(area, (char *)tp - 1024, 1024 + 4096); /* a copy of this thread's TLS */
	new_fs = (unsigned long)area + 1024;
	syscall(SYS_arch_prctl, ARCH_SET_FS, new_fs);
	done = 1;
}
static int setfs(void)
{
	area = (char *)(((unsigned long)malloc(1024 + 4096 + 8192) + 4095) & ~4095UL);
	struct sigaction sa = {0};
	sa.sa_handler = set_fs_in_handler;
	sigaction(SIGALRM, &sa, 0);
	struct itimerval it = {{0, 0}, {0, 3000}};
	setitimer(ITIMER_REAL, &it, 0);
	while (!done)
		syscall(SYS_getppid); /* mostly inside a dispatch */
	printf("setfs: %s\n", rdfs() == new_fs ? "kept" : "lost");
	return 0;
}

static int readlink_buf(void)
{
	char buf[4096];
	memset(buf, 'X', sizeof buf);
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf);
	printf("readlink: %s\n", n > 0 && buf[n] == 'X' ? "bytes past the answer untouched" : "bad");
	return 0;
}

static int badmask(void)
{
	long r = syscall(SYS_rt_sigprocmask, ~0L, (void *)0x7000deadb000UL, NULL, 8);
	printf("badmask: %ld %s\n", r, r == -1 && errno == EFAULT ? "EFAULT" : "other");
	return 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? atoi(argv[2]) : 100;
	if (!strcmp(m, "sigret"))
		return sigret();
	if (!strcmp(m, "forkdl"))
		return forkdl(n);
	if (!strcmp(m, "chain"))
		return chain(n);
	if (!strcmp(m, "clonefs"))
		return clonefs();
	if (!strcmp(m, "setfs"))
		return setfs();
	if (!strcmp(m, "readlink"))
		return readlink_buf();
	if (!strcmp(m, "badmask"))
		return badmask();
	fprintf(stderr, "usage: loadercases sigret|forkdl N|chain N|clonefs|setfs\n");
	return 2;
}
