//! System calls made directly with the `syscall` instruction: they reach the kernel without
//! passing through the hook (nor through the hook namespace's libc).
//!
//! The hook namespace is never rewritten, so a hook's own calls (through its libc or these)
//! never re-enter the hook. Use [`Next`](crate::Next) for the program's calls (it keeps
//! `clone`, `vfork`, `execve` and `rt_sigreturn` correct); use these for the hook's own work.

use core::arch::asm;

/// Makes system call `nr` with six arguments and returns the kernel's result (`-errno` on
/// failure).
///
/// ```
/// // getpid(2) straight to the kernel.
/// // SAFETY: getpid takes no arguments and changes nothing.
/// let pid = unsafe { hook_sdk::raw::syscall(hook_sdk::libc::SYS_getpid, [0; 6]) };
/// assert_eq!(pid, std::process::id() as i64);
/// ```
///
/// # Safety
/// The call does whatever the kernel does with these arguments: pointers must be valid for
/// the call, and calls that change the address space, the signal state or the thread
/// (`munmap`, `rt_sigreturn`, `clone`) must be safe in the caller's context.
#[inline]
pub unsafe fn syscall(nr: i64, args: [i64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the caller's contract; the kernel clobbers rcx and r11 only.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// This process's id.
///
/// ```
/// assert_eq!(hook_sdk::raw::getpid(), std::process::id() as i32);
/// ```
pub fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { syscall(libc::SYS_getpid, [0; 6]) as i32 }
}

/// The calling thread's id.
///
/// ```
/// assert!(hook_sdk::raw::gettid() > 0);
/// ```
pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { syscall(libc::SYS_gettid, [0; 6]) as i32 }
}

/// The parent process's id.
///
/// ```
/// assert_eq!(hook_sdk::raw::getppid(), std::os::unix::process::parent_id() as i32);
/// ```
pub fn getppid() -> i32 {
    // SAFETY: getppid takes no arguments and cannot fail.
    unsafe { syscall(libc::SYS_getppid, [0; 6]) as i32 }
}

/// The real user id.
///
/// ```
/// // SAFETY: getuid has no preconditions.
/// assert_eq!(hook_sdk::raw::getuid(), unsafe { hook_sdk::libc::getuid() });
/// ```
pub fn getuid() -> u32 {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { syscall(libc::SYS_getuid, [0; 6]) as u32 }
}

/// Writes all of `bytes` to `fd` (retrying short writes and `EINTR`); returns the kernel's
/// error, if any, as `-errno`.
///
/// ```
/// hook_sdk::raw::write_all(2, b"to stderr, past any buffering\n").unwrap();
/// ```
pub fn write_all(fd: i32, mut bytes: &[u8]) -> Result<(), i64> {
    while !bytes.is_empty() {
        // SAFETY: a readable buffer of the given length.
        let r = unsafe {
            syscall(
                libc::SYS_write,
                [
                    fd as i64,
                    bytes.as_ptr() as i64,
                    bytes.len() as i64,
                    0,
                    0,
                    0,
                ],
            )
        };
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r <= 0 {
            return Err(if r == 0 { -(libc::EIO as i64) } else { r });
        }
        bytes = &bytes[r as usize..];
    }
    Ok(())
}

/// The calling thread's name (`comm`, at most 15 bytes), from `prctl(PR_GET_NAME)`, copied
/// into `buf`.
///
/// ```
/// let mut buf = [0u8; 16];
/// assert!(!hook_sdk::raw::thread_name(&mut buf).is_empty());
/// ```
pub fn thread_name(buf: &mut [u8; 16]) -> &[u8] {
    *buf = [0; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes into buf.
    unsafe {
        syscall(
            libc::SYS_prctl,
            [
                libc::PR_GET_NAME as i64,
                buf.as_mut_ptr() as i64,
                0,
                0,
                0,
                0,
            ],
        )
    };
    let n = buf.iter().position(|&b| b == 0).unwrap_or(16);
    &buf[..n]
}

/// Moves descriptor `fd` out of the program's way: a close-on-exec copy at a high number
/// (from 1000 down to what `RLIMIT_NOFILE` allows, at least 10), and closes `fd` unless it is
/// one of the program's standard descriptors (0, 1, 2). Returns the copy, or `None` when `fd`
/// is not open (stderr closed by the program's parent) or no high number is free: then the
/// hook must not write, since a number it would use may be the program's next file.
///
/// Hooks that print (trace, count, rules) keep their output there: the program's stderr may
/// be closed at exit, or replaced; the program's own files take the lowest free numbers.
///
/// ```
/// use std::os::fd::AsRawFd;
/// let f = std::fs::File::open("/dev/null").unwrap();
/// let copy = hook_sdk::raw::private_fd(f.as_raw_fd()).unwrap();
/// assert!(copy >= 10);
/// std::mem::forget(f); // private_fd closed it
/// assert_eq!(hook_sdk::raw::private_fd(-1), None);
/// ```
pub fn private_fd(fd: i32) -> Option<i32> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into our struct.
    let soft = if unsafe {
        syscall(
            libc::SYS_getrlimit,
            [
                libc::RLIMIT_NOFILE as i64,
                &mut lim as *mut _ as i64,
                0,
                0,
                0,
                0,
            ],
        )
    } == 0
    {
        lim.rlim_cur.min(1 << 20) as i64
    } else {
        1024
    };
    // The highest few numbers below the limit, or 1000 when the limit allows: as far from the
    // program's own numbers as possible.
    let candidates = [1000i64, soft * 3 / 4, soft / 2, 10];
    for min in candidates {
        if min < 10 || min >= soft {
            continue;
        }
        // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a descriptor number; the kernel checks it.
        let r = unsafe {
            syscall(
                libc::SYS_fcntl,
                [fd as i64, libc::F_DUPFD_CLOEXEC as i64, min, 0, 0, 0],
            )
        };
        if r >= 0 {
            if fd > 2 {
                // SAFETY: the caller's descriptor, replaced by the copy.
                unsafe { syscall(libc::SYS_close, [fd as i64, 0, 0, 0, 0, 0]) };
            }
            return Some(r as i32);
        }
        if r == -(libc::EBADF as i64) {
            return None;
        }
    }
    None
}
