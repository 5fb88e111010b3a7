/* clone, clone3 and vfork issued by raw `syscall` instructions in the main binary (not through
 * glibc's wrappers). The clone/clone3 children start on their own stack, make raw syscalls and
 * exit; the vfork child exits at once while its parent waits on the shared stack.
 * Usage: clone [rounds] */
#include "common.h"

#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

/* rdi = flags, rsi = child stack top, rdx = parent tid pointer, rcx = child tid pointer,
 * r8 = result array. The child stores getpid() and gettid() in result[0..1] and exits. */
long raw_clone(unsigned long flags, void *stack_top, int *ptid, int *ctid, long *result);
/* rdi = struct clone_args *, rsi = its size, rdx = result array; the child as above. */
long raw_clone3(struct clone_args *args, unsigned long size, long *result);
/* vfork with a raw syscall; the child calls exit_group(code) at once. Returns the child's pid. */
long raw_vfork_exit(int code);

__asm__(".text\n"
	"child_after_clone:\n"
	"	mov $39, %eax\n"
	"	syscall\n"
	"	mov %rax, (%r9)\n"
	"	mov $186, %eax\n"
	"	syscall\n"
	"	mov %rax, 8(%r9)\n"
	"	mov $60, %eax\n"
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	ud2\n"
	".globl raw_clone\n"
	".type raw_clone,@function\n"
	"raw_clone:\n"
	"	mov %rcx, %r10\n"
	"	mov %r8, %r9\n"
	"	xor %r8d, %r8d\n"
	"	mov $56, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz child_after_clone\n"
	"	ret\n"
	".size raw_clone, .-raw_clone\n"
	".globl raw_clone3\n"
	".type raw_clone3,@function\n"
	"raw_clone3:\n"
	"	mov %rdx, %r9\n"
	"	mov $435, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz child_after_clone\n"
	"	ret\n"
	".size raw_clone3, .-raw_clone3\n"
	".globl raw_vfork_exit\n"
	".type raw_vfork_exit,@function\n"
	"raw_vfork_exit:\n"
	"	mov $58, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	mov $231, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"1:	ret\n"
	".size raw_vfork_exit, .-raw_vfork_exit\n");

#define STACK_SIZE (64 * 1024)
static char stack[STACK_SIZE] __attribute__((aligned(64)));

static void wait_thread(int *tid)
{
	int t;
	while ((t = __atomic_load_n(tid, __ATOMIC_ACQUIRE)) != 0)
		syscall(SYS_futex, tid, FUTEX_WAIT, t, NULL, NULL, 0);
}

static const unsigned long thread_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
					  CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID |
					  CLONE_CHILD_CLEARTID;

static void check_child(const char *what, long ret, long result[2], long pid)
{
	CHECK(ret > 0, "%s returned %ld", what, ret);
	CHECK(result[0] == pid, "%s child: getpid() = %ld, expected %ld", what, result[0], pid);
	CHECK(result[1] == ret, "%s child: gettid() = %ld, expected %ld", what, result[1], ret);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 100;
	long pid = getpid();
	for (int r = 0; r < rounds; r++) {
		long result[2] = {0, 0};
		int tid = 0;

		/* A thread made by clone(2). */
		long ret = raw_clone(thread_flags, stack + STACK_SIZE, &tid, &tid, result);
		wait_thread(&tid);
		check_child("clone(CLONE_THREAD)", ret, result, pid);

		/* A thread made by clone3(2). */
		result[0] = result[1] = 0;
		struct clone_args args;
		memset(&args, 0, sizeof args);
		args.flags = thread_flags;
		args.parent_tid = (unsigned long)&tid;
		args.child_tid = (unsigned long)&tid;
		args.stack = (unsigned long)stack;
		args.stack_size = STACK_SIZE;
		ret = raw_clone3(&args, CLONE_ARGS_SIZE_VER0, result);
		wait_thread(&tid);
		check_child("clone3(CLONE_THREAD)", ret, result, pid);

		/* A process sharing our memory (CLONE_VM without CLONE_THREAD), on its own stack. */
		result[0] = result[1] = 0;
		ret = raw_clone(CLONE_VM | SIGCHLD, stack + STACK_SIZE, NULL, NULL, result);
		int status = 0;
		CHECK(waitpid((pid_t)ret, &status, 0) == ret, "waitpid: %s", strerror(errno));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "CLONE_VM child status 0x%x", status);
		CHECK(ret > 0 && result[0] == ret && result[1] == ret, "CLONE_VM child: getpid %ld gettid %ld, expected %ld",
		      result[0], result[1], ret);

		/* vfork from a raw syscall. */
		ret = raw_vfork_exit(r & 0x7f);
		CHECK(ret > 0, "raw vfork returned %ld", ret);
		CHECK(waitpid((pid_t)ret, &status, 0) == ret, "waitpid: %s", strerror(errno));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == (r & 0x7f), "vfork child status 0x%x", status);
		if (zpt_failures)
			break;
	}
	printf("clone: %d rounds of clone, clone3, CLONE_VM process and vfork\n", rounds);
	int status = zpt_exit_status();
	printf("clone: %s\n", status ? "FAILED" : "OK");
	return status;
}
