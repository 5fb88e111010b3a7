//! `strace` for zpoline: one line per system call, `TID name(arguments) = result`, with the
//! arguments decoded the way strace decodes them by default:
//!
//! ```text
//! 4021 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
//! 4021 read(3, "\177ELF\2\1\1\3\0\0\0\0\0\0\0\0\3\0>\0\1\0\0\0\20t\2\0\0\0\0\0"..., 832) = 832
//! 4021 newfstatat(3, "", {st_mode=S_IFREG|0755, st_size=1926232, ...}, AT_EMPTY_PATH) = 0
//! 4021 access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory)
//! 4021 rt_sigaction(SIGINT, {sa_handler=0x55d0c0, sa_mask=[], sa_flags=SA_RESTORER|SA_ONSTACK, sa_restorer=0x7f3e5c03b050}, NULL, 8) = 0
//! ```
//!
//! What is decoded:
//!
//! * paths and other strings, quoted and escaped as strace does (octal escapes); data buffers
//!   cut at 32 bytes with `...` after the quote: a `write`/`pwrite64`/`sendto`/`writev`
//!   buffer as it is before the call, a `read`/`pread64`/`recvfrom`/`readv`/`readlink`/
//!   `getxattr` buffer after it, only the bytes the call returned (`getrandom`'s in hex);
//! * descriptors, `AT_FDCWD`, and the flags and constants of `open`/`openat` (the mode only
//!   with `O_CREAT`/`O_TMPFILE`), the `*at` calls, `access`, `mmap`/`mprotect`/`mremap`/
//!   `madvise`, `lseek`, `fcntl` (its command, argument and the flags it returns), `dup3`,
//!   `pipe2`, `wait4`, `futex`, `clock_*`, `getrandom`, `prctl`, `arch_prctl` (`ARCH_SET_FS`),
//!   `prlimit64` (`RLIMIT_STACK`);
//! * structures the kernel wrote, after a successful call (the pointer when it failed):
//!   `struct stat` of `fstat`/`stat`/`lstat`/`newfstatat` as `{st_mode=S_IFREG|0644,
//!   st_size=123, ...}` (`st_rdev=makedev(..)` for devices), `statx`, `getdents64`'s entry
//!   count (`0x... /* 13 entries */`), `pipe` descriptors, `wait4`'s status, `uname`,
//!   `sysinfo`, rlimits, timespecs, `getcwd`, the old action of `rt_sigaction` and the old
//!   mask of `rt_sigprocmask`, `statfs`/`fstatfs` (`{f_type=EXT2_SUPER_MAGIC, f_bsize=4096,
//!   ..., f_flags=ST_VALID|ST_RELATIME}`), the `struct rusage` of `getrusage` and `wait4`
//!   (`{ru_utime={tv_sec=0, tv_usec=1884}, ru_stime=..., ...}`), `sigaltstack`'s old stack
//!   (`{ss_sp=0x..., ss_flags=SS_DISABLE, ss_size=0}`; the new one before the call);
//! * signals by name (`SIGINT`, `SIGRTMIN`, `SIGRT_3`), signal sets (`[INT TERM]`,
//!   `~[RTMIN RT_1]`), `struct sigaction`, `SIG_BLOCK`...;
//! * `epoll_ctl`'s event and the events `epoll_wait`/`epoll_pwait`/`epoll_pwait2` returned
//!   (`{events=EPOLLIN|EPOLLET, data={u32=4, u64=4}}`, at most 32);
//! * `ioctl` requests by name (`TCGETS`, `TIOCGWINSZ`, `FIONREAD`, ..., else
//!   `_IOC(dir, type, nr, size)`) with `struct termios`, `struct winsize` and `int` arguments;
//! * `execve`'s `argv` and environment count (`["ls", "-l"], 0x7ffd... /* 36 vars */`),
//!   `clone` (`child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD,
//!   child_tidptr=...`) and `clone3`'s `struct clone_args`;
//! * sockets: `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP)`, addresses of
//!   `connect`/`bind`/`sendto`/`accept`/`getsockname`/`recvfrom` (`{sa_family=AF_UNIX,
//!   sun_path="/run/x"}`, `{sa_family=AF_INET, sin_port=htons(80),
//!   sin_addr=inet_addr("127.0.0.1")}`, with `[110 => 17]` lengths); the `struct msghdr` of
//!   `sendmsg` (before the call) and `recvmsg` (after it): `msg_name`, `msg_namelen` (`110 =>
//!   16` when the kernel changed it), `msg_iov` with the data as for `writev`/`readv` (at
//!   most 32 iovecs), control messages (`SCM_RIGHTS` descriptors, `SCM_CREDENTIALS`,
//!   timestamps, the common `SOL_IP` ones; the others by level and type only),
//!   `msg_controllen`, `msg_flags`; `setsockopt`/`getsockopt` levels and option names
//!   (`SOL_SOCKET`, `SOL_IP`, `SOL_TCP`, `SOL_UDP`, `SOL_IPV6`, `SOL_PACKET`, `SOL_NETLINK`;
//!   the options of other levels as numbers) with `int` values (`[1]`), `SO_LINGER`,
//!   `SO_PEERCRED`, `SO_ERROR` (`[ECONNREFUSED]`) and other values as bytes (`"cubic"`);
//! * results: errors as `-1 ENOENT (No such file or directory)`, addresses (`mmap`, `brk`) in
//!   hexadecimal, `poll`'s ready descriptors.
//!
//! Other calls show their arguments in hexadecimal, up to the last non-zero one, and some
//! structures strace decodes are still shown as their address (the socket options that are
//! structures besides `SO_LINGER` and `SO_PEERCRED`: group memberships, packet and netlink
//! rings, socket filters, `ICMP_FILTER`) or without their data (the control messages listed
//! above aside). A line is cut (`...`) at 2 KiB. Calls that do not return (`exit`,
//! `exit_group`, `rt_sigreturn`, a successful `execve`) are printed before they are made,
//! with ` = ?`; the child's return from `fork`/`vfork`/`clone` is not printed (as with
//! `strace -f`, the parent's line shows the call).
//!
//! `zpoline run --trace[=FILE] -- CMD`, or `LIBZPHOOK=libzphook_trace.so`. Lines go to stderr
//! (a copy made at start-up), or to `ZPOLINE_TRACE_FILE`, appended; a name ending in `-` gets
//! the process id appended (one file per process). Each line is built in a fixed buffer
//! (nothing is allocated while the program runs) and written with one `write`, so lines of
//! concurrent threads do not mix. The program's memory is read with `process_vm_readv`
//! ([`hook_sdk::mem`]): a bad pointer shows as its address, never crashes the program.

use std::sync::atomic::{AtomicI64, Ordering};

use hook_sdk::{Hook, Next, Syscall, libc};

pub mod decode;
pub mod line;
pub mod net;
pub mod structs;
pub mod xlat;

pub use line::Line;

/// Appends `name(arguments)` of `call` as known before the call (the arguments the kernel
/// reads; the ones it writes follow with [`finish`]).
pub fn describe(line: &mut Line, call: &Syscall) -> decode::Pending {
    decode::name(line, call);
    line.s("(");
    decode::enter(line, call)
}

/// Appends the arguments the kernel wrote, `)`, and ` = result` with its newline.
pub fn finish(line: &mut Line, call: &Syscall, pending: decode::Pending, r: i64) {
    if pending.more {
        decode::exit(line, call, r, pending);
    }
    line.end_args();
    line.s(")");
    decode::result(line, call, r);
}

/// Where lines go: a copy of stderr made at start-up, or the trace file (`FILE_NAME`, opened
/// by each process at its first line when its name ends in `-`).
static STDERR: AtomicI64 = AtomicI64::new(-1);
static FILE_NAME: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
static FILE_FD: AtomicI64 = AtomicI64::new(-1);
static FILE_PID: AtomicI64 = AtomicI64::new(0);
/// The calling thread's id, from the kernel: a cached copy (the hook libc's thread
/// descriptor) is wrong in a fork child under the launcher and in a vfork child, which shares
/// its parent's.
fn tid() -> i64 {
    i64::from(hook_sdk::raw::gettid())
}

fn output(next: Next) -> i32 {
    let Some(name) = FILE_NAME.get() else {
        return STDERR.load(Ordering::Relaxed) as i32;
    };
    let per_process = name.ends_with(b"-");
    let pid = if per_process {
        next.call(Syscall {
            nr: libc::SYS_getpid,
            args: [0; 6],
        })
    } else {
        0
    };
    let cur = FILE_FD.load(Ordering::Relaxed);
    if cur >= 0 && (!per_process || FILE_PID.load(Ordering::Relaxed) == pid) {
        return cur as i32;
    }
    // The name, the pid for a per-process file, and a NUL, built without allocating.
    let mut path = [0u8; 4200];
    let n = name.len().min(4096);
    path[..n].copy_from_slice(&name[..n]);
    let mut len = n;
    if per_process {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = pid.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        path[len..len + digits.len() - i].copy_from_slice(&digits[i..]);
        len += digits.len() - i;
    }
    path[len] = 0;
    // SAFETY: open with a NUL-terminated path (the hook's own call: not traced).
    let fd = unsafe {
        libc::open(
            path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
            0o644,
        )
    };
    if fd < 0 {
        return STDERR.load(Ordering::Relaxed) as i32;
    }
    // A number out of the program's way (never a low one the program would take next: then
    // no output at all).
    let fd = hook_sdk::raw::private_fd(fd).unwrap_or_else(|| {
        // SAFETY: our own descriptor, which could not be moved.
        unsafe { libc::close(fd) };
        -1
    });
    FILE_FD.store(i64::from(fd), Ordering::Relaxed);
    FILE_PID.store(pid, Ordering::Relaxed);
    fd
}

fn emit(line: &Line, next: Next) {
    let fd = output(next);
    if fd >= 0 {
        // SAFETY: write(2) of our own buffer through the hook's libc (not traced).
        unsafe { libc::write(fd, line.bytes().as_ptr().cast(), line.bytes().len()) };
    }
}

/// The tracing hook.
struct Trace;

impl Hook for Trace {
    fn init(&self) -> Result<(), String> {
        // A private copy of stderr: programs close theirs at exit, and when it is closed from
        // the start there is no output (fd 2 would be the program's next file).
        STDERR.store(
            i64::from(hook_sdk::raw::private_fd(2).unwrap_or(-1)),
            Ordering::Relaxed,
        );
        if let Some(f) = std::env::var_os("ZPOLINE_TRACE_FILE") {
            let _ = FILE_NAME.set(f.into_encoded_bytes());
        }
        Ok(())
    }

    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        let mut line = Line::default();
        line.int(tid());
        line.s(" ");
        let pending = describe(&mut line, &call);
        if decode::may_not_return(call.nr) {
            // Printed first, with what is known before the call.
            line.end_args();
            line.s(") = ?");
            line.newline();
            emit(&line, next);
            let r = next.call(call);
            // It returned, so it failed.
            line.clear();
            line.int(tid());
            line.s(" <... ");
            decode::name(&mut line, &call);
            line.s(" resumed>");
            line.end_args();
            decode::result(&mut line, &call, r);
            emit(&line, next);
            return r;
        }
        let r = next.call(call);
        if r == 0 && decode::forks(call.nr) {
            // The child of fork or vfork: the parent prints the call.
            return r;
        }
        finish(&mut line, &call, pending, r);
        emit(&line, next);
        r
    }
}

hook_sdk::zpoline_hook!(Trace);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every system call number (and some out of range), with arguments and results of every
    /// kind (zeros, -1, small numbers, pointers into random bytes, unmapped and non-canonical
    /// pointers, huge counts): describing them never panics (a panic would abort the traced
    /// program) and a line always ends with its newline.
    #[test]
    fn decoding_random_calls_never_panics() {
        let mut calls = hook_sdk::testing::RandomCalls::new(0x9e37_79b9_7f4a_7c15);
        let nrs: Vec<i64> = (0..470).chain([512, 1000, -1, 0x4000_0000]).collect();
        for &nr in &nrs {
            for _ in 0..24 {
                let call = calls.call(nr);
                let mut line = Line::default();
                let pending = describe(&mut line, &call);
                finish(&mut line, &call, pending, calls.result());
                assert!(
                    line.bytes().ends_with(b"\n"),
                    "nr {nr}: {:?}",
                    String::from_utf8_lossy(line.bytes())
                );
            }
        }
    }

    /// Counts the allocations of each thread, to check that describing a call allocates
    /// nothing.
    struct Counting;

    thread_local! {
        static ALLOCATIONS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    // SAFETY: forwards to the system allocator.
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
            // SAFETY: the caller's layout.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: allocated by `alloc` above.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    fn trace(call: Syscall, r: i64) -> String {
        let mut l = Line::default();
        let p = describe(&mut l, &call);
        finish(&mut l, &call, p, r);
        String::from_utf8(l.bytes().to_vec()).unwrap()
    }

    #[test]
    fn lines_like_strace() {
        let path = c"/etc/passwd";
        let call = Syscall::new(257, &[-100, path.as_ptr() as i64, 0x80000]);
        assert_eq!(
            trace(call, -2),
            "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n"
        );
        let call = Syscall::new(257, &[3, path.as_ptr() as i64, 0o1101, 0o644]);
        assert_eq!(
            trace(call, 4),
            "openat(3, \"/etc/passwd\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 4\n"
        );
        let data = b"hello\n";
        let call = Syscall::new(1, &[1, data.as_ptr() as i64, 6]);
        assert_eq!(trace(call, 6), "write(1, \"hello\\n\", 6) = 6\n");
        let call = Syscall::new(3, &[3]);
        assert_eq!(trace(call, 0), "close(3) = 0\n");
        let call = Syscall::new(9, &[0, 8192, 3, 0x22, -1, 0]);
        assert_eq!(
            trace(call, 0x7f00_0000_0000),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n"
        );
        assert_eq!(trace(Syscall::new(39, &[]), 42), "getpid() = 42\n");
        assert_eq!(
            trace(Syscall::new(158, &[0x1002, 0x7f00_1000]), 0),
            "arch_prctl(ARCH_SET_FS, 0x7f001000) = 0\n"
        );
    }

    #[test]
    fn buffers_after_the_call() {
        // What a read put in the buffer, up to its result.
        let buf = *b"abcdefghijklmnopqrstuvwxyz0123456789";
        let call = Syscall::new(0, &[3, buf.as_ptr() as i64, 4096]);
        assert_eq!(
            trace(call, 36),
            "read(3, \"abcdefghijklmnopqrstuvwxyz012345\"..., 4096) = 36\n"
        );
        assert_eq!(trace(call, 3), "read(3, \"abc\", 4096) = 3\n");
        assert_eq!(
            trace(call, -9),
            format!(
                "read(3, {:#x}, 4096) = -1 EBADF (Bad file descriptor)\n",
                buf.as_ptr() as u64
            )
        );
    }

    #[test]
    fn stat_structures() {
        // SAFETY: all-zero is a valid struct stat.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        st.st_mode = 0o100644;
        st.st_size = 5;
        let e = c"";
        let call = Syscall::new(262, &[3, e.as_ptr() as i64, &st as *const _ as i64, 0x1000]);
        assert_eq!(
            trace(call, 0),
            "newfstatat(3, \"\", {st_mode=S_IFREG|0644, st_size=5, ...}, AT_EMPTY_PATH) = 0\n"
        );
        let call = Syscall::new(5, &[0, &st as *const _ as i64]);
        assert_eq!(
            trace(call, 0),
            "fstat(0, {st_mode=S_IFREG|0644, st_size=5, ...}) = 0\n"
        );
    }

    #[test]
    fn signals_and_ioctls() {
        let set: u64 = 1 << 16;
        let call = Syscall::new(14, &[0, &set as *const u64 as i64, 0, 8]);
        assert_eq!(
            trace(call, 0),
            "rt_sigprocmask(SIG_BLOCK, [CHLD], NULL, 8) = 0\n"
        );
        let call = Syscall::new(16, &[1, 0x5401, 0x1000]);
        assert_eq!(
            trace(call, -25),
            "ioctl(1, TCGETS, 0x1000) = -1 ENOTTY (Inappropriate ioctl for device)\n"
        );
        let ws: [u16; 4] = [24, 80, 0, 0];
        let call = Syscall::new(16, &[1, 0x5413, ws.as_ptr() as i64]);
        assert_eq!(
            trace(call, 0),
            "ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0\n"
        );
        let call = Syscall::new(62, &[123, 15]);
        assert_eq!(trace(call, 0), "kill(123, SIGTERM) = 0\n");
    }

    #[test]
    fn execve_and_clone() {
        let (a, b) = (c"/bin/ls", c"-la");
        let argv = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
        let envp = [b.as_ptr() as u64, b.as_ptr() as u64, 0];
        let call = Syscall::new(
            59,
            &[
                a.as_ptr() as i64,
                argv.as_ptr() as i64,
                envp.as_ptr() as i64,
            ],
        );
        let mut l = Line::default();
        describe(&mut l, &call);
        assert_eq!(
            std::str::from_utf8(l.bytes()).unwrap(),
            format!(
                "execve(\"/bin/ls\", [\"/bin/ls\", \"-la\"], {:#x} /* 2 vars */",
                envp.as_ptr() as u64
            )
        );
        let call = Syscall::new(56, &[0x0120_0011, 0, 0, 0x7f00_0a10, 0]);
        assert_eq!(
            trace(call, 77),
            "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, \
             child_tidptr=0x7f000a10) = 77\n"
        );
    }

    #[test]
    fn statfs_rusage_and_sigaltstack() {
        let p = |x: *const u64| x as i64;
        // statfs("/") and fstatfs of /proc, as the kernel fills them.
        let mut sf = [0u64; 15];
        sf[..11].copy_from_slice(&[
            0xef53,
            4096,
            66053021,
            61334023,
            19102474,
            16777216,
            16289497,
            0x3f51_d6d9_7a27_5583,
            255,
            4096,
            0x1020,
        ]);
        let root = c"/";
        let call = Syscall::new(libc::SYS_statfs, &[root.as_ptr() as i64, p(sf.as_ptr())]);
        assert_eq!(
            trace(call, 0),
            "statfs(\"/\", {f_type=EXT2_SUPER_MAGIC, f_bsize=4096, f_blocks=66053021, \
             f_bfree=61334023, f_bavail=19102474, f_files=16777216, f_ffree=16289497, \
             f_fsid={val=[0x7a275583, 0x3f51d6d9]}, f_namelen=255, f_frsize=4096, \
             f_flags=ST_VALID|ST_RELATIME}) = 0\n"
        );
        assert_eq!(
            trace(call, -2),
            format!(
                "statfs(\"/\", {:#x}) = -1 ENOENT (No such file or directory)\n",
                sf.as_ptr() as u64
            )
        );
        sf[..11].copy_from_slice(&[0x9fa0, 4096, 0, 0, 0, 0, 0, 0x15, 255, 4096, 0x1020]);
        assert_eq!(
            trace(Syscall::new(libc::SYS_fstatfs, &[3, p(sf.as_ptr())]), 0),
            "fstatfs(3, {f_type=PROC_SUPER_MAGIC, f_bsize=4096, f_blocks=0, f_bfree=0, \
             f_bavail=0, f_files=0, f_ffree=0, f_fsid={val=[0x15, 0]}, f_namelen=255, \
             f_frsize=4096, f_flags=ST_VALID|ST_RELATIME}) = 0\n"
        );
        // Without ST_VALID the flags are left out; an unknown type in hexadecimal.
        sf[0] = 0x1234_5678;
        sf[10] = 0x7fff_0000;
        assert!(
            trace(Syscall::new(libc::SYS_fstatfs, &[0, p(sf.as_ptr())]), 0)
                .starts_with("fstatfs(0, {f_type=0x12345678, ")
        );
        assert!(
            trace(Syscall::new(libc::SYS_fstatfs, &[0, p(sf.as_ptr())]), 0)
                .ends_with(", f_frsize=4096}) = 0\n")
        );

        let mut ru = [0u64; 18];
        ru[..4].copy_from_slice(&[0, 1884, 0, 0]);
        assert_eq!(
            trace(Syscall::new(libc::SYS_getrusage, &[0, p(ru.as_ptr())]), 0),
            "getrusage(RUSAGE_SELF, {ru_utime={tv_sec=0, tv_usec=1884}, \
             ru_stime={tv_sec=0, tv_usec=0}, ...}) = 0\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_getrusage, &[-1, p(ru.as_ptr())]), 0),
            "getrusage(RUSAGE_CHILDREN, {ru_utime={tv_sec=0, tv_usec=1884}, \
             ru_stime={tv_sec=0, tv_usec=0}, ...}) = 0\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_getrusage, &[5, p(ru.as_ptr())]), -22),
            format!(
                "getrusage(0x5 /* RUSAGE_??? */, {:#x}) = -1 EINVAL (Invalid argument)\n",
                ru.as_ptr() as u64
            )
        );
        let status: i32 = 3 << 8;
        ru[..4].copy_from_slice(&[0, 137, 0, 0]);
        let call = Syscall::new(
            libc::SYS_wait4,
            &[2907, &status as *const i32 as i64, 0, p(ru.as_ptr())],
        );
        assert_eq!(
            trace(call, 2907),
            "wait4(2907, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, {ru_utime={tv_sec=0, \
             tv_usec=137}, ru_stime={tv_sec=0, tv_usec=0}, ...}) = 2907\n"
        );
        let call = Syscall::new(libc::SYS_wait4, &[2908, &status as *const i32 as i64, 0, 0]);
        assert_eq!(
            trace(call, 2908),
            "wait4(2908, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 2908\n"
        );

        // sigaltstack(new, old): the old stack after the call.
        let new: [u64; 3] = [0x55f6_6473_82a0, 0, 65536];
        let old: [u64; 3] = [0, 2, 0];
        let call = Syscall::new(libc::SYS_sigaltstack, &[p(new.as_ptr()), p(old.as_ptr())]);
        assert_eq!(
            trace(call, 0),
            "sigaltstack({ss_sp=0x55f6647382a0, ss_flags=0, ss_size=65536}, \
             {ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0}) = 0\n"
        );
        let bad: [u64; 3] = [0x55f6_6473_82a0, 12345, 65536];
        let call = Syscall::new(libc::SYS_sigaltstack, &[p(bad.as_ptr()), 0]);
        assert_eq!(
            trace(call, -22),
            "sigaltstack({ss_sp=0x55f6647382a0, ss_flags=SS_ONSTACK|0x3038, ss_size=65536}, \
             NULL) = -1 EINVAL (Invalid argument)\n"
        );
        let odd: [u64; 3] = [0, 4 | (1 << 31), 0];
        let call = Syscall::new(libc::SYS_sigaltstack, &[p(odd.as_ptr()), 0]);
        assert_eq!(
            trace(call, 0),
            "sigaltstack({ss_sp=NULL, ss_flags=SS_AUTODISARM|0x4, ss_size=0}, NULL) = 0\n"
        );
        let odd: [u64; 3] = [0, 8, 0];
        let call = Syscall::new(libc::SYS_sigaltstack, &[p(odd.as_ptr()), 0]);
        assert_eq!(
            trace(call, 0),
            "sigaltstack({ss_sp=NULL, ss_flags=0x8 /* SS_??? */, ss_size=0}, NULL) = 0\n"
        );
    }

    /// `struct epoll_event`s (12 bytes each, packed).
    fn epoll_events(events: &[(u32, u64)]) -> Vec<u8> {
        let mut v = Vec::new();
        for &(e, d) in events {
            v.extend_from_slice(&e.to_ne_bytes());
            v.extend_from_slice(&d.to_ne_bytes());
        }
        v
    }

    #[test]
    fn epoll_events_like_strace() {
        let ev = epoll_events(&[(0x8000_0001, 4)]);
        let e = ev.as_ptr() as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 1, 4, e]), 0),
            "epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, data={u32=4, u64=4}}) = 0\n"
        );
        let ev = epoll_events(&[(0x7000_2004, 0x0123_4567_89ab_cdef)]);
        let e = ev.as_ptr() as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 1, 5, e]), -22),
            "epoll_ctl(3, EPOLL_CTL_ADD, 5, {events=EPOLLOUT|EPOLLRDHUP|EPOLLEXCLUSIVE|\
             EPOLLWAKEUP|EPOLLONESHOT, data={u32=2309737967, u64=81985529216486895}}) = \
             -1 EINVAL (Invalid argument)\n"
        );
        let ev = epoll_events(&[(0x10_0000, u64::MAX)]);
        let e = ev.as_ptr() as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 1, 100, e]), -9),
            "epoll_ctl(3, EPOLL_CTL_ADD, 100, {events=0x100000 /* EPOLL??? */, \
             data={u32=4294967295, u64=18446744073709551615}}) = -1 EBADF (Bad file descriptor)\n"
        );
        let ev = epoll_events(&[(0, 0)]);
        let e = ev.as_ptr() as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 9, 5, e]), -22),
            "epoll_ctl(3, 0x9 /* EPOLL_CTL_??? */, 5, {events=0, data={u32=0, u64=0}}) = \
             -1 EINVAL (Invalid argument)\n"
        );
        // EPOLL_CTL_DEL reads no event.
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 2, 5, e]), -2),
            format!(
                "epoll_ctl(3, EPOLL_CTL_DEL, 5, {:#x}) = -1 ENOENT (No such file or directory)\n",
                e
            )
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_ctl, &[3, 2, 5, 0]), -2),
            "epoll_ctl(3, EPOLL_CTL_DEL, 5, NULL) = -1 ENOENT (No such file or directory)\n"
        );

        // The events the kernel returned, as many as the result.
        let ev = epoll_events(&[(1, 4), (4, 5), (4, 6)]);
        let e = ev.as_ptr() as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_wait, &[3, e, 8, 10]), 2),
            "epoll_wait(3, [{events=EPOLLIN, data={u32=4, u64=4}}, \
             {events=EPOLLOUT, data={u32=5, u64=5}}], 8, 10) = 2\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_wait, &[3, e, 8, 0]), 0),
            "epoll_wait(3, [], 8, 0) = 0\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_epoll_wait, &[-1, e, 8, 0]), -9),
            format!("epoll_wait(-1, {e:#x}, 8, 0) = -1 EBADF (Bad file descriptor)\n")
        );
        let set: u64 = 1 << 1;
        let s = &set as *const u64 as i64;
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_epoll_pwait, &[3, e + 12, 8, 0, s, 8]),
                1
            ),
            "epoll_pwait(3, [{events=EPOLLOUT, data={u32=5, u64=5}}], 8, 0, [INT], 8) = 1\n"
        );
        let ts: [i64; 2] = [1, 5];
        let t = ts.as_ptr() as i64;
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_epoll_pwait2, &[3, e + 12, 2, t, 0, 8]),
                2
            ),
            "epoll_pwait2(3, [{events=EPOLLOUT, data={u32=5, u64=5}}, \
             {events=EPOLLOUT, data={u32=6, u64=6}}], 2, {tv_sec=1, tv_nsec=5}, NULL, 8) = 2\n"
        );
        // At most 32 events.
        let many: Vec<(u32, u64)> = (0..40).map(|i| (4, i)).collect();
        let ev = epoll_events(&many);
        let line = trace(
            Syscall::new(libc::SYS_epoll_wait, &[3, ev.as_ptr() as i64, 40, 0]),
            40,
        );
        assert_eq!(line.matches("{events=").count(), 32);
        assert!(line.ends_with("u64=31}}, ...], 40, 0) = 40\n"), "{line}");
    }

    #[test]
    fn messages_like_strace() {
        let (a, b) = (*b"hello", *b"world012345678901234567890123456789012");
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut _,
                iov_len: 5,
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut _,
                iov_len: 39,
            },
        ];
        // SAFETY: all-zero is a valid msghdr.
        let mut m: libc::msghdr = unsafe { core::mem::zeroed() };
        m.msg_iov = iov.as_ptr() as *mut _;
        m.msg_iovlen = 2;
        let mp = &m as *const libc::msghdr as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_sendmsg, &[3, mp, 0]), 44),
            "sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"hello\", \
             iov_len=5}, {iov_base=\"world012345678901234567890123456\"..., iov_len=39}], \
             msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 44\n"
        );

        // An SCM_RIGHTS message.
        let mut ctl = [0u64; 3];
        ctl[0] = 20;
        ctl[1] = 1 | (1 << 32);
        ctl[2] = 1;
        m.msg_iovlen = 1;
        m.msg_control = ctl.as_mut_ptr().cast();
        m.msg_controllen = 24;
        let mp = &m as *const libc::msghdr as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_sendmsg, &[3, mp, 0x4000]), 5),
            "sendmsg(3, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"hello\", \
             iov_len=5}], msg_iovlen=1, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, \
             cmsg_type=SCM_RIGHTS, cmsg_data=[1]}], msg_controllen=24, msg_flags=0}, \
             MSG_NOSIGNAL) = 5\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_sendmsg, &[6, 0, 0]), -14),
            "sendmsg(6, NULL, 0) = -1 EFAULT (Bad address)\n"
        );

        // recvmsg: what the kernel wrote, the data up to the result; a name length the kernel
        // changed shows both.
        let (mut r1, r2) = ([0u8; 4], *b"oworld0123456789012345678901234567890123");
        r1.copy_from_slice(b"hell");
        let riov = [
            libc::iovec {
                iov_base: r1.as_ptr() as *mut _,
                iov_len: 4,
            },
            libc::iovec {
                iov_base: r2.as_ptr() as *mut _,
                iov_len: 64,
            },
        ];
        // SAFETY: all-zero is a valid msghdr.
        let mut hdr: libc::msghdr = unsafe { core::mem::zeroed() };
        hdr.msg_iov = riov.as_ptr() as *mut _;
        hdr.msg_iovlen = 2;
        // The header the kernel writes to between the two halves of a line.
        let r = core::cell::Cell::new(hdr);
        let edit = |f: &dyn Fn(&mut libc::msghdr)| {
            let mut m = r.get();
            f(&mut m);
            r.set(m);
        };
        let rp = r.as_ptr();
        assert_eq!(
            trace(Syscall::new(libc::SYS_recvmsg, &[4, rp as i64, 0]), 44),
            "recvmsg(4, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"hell\", \
             iov_len=4}, {iov_base=\"oworld01234567890123456789012345\"..., iov_len=64}], \
             msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 44\n"
        );
        let from = [0u8; 110];
        edit(&|m| {
            m.msg_name = from.as_ptr() as *mut _;
            m.msg_namelen = 110;
        });
        let call = Syscall::new(libc::SYS_recvmsg, &[4, rp as i64, 0]);
        let mut l = Line::default();
        let pending = describe(&mut l, &call);
        // The kernel's answer: no name, 8 bytes, the flags.
        edit(&|m| {
            m.msg_namelen = 0;
            m.msg_flags = 0x20;
        });
        finish(&mut l, &call, pending, 1);
        assert_eq!(
            std::str::from_utf8(l.bytes()).unwrap(),
            format!(
                "recvmsg(4, {{msg_name={:#x}, msg_namelen=110 => 0, msg_iov=[{{iov_base=\"h\", \
                 iov_len=4}}, {{iov_base=\"\", iov_len=64}}], msg_iovlen=2, msg_controllen=0, \
                 msg_flags=MSG_TRUNC}}, 0) = 1\n",
                from.as_ptr() as u64
            )
        );
        // A UDP sender's address.
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 9999u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        edit(&|m| {
            m.msg_name = &sa as *const libc::sockaddr_in as *mut _;
            m.msg_namelen = 16;
            m.msg_iovlen = 1;
            m.msg_flags = 0;
        });
        assert_eq!(
            trace(Syscall::new(libc::SYS_recvmsg, &[6, rp as i64, 0]), 4),
            "recvmsg(6, {msg_name={sa_family=AF_INET, sin_port=htons(9999), \
             sin_addr=inet_addr(\"127.0.0.1\")}, msg_namelen=16, msg_iov=[{iov_base=\"hell\", \
             iov_len=4}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 4\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_recvmsg, &[6, rp as i64, 0x40]), -11),
            "recvmsg(6, {msg_namelen=16}, MSG_DONTWAIT) = -1 EAGAIN (Resource temporarily \
             unavailable)\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_recvmsg, &[4, 0x10, 0]), -14),
            "recvmsg(4, 0x10, 0) = -1 EFAULT (Bad address)\n"
        );
    }

    #[test]
    fn socket_options_like_strace() {
        let one: i32 = 1;
        let o = &one as *const i32 as i64;
        assert_eq!(
            trace(Syscall::new(libc::SYS_setsockopt, &[3, 1, 2, o, 4]), 0),
            "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_setsockopt, &[3, 6, 1, o, 4]), 0),
            "setsockopt(3, SOL_TCP, TCP_NODELAY, [1], 4) = 0\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_setsockopt, &[3, 6, 999, o, 4]), -92),
            "setsockopt(3, SOL_TCP, 0x3e7 /* TCP_??? */, [1], 4) = -1 ENOPROTOOPT \
             (Protocol not available)\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_setsockopt, &[3, 77, 5, o, 4]), -92),
            "setsockopt(3, 0x4d /* SOL_?? */, 5, [1], 4) = -1 ENOPROTOOPT \
             (Protocol not available)\n"
        );
        assert_eq!(
            trace(Syscall::new(libc::SYS_setsockopt, &[3, 1, 2, o, 2]), -22),
            format!(
                "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, {o:#x}, 2) = -1 EINVAL \
                 (Invalid argument)\n"
            )
        );
        let lg: [i32; 2] = [1, 5];
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_setsockopt, &[3, 1, 13, lg.as_ptr() as i64, 8]),
                0
            ),
            "setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=5}, 8) = 0\n"
        );
        let cc = *b"cubic";
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_setsockopt, &[3, 6, 13, cc.as_ptr() as i64, 5]),
                0
            ),
            "setsockopt(3, SOL_TCP, TCP_CONGESTION, \"cubic\", 5) = 0\n"
        );
        let tv: [u64; 2] = [3, 500];
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_setsockopt, &[3, 1, 20, tv.as_ptr() as i64, 16]),
                0
            ),
            "setsockopt(3, SOL_SOCKET, SO_RCVTIMEO_OLD, \"\\3\\0\\0\\0\\0\\0\\0\\0\\364\\1\\0\\0\
             \\0\\0\\0\\0\", 16) = 0\n"
        );

        // getsockopt: the value and the length the kernel wrote back.
        let err: i32 = 111;
        // The length the kernel writes back.
        let len = core::cell::Cell::new(4u32);
        let e = &err as *const i32 as i64;
        let lp = len.as_ptr();
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_getsockopt, &[3, 1, 4, e, lp as i64]),
                0
            ),
            "getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0\n"
        );
        assert_eq!(
            trace(
                Syscall::new(libc::SYS_getsockopt, &[-1, 1, 4, e, lp as i64]),
                -9
            ),
            format!(
                "getsockopt(-1, SOL_SOCKET, SO_ERROR, {e:#x}, [4]) = -1 EBADF \
                 (Bad file descriptor)\n"
            )
        );
        let buf: i64 = 2304;
        len.set(8);
        let call = Syscall::new(
            libc::SYS_getsockopt,
            &[3, 1, 8, &buf as *const i64 as i64, lp as i64],
        );
        let mut l = Line::default();
        let pending = describe(&mut l, &call);
        len.set(4);
        finish(&mut l, &call, pending, 0);
        assert_eq!(
            std::str::from_utf8(l.bytes()).unwrap(),
            "getsockopt(3, SOL_SOCKET, SO_RCVBUF, [2304], [8 => 4]) = 0\n"
        );
        let cred: [u32; 3] = [5486, 0, 0];
        len.set(12);
        assert_eq!(
            trace(
                Syscall::new(
                    libc::SYS_getsockopt,
                    &[4, 1, 17, cred.as_ptr() as i64, lp as i64]
                ),
                0
            ),
            "getsockopt(4, SOL_SOCKET, SO_PEERCRED, {pid=5486, uid=0, gid=0}, [12]) = 0\n"
        );
        assert_eq!(len.get(), 12);
    }

    #[test]
    fn nothing_is_allocated() {
        // Calls of every kind of decoder, with structures and strings of this thread's.
        let path = c"/etc/passwd";
        let data = *b"0123456789abcdefghijklmnopqrstuvwxyz";
        // SAFETY: all-zero is a valid struct stat.
        let st: libc::stat = unsafe { core::mem::zeroed() };
        let act: [u64; 4] = [1, 0x0400_0000, 0x1000, 1 << 3];
        let argv = [path.as_ptr() as u64, 0];
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 80u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: 0x0100_007f,
            },
            sin_zero: [0; 8],
        };
        let mut un = [0u8; 110];
        un[0] = 1;
        un[2..8].copy_from_slice(b"/run/x");
        let t: [u32; 9] = [0o2400, 5, 0o277, 0o105073, 0, 0, 0, 0, 0];
        let p = |x: *const u8| x as i64;
        // Structures for the newer decoders: zeros, an iovec of `data`, a control message.
        let mut words = [0u64; 32];
        words[2] = data.as_ptr() as u64;
        words[3] = 5;
        words[8] = 20;
        words[9] = 1 | (1 << 32);
        // SAFETY: all-zero is a valid msghdr.
        let mut m: libc::msghdr = unsafe { core::mem::zeroed() };
        m.msg_iov = words[2..].as_mut_ptr().cast();
        m.msg_iovlen = 1;
        m.msg_control = words[8..].as_mut_ptr().cast();
        m.msg_controllen = 24;
        let msg: *const u8 = (&m as *const libc::msghdr).cast();
        let big: *const u8 = words[12..].as_ptr().cast();
        let twelve: u32 = 12;
        let len: *const u8 = (&twelve as *const u32).cast();
        let calls = [
            (
                Syscall::new(257, &[-100, p(path.as_ptr().cast()), 0o1101, 0o644]),
                3,
            ),
            (Syscall::new(0, &[3, p(data.as_ptr()), 4096]), 36),
            (Syscall::new(1, &[1, p(data.as_ptr()), 36]), 36),
            (
                Syscall::new(
                    262,
                    &[
                        3,
                        p(c"".as_ptr().cast()),
                        p((&st as *const libc::stat).cast()),
                        0x1000,
                    ],
                ),
                0,
            ),
            (
                Syscall::new(13, &[2, p(act.as_ptr().cast()), p(act.as_ptr().cast()), 8]),
                0,
            ),
            (Syscall::new(14, &[0, p(act.as_ptr().cast()), 0, 8]), 0),
            (Syscall::new(16, &[0, 0x5401, p(t.as_ptr().cast())]), 0),
            (
                Syscall::new(
                    59,
                    &[
                        p(path.as_ptr().cast()),
                        p(argv.as_ptr().cast()),
                        p(argv.as_ptr().cast()),
                    ],
                ),
                -2,
            ),
            (
                Syscall::new(42, &[3, p((&sa as *const libc::sockaddr_in).cast()), 16]),
                0,
            ),
            (Syscall::new(42, &[3, p(un.as_ptr()), 110]), -2),
            (Syscall::new(41, &[2, 0o2000001, 6]), 3),
            (Syscall::new(56, &[0x0120_0011, 0, 0, 0x1000, 0]), 5),
            (Syscall::new(158, &[0x1002, 0x1000]), 0),
            (Syscall::new(318, &[p(data.as_ptr()), 8, 1]), 8),
            (
                Syscall::new(libc::SYS_statfs, &[p(path.as_ptr().cast()), p(big)]),
                0,
            ),
            (Syscall::new(libc::SYS_getrusage, &[0, p(big)]), 0),
            (Syscall::new(libc::SYS_sigaltstack, &[p(big), p(big)]), 0),
            (Syscall::new(libc::SYS_epoll_ctl, &[3, 1, 4, p(big)]), 0),
            (Syscall::new(libc::SYS_epoll_wait, &[3, p(big), 8, 0]), 8),
            (Syscall::new(libc::SYS_sendmsg, &[3, p(msg), 0]), 5),
            (Syscall::new(libc::SYS_recvmsg, &[3, p(msg), 0]), 5),
            (Syscall::new(libc::SYS_setsockopt, &[3, 1, 2, p(big), 4]), 0),
            (
                Syscall::new(libc::SYS_getsockopt, &[3, 1, 17, p(big), p(len)]),
                0,
            ),
            (Syscall::new(libc::SYS_rt_sigreturn, &[1, 2, 3]), 0),
            (Syscall::new(999, &[1, 2]), -38),
        ];
        let before = ALLOCATIONS.with(|a| a.get());
        let mut total = 0;
        for (call, r) in calls {
            let mut l = Line::default();
            let pending = describe(&mut l, &call);
            finish(&mut l, &call, pending, r);
            total += l.bytes().len();
        }
        assert_eq!(
            ALLOCATIONS.with(|a| a.get()),
            before,
            "the hook path allocated"
        );
        assert!(total > 500);
    }
}
