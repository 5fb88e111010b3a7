/* A hook in C: nothing is deleted (unlink, unlinkat and rmdir fail with EPERM); every other
 * call passes through.
 *
 *   cc -shared -fPIC $(pkg-config --cflags zpoline) -o libnodelete.so nodelete.c
 *   zpoline run --hook ./libnodelete.so -- rm -f /tmp/x
 */
#include <zpoline.h>

#include <errno.h>
#include <sys/syscall.h>

static zpoline_syscall_fn next;

static long hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (nr == SYS_unlink || nr == SYS_unlinkat || nr == SYS_rmdir)
		return -EPERM; /* the program sees -1 and errno EPERM */
	return next(nr, a1, a2, a3, a4, a5, a6);
}

int __hook_init(long placeholder, void *hook_slot)
{
	(void)placeholder;
	next = zpoline_install(hook_slot, hook);
	return 0; /* non-zero stops the program with an error */
}
