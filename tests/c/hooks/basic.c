/* A hook library in the plain zpoline ABI, like the original zpoline's apps/basic (printing to
 * stderr): announces __hook_init and prints each system call's number, then forwards it. */
#include <stdio.h>

typedef long (*syscall_fn_t)(long, long, long, long, long, long, long);

static syscall_fn_t next_sys_call = NULL;

static long hook_function(long a1, long a2, long a3, long a4, long a5, long a6, long a7)
{
	fprintf(stderr, "output from hook_function: syscall number %ld\n", a1);
	return next_sys_call(a1, a2, a3, a4, a5, a6, a7);
}

int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr)
{
	fprintf(stderr, "output from __hook_init: we can do some init work here\n");

	next_sys_call = *((syscall_fn_t *)sys_call_hook_ptr);
	*((syscall_fn_t *)sys_call_hook_ptr) = hook_function;

	return 0;
}
