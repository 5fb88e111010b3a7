/* Syscall sites the rewriter must get right:
 *  - a `syscall` instruction straddling a page boundary (its 0f at offset 0xfff of a page, as
 *    glibc 2.36 has in __open64_nocancel);
 *  - 0f 05 bytes inside other instructions (immediates, displacements), which are no syscalls
 *    and must stay as they are;
 *  - syscalls made with rsp at both 16-byte alignments (8 mod 16 right at a function's entry,
 *    0 mod 16 after one push): a hook is C code and needs an aligned stack. */
#include "common.h"

long straddle_getpid(void);
long fake_syscall_bytes(void);
long entry_getpid(void);
long pushed_getpid(void);

__asm__(".text\n"
	".p2align 12\n"
	"	.skip 4096 - 6\n"
	".globl straddle_getpid\n"
	".type straddle_getpid,@function\n"
	"straddle_getpid:\n"       /* at offset 0xffa */
	"	mov $39, %eax\n"       /* 5 bytes: 0xffa-0xffe */
	"	syscall\n"             /* 0f at 0xfff, 05 at 0x1000 */
	"	ret\n"
	".size straddle_getpid, .-straddle_getpid\n"
	".globl fake_syscall_bytes\n"
	".type fake_syscall_bytes,@function\n"
	"fake_syscall_bytes:\n"
	"	mov $0x050f050f, %eax\n"             /* b8 0f 05 0f 05 */
	"	movabs $0x0f050f050f050f05, %rcx\n"  /* 48 b9 05 0f 05 0f ... */
	"	add %rcx, %rax\n"
	"	lea 0x050f(%rax), %rax\n"            /* 48 8d 80 0f 05 00 00 */
	"	ret\n"
	".size fake_syscall_bytes, .-fake_syscall_bytes\n"
	".globl entry_getpid\n"
	".type entry_getpid,@function\n"
	"entry_getpid:\n"
	"	mov $39, %eax\n"
	"	syscall\n"
	"	ret\n"
	".size entry_getpid, .-entry_getpid\n"
	".globl pushed_getpid\n"
	".type pushed_getpid,@function\n"
	"pushed_getpid:\n"
	"	push %rbx\n"
	"	mov $39, %eax\n"
	"	syscall\n"
	"	pop %rbx\n"
	"	ret\n"
	".size pushed_getpid, .-pushed_getpid\n");

int main(void)
{
	long pid = getpid();
	unsigned long addr = (unsigned long)straddle_getpid + 5;
	CHECK((addr & 0xfff) == 0xfff, "the syscall is at page offset %#lx, not 0xfff", addr & 0xfff);
	int ok = 1;
	for (int i = 0; i < 100; i++)
		ok &= straddle_getpid() == pid;
	CHECK(ok, "syscall straddling a page boundary returned a wrong pid");
	printf("rewrite: syscall straddling a page boundary %s\n", ok ? "OK" : "WRONG");

	long expect = 0x050f050fL + 0x0f050f050f050f05L + 0x050f;
	long got = fake_syscall_bytes();
	CHECK(got == expect, "0f 05 bytes inside instructions were changed: got %#lx, expected %#lx", got,
	      expect);
	printf("rewrite: 0f 05 inside instructions %s\n", got == expect ? "untouched" : "CHANGED");

	ok = 1;
	for (int i = 0; i < 100; i++)
		ok &= entry_getpid() == pid && pushed_getpid() == pid;
	CHECK(ok, "syscall with rsp at 8 or 0 mod 16 returned a wrong pid");
	printf("rewrite: syscalls at both stack alignments %s\n", ok ? "OK" : "WRONG");

	int status = zpt_exit_status();
	printf("rewrite: %s\n", status ? "FAILED" : "OK");
	return status;
}
