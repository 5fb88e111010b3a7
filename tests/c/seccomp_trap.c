/* An application that uses seccomp itself: a filter answers getppid with SIGSYS, and the
 * program's own SIGSYS handler makes the call return 4242. It also creates executable memory,
 * which arms the runtime's safety net (a second user of SIGSYS). Both must keep working. */
#include "common.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <ucontext.h>

static volatile int traps;

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	ucontext_t *uc = ctx;
	if (si->si_code == 1 /* SYS_SECCOMP */ && si->si_syscall == SYS_getppid) {
		uc->uc_mcontext.gregs[REG_RAX] = 4242;
		traps++;
	}
}

int main(void)
{
	/* Executable memory: mov $102 (getuid),%eax; syscall; ret */
	unsigned char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char code[] = { 0xb8, 0x66, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	memcpy(p, code, sizeof code);
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	long (*jit)(void) = (long (*)(void))p;

	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
	struct sigaction back;
	sigaction(SIGSYS, NULL, &back);
	if (back.sa_sigaction != on_sigsys) {
		printf("seccomp: the application's SIGSYS handler is not what it installed\n");
		return 1;
	}
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		printf("seccomp: cannot install the filter\n");
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		if (syscall(SYS_getppid) != 4242 || jit() != (long)getuid()) {
			printf("seccomp: wrong result\n");
			return 1;
		}
	}
	/* The application blocks everything, as many programs do around fork; traps still work. */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	if (!sigismember(&now, SIGSYS)) {
		printf("seccomp: the mask does not show SIGSYS blocked as asked\n");
		return 1;
	}
	if (jit() != (long)getuid()) {
		printf("seccomp: wrong result with signals blocked\n");
		return 1;
	}
	printf("seccomp: %d traps handled by the application: OK\n", traps);
	return 0;
}
