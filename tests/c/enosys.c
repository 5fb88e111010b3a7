/* Out-of-range and unusual syscall numbers through syscall(3): the results must be the same
 * natively and under the runtime (the kernel answers -ENOSYS for numbers it does not know, and
 * uses only the low 32 bits of rax). Prints the result of each, with the pid replaced by "pid".
 * Usage: enosys [range | highbits] */
#include "common.h"

static void try(const char *label, long nr)
{
	errno = 0;
	long r = syscall(nr, 0, 0, 0, 0, 0, 0);
	int e = errno;
	if (r == getpid())
		printf("%s: returned pid\n", label);
	else if (r == -1)
		printf("%s: -1 errno %s\n", label, strerrorname_np(e) ? strerrorname_np(e) : "?");
	else
		printf("%s: returned %ld\n", label, r);
}

int main(int argc, char **argv)
{
	const char *set = argc > 1 ? argv[1] : "range";
	if (strcmp(set, "range") == 0) {
		/* Numbers the kernel does not know: -1 with errno ENOSYS. */
		try("syscall(1000)", 1000);
		try("syscall(-1)", -1);
		try("syscall(0x40000000|39)", 0x40000000 | 39);
		try("syscall(4000)", 4000);
		try("syscall(512)", 512);
		try("syscall(600)", 600);
		try("syscall(0x7fffffff)", 0x7fffffff);
		try("syscall(-4095)", -4095);
	} else {
		/* The kernel looks only at the low 32 bits of rax. */
		try("syscall(0x100000000|39)", 0x100000000l | 39);
		try("syscall(0xffffffff00000027)", (long)0xffffffff00000027ul);
		try("syscall(LONG_MIN)", (long)(1ul << 63));
		try("syscall(LONG_MAX)", 0x7fffffffffffffffl);
		try("syscall(0x8000000000000027)", (long)0x8000000000000027ul);
	}
	/* After all of them, normal syscalls still work. */
	try("syscall(SYS_getpid)", SYS_getpid);
	errno = 0;
	long r = syscall(SYS_close, -1);
	printf("close(-1): %ld errno %s\n", r, strerrorname_np(errno));
	printf("enosys: OK\n");
	return 0;
}
