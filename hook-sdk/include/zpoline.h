/* zpoline.h: the hook ABI of libzpoline.so, for hook libraries written in C or C++.
 *
 * A hook library is a shared object named by LIBZPHOOK (or `zpoline run --hook LIB`). The
 * runtime loads it in a namespace of its own (dlmopen, with its own libc: the hook may call
 * printf or malloc) and calls its __hook_init once, before the first system call of the
 * program reaches the hook. From then on every system call of the program calls the handler
 * stored in the hook slot with the call's number and six arguments; what the handler returns
 * is the call's result (-errno for an error, as the kernel returns it).
 *
 * The slot first holds the runtime's "next" function, which performs a call as the kernel
 * would at the program's site (keeping rt_sigreturn, clone, vfork, execve and the rest
 * correct): keep it and call it to pass a call through. The ABI is the one of the original
 * zpoline (https://github.com/yasukata/zpoline), so its hooks work unchanged.
 *
 *     #include <zpoline.h>
 *     static zpoline_syscall_fn next;
 *     static long hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
 *     {
 *             if (nr == 39) // getpid
 *                     return 4242;
 *             return next(nr, a1, a2, a3, a4, a5, a6);
 *     }
 *     int __hook_init(long placeholder, void *hook_slot)
 *     {
 *             next = zpoline_install(hook_slot, hook);
 *             return 0;
 *     }
 *
 * Thread-local variables of a hook: declare them initial-exec,
 *     static __thread long calls __attribute__((tls_model("initial-exec")));
 * so that the library's TLS is allocated with each thread. With the default model, a thread's
 * first use would allocate it with the program's malloc, from inside the program's system
 * call (perhaps one malloc is making), whose own system calls come back to the hook.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags zpoline) -o libmyhook.so myhook.c
 * Run:   zpoline run --hook ./libmyhook.so -- CMD   (or LIBZPHOOK=./libmyhook.so
 *        LD_PRELOAD=$(pkg-config --variable=runtime zpoline) CMD)
 */
#ifndef ZPOLINE_H
#define ZPOLINE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this ABI. */
#define ZPOLINE_ABI_VERSION 1

/* A system call handler: number, six arguments; returns the result (-errno on error). */
typedef long (*zpoline_syscall_fn)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* Exported by every hook library. `placeholder` is unused (0); `hook_slot` points at a
 * zpoline_syscall_fn. Return 0 when the hook is ready; anything else makes the runtime stop
 * the program with a one-line error (exit status 127). Return ZPOLINE_HOOK_REFUSED after
 * printing the reason yourself (a bad configuration file): the runtime then adds no line of
 * its own. */
#define ZPOLINE_HOOK_REFUSED (-2)

int __hook_init(long placeholder, void *hook_slot);

/* Stores `handler` in the hook slot and returns what was there: the function that performs
 * a call (pass calls through with it). */
static inline zpoline_syscall_fn zpoline_install(void *hook_slot, zpoline_syscall_fn handler)
{
	zpoline_syscall_fn *slot = (zpoline_syscall_fn *)hook_slot;
	zpoline_syscall_fn next = *slot;
	*slot = handler;
	return next;
}

#ifdef __cplusplus
}
#endif

#endif /* ZPOLINE_H */
