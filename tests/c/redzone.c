/* Red-zone data kept across a syscall. Two leaf functions keep data in the 128 bytes below rsp
 * across a raw `syscall`: one written in assembly (stores at -8(%rsp) .. -128(%rsp)), one in C
 * compiled at -O2 whose locals the compiler places in the red zone. Prints OK natively and must
 * under the runtime too. */
#include "common.h"

/* Returns a bit mask of the red-zone slots (bit k: -8*(k+1)(%rsp)) that changed. */
long redzone_asm(void);
__asm__(".text\n"
	".globl redzone_asm\n"
	".type redzone_asm,@function\n"
	"redzone_asm:\n"
#define STORE(k) "	movabs $0x5a5a5a5a000000" #k ", %rax\n	mov %rax, -" #k "*8(%rsp)\n"
	STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7) STORE(8)
	STORE(9) STORE(10) STORE(11) STORE(12) STORE(13) STORE(14) STORE(15) STORE(16)
	"	mov $39, %eax\n"
	"	syscall\n"
	"	xor %r11d, %r11d\n"
#define TEST(k)                                                                                    \
	"	movabs $0x5a5a5a5a000000" #k ", %rcx\n"                                           \
	"	cmp %rcx, -" #k "*8(%rsp)\n"                                                        \
	"	je 1f\n"                                                                           \
	"	bts $" #k "-1, %r11\n"                                                             \
	"1:\n"
	TEST(1) TEST(2) TEST(3) TEST(4) TEST(5) TEST(6) TEST(7) TEST(8)
	TEST(9) TEST(10) TEST(11) TEST(12) TEST(13) TEST(14) TEST(15) TEST(16)
	"	mov %r11, %rax\n"
	"	ret\n"
	".size redzone_asm, .-redzone_asm\n");

/* A leaf function: at -O2 GCC keeps `buf` in the red zone (no stack adjustment), and the asm
 * statement tells it that only rax, rcx, r11 and the memory it names change. */
static __attribute__((noinline)) int redzone_c(unsigned long seed)
{
	volatile unsigned long buf[14];
	for (int i = 0; i < 14; i++)
		buf[i] = seed * (i + 1) ^ 0x0123456789abcdeful;
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getpid) : "rcx", "r11");
	int bad = 0;
	for (int i = 0; i < 14; i++)
		bad += buf[i] != (seed * (i + 1) ^ 0x0123456789abcdeful);
	return bad + (ret <= 0);
}

int main(void)
{
	for (int round = 0; round < 1000; round++) {
		long changed = redzone_asm();
		if (changed) {
			for (int k = 0; k < 16; k++)
				if (changed & (1L << k))
					CHECK(0, "round %d: red-zone slot -%d(%%rsp) changed across a syscall",
					      round, 8 * (k + 1));
			break;
		}
	}
	printf("redzone: asm leaf %s\n", zpt_failures ? "CORRUPTED" : "OK");
	long before = zpt_failures;
	for (int round = 0; round < 1000; round++) {
		int bad = redzone_c(round + 1);
		if (bad) {
			CHECK(0, "round %d: %d red-zone locals of a C leaf changed across a syscall", round, bad);
			break;
		}
	}
	printf("redzone: C leaf %s\n", zpt_failures != before ? "CORRUPTED" : "OK");
	int status = zpt_exit_status();
	printf("redzone: %s\n", status ? "FAILED" : "OK");
	return status;
}
