/* Code that appears after start-up and makes raw system calls.
 * Usage: late dlopen LIB N | late jit N | late rwx N */
#include "common.h"
#include <dlfcn.h>
#include <sys/mman.h>

/* mov $NR,%eax; syscall; ret */
static void emit(unsigned char *p, int nr)
{
	unsigned char code[] = { 0xb8, (unsigned char)nr, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	memcpy(p, code, sizeof code);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: late dlopen LIB N | jit N | rwx N\n");
		return 2;
	}
	if (strcmp(argv[1], "dlopen") == 0) {
		void *h = dlopen(argv[2], RTLD_NOW);
		if (!h) {
			printf("dlopen: %s\n", dlerror());
			return 1;
		}
		long (*f)(void) = (long (*)(void))dlsym(h, "raw_getppid");
		int n = atoi(argv[3]);
		for (int i = 0; i < n; i++)
			if (f() != getppid()) {
				printf("late dlopen: wrong result\n");
				return 1;
			}
		printf("late dlopen: OK\n");
		return 0;
	}
	int n = atoi(argv[2]);
	int rwx = strcmp(argv[1], "rwx") == 0;
	unsigned char *p = mmap(0, 4096, PROT_READ | PROT_WRITE | (rwx ? PROT_EXEC : 0),
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	emit(p, SYS_getuid);
	if (!rwx && mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	long (*f)(void) = (long (*)(void))p;
	for (int i = 0; i < n; i++)
		if (f() != (long)getuid()) {
			printf("late %s: wrong getuid\n", argv[1]);
			return 1;
		}
	/* New code at the same address: getgid now. */
	if (!rwx && mprotect(p, 4096, PROT_READ | PROT_WRITE) != 0)
		return 1;
	emit(p, SYS_getgid);
	if (!rwx && mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
		return 1;
	for (int i = 0; i < n; i++)
		if (f() != (long)getgid()) {
			printf("late %s: wrong getgid\n", argv[1]);
			return 1;
		}
	printf("late %s: OK\n", argv[1]);
	return 0;
}
