/* Run with `tcc -run`: compiled into memory after tcc started, so its raw syscalls were never
 * rewritten. */
#include <stdio.h>
#include <unistd.h>

long raw_getpid(void)
{
	long r;
	__asm__ __volatile__("syscall" : "=a"(r) : "a"(39L) : "rcx", "r11", "memory");
	return r;
}

int main(void)
{
	for (int i = 0; i < 5; i++)
		if (raw_getpid() != getpid()) {
			printf("tcc: wrong pid\n");
			return 1;
		}
	printf("tcc: OK\n");
	return 0;
}
