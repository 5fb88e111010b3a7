//! The set of rewritten sites: the dispatcher checks that its caller is one before it treats the
//! call as a system call, so a call through a null function pointer still faults.
//!
//! Open-addressing hash tables of addresses in anonymous mappings: lookups are wait-free (a few
//! loads), inserts use compare-and-swap, nothing is ever removed. The first table is small
//! (64 KiB: a process start touches few pages); when one is half full the next, twice as
//! large, is mapped, up to [`MAX_SITES`] in all. A site is inserted before its bytes are
//! rewritten, so a thread that reaches the dispatcher from a site always finds it.

use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Slots of the first table (a power of two).
const FIRST: usize = 1 << 13;
/// Number of tables; table `i` has `FIRST << i` slots.
const TABLES: usize = 8;
/// Most sites the set holds: half the slots of all tables.
pub const MAX_SITES: usize = (FIRST << TABLES) / 2 - FIRST / 2;

static TABLE: [AtomicPtr<AtomicU64>; TABLES] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; TABLES];
static COUNT: [AtomicUsize; TABLES] = [const { AtomicUsize::new(0) }; TABLES];

fn slot_of(addr: u64, slots: usize) -> usize {
    // Fibonacci hashing: the high bits of the product are well mixed.
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - slots.trailing_zeros())) as usize
}

fn table(i: usize) -> Option<&'static [AtomicU64]> {
    let p = TABLE[i].load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: table i is FIRST << i zero-initialised u64 slots and is never unmapped.
    Some(unsafe { core::slice::from_raw_parts(p, FIRST << i) })
}

/// Maps table `i` if no other thread did; false when memory is exhausted.
fn ensure(i: usize) -> bool {
    if !TABLE[i].load(Ordering::Acquire).is_null() {
        return true;
    }
    let bytes = (FIRST << i) * 8;
    let Ok(p) = crate::sys::mmap_anon(bytes) else {
        return false;
    };
    let p = p as *mut AtomicU64;
    if TABLE[i]
        .compare_exchange(
            core::ptr::null_mut(),
            p,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        let _ = crate::sys::munmap(p as u64, bytes);
    }
    true
}

/// Maps the first table. Called once at start-up.
pub fn init() -> Result<(), i32> {
    if ensure(0) { Ok(()) } else { Err(libc::ENOMEM) }
}

fn probe(t: &[AtomicU64], addr: u64) -> Option<usize> {
    let mask = t.len() - 1;
    let mut i = slot_of(addr, t.len());
    loop {
        match t[i].load(Ordering::Acquire) {
            v if v == addr => return Some(i),
            0 => return None,
            _ => i = (i + 1) & mask,
        }
    }
}

/// Records `addr` as a rewritten site. False when every table is full (the site must then stay
/// unpatched), memory is exhausted, or `addr` is 0.
pub fn insert(addr: u64) -> bool {
    if addr == 0 {
        return false;
    }
    if contains(addr) {
        return true;
    }
    for (k, count) in COUNT.iter().enumerate() {
        if count.load(Ordering::Relaxed) >= (FIRST << k) / 2 {
            continue;
        }
        if !ensure(k) {
            return false;
        }
        let Some(t) = table(k) else { return false };
        let mask = t.len() - 1;
        let mut i = slot_of(addr, t.len());
        loop {
            match t[i].compare_exchange(0, addr, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    count.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(existing) if existing == addr => return true,
                Err(_) => i = (i + 1) & mask,
            }
        }
    }
    false
}

/// Whether `addr` is a rewritten site.
#[inline]
pub fn contains(addr: u64) -> bool {
    if addr == 0 {
        return false;
    }
    for k in 0..TABLES {
        let Some(t) = table(k) else { return false };
        if probe(t, addr).is_some() {
            return true;
        }
    }
    false
}

/// Number of sites recorded.
pub fn len() -> usize {
    COUNT.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_lookup_and_growth() {
        init().unwrap();
        let base = 0x7f00_1234_0000u64;
        let n = FIRST * 2; // more than the first table holds
        for i in 0..n as u64 {
            assert!(insert(base + i * 7));
        }
        for i in 0..n as u64 {
            assert!(contains(base + i * 7));
        }
        assert!(!contains(base + 1));
        assert!(!contains(0));
        assert!(!contains(12345));
        assert!(len() >= n);
        assert!(table(1).is_some() && table(2).is_some());
        assert!(insert(base)); // again: still true, not counted twice
    }
}
