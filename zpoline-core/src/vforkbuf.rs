//! Buffers for `vfork`: while the child runs on the parent's stack, the parent's part of that
//! stack (the dispatcher's and the hook's frames) waits here, to be copied back when the parent
//! resumes.
//!
//! They are mapped once at start-up (untouched memory costs nothing), so a `vfork` makes no
//! system call of its own that a tracer would see and the hook would not. A slot is claimed
//! with an atomic bit; a nested `vfork` in a child takes another.

use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

/// Slots: concurrent (or nested) vforks.
const SLOTS: usize = 8;
/// Bytes per slot: the largest stack region a vfork can preserve (the hook's frames included).
pub const SLOT_LEN: usize = 256 * 1024;

static BASE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static USED: AtomicU32 = AtomicU32::new(0);

/// Maps the buffers (address space only).
pub fn init() -> Result<(), i32> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let p = crate::sys::mmap(
        0,
        SLOTS * SLOT_LEN,
        libc::PROT_READ | libc::PROT_WRITE,
        flags,
        -1,
        0,
    )?;
    BASE.store(p as *mut u8, Ordering::Release);
    Ok(())
}

/// A free slot: its index, address and length.
pub fn claim() -> Option<(usize, *mut u8, u64)> {
    let base = BASE.load(Ordering::Acquire);
    if base.is_null() {
        return None;
    }
    let mut used = USED.load(Ordering::Relaxed);
    loop {
        let i = (!used).trailing_zeros() as usize;
        if i >= SLOTS {
            return None;
        }
        match USED.compare_exchange_weak(used, used | 1 << i, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Some((i, base.wrapping_add(i * SLOT_LEN), SLOT_LEN as u64)),
            Err(now) => used = now,
        }
    }
}

/// In a child that does not share its parent's memory (fork): the slots are held by parent
/// threads suspended in `vfork`, which the child does not have (the forking thread itself is
/// running, so it holds none). All are free again. Makes no system call.
pub fn forked() {
    USED.store(0, Ordering::Release);
}

/// Gives a slot back.
pub fn release(i: usize) {
    USED.fetch_and(!(1 << i), Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_distinct_slots() {
        init().unwrap();
        let a = claim().unwrap();
        let b = claim().unwrap();
        assert_ne!(a.0, b.0);
        assert_ne!(a.1, b.1);
        release(a.0);
        release(b.0);
    }
}
