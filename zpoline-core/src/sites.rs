//! The set of rewritten sites: the dispatcher checks that its caller is one before it treats the
//! call as a system call, so a call through a null function pointer still faults.
//!
//! A fixed-size open-addressing hash set of addresses in an anonymous mapping: lookups are
//! wait-free (a few loads), inserts use compare-and-swap, nothing is ever removed. A site is
//! inserted before its bytes are rewritten, so a thread that reaches the dispatcher from a site
//! always finds it.

use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Slots in the table (a power of two); at most half are used.
pub const CAPACITY: usize = 1 << 18;

static TABLE: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn slot_of(addr: u64) -> usize {
    // Fibonacci hashing: the high bits of the product are well mixed.
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CAPACITY.trailing_zeros())) as usize
}

/// Maps the table. Called once at start-up, before anything is inserted.
pub fn init() -> Result<(), i32> {
    if !TABLE.load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let bytes = CAPACITY * 8;
    let p = crate::sys::mmap_anon(bytes)?;
    TABLE.store(p as *mut AtomicU64, Ordering::Release);
    Ok(())
}

fn table() -> Option<&'static [AtomicU64]> {
    let p = TABLE.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: the mapping is CAPACITY zero-initialised u64 slots and is never unmapped.
    Some(unsafe { core::slice::from_raw_parts(p, CAPACITY) })
}

/// Records `addr` as a rewritten site. False when the table is full (the site must then stay
/// unpatched) or not initialised.
pub fn insert(addr: u64) -> bool {
    let Some(t) = table() else { return false };
    if addr == 0 {
        return false;
    }
    if COUNT.load(Ordering::Relaxed) >= CAPACITY / 2 {
        return false;
    }
    let mut i = slot_of(addr);
    loop {
        match t[i].compare_exchange(0, addr, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                COUNT.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            Err(existing) if existing == addr => return true,
            Err(_) => i = (i + 1) & (CAPACITY - 1),
        }
    }
}

/// Whether `addr` is a rewritten site.
#[inline]
pub fn contains(addr: u64) -> bool {
    let Some(t) = table() else { return false };
    let mut i = slot_of(addr);
    loop {
        let v = t[i].load(Ordering::Acquire);
        if v == addr {
            return addr != 0;
        }
        if v == 0 {
            return false;
        }
        i = (i + 1) & (CAPACITY - 1);
    }
}

/// Number of sites recorded.
pub fn len() -> usize {
    COUNT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_lookup() {
        init().unwrap();
        let base = 0x7f00_1234_0000u64;
        for i in 0..1000 {
            assert!(insert(base + i * 7));
        }
        for i in 0..1000 {
            assert!(contains(base + i * 7));
            assert!(!contains(base + i * 7 + 1) || (i * 7 + 1) % 7 == 0);
        }
        assert!(!contains(0));
        assert!(!contains(12345));
        assert!(len() >= 1000);
    }
}
