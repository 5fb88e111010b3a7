//! Lazy rewriting: a site the safety net catches in a library loaded after start-up is
//! rewritten to `callq *%rax` on its first system call, so its later calls take the fast path.
//!
//! The two bytes are written through `/proc/self/mem` (opened at start-up, before the hook is
//! loaded, and kept at a descriptor above 1000), which writes into a read-only private mapping
//! without changing its protection: no `mprotect`, no writable-and-executable window, one
//! `pwrite64` a site (the runtime's own call, which tracers see). Only code of loaded objects
//! is rewritten, after the same checks as at start-up (the function from the unwind tables, a
//! real instruction, no red zone); code generated at run time (a JIT may rewrite or move it)
//! stays on the net. Nothing here allocates: it runs in the SIGSYS handler.

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::{decode, ehframe, sites, sys};

/// The `/proc/self/mem` descriptor, or -1.
static MEM_FD: AtomicI64 = AtomicI64::new(-1);
/// Sites rewritten lazily.
pub static REWRITTEN: AtomicU64 = AtomicU64::new(0);
/// The lowest descriptor the runtime's `/proc/self/mem` may take.
pub const FD_FLOOR: i64 = 1000;

/// Opens `/proc/self/mem` for later writes (`ZPOLINE_LAZY=0` turns lazy rewriting off).
pub fn init() {
    if std::env::var_os("ZPOLINE_LAZY").is_some_and(|v| v == "0") {
        return;
    }
    let flags = (libc::O_RDWR | libc::O_CLOEXEC) as i64;
    let Ok(fd) = sys::syscall6(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as i64,
            c"/proc/self/mem".as_ptr() as i64,
            flags,
            0,
            0,
            0,
        ],
    ) else {
        return;
    };
    let high = sys::syscall6(
        libc::SYS_fcntl,
        [fd, libc::F_DUPFD_CLOEXEC as i64, FD_FLOOR, 0, 0, 0],
    );
    let _ = sys::syscall6(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    if let Ok(h) = high {
        MEM_FD.store(h, Ordering::Release);
    }
}

/// Rewrites the `syscall` at `site` if it lies in a loaded object and is proven safe. Returns
/// whether it did.
pub fn try_rewrite(site: u64) -> bool {
    let fd = MEM_FD.load(Ordering::Acquire);
    if fd < 0 {
        return false;
    }
    let Some(hdr) = ehframe::eh_frame_hdr_of(site) else {
        return false;
    };
    // SAFETY: hdr is PT_GNU_EH_FRAME of the loaded object that holds the site.
    let Some((start, end)) = (unsafe { ehframe::function_at(hdr, site) }) else {
        return false;
    };
    // SAFETY: a function of a loaded object's executable (readable) segment.
    let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, (end - start) as usize) };
    if !decode::callable_site(bytes, start, site) || !sites::insert(site) {
        return false;
    }
    let patch = [0xffu8, 0xd0];
    let ok = sys::syscall6(
        libc::SYS_pwrite64,
        [fd, patch.as_ptr() as i64, 2, site as i64, 0, 0],
    ) == Ok(2);
    if ok {
        REWRITTEN.fetch_add(1, Ordering::Relaxed);
    }
    ok
}
