/* Raw `syscall` instructions in the main binary: write and getpid via inline asm, and a check
 * that a syscall preserves every general register but rcx and r11 (the kernel's contract),
 * including the six argument registers. */
#include "common.h"

/* Sets rbx, rbp, rdi, rsi, rdx, r8, r9, r10, r12-r15 to known values, runs getpid with a raw
 * `syscall`, and returns a bit mask of the registers that changed (bit order as listed). */
long regs_check(void);
__asm__(".text\n"
	".globl regs_check\n"
	".type regs_check,@function\n"
	"regs_check:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	movabs $0x1111111111111101, %rbx\n"
	"	movabs $0x1111111111111102, %rbp\n"
	"	movabs $0x1111111111111103, %rdi\n"
	"	movabs $0x1111111111111104, %rsi\n"
	"	movabs $0x1111111111111105, %rdx\n"
	"	movabs $0x1111111111111106, %r8\n"
	"	movabs $0x1111111111111107, %r9\n"
	"	movabs $0x1111111111111108, %r10\n"
	"	movabs $0x1111111111111109, %r12\n"
	"	movabs $0x111111111111110a, %r13\n"
	"	movabs $0x111111111111110b, %r14\n"
	"	movabs $0x111111111111110c, %r15\n"
	"	mov $39, %eax\n"
	"	syscall\n"
	"	xor %r11d, %r11d\n"
#define CHECK_REG(reg, val, bit)                                                                   \
	"	movabs $" val ", %rcx\n"                                                          \
	"	cmp %rcx, " reg "\n"                                                               \
	"	je 1f\n"                                                                           \
	"	or $" bit ", %r11\n"                                                               \
	"1:\n"
	CHECK_REG("%rbx", "0x1111111111111101", "0x1")
	CHECK_REG("%rbp", "0x1111111111111102", "0x2")
	CHECK_REG("%rdi", "0x1111111111111103", "0x4")
	CHECK_REG("%rsi", "0x1111111111111104", "0x8")
	CHECK_REG("%rdx", "0x1111111111111105", "0x10")
	CHECK_REG("%r8", "0x1111111111111106", "0x20")
	CHECK_REG("%r9", "0x1111111111111107", "0x40")
	CHECK_REG("%r10", "0x1111111111111108", "0x80")
	CHECK_REG("%r12", "0x1111111111111109", "0x100")
	CHECK_REG("%r13", "0x111111111111110a", "0x200")
	CHECK_REG("%r14", "0x111111111111110b", "0x400")
	CHECK_REG("%r15", "0x111111111111110c", "0x800")
	"	mov %r11, %rax\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size regs_check, .-regs_check\n");

static const char *const reg_names[] = {"rbx", "rbp", "rdi", "rsi", "rdx", "r8",
					"r9",  "r10", "r12", "r13", "r14", "r15"};

int main(void)
{
	static const char msg[] = "raw: hello from a raw write\n";
	long r = raw_syscall3(SYS_write, 1, (long)msg, sizeof msg - 1);
	CHECK(r == (long)sizeof msg - 1, "raw write returned %ld", r);

	long pid = raw_syscall0(SYS_getpid);
	CHECK(pid == getpid(), "raw getpid returned %ld, getpid() %d", pid, getpid());
	printf("raw: getpid %s\n", pid == getpid() ? "matches" : "differs");

	/* An error comes back as -errno in rax. */
	r = raw_syscall3(SYS_close, -1, 0, 0);
	printf("raw: close(-1) = %ld\n", r);

	for (int round = 0; round < 1000; round++) {
		long changed = regs_check();
		if (changed) {
			for (int i = 0; i < 12; i++)
				if (changed & (1L << i))
					CHECK(0, "round %d: %s changed across a syscall", round, reg_names[i]);
			break;
		}
	}
	fflush(stdout);
	int status = zpt_exit_status();
	printf("raw: registers %s\n", status ? "CHANGED" : "preserved");
	printf("raw: %s\n", status ? "FAILED" : "OK");
	return status;
}
