//! Dispatch stacks: each thread runs the dispatcher and the hook on a stack of the runtime's,
//! not on the application's. Go runs goroutines on stacks of a few KiB whose limits the kernel
//! does not guard; a hook that prints (and the 2.7 KiB of saved AVX-512 state) would overflow
//! them. On its own stack the dispatcher also writes nothing below the application's stack
//! pointer but the return address of `callq *%rax`.
//!
//! A pool of [`COUNT`] stacks of [`SIZE`] bytes is reserved at start-up (address space only);
//! a thread claims one in its first dispatch (that dispatch runs on the application's stack)
//! and gives it back in its `exit`. When the pool is exhausted, threads keep using their own
//! stacks, as the original zpoline does.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::x86_64 as arch;

/// Bytes per dispatch stack.
pub const SIZE: u64 = 256 * 1024;
/// Stacks in the pool.
pub const COUNT: usize = 1024;

static BASE: AtomicU64 = AtomicU64::new(0);
/// One bit per stack: claimed.
pub static USED: [AtomicU64; COUNT / 64] = [const { AtomicU64::new(0) }; COUNT / 64];

/// Stacks in the pool actually reserved (fewer than [`COUNT`] under a small `RLIMIT_AS`).
static POOL: AtomicU64 = AtomicU64::new(0);

/// Reserves the pool: [`COUNT`] stacks, or fewer when the address space is limited
/// (`ulimit -v`: the reservation counts against it even though no page is used), down to 16.
pub fn init() -> Result<(), i32> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    let mut count = COUNT;
    loop {
        match crate::sys::mmap(
            0,
            SIZE as usize * count,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        ) {
            Ok(p) => {
                BASE.store(p as u64, Ordering::Release);
                POOL.store(count as u64, Ordering::Release);
                return Ok(());
            }
            Err(libc::ENOMEM) if count > 16 => count /= 4,
            Err(e) => return Err(e),
        }
    }
}

/// Claims a stack for the calling thread if it has none (and is not a vfork child, which shares
/// its parent's TLS). Called from the dispatcher before anything else; makes no system call.
pub fn ensure() {
    if arch::dstack_top() != 0 || arch::in_vfork_child() {
        return;
    }
    claim();
}

/// Claims a stack from the pool for the calling thread (its TLS).
fn claim() {
    let base = BASE.load(Ordering::Acquire);
    if base == 0 {
        return;
    }
    let pool = POOL.load(Ordering::Acquire) as usize;
    for (w, word) in USED.iter().enumerate().take(pool.div_ceil(64)) {
        let mut cur = word.load(Ordering::Relaxed);
        while cur != u64::MAX {
            let bit = (!cur).trailing_zeros() as u64;
            if w * 64 + bit as usize >= pool {
                break;
            }
            match word.compare_exchange_weak(
                cur,
                cur | 1 << bit,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    CLAIMS.fetch_add(1, Ordering::Relaxed);
                    let index = w as u64 * 64 + bit;
                    arch::set_dstack(base + (index + 1) * SIZE, index);
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }
}

/// Gives a vfork child (which shares its parent's TLS) a dispatch stack of its own; the parent
/// releases it when it resumes. Without a free stack the child keeps none (it then stays on
/// the stack it runs on).
pub fn claim_for_vfork_child() {
    arch::set_dstack(0, 0);
    arch::set_dstack_busy(false);
    claim();
}

/// [`claim_for_vfork_child`] for the child of a vfork-like clone on a stack of its own
/// (posix_spawn's), called from its first instructions in `clone_with_frame`: the parent,
/// suspended until the child calls `execve` or exits, restores its own TLS fields afterwards.
pub extern "C" fn claim_for_spawned_child() {
    claim_for_vfork_child();
}

/// In a child that does not share its parent's memory (fork): only the calling thread was
/// copied, so every stack but its own is free again (other threads' claims would leak, one per
/// thread the parent had). Makes no system call.
pub fn forked() {
    for word in &USED {
        word.store(0, Ordering::Relaxed);
    }
    if arch::dstack_top() != 0 {
        let index = arch::dstack_index();
        if let Some(w) = USED.get((index / 64) as usize) {
            w.fetch_or(1 << (index % 64), Ordering::AcqRel);
        }
    }
}

/// Gives stack `index` back to the pool.
pub fn release(index: u64) {
    if let Some(w) = USED.get((index / 64) as usize) {
        w.fetch_and(!(1 << (index % 64)), Ordering::AcqRel);
    }
}

/// How many stacks are claimed now.
pub fn in_use() -> u32 {
    USED.iter()
        .map(|w| w.load(Ordering::Relaxed).count_ones())
        .sum()
}

/// How many stacks were ever claimed (a thread that exits gives its stack back; a later thread
/// may take the same one).
pub static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// The pool index of the calling thread's stack, if it has one and may give it back (a vfork
/// child's is given back by its parent).
pub fn releasable() -> Option<u64> {
    (arch::dstack_top() != 0 && !arch::in_vfork_child()).then(arch::dstack_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_geometry() {
        assert_eq!(COUNT % 64, 0);
        assert_eq!(SIZE % 4096, 0);
    }
}
