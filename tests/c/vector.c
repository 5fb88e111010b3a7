/* Vector, mask and x87 registers kept across a raw syscall. Loads known patterns into xmm0-15,
 * ymm0-15 (if AVX), zmm0-31 and k1-k7 (if AVX-512F) and three x87 stack registers, runs getpid
 * with a raw `syscall` and stores them back. The output says which sets were checked, so it is
 * the same natively and under the runtime on one machine. */
#include "common.h"

#include <stdint.h>

#define ROUNDS 200

static uint8_t in[32 * 64] __attribute__((aligned(64)));
static uint8_t out[32 * 64] __attribute__((aligned(64)));
static uint64_t kin[8], kout[8];
static long double x87_in[3] = {1.25L, -3.5L, 1e300L};
static long double x87_out[3];

static void fill(int round)
{
	for (unsigned i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7 + round * 13 + 1);
	for (int i = 0; i < 8; i++)
		kin[i] = 0x0102030405060708ull * (i + 1) + round;
	memset(out, 0, sizeof out);
	memset(kout, 0, sizeof kout);
}

/* The loads, the syscall and the stores are in one asm statement, so the compiler keeps nothing
 * of its own in these registers across it. */
#define XMM_REGS                                                                                   \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
		"xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define ZMM_HI_REGS                                                                                \
	"xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",  \
		"xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
#define R16(op, fmt)                                                                               \
	op(fmt, 0) op(fmt, 1) op(fmt, 2) op(fmt, 3) op(fmt, 4) op(fmt, 5) op(fmt, 6) op(fmt, 7)      \
		op(fmt, 8) op(fmt, 9) op(fmt, 10) op(fmt, 11) op(fmt, 12) op(fmt, 13) op(fmt, 14)   \
			op(fmt, 15)
#define R16HI(op, fmt)                                                                             \
	op(fmt, 16) op(fmt, 17) op(fmt, 18) op(fmt, 19) op(fmt, 20) op(fmt, 21) op(fmt, 22)        \
		op(fmt, 23) op(fmt, 24) op(fmt, 25) op(fmt, 26) op(fmt, 27) op(fmt, 28) op(fmt, 29) \
			op(fmt, 30) op(fmt, 31)
#define LOAD(fmt, n) "	" #fmt " " #n "*64(%[in]), %%" fmt##_REG(n) "\n"
#define STORE(fmt, n) "	" #fmt " %%" fmt##_REG(n) ", " #n "*64(%[out])\n"
#define movdqu_REG(n) "xmm" #n
#define vmovdqu_REG(n) "ymm" #n
#define vmovdqu64_REG(n) "zmm" #n

static void check_bytes(const char *what, int nregs, int bytes, int round)
{
	for (int r = 0; r < nregs; r++)
		if (memcmp(in + r * 64, out + r * 64, bytes) != 0) {
			CHECK(0, "round %d: %s%d changed across a syscall", round, what, r);
		}
}

static void check_x87(int round)
{
	for (int i = 0; i < 3; i++)
		CHECK(x87_in[i] == x87_out[i], "round %d: x87 st(%d) changed across a syscall (%Lg)", round,
		      2 - i, x87_out[i]);
}

static void sse_round(int round)
{
	long ret;
	fill(round);
	__asm__ volatile(R16(LOAD, movdqu)
			 "	fldt 0(%[x87in])\n"
			 "	fldt 16(%[x87in])\n"
			 "	fldt 32(%[x87in])\n"
			 "	syscall\n"
			 "	fstpt 32(%[x87out])\n"
			 "	fstpt 16(%[x87out])\n"
			 "	fstpt 0(%[x87out])\n" R16(STORE, movdqu)
			 : "=a"(ret)
			 : "a"((long)SYS_getpid), [in] "r"(in), [out] "r"(out), [x87in] "r"(x87_in),
			   [x87out] "r"(x87_out)
			 : "rcx", "r11", "memory", XMM_REGS);
	CHECK(ret > 0, "getpid returned %ld", ret);
	check_bytes("xmm", 16, 16, round);
	check_x87(round);
}

__attribute__((target("avx"))) static void avx_round(int round)
{
	long ret;
	fill(round);
	__asm__ volatile(R16(LOAD, vmovdqu) "	syscall\n" R16(STORE, vmovdqu) "	vzeroupper\n"
			 : "=a"(ret)
			 : "a"((long)SYS_getpid), [in] "r"(in), [out] "r"(out)
			 : "rcx", "r11", "memory", XMM_REGS);
	CHECK(ret > 0, "getpid returned %ld", ret);
	check_bytes("ymm", 16, 32, round);
}

__attribute__((target("avx512f"))) static void avx512_round(int round)
{
	long ret;
	fill(round);
	__asm__ volatile(R16(LOAD, vmovdqu64) R16HI(LOAD, vmovdqu64)
			 "	kmovw 8(%[kin]), %%k1\n"
			 "	kmovw 16(%[kin]), %%k2\n"
			 "	kmovw 24(%[kin]), %%k3\n"
			 "	kmovw 32(%[kin]), %%k4\n"
			 "	kmovw 40(%[kin]), %%k5\n"
			 "	kmovw 48(%[kin]), %%k6\n"
			 "	kmovw 56(%[kin]), %%k7\n"
			 "	syscall\n" R16(STORE, vmovdqu64) R16HI(STORE, vmovdqu64)
			 "	kmovw %%k1, 8(%[kout])\n"
			 "	kmovw %%k2, 16(%[kout])\n"
			 "	kmovw %%k3, 24(%[kout])\n"
			 "	kmovw %%k4, 32(%[kout])\n"
			 "	kmovw %%k5, 40(%[kout])\n"
			 "	kmovw %%k6, 48(%[kout])\n"
			 "	kmovw %%k7, 56(%[kout])\n"
			 "	vzeroupper\n"
			 : "=a"(ret)
			 : "a"((long)SYS_getpid), [in] "r"(in), [out] "r"(out), [kin] "r"(kin),
			   [kout] "r"(kout)
			 : "rcx", "r11", "memory", XMM_REGS, ZMM_HI_REGS, "k1", "k2", "k3", "k4", "k5", "k6",
			   "k7");
	CHECK(ret > 0, "getpid returned %ld", ret);
	check_bytes("zmm", 32, 64, round);
	for (int k = 1; k < 8; k++)
		CHECK((uint16_t)kin[k] == (uint16_t)kout[k], "round %d: k%d changed across a syscall", round, k);
}

int main(void)
{
	__builtin_cpu_init();
	long before;

	before = zpt_failures;
	for (int round = 0; round < ROUNDS && zpt_failures == before; round++)
		sse_round(round);
	printf("vector: xmm0-15 and x87 %s\n", zpt_failures == before ? "preserved" : "CHANGED");

	if (__builtin_cpu_supports("avx")) {
		before = zpt_failures;
		for (int round = 0; round < ROUNDS && zpt_failures == before; round++)
			avx_round(round);
		printf("vector: ymm0-15 %s\n", zpt_failures == before ? "preserved" : "CHANGED");
	} else {
		printf("vector: no AVX\n");
	}

	if (__builtin_cpu_supports("avx512f")) {
		before = zpt_failures;
		for (int round = 0; round < ROUNDS && zpt_failures == before; round++)
			avx512_round(round);
		printf("vector: zmm0-31 and k1-k7 %s\n", zpt_failures == before ? "preserved" : "CHANGED");
	} else {
		printf("vector: no AVX-512F\n");
	}

	int status = zpt_exit_status();
	printf("vector: %s\n", status ? "FAILED" : "OK");
	return status;
}
