//! Reading the program's memory from a hook without trusting its pointers.
//!
//! A system call's pointer arguments may be wrong (the kernel answers `EFAULT`); a hook that
//! dereferenced them would crash the program instead. These functions copy with
//! `process_vm_readv` on the process itself, which fails cleanly on unmapped or unreadable
//! memory, and never allocate.

use crate::raw;

/// Copies up to `buf.len()` bytes from the program's address `addr` into `buf`; returns how
/// many were readable (fewer when the range runs into an unreadable page), or `None` when
/// the first byte is not readable.
///
/// ```
/// let data = *b"hello";
/// let mut buf = [0u8; 5];
/// assert_eq!(hook_sdk::mem::read(data.as_ptr() as u64, &mut buf), Some(5));
/// assert_eq!(&buf, b"hello");
/// assert_eq!(hook_sdk::mem::read(8, &mut buf), None); // page 0: not readable
/// ```
pub fn read(addr: u64, buf: &mut [u8]) -> Option<usize> {
    if buf.is_empty() {
        return Some(0);
    }
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr.wrapping_add(done as u64);
        // At most to the end of the page, so that a partial read stops at the first
        // unreadable page.
        let page_left = 4096 - (at & 4095) as usize;
        let want = (buf.len() - done).min(page_left);
        let local = libc::iovec {
            iov_base: buf[done..].as_mut_ptr().cast(),
            iov_len: want,
        };
        let remote = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: want,
        };
        // SAFETY: `local` is our buffer; the kernel checks `remote` and answers EFAULT.
        let r = unsafe {
            raw::syscall(
                libc::SYS_process_vm_readv,
                [
                    raw::getpid() as i64,
                    &local as *const libc::iovec as i64,
                    1,
                    &remote as *const libc::iovec as i64,
                    1,
                    0,
                ],
            )
        };
        if r <= 0 {
            break;
        }
        done += r as usize;
        if (r as usize) < want {
            break;
        }
    }
    (done > 0).then_some(done)
}

/// Copies `bytes` into the program's memory at `addr` (with `process_vm_writev`: unmapped or
/// read-only memory gives an error, not a crash); returns how many bytes were written.
///
/// ```
/// let mut target = [0u8; 4];
/// // SAFETY: our own array, not borrowed elsewhere.
/// assert_eq!(unsafe { hook_sdk::mem::write(target.as_mut_ptr() as u64, b"abcd") }, Some(4));
/// assert_eq!(&target, b"abcd");
/// // SAFETY: address 0 is not memory anyone holds a reference to (the write fails).
/// assert_eq!(unsafe { hook_sdk::mem::write(0, b"x") }, None);
/// ```
///
/// # Safety
/// The bytes land wherever `addr` points, as a write by the program would: the caller answers
/// that it is the program's memory meant to receive them (a result buffer of the call), not
/// memory Rust code holds references to.
pub unsafe fn write(addr: u64, bytes: &[u8]) -> Option<usize> {
    if bytes.is_empty() {
        return Some(0);
    }
    let local = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // SAFETY: `local` is our readable buffer; the kernel checks `remote` (EFAULT).
    let r = unsafe {
        raw::syscall(
            libc::SYS_process_vm_writev,
            [
                raw::getpid() as i64,
                &local as *const libc::iovec as i64,
                1,
                &remote as *const libc::iovec as i64,
                1,
                0,
            ],
        )
    };
    (r > 0).then_some(r as usize)
}

/// Reads a value of type `T` from the program's address `addr`, if all of it is readable.
///
/// ```
/// let x: u32 = 0xdead_beef;
/// assert_eq!(hook_sdk::mem::read_value::<u32>(&x as *const u32 as u64), Some(0xdead_beef));
/// assert_eq!(hook_sdk::mem::read_value::<u32>(0), None);
/// ```
pub fn read_value<T: Copy + FromBytes>(addr: u64) -> Option<T> {
    let mut v = core::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: a zeroed T viewed as its bytes; T is plain data (FromBytes).
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), core::mem::size_of::<T>())
    };
    if read(addr, bytes)? != bytes.len() {
        return None;
    }
    // SAFETY: every byte was written and any bit pattern is a valid T (FromBytes).
    Some(unsafe { v.assume_init() })
}

/// Types for which every bit pattern is a valid value (plain integers and C structs of
/// them), so that [`read_value`] may build them from the program's bytes.
///
/// ```
/// // struct stat is plain data: read one the kernel filled.
/// // SAFETY: all-zero is a valid struct stat.
/// let mut st: hook_sdk::libc::stat = unsafe { std::mem::zeroed() };
/// // SAFETY: a C string and a struct stat of ours.
/// unsafe { hook_sdk::libc::stat(c"/".as_ptr(), &mut st) };
/// let copy = hook_sdk::mem::read_value::<hook_sdk::libc::stat>(&st as *const _ as u64).unwrap();
/// assert_eq!(copy.st_ino, st.st_ino);
/// ```
///
/// # Safety
/// Implement only for types with no invalid bit patterns and no padding-sensitive invariants.
pub unsafe trait FromBytes {}

macro_rules! from_bytes {
    ($($t:ty),*) => { $(
        // SAFETY: integers and C structs of integers accept every bit pattern.
        unsafe impl FromBytes for $t {}
    )* };
}
from_bytes!(
    u8,
    i8,
    u16,
    i16,
    u32,
    i32,
    u64,
    i64,
    usize,
    isize,
    libc::stat,
    libc::sockaddr,
    libc::sockaddr_in,
    libc::sockaddr_in6,
    libc::sockaddr_un,
    libc::sockaddr_storage,
    libc::timespec,
    libc::iovec
);
// SAFETY: an array of plain data is plain data.
unsafe impl<T: FromBytes, const N: usize> FromBytes for [T; N] {}

/// Reads the C string at the program's address `addr` into `buf` and returns it without its
/// terminating NUL; `None` when `addr` is unreadable or the string does not end within `buf`
/// (or before an unreadable page).
///
/// ```
/// let s = c"/etc/passwd";
/// let mut buf = [0u8; 64];
/// assert_eq!(hook_sdk::mem::read_cstr(s.as_ptr() as u64, &mut buf), Some(&b"/etc/passwd"[..]));
/// assert_eq!(hook_sdk::mem::read_cstr(0, &mut buf), None);
/// assert_eq!(hook_sdk::mem::read_cstr(s.as_ptr() as u64, &mut buf[..4]), None); // too long
/// ```
pub fn read_cstr(addr: u64, buf: &mut [u8]) -> Option<&[u8]> {
    let mut done = 0usize;
    while done < buf.len() {
        let at = addr.wrapping_add(done as u64);
        // One page (or what is left of the buffer) at a time: the string may end just before
        // an unreadable page.
        let page_left = 4096 - (at & 4095) as usize;
        let want = (buf.len() - done).min(page_left);
        let got = read(at, &mut buf[done..done + want])?;
        if let Some(nul) = buf[done..done + got].iter().position(|&b| b == 0) {
            return Some(&buf[..done + nul]);
        }
        done += got;
        if got < want {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_stops_at_an_unreadable_page() {
        // Two pages, the second made inaccessible.
        // SAFETY: a fresh anonymous mapping of ours.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } as *mut u8;
        assert_ne!(p as isize, -1);
        // SAFETY: inside the mapping.
        unsafe {
            core::ptr::write_bytes(p, b'a', 8192);
            *p.add(4094) = 0;
            libc::mprotect(p.add(4096).cast(), 4096, libc::PROT_NONE);
        }
        let mut buf = [0u8; 8192];
        assert_eq!(read(p as u64 + 4000, &mut buf[..200]), Some(96));
        // A string that ends just before the unreadable page.
        assert_eq!(
            read_cstr(p as u64 + 4090, &mut buf).map(<[u8]>::len),
            Some(4)
        );
        // One that runs into it.
        // SAFETY: inside the mapping.
        unsafe { *p.add(4094) = b'a' };
        assert_eq!(read_cstr(p as u64 + 4090, &mut buf), None);
        // SAFETY: our mapping.
        unsafe { libc::munmap(p.cast(), 8192) };
    }

    #[test]
    fn strings_across_pages() {
        let mut v = vec![b'x'; 10000];
        v[9000] = 0;
        let mut buf = [0u8; 10000];
        assert_eq!(
            read_cstr(v.as_ptr() as u64, &mut buf).map(<[u8]>::len),
            Some(9000)
        );
    }
}
