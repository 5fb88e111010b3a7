/* Shared helpers for the test programs: raw `syscall` instructions in the main binary and a
 * failure counter. Every program prints only deterministic text to stdout, so that the output
 * under libzpoline.so can be compared byte for byte with the native run. */
#ifndef ZPTEST_COMMON_H
#define ZPTEST_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_long zpt_failures;

/* Report a failed check on stderr and count it. */
#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			atomic_fetch_add(&zpt_failures, 1);                                \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__,   \
				#cond);                                                    \
			fprintf(stderr, __VA_ARGS__);                                      \
			fputc('\n', stderr);                                               \
		}                                                                          \
	} while (0)

/* Raw system calls issued by a `syscall` instruction inside this binary (not in libc). The
 * kernel clobbers only rcx and r11. */
static inline long raw_syscall0(long nr)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
	return ret;
}

static inline long raw_syscall3(long nr, long a1, long a2, long a3)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Exit status: 0 when every check passed, 1 otherwise. */
static inline int zpt_exit_status(void)
{
	long n = atomic_load(&zpt_failures);
	if (n) {
		fprintf(stderr, "%ld check(s) failed\n", n);
		return 1;
	}
	return 0;
}

#endif
