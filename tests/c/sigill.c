/* SIGILL under the runtime.
 * Usage: sigill app        its own SIGILL handler catches ud2 (twice, with a siglongjmp), reads
 *                          its handler back, then dies of SIGILL with the default action.
 *        sigill half LIB N  calls LIB's raw_getppid N times, then puts the first byte of its
 *                          site back to 0f through /proc/self/mem (natively a no-op; under the
 *                          runtime the site becomes 0f d0, a lazy rewrite caught half-way) and
 *                          calls it N times more: each call must still return getppid(). */
#include "common.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

static sigjmp_buf env;
static volatile int caught;

static void on_ill(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (sig == SIGILL && si->si_signo == SIGILL)
		caught++;
	siglongjmp(env, 1);
}

static int app(void)
{
	struct sigaction sa = {0}, back = {0};
	sa.sa_sigaction = on_ill;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGILL, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		if (sigsetjmp(env, 1) == 0)
			__asm__ volatile("ud2");
	CHECK(caught == 2, "caught %d SIGILL, expected 2", caught);
	CHECK(sigaction(SIGILL, NULL, &back) == 0 && back.sa_sigaction == on_ill,
	      "sigaction does not give the handler back");
	printf("sigill app: caught %d\n", caught);
	fflush(stdout);
	signal(SIGILL, SIG_DFL);
	__asm__ volatile("ud2");
	printf("sigill app: survived ud2 with the default action\n");
	return 1;
}

/* The address of the first syscall (0f 05) or rewritten site (ff d0) in f's first bytes. */
static unsigned char *site_of(unsigned char *f)
{
	for (int i = 0; i < 64; i++)
		if ((f[i] == 0x0f && f[i + 1] == 0x05) || (f[i] == 0xff && f[i + 1] == 0xd0))
			return f + i;
	return NULL;
}

static int half(const char *lib, int n)
{
	void *h = dlopen(lib, RTLD_NOW);
	if (!h) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	long (*f)(void) = (long (*)(void))dlsym(h, "raw_getppid");
	if (!f) {
		printf("dlsym: %s\n", dlerror());
		return 1;
	}
	for (int i = 0; i < n; i++)
		CHECK(f() == getppid(), "call %d: wrong result", i);
	unsigned char *site = site_of((unsigned char *)f);
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	unsigned char b = 0x0f;
	if (!site || mem < 0 || pwrite(mem, &b, 1, (off_t)(uintptr_t)site) != 1) {
		printf("sigill half: no site, or cannot write it: %s\n", strerror(errno));
		return 1;
	}
	close(mem);
	for (int i = 0; i < n; i++)
		CHECK(f() == getppid(), "call %d after the write: wrong result", i);
	printf("sigill half: OK\n");
	return zpt_exit_status();
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "app") == 0)
		return app();
	if (argc >= 4 && strcmp(argv[1], "half") == 0)
		return half(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: sigill app | sigill half LIB N\n");
	return 2;
}
