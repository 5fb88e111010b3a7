/* A counting hook in the zpoline ABI. It counts system calls per number (atomic increments into
 * fixed arrays, no allocation on the hook path) and writes the counts to
 * $ZPTEST_COUNT_DIR/<pid>.<seq> when the process image ends: at exit_group, at the exit of its
 * last thread, and at execve/execveat (the counts start again from zero if the execve fails).
 * A fork child (fork, or clone without CLONE_VM) starts again from zero; a vfork child shares the
 * counters with its parent, so only totals over a process tree are meaningful.
 *
 * Every system call the hook makes itself goes through `next` (the runtime's raw syscall), so it
 * is seen by strace but never counted. It marks the places in strace's output with faccessat on
 * paths that do not exist:
 *   /zpoline-test-hook-init    in __hook_init;
 *   /zpoline-test-hook-ready   before the first system call the hook sees (once per image);
 *   /zpoline-test-hook-dump    before writing the counts;
 *   /zpoline-test-hook-dumped  after writing them; the next system call of that thread is the one
 *                              that triggered the dump (counted in it).
 * Dump file format: "pid <pid> trigger <nr>" then "<nr> <count>" lines (nr "other" for numbers
 * outside 0..1023). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef long (*syscall_fn_t)(long, long, long, long, long, long, long);

#define NBUCKETS 1024

static syscall_fn_t next_sys_call;
static atomic_ulong counts[NBUCKETS + 1];
static atomic_long live_threads = 1;
static atomic_int ready_marked;
static atomic_uint seq;
static char dir[3072];

static long sys(long nr, long a1, long a2, long a3, long a4)
{
	return next_sys_call(nr, a1, a2, a3, a4, 0, 0);
}

static void marker(const char *path)
{
	sys(SYS_faccessat, AT_FDCWD, (long)path, F_OK, 0);
}

/* Appends the decimal form of v to buf at *len. */
static void put_num(char *buf, size_t *len, unsigned long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[(*len)++] = tmp[--n];
}

static void put_str(char *buf, size_t *len, const char *s)
{
	while (*s)
		buf[(*len)++] = *s++;
}

static void dump(long trigger)
{
	marker("/zpoline-test-hook-dump");
	long pid = sys(SYS_getpid, 0, 0, 0, 0);
	char path[3200];
	long fd;
	do {
		size_t len = 0;
		put_str(path, &len, dir);
		put_str(path, &len, "/");
		put_num(path, &len, (unsigned long)pid);
		put_str(path, &len, ".");
		put_num(path, &len, atomic_fetch_add(&seq, 1));
		path[len] = 0;
		fd = sys(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	} while (fd == -EEXIST);

	char line[96];
	size_t len = 0;
	put_str(line, &len, "pid ");
	put_num(line, &len, (unsigned long)pid);
	put_str(line, &len, " trigger ");
	put_num(line, &len, (unsigned long)trigger);
	put_str(line, &len, "\n");
	if (fd >= 0)
		sys(SYS_write, fd, (long)line, (long)len, 0);
	for (int i = 0; i <= NBUCKETS; i++) {
		unsigned long c = atomic_exchange(&counts[i], 0);
		if (!c || fd < 0)
			continue;
		len = 0;
		if (i == NBUCKETS)
			put_str(line, &len, "other");
		else
			put_num(line, &len, (unsigned long)i);
		put_str(line, &len, " ");
		put_num(line, &len, c);
		put_str(line, &len, "\n");
		sys(SYS_write, fd, (long)line, (long)len, 0);
	}
	if (fd >= 0)
		sys(SYS_close, fd, 0, 0, 0);
	else
		sys(SYS_write, 2, (long)"count hook: cannot create the dump file\n", 40, 0);
	marker("/zpoline-test-hook-dumped");
}

static unsigned long clone_flags(long nr, long a1)
{
	if (nr == SYS_clone)
		return (unsigned long)a1;
	if (nr == SYS_clone3 && a1)
		return ((struct clone_args *)a1)->flags;
	return 0;
}

static long hook_function(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (!atomic_load_explicit(&ready_marked, memory_order_relaxed) && !atomic_exchange(&ready_marked, 1))
		marker("/zpoline-test-hook-ready");

	atomic_fetch_add_explicit(&counts[(unsigned long)nr < NBUCKETS ? (unsigned long)nr : NBUCKETS], 1,
				  memory_order_relaxed);

	int is_clone = nr == SYS_clone || nr == SYS_clone3;
	unsigned long flags = clone_flags(nr, a1);
	int new_thread = is_clone && (flags & CLONE_THREAD);
	int fork_like = nr == SYS_fork || (is_clone && !(flags & CLONE_VM));

	switch (nr) {
	case SYS_exit_group:
	case SYS_execve:
	case SYS_execveat:
		dump(nr);
		break;
	case SYS_exit:
		if (atomic_fetch_sub(&live_threads, 1) == 1)
			dump(nr);
		break;
	}
	/* Counted before the thread exists, so that it cannot exit before being counted. */
	if (new_thread)
		atomic_fetch_add(&live_threads, 1);

	long ret = next_sys_call(nr, a1, a2, a3, a4, a5, a6);

	if (new_thread && ret < 0)
		atomic_fetch_sub(&live_threads, 1);
	if (fork_like && ret == 0) {
		for (int i = 0; i <= NBUCKETS; i++)
			atomic_store(&counts[i], 0);
		atomic_store(&live_threads, 1);
	}
	return ret;
}

int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr)
{
	next_sys_call = *(syscall_fn_t *)sys_call_hook_ptr;
	marker("/zpoline-test-hook-init");
	const char *d = getenv("ZPTEST_COUNT_DIR");
	if (!d || !*d || strlen(d) >= sizeof dir) {
		static const char msg[] = "count hook: set ZPTEST_COUNT_DIR to a directory\n";
		sys(SYS_write, 2, (long)msg, sizeof msg - 1, 0);
		return -1;
	}
	strcpy(dir, d);
	*(syscall_fn_t *)sys_call_hook_ptr = hook_function;
	return 0;
}
