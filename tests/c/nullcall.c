/* Calls address 0, which natively dies of SIGSEGV. Under the runtime address 0 holds the
 * trampoline: a call to it must still fault and must not run a system call.
 * Usage: nullcall plain | write | exit
 *   plain: ((void (*)(void))0)() through a volatile pointer;
 *   write: rax = SYS_write with arguments that would print "SYSCALL RAN";
 *   exit:  rax = SYS_exit_group, rdi = 0 (would exit with status 0). */
#include "common.h"

static const char msg[] = "nullcall: SYSCALL RAN\n";

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "plain";
	printf("nullcall: %s\n", mode);
	fflush(stdout);
	if (strcmp(mode, "write") == 0) {
		__asm__ volatile("xor %%ecx, %%ecx\n"
				 "call *%%rcx\n"
				 :
				 : "a"((long)SYS_write), "D"(1L), "S"(msg), "d"(sizeof msg - 1)
				 : "rcx", "r8", "r9", "r10", "r11", "memory");
	} else if (strcmp(mode, "exit") == 0) {
		__asm__ volatile("xor %%ecx, %%ecx\n"
				 "call *%%rcx\n"
				 :
				 : "a"((long)SYS_exit_group), "D"(0L)
				 : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory");
	} else {
		void (*volatile fn)(void) = 0;
		fn();
	}
	printf("nullcall: returned from a call to NULL\n");
	return 3;
}
