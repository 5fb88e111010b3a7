//! Lazy rewriting: a site the safety net catches in a library loaded after start-up is
//! rewritten to `callq *%rax` on its first system call, so its later calls take the fast path.
//!
//! The two bytes are written through `/proc/self/mem` (opened at start-up, before the hook is
//! loaded, and kept at a descriptor above 1000), which writes into a read-only private mapping
//! without changing its protection: no `mprotect`, no writable-and-executable window, one
//! `fstat` (is the descriptor still ours?) and two one-byte `pwrite64`s a site (the runtime's
//! own calls, which tracers see): the second byte first, so that the only intermediate state,
//! `0f d0`, is an undefined opcode, which the runtime's SIGILL handler completes as the call. The descriptor is bound to the memory of the process that opened it: a
//! forked child opens its own before its first rewrite, or it would patch its parent. Only code of loaded objects
//! is rewritten, after the same checks as at start-up (the function from the unwind tables, a
//! real instruction, no red zone); code generated at run time (a JIT may rewrite or move it)
//! stays on the net. Nothing here allocates: it runs in the SIGSYS handler.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::arch::x86_64 as arch;
use crate::{decode, ehframe, signals, sites, sys};

/// The `/proc/self/mem` descriptor, or -1 (none, or lazy rewriting off).
static MEM_FD: AtomicI64 = AtomicI64::new(-1);
/// The descriptor's file (`st_dev`, `st_ino`) when it was opened: the application may close
/// the number and reuse it for a file of its own, which must never be written.
static MEM_DEV: AtomicU64 = AtomicU64::new(0);
static MEM_INO: AtomicU64 = AtomicU64::new(0);
/// Set in a child that does not share its parent's memory (fork): the inherited descriptor
/// still writes into the parent's memory; a new one is opened before the next rewrite.
static STALE: AtomicBool = AtomicBool::new(false);
/// Held (never waited for) by the thread that is rewriting a site: one rewrite at a time, so
/// that no thread decodes a function while another has one of its sites half-written (`0f d0`
/// would throw the decoder off its instruction boundaries), two threads never write the same
/// site, and the descriptor is replaced by one thread only. A thread that finds it taken
/// leaves its site on the net for that call; the next call tries again.
static BUSY: AtomicBool = AtomicBool::new(false);
/// Sites rewritten lazily.
pub static REWRITTEN: AtomicU64 = AtomicU64::new(0);
/// The lowest descriptor the runtime's `/proc/self/mem` may take.
pub const FD_FLOOR: i64 = 1000;

/// Opens `/proc/self/mem` for later writes (`ZPOLINE_LAZY=0` turns lazy rewriting off).
pub fn init() {
    if std::env::var_os("ZPOLINE_LAZY").is_some_and(|v| v == "0") {
        return;
    }
    if open(None).is_some() && signals::install(libc::SIGILL).is_err() {
        // Without the SIGILL handler a half-written site could kill a thread: no lazy rewrites.
        let fd = MEM_FD.swap(-1, Ordering::AcqRel);
        let _ = sys::syscall6(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    }
}

/// A new process that does not share this one's memory is being made (fork, or a clone
/// without `CLONE_VM`): in it, the inherited descriptor writes into the parent. Called in the
/// child (or before the clone, when the child cannot run runtime code first); no system call.
pub fn forked() {
    if MEM_FD.load(Ordering::Relaxed) >= 0 {
        STALE.store(true, Ordering::Release);
    }
    // A parent thread that was rewriting does not exist here.
    BUSY.store(false, Ordering::Release);
}

/// The identity (`st_dev`, `st_ino`) of the file open at `fd`.
pub fn identity(fd: i64) -> Option<(u64, u64)> {
    // SAFETY: `stat` is plain data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    sys::syscall6(libc::SYS_fstat, [fd, &raw mut st as i64, 0, 0, 0, 0]).ok()?;
    Some((st.st_dev, st.st_ino))
}

/// Opens `/proc/self/mem` at a descriptor of at least [`FD_FLOOR`] (at `reuse`, replacing the
/// runtime's own stale descriptor, when given) and publishes it; -1 when that fails.
fn open(reuse: Option<i64>) -> Option<i64> {
    let flags = (libc::O_RDWR | libc::O_CLOEXEC) as i64;
    let path = c"/proc/self/mem".as_ptr() as i64;
    let opened = sys::syscall6(
        libc::SYS_openat,
        [libc::AT_FDCWD as i64, path, flags, 0, 0, 0],
    );
    let high = opened.and_then(|tmp| {
        let r = match reuse {
            Some(old) => sys::syscall6(libc::SYS_dup3, [tmp, old, libc::O_CLOEXEC as i64, 0, 0, 0]),
            None => sys::syscall6(
                libc::SYS_fcntl,
                [tmp, libc::F_DUPFD_CLOEXEC as i64, FD_FLOOR, 0, 0, 0],
            ),
        };
        let _ = sys::syscall6(libc::SYS_close, [tmp, 0, 0, 0, 0, 0]);
        r
    });
    let fd = match high.ok().and_then(|fd| identity(fd).map(|id| (fd, id))) {
        Some((fd, (dev, ino))) => {
            MEM_DEV.store(dev, Ordering::Relaxed);
            MEM_INO.store(ino, Ordering::Relaxed);
            fd
        }
        None => {
            // Off for good: a stale descriptor of ours is closed, never written through.
            if let Some(old) = reuse {
                let _ = sys::syscall6(libc::SYS_close, [old, 0, 0, 0, 0, 0]);
            }
            -1
        }
    };
    MEM_FD.store(fd, Ordering::Release);
    (fd >= 0).then_some(fd)
}

/// The descriptor to write through: still the runtime's file, and open in this process
/// (reopened after a fork or when the application closed it). `None` when there is none.
/// Called with [`BUSY`] held.
fn usable_fd() -> Option<i64> {
    let fd = MEM_FD.load(Ordering::Acquire);
    if fd < 0 {
        return None;
    }
    let ours = identity(fd)
        == Some((
            MEM_DEV.load(Ordering::Relaxed),
            MEM_INO.load(Ordering::Relaxed),
        ));
    if ours && !STALE.load(Ordering::Acquire) {
        return Some(fd);
    }
    let r = open(ours.then_some(fd));
    // Cleared only once the new descriptor is published.
    STALE.store(false, Ordering::Release);
    r
}

/// Rewrites the `syscall` at `site` if it lies in a loaded object and is proven safe. Returns
/// whether it did.
pub fn try_rewrite(site: u64) -> bool {
    // A vfork child shares its parent's memory but not its descriptor table: it leaves the
    // rewriting to the parent.
    if MEM_FD.load(Ordering::Acquire) < 0 || arch::in_vfork_child() {
        return false;
    }
    if BUSY.swap(true, Ordering::Acquire) {
        return false;
    }
    let done = rewrite(site);
    BUSY.store(false, Ordering::Release);
    done
}

/// [`try_rewrite`] with [`BUSY`] held.
fn rewrite(site: u64) -> bool {
    let Some(hdr) = ehframe::eh_frame_hdr_of(site) else {
        return false;
    };
    // SAFETY: hdr is PT_GNU_EH_FRAME of the loaded object that holds the site.
    let Some((start, end)) = (unsafe { ehframe::function_at(hdr, site) }) else {
        return false;
    };
    // SAFETY: a function of a loaded object's executable (readable) segment.
    let bytes = unsafe { core::slice::from_raw_parts(start as *const u8, (end - start) as usize) };
    if !decode::callable_site(bytes, start, site) {
        return false;
    }
    let Some(fd) = usable_fd() else {
        return false;
    };
    if !sites::insert(site) {
        return false;
    }
    // Byte by byte, so that another thread never fetches a torn instruction: first the second
    // byte (`0f d0`, undefined: SIGILL, which the runtime's handler completes as the call),
    // then the first (`ff d0`). A single two-byte write has no such guarantee.
    let put = |at: u64, byte: u8| {
        sys::syscall6(
            libc::SYS_pwrite64,
            [fd, &raw const byte as i64, 1, at as i64, 0, 0],
        ) == Ok(1)
    };
    if !put(site + 1, signals::HALF_REWRITTEN[1]) {
        return false;
    }
    if !put(site, 0xff) {
        // Back to `syscall`, the net's business again (no other thread writes this site).
        let _ = put(site + 1, 0x05);
        return false;
    }
    REWRITTEN.fetch_add(1, Ordering::Relaxed);
    true
}
