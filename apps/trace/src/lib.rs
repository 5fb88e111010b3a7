//! `strace` for zpoline: one line per system call, `TID name(arguments) = result`, with paths
//! shown as strings, `AT_FDCWD` by name and errors as `-1 ENOENT (No such file or directory)`:
//!
//! ```text
//! 4021 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC, 0x0) = 3
//! 4021 access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory)
//! ```
//!
//! Flags of `open`/`openat`, `mmap`/`mprotect` and `access` are decoded by name.
//!
//! `zpoline run --trace[=FILE] -- CMD`, or `LIBZPHOOK=libzphook_trace.so`. Lines go to stderr
//! (a copy made at start-up), or to `ZPOLINE_TRACE_FILE`, appended; a name ending in `-` gets
//! the process id appended (one file per process). Each line is written with one `write`, so
//! lines of concurrent threads do not mix. Calls that do not return (`exit`, `exit_group`, a
//! successful `execve`) are printed before they are made, with ` = ?`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use hook_sdk::{Hook, Next, Syscall, libc};

/// How an argument is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Arg {
    /// A signed decimal number.
    Int,
    /// A pointer or flags, in hexadecimal.
    Hex,
    /// A C string (a path).
    Str,
    /// A directory descriptor (`AT_FDCWD` by name).
    DirFd,
    /// `open` flags (`O_RDONLY|O_CLOEXEC`).
    OpenFlags,
    /// `mmap`/`mprotect` protection (`PROT_READ|PROT_EXEC`).
    Prot,
    /// `mmap` flags (`MAP_PRIVATE|MAP_ANONYMOUS`).
    MapFlags,
    /// `access` mode (`F_OK`, `R_OK|X_OK`).
    Mode,
    /// A descriptor passed as a 32-bit int (`mmap`'s: -1 for none).
    Fd,
}

use Arg::{DirFd, Fd, Hex, Int, MapFlags, Mode, OpenFlags, Prot, Str};

/// Appends the names of the bits of `v` found in `names` (`|`-separated), and what is left in
/// hexadecimal; `zero` when `v` is 0.
pub fn flags(line: &mut Line, v: u64, names: &[(u64, &str)], zero: &str) {
    if v == 0 {
        line.push(zero.as_bytes());
        return;
    }
    let mut left = v;
    let mut first = true;
    for &(bit, name) in names {
        if bit != 0 && left & bit == bit {
            if !first {
                line.push(b"|");
            }
            line.push(name.as_bytes());
            left &= !bit;
            first = false;
        }
    }
    if left != 0 {
        if !first {
            line.push(b"|");
        }
        line.hex(left);
    }
}

const OPEN_FLAGS: &[(u64, &str)] = &[
    (0o1, "O_WRONLY"),
    (0o2, "O_RDWR"),
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
];
const PROT: &[(u64, &str)] = &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")];
const MAP_FLAGS: &[(u64, &str)] = &[
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x20000, "MAP_STACK"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];
const ACCESS_MODE: &[(u64, &str)] = &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")];

/// Appends `open` flags: the access mode first (`O_RDONLY` is 0), then the others.
fn open_flags(line: &mut Line, v: u64) {
    if v & 3 == 0 {
        line.push(b"O_RDONLY");
        if v != 0 {
            line.push(b"|");
            flags(line, v, OPEN_FLAGS, "");
        }
    } else {
        flags(line, v, OPEN_FLAGS, "O_RDONLY");
    }
}

/// The arguments of the common system calls (others: all six in hexadecimal).
pub fn arguments(nr: i64) -> Option<&'static [Arg]> {
    Some(match nr {
        0 | 1 => &[Int, Hex, Int],                     // read, write
        2 => &[Str, OpenFlags, Hex],                   // open
        3 => &[Int],                                   // close
        4 | 6 => &[Str, Hex],                          // stat, lstat
        5 => &[Int, Hex],                              // fstat
        8 => &[Int, Int, Int],                         // lseek
        9 => &[Hex, Int, Prot, MapFlags, Fd, Hex],     // mmap
        10 => &[Hex, Int, Prot],                       // mprotect
        11 => &[Hex, Int],                             // munmap
        12 => &[Hex],                                  // brk
        13 => &[Int, Hex, Hex, Int],                   // rt_sigaction
        14 => &[Int, Hex, Hex, Int],                   // rt_sigprocmask
        16 => &[Int, Hex, Hex],                        // ioctl
        17 | 18 => &[Int, Hex, Int, Int],              // pread64, pwrite64
        21 => &[Str, Mode],                            // access
        32 => &[Int],                                  // dup
        33 => &[Int, Int],                             // dup2
        39 | 102 | 104 | 107 | 108 | 110 | 186 => &[], // getpid, getuid, getgid, ...
        59 => &[Str, Hex, Hex],                        // execve
        60 | 231 => &[Int],                            // exit, exit_group
        61 => &[Int, Hex, Hex, Hex],                   // wait4
        62 => &[Int, Int],                             // kill
        72 => &[Int, Int, Hex],                        // fcntl
        79 => &[Hex, Int],                             // getcwd
        80 => &[Str],                                  // chdir
        82 => &[Str, Str],                             // rename
        83 => &[Str, Hex],                             // mkdir
        84 | 87 => &[Str],                             // rmdir, unlink
        89 => &[Str, Hex, Int],                        // readlink
        137 => &[Str, Hex],                            // statfs
        158 => &[Hex, Hex],                            // arch_prctl
        191 | 192 => &[Str, Str, Hex, Int],            // getxattr, lgetxattr
        193 => &[Int, Str, Hex, Int],                  // fgetxattr
        194 | 195 => &[Str, Hex, Int],                 // listxattr, llistxattr
        217 => &[Int, Hex, Int],                       // getdents64
        218 => &[Hex],                                 // set_tid_address
        257 => &[DirFd, Str, OpenFlags, Hex],          // openat
        262 => &[DirFd, Str, Hex, Hex],                // newfstatat
        263 => &[DirFd, Str, Hex],                     // unlinkat
        267 => &[DirFd, Str, Hex, Int],                // readlinkat
        269 | 439 => &[DirFd, Str, Mode, Hex],         // faccessat, faccessat2
        273 => &[Hex, Int],                            // set_robust_list
        293 => &[Hex, Hex],                            // pipe2
        302 => &[Int, Int, Hex, Hex],                  // prlimit64
        318 => &[Hex, Int, Hex],                       // getrandom
        332 => &[DirFd, Str, Hex, Hex, Hex],           // statx
        334 => &[Hex, Int, Hex, Hex],                  // rseq
        _ => return None,
    })
}

/// A line being built in a fixed buffer (no allocation on the hook path).
pub struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; 1024],
            len: 0,
        }
    }
}

impl Line {
    /// Appends bytes (cut at the buffer's end).
    pub fn push(&mut self, b: &[u8]) {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }

    /// Appends a decimal number.
    pub fn int(&mut self, v: i64) {
        let mut d = [0u8; 24];
        let mut i = d.len();
        let mut u = v.unsigned_abs();
        loop {
            i -= 1;
            d[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        if v < 0 {
            i -= 1;
            d[i] = b'-';
        }
        self.push(&d[i..]);
    }

    /// Appends `0x` and a hexadecimal number.
    pub fn hex(&mut self, v: u64) {
        let mut d = [0u8; 16];
        let mut i = d.len();
        let mut u = v;
        loop {
            i -= 1;
            d[i] = b"0123456789abcdef"[(u & 15) as usize];
            u >>= 4;
            if u == 0 {
                break;
            }
        }
        self.push(b"0x");
        self.push(&d[i..]);
    }

    /// Appends a C string in quotes, escaped like strace, at most 256 bytes.
    ///
    /// # Safety
    /// `p` must be null or point at a readable C string.
    pub unsafe fn cstr(&mut self, p: u64) {
        if p == 0 {
            self.push(b"NULL");
            return;
        }
        self.push(b"\"");
        for i in 0..256 {
            // SAFETY: the caller's contract: readable up to its NUL.
            let c = unsafe { *((p + i) as *const u8) };
            match c {
                0 => break,
                b'"' => self.push(b"\\\""),
                b'\\' => self.push(b"\\\\"),
                b'\n' => self.push(b"\\n"),
                b'\t' => self.push(b"\\t"),
                0x20..=0x7e => self.push(&[c]),
                _ => {
                    self.push(b"\\x");
                    self.push(&[
                        b"0123456789abcdef"[(c >> 4) as usize],
                        b"0123456789abcdef"[(c & 15) as usize],
                    ]);
                }
            }
        }
        self.push(b"\"");
    }

    /// The bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Appends `name(arguments)` of `call` to `line`.
///
/// # Safety
/// The call's string arguments must be readable (they are the program's, about to be used by
/// the kernel).
pub unsafe fn describe(line: &mut Line, call: &Syscall) {
    line.push(call.name().unwrap_or("syscall").as_bytes());
    if call.name().is_none() {
        line.push(b"_");
        line.int(call.nr);
    }
    line.push(b"(");
    let kinds = arguments(call.nr).unwrap_or(&[Hex, Hex, Hex, Hex, Hex, Hex]);
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            line.push(b", ");
        }
        let v = call.args[i];
        match k {
            Int => line.int(v),
            Hex => line.hex(v as u64),
            // SAFETY: the caller's contract.
            Str => unsafe { line.cstr(v as u64) },
            DirFd if v as i32 == libc::AT_FDCWD => line.push(b"AT_FDCWD"),
            DirFd => line.int(v),
            OpenFlags => open_flags(line, v as u64),
            Prot => flags(line, v as u64, PROT, "PROT_NONE"),
            MapFlags => flags(line, v as u64, MAP_FLAGS, "0"),
            Mode => flags(line, v as u64, ACCESS_MODE, "F_OK"),
            Fd => line.int(i64::from(v as i32)),
        }
    }
    line.push(b")");
}

/// Appends ` = result`, with the errno's name and description for an error.
pub fn result(line: &mut Line, r: i64) {
    line.push(b" = ");
    if (-4095..0).contains(&r) {
        line.push(b"-1 ");
        let e = syscalls::Errno::new(-r as i32);
        match (e.name(), e.description()) {
            (Some(n), Some(d)) => {
                line.push(n.as_bytes());
                line.push(b" (");
                line.push(d.as_bytes());
                line.push(b")");
            }
            _ => {
                line.push(b"errno ");
                line.int(-r);
            }
        }
    } else if r > 0xffff {
        line.hex(r as u64);
    } else {
        line.int(r);
    }
    line.push(b"\n");
}

/// Where lines go: a copy of stderr made at start-up, or the trace file (`FILE_NAME`, opened
/// by each process at its first line when its name ends in `-`).
static STDERR: AtomicI64 = AtomicI64::new(2);
static FILE_NAME: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
static FILE_FD: AtomicI64 = AtomicI64::new(-1);
static FILE_PID: AtomicI64 = AtomicI64::new(0);
/// Offset of `tid` in the hook's libc's thread descriptor (see `init`).
static TID_OFF: AtomicU64 = AtomicU64::new(0);

fn tid() -> i64 {
    let off = TID_OFF.load(Ordering::Relaxed);
    // SAFETY: pthread_self is the hook libc's thread descriptor; the offset was found in it.
    let tp = unsafe { libc::pthread_self() } as u64;
    if off == 0 {
        return 0;
    }
    // SAFETY: as above.
    i64::from(unsafe { core::ptr::read_volatile((tp + off) as *const i32) })
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
    let mut path = name.clone();
    if per_process {
        path.extend_from_slice(pid.to_string().as_bytes());
    }
    path.push(0);
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
    // A number out of the program's way.
    // SAFETY: fcntl/close of our own descriptor.
    let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 1000) };
    let fd = if high >= 0 {
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
        high
    } else {
        fd
    };
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
        // SAFETY: fcntl duplicating stderr to a number of 1000 or more.
        let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 1000) };
        STDERR.store(i64::from(if fd >= 0 { fd } else { 2 }), Ordering::Relaxed);
        if let Some(f) = std::env::var_os("ZPOLINE_TRACE_FILE") {
            let _ = FILE_NAME.set(f.into_encoded_bytes());
        }
        // The tid's place in the thread descriptor: the one word of this thread's holding its
        // tid (this libc's private layout, looked up rather than assumed).
        // SAFETY: gettid has no preconditions; the descriptor is at least 4 KiB.
        let (me, tp) = unsafe { (libc::gettid(), libc::pthread_self() as u64) };
        let hits: Vec<u64> = (0x100..0x1000u64)
            .step_by(4)
            // SAFETY: within the descriptor.
            .filter(|o| unsafe { core::ptr::read((tp + o) as *const i32) } == me)
            .collect();
        if let [off] = hits[..] {
            TID_OFF.store(off, Ordering::Relaxed);
        }
        Ok(())
    }

    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        let mut line = Line::default();
        line.int(tid());
        line.push(b" ");
        // SAFETY: the program's own arguments, about to be read by the kernel.
        unsafe { describe(&mut line, &call) };
        if matches!(call.nr, 59 | 60 | 231 | 322) {
            // May not return: printed first.
            let mut first = Line::default();
            first.push(line.bytes());
            first.push(b" = ?\n");
            emit(&first, next);
            let r = next.call(call);
            let mut failed = Line::default();
            failed.int(tid());
            failed.push(b" <... ");
            failed.push(call.name().unwrap_or("syscall").as_bytes());
            failed.push(b" resumed>");
            result(&mut failed, r);
            emit(&failed, next);
            return r;
        }
        let r = next.call(call);
        result(&mut line, r);
        emit(&line, next);
        r
    }
}

hook_sdk::zpoline_hook!(Trace);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_like_strace() {
        let path = c"/etc/passwd";
        let mut l = Line::default();
        let call = Syscall {
            nr: 257,
            args: [-100, path.as_ptr() as i64, 0x80000, 0, 0, 0],
        };
        // SAFETY: a C string of ours.
        unsafe { describe(&mut l, &call) };
        result(&mut l, -2);
        assert_eq!(
            std::str::from_utf8(l.bytes()).unwrap(),
            "openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC, 0x0) = -1 ENOENT (No such file or directory)\n"
        );
        let mut l = Line::default();
        // SAFETY: no string argument.
        unsafe {
            describe(
                &mut l,
                &Syscall {
                    nr: 1,
                    args: [1, 0x1000, 5, 0, 0, 0],
                },
            )
        };
        result(&mut l, 5);
        assert_eq!(
            std::str::from_utf8(l.bytes()).unwrap(),
            "write(1, 0x1000, 5) = 5\n"
        );
    }
}
