//! Thin wrappers over the runtime's raw system call ([`crate::arch::x86_64::raw_syscall`]).
//! They never go through libc, so they work while libc's pages are being rewritten and from
//! the hook path; errors are returned as negative errno values.

use crate::arch::x86_64::raw_syscall;

/// Result of a raw system call: the value, or the errno.
pub type SysResult = Result<i64, i32>;

fn check(r: i64) -> SysResult {
    if (-4095..0).contains(&r) {
        Err((-r) as i32)
    } else {
        Ok(r)
    }
}

/// `syscall(nr, a1..a6)` through the runtime's own instruction.
#[inline]
pub fn syscall6(nr: i64, a: [i64; 6]) -> SysResult {
    // SAFETY: the callers in this module pass arguments valid for `nr`.
    check(unsafe { raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) })
}

/// write(2) of the whole buffer (retries short writes and EINTR).
pub fn write_all(fd: i32, mut buf: &[u8]) {
    while !buf.is_empty() {
        match syscall6(
            libc::SYS_write,
            [fd as i64, buf.as_ptr() as i64, buf.len() as i64, 0, 0, 0],
        ) {
            Ok(n) if n > 0 => buf = &buf[n as usize..],
            Err(libc::EINTR) => continue,
            _ => return,
        }
    }
}

/// Anonymous private read-write mapping of `len` bytes.
pub fn mmap_anon(len: usize) -> Result<*mut u8, i32> {
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as i64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as i64;
    syscall6(libc::SYS_mmap, [0, len as i64, prot, flags, -1, 0]).map(|p| p as *mut u8)
}

/// mmap(2) with every argument given.
pub fn mmap(addr: u64, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> SysResult {
    syscall6(
        libc::SYS_mmap,
        [
            addr as i64,
            len as i64,
            prot as i64,
            flags as i64,
            fd as i64,
            off,
        ],
    )
}

/// mprotect(2).
pub fn mprotect(addr: u64, len: usize, prot: i32) -> SysResult {
    syscall6(
        libc::SYS_mprotect,
        [addr as i64, len as i64, prot as i64, 0, 0, 0],
    )
}

/// munmap(2).
pub fn munmap(addr: u64, len: usize) -> SysResult {
    syscall6(libc::SYS_munmap, [addr as i64, len as i64, 0, 0, 0, 0])
}

/// exit_group(2).
pub fn exit_group(code: i32) -> ! {
    let _ = syscall6(libc::SYS_exit_group, [code as i64, 0, 0, 0, 0, 0]);
    // SAFETY: exit_group does not return; this is never reached.
    unsafe { core::hint::unreachable_unchecked() }
}

/// rt_sigprocmask(2) on a full 64-bit set; returns the old set.
pub fn sigprocmask(how: i32, set: Option<u64>) -> Result<u64, i32> {
    let mut old: u64 = 0;
    let setp = set.as_ref().map_or(0, |s| s as *const u64 as i64);
    syscall6(
        libc::SYS_rt_sigprocmask,
        [how as i64, setp, &mut old as *mut u64 as i64, 8, 0, 0],
    )?;
    Ok(old)
}

/// Reads a whole file (such as /proc/self/maps) with raw system calls.
pub fn read_file(path: &core::ffi::CStr) -> Result<Vec<u8>, i32> {
    let fd = syscall6(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as i64,
            path.as_ptr() as i64,
            (libc::O_RDONLY | libc::O_CLOEXEC) as i64,
            0,
            0,
            0,
        ],
    )?;
    let mut out = Vec::with_capacity(64 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    let res = loop {
        match syscall6(
            libc::SYS_read,
            [fd, chunk.as_mut_ptr() as i64, chunk.len() as i64, 0, 0, 0],
        ) {
            Ok(0) => break Ok(out),
            Ok(n) => out.extend_from_slice(&chunk[..n as usize]),
            Err(libc::EINTR) => continue,
            Err(e) => break Err(e),
        }
    };
    let _ = syscall6(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_getpid_matches_libc() {
        // SAFETY: getpid has no preconditions.
        assert_eq!(
            syscall6(libc::SYS_getpid, [0; 6]).unwrap(),
            unsafe { libc::getpid() } as i64
        );
    }

    #[test]
    fn errors_are_errno() {
        assert_eq!(
            syscall6(libc::SYS_close, [-1, 0, 0, 0, 0, 0]),
            Err(libc::EBADF)
        );
        assert_eq!(syscall6(100_000, [0; 6]), Err(libc::ENOSYS));
    }

    #[test]
    fn reads_proc_maps() {
        let m = read_file(c"/proc/self/maps").unwrap();
        assert!(m.len() > 100);
    }
}
