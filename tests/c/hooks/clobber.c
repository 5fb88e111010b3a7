/* A hook that, before and after forwarding each system call, overwrites the caller-saved general
 * registers, every vector register the CPU has (xmm0-15; ymm0-15 with AVX; zmm0-31 and k1-k7 with
 * AVX-512F) and the whole x87 register stack. All of them are caller-saved in the SysV ABI, so a
 * hook may do this; the runtime must give the program back the values it had at its syscall
 * instruction. It also checks that it was called with an aligned stack. */
#include <sys/syscall.h>

typedef long (*syscall_fn_t)(long, long, long, long, long, long, long);

static syscall_fn_t next_sys_call;
static int have_avx, have_avx512f;

#define XMM_REGS                                                                                   \
	"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
		"xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define ZMM_HI_REGS                                                                                \
	"xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",  \
		"xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
#define R16(op, x)                                                                                 \
	op(x, 0) op(x, 1) op(x, 2) op(x, 3) op(x, 4) op(x, 5) op(x, 6) op(x, 7) op(x, 8) op(x, 9)    \
		op(x, 10) op(x, 11) op(x, 12) op(x, 13) op(x, 14) op(x, 15)
#define R16HI(op, x)                                                                               \
	op(x, 16) op(x, 17) op(x, 18) op(x, 19) op(x, 20) op(x, 21) op(x, 22) op(x, 23) op(x, 24)   \
		op(x, 25) op(x, 26) op(x, 27) op(x, 28) op(x, 29) op(x, 30) op(x, 31)
#define SSE_ONES(x, n) "	pcmpeqd %%xmm" #n ", %%xmm" #n "\n"
#define AVX_ONES(x, n) "	vpcmpeqd %%ymm" #n ", %%ymm" #n ", %%ymm" #n "\n"
#define ZMM_ONES(x, n) "	vpternlogd $0xff, %%zmm" #n ", %%zmm" #n ", %%zmm" #n "\n"

static void clobber_sse(void)
{
	__asm__ volatile(R16(SSE_ONES, 0)::: XMM_REGS);
}

__attribute__((target("avx"))) static void clobber_avx(void)
{
	__asm__ volatile(R16(AVX_ONES, 0)::: XMM_REGS);
}

__attribute__((target("avx512f"))) static void clobber_avx512(void)
{
	__asm__ volatile(R16(ZMM_ONES, 0) R16HI(ZMM_ONES, 0)
			 "	kxnorw %%k0, %%k0, %%k1\n"
			 "	kxnorw %%k0, %%k0, %%k2\n"
			 "	kxnorw %%k0, %%k0, %%k3\n"
			 "	kxnorw %%k0, %%k0, %%k4\n"
			 "	kxnorw %%k0, %%k0, %%k5\n"
			 "	kxnorw %%k0, %%k0, %%k6\n"
			 "	kxnorw %%k0, %%k0, %%k7\n" ::
				 : XMM_REGS, ZMM_HI_REGS, "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

/* The ABI says the x87 stack is empty at a call, so a function may push eight values; with the
 * program's values still there, that overwrites them. */
static void clobber_x87(void)
{
	__asm__ volatile("fldpi\n fldpi\n fldpi\n fldpi\n fldpi\n fldpi\n fldpi\n fldpi\n"
			 "fstp %%st(0)\n fstp %%st(0)\n fstp %%st(0)\n fstp %%st(0)\n"
			 "fstp %%st(0)\n fstp %%st(0)\n fstp %%st(0)\n fstp %%st(0)\n" ::
				 : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
}

/* The caller-saved general registers, the argument registers among them. */
static void clobber_gprs(void)
{
	__asm__ volatile("mov $-1, %%rdi\n mov $-1, %%rsi\n mov $-1, %%rdx\n mov $-1, %%rcx\n"
			 "mov $-1, %%r8\n mov $-1, %%r9\n mov $-1, %%r10\n mov $-1, %%r11\n" ::
				 : "rdi", "rsi", "rdx", "rcx", "r8", "r9", "r10", "r11");
}

static void clobber_all(void)
{
	clobber_gprs();
	clobber_x87();
	if (have_avx512f)
		clobber_avx512();
	else if (have_avx)
		clobber_avx();
	else
		clobber_sse();
}

/* Faults (SIGSEGV) unless the runtime called the hook with the stack aligned as the ABI demands
 * (rsp + 8 a multiple of 16 at function entry). */
static __attribute__((noinline)) void check_stack_alignment(void)
{
	char buf[16] __attribute__((aligned(16)));
	__asm__ volatile("movaps %%xmm0, %0" : "=m"(buf));
}

static long hook_function(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	check_stack_alignment();
	clobber_all();
	long ret = next_sys_call(nr, a1, a2, a3, a4, a5, a6);
	clobber_all();
	return ret;
}

int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr)
{
	__builtin_cpu_init();
	have_avx = __builtin_cpu_supports("avx");
	have_avx512f = __builtin_cpu_supports("avx512f");
	next_sys_call = *(syscall_fn_t *)sys_call_hook_ptr;
	*(syscall_fn_t *)sys_call_hook_ptr = hook_function;
	return 0;
}
