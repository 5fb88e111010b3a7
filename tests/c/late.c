/* Code that appears after start-up and makes raw system calls.
 * Usage: late dlopen LIB N | late forkdlopen|dupdlopen LIB N | late jit N | late rwx N
 * forkdlopen: the library is loaded before a fork and first called in the child, then in the
 * parent: a rewrite made in the child must change the child only. dupdlopen: the program puts
 * a file of its own at descriptor 1000 (where the runtime keeps /proc/self/mem) first: the
 * runtime must notice and never write into that file. */
#include "common.h"
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* mov $NR,%eax; syscall; ret */
static void emit(unsigned char *p, int nr)
{
	unsigned char code[] = { 0xb8, (unsigned char)nr, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	memcpy(p, code, sizeof code);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: late dlopen|forkdlopen|dupdlopen LIB N | jit N | rwx N\n");
		return 2;
	}
	if (strcmp(argv[1], "dlopen") == 0 || strcmp(argv[1], "forkdlopen") == 0 ||
	    strcmp(argv[1], "dupdlopen") == 0) {
		int victim = -1;
		if (argv[1][0] == 'd' && argv[1][1] == 'u') {
			int m = (int)syscall(SYS_memfd_create, "victim", 0);
			if (m < 0 || dup2(m, 1000) != 1000)
				return 1;
			close(m);
			victim = 1000;
		}
		void *h = dlopen(argv[2], RTLD_NOW);
		if (!h) {
			printf("dlopen: %s\n", dlerror());
			return 1;
		}
		long (*f)(void) = (long (*)(void))dlsym(h, "raw_getppid");
		int n = atoi(argv[3]);
		if (argv[1][0] == 'f') {
			fflush(stdout);
			pid_t c = fork();
			if (c < 0)
				return 1;
			if (c == 0) {
				for (int i = 0; i < n; i++)
					if (f() != getppid())
						_exit(1);
				_exit(0);
			}
			int st;
			if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				printf("late forkdlopen: child failed (status %#x)\n", st);
				return 1;
			}
		}
		for (int i = 0; i < n; i++)
			if (f() != getppid()) {
				printf("late %s: wrong result\n", argv[1]);
				return 1;
			}
		if (victim >= 0 && lseek(victim, 0, SEEK_END) != 0) {
			printf("late %s: the program's own file at descriptor 1000 was written\n",
			       argv[1]);
			return 1;
		}
		printf("late %s: OK\n", argv[1]);
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
