/*
 * Measured program of zpoline-bench: times getpid system calls.
 *
 * Usage: getpid_loop MODE [ITERS [REPS]]
 *   MODE asm    inline-asm `syscall` instruction in this program's own code
 *   MODE libc   glibc's syscall(SYS_getpid)
 *   MODE probe  prints whether the zpoline-bench pass-through hook answers its probe call,
 *               for inline asm and for libc: "probe asm=hooked|native libc=hooked|native"
 * Runs a warm-up of ITERS/10 calls, then REPS times ITERS calls, each timed with
 * clock_gettime(CLOCK_MONOTONIC) (vDSO: no system call), and prints one line:
 *   "getpid_loop mode=MODE iters=N reps=R median_ns=X min_ns=Y max_ns=Z"
 * Exits 1 if a getpid result is wrong (the sum of all results is checked).
 *
 * Build: cc -O2 -o getpid_loop getpid_loop.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Must match passthrough.c. */
#define PROBE_ARG 0x7a70626e6368L
#define PROBE_RET 0x686f6f6b6564L

#define MAX_REPS 101

static inline long asm_syscall1(long nr, long a1)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a1) : "rcx", "r11", "memory");
	return ret;
}

static inline long asm_getpid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return ret;
}

static __attribute__((noinline)) long loop_asm(long n)
{
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += asm_getpid();
	return sum;
}

static __attribute__((noinline)) long loop_libc(long n)
{
	long sum = 0;
	for (long i = 0; i < n; i++)
		sum += syscall(SYS_getpid);
	return sum;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int usage(void)
{
	fprintf(stderr, "usage: getpid_loop asm|libc|probe [ITERS [REPS]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1];

	if (strcmp(mode, "probe") == 0) {
		long a = asm_syscall1(SYS_getppid, PROBE_ARG);
		long l = syscall(SYS_getppid, PROBE_ARG);
		printf("probe asm=%s libc=%s\n", a == PROBE_RET ? "hooked" : "native",
		       l == PROBE_RET ? "hooked" : "native");
		return 0;
	}

	long (*loop)(long);
	if (strcmp(mode, "asm") == 0)
		loop = loop_asm;
	else if (strcmp(mode, "libc") == 0)
		loop = loop_libc;
	else
		return usage();

	long iters = argc > 2 ? atol(argv[2]) : 1000000;
	int reps = argc > 3 ? atoi(argv[3]) : 5;
	if (iters < 1 || reps < 1 || reps > MAX_REPS)
		return usage();

	long pid = getpid();
	long warm = iters / 10 > 1000 ? iters / 10 : 1000;
	if (loop(warm) != warm * pid) {
		fprintf(stderr, "getpid_loop: wrong getpid result during warm-up\n");
		return 1;
	}

	double per_call[MAX_REPS];
	for (int r = 0; r < reps; r++) {
		double t0 = now_ns();
		long sum = loop(iters);
		double t1 = now_ns();
		if (sum != iters * pid) {
			fprintf(stderr, "getpid_loop: wrong getpid result\n");
			return 1;
		}
		per_call[r] = (t1 - t0) / (double)iters;
	}
	qsort(per_call, reps, sizeof per_call[0], cmp_double);
	double median = reps % 2 ? per_call[reps / 2]
				 : (per_call[reps / 2 - 1] + per_call[reps / 2]) / 2;
	printf("getpid_loop mode=%s iters=%ld reps=%d median_ns=%.2f min_ns=%.2f max_ns=%.2f\n", mode,
	       iters, reps, median, per_call[0], per_call[reps - 1]);
	return 0;
}
