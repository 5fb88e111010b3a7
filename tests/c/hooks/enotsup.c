/* Rewrites a result: getdents64 (and getdents) answer -ENOTSUP without reaching the kernel, so
 * `ls` cannot list a directory. Everything else is forwarded. */
#include <errno.h>
#include <sys/syscall.h>

typedef long (*syscall_fn_t)(long, long, long, long, long, long, long);

static syscall_fn_t next_sys_call;

static long hook_function(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (nr == SYS_getdents64 || nr == SYS_getdents)
		return -ENOTSUP;
	return next_sys_call(nr, a1, a2, a3, a4, a5, a6);
}

int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr)
{
	next_sys_call = *(syscall_fn_t *)sys_call_hook_ptr;
	*(syscall_fn_t *)sys_call_hook_ptr = hook_function;
	return 0;
}
