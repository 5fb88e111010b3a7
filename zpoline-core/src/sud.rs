//! The safety net: Syscall User Dispatch (`prctl(PR_SET_SYSCALL_USER_DISPATCH)`, Linux 5.11+).
//!
//! Rewriting catches the `syscall` instructions that exist at start-up and that are safe to
//! rewrite. Everything else (code loaded later with `dlopen`, code written at run time, sites
//! left unpatched) would reach the kernel directly. With the net on, the kernel raises SIGSYS
//! for any system call made from outside the runtime's own code while the thread's selector
//! byte says BLOCK; the handler hands the call to the hook exactly like a rewritten site does.
//!
//! ```text
//!  selector (per thread, in zp_tls)   BLOCK while application code runs
//!                                     ALLOW while a dispatch or this handler runs (the hook's
//!                                     own libc makes system calls from outside our range)
//!  always allowed                     the runtime's text (its raw syscall instructions,
//!                                     the SIGSYS restorer)
//! ```
//!
//! The net follows the process: each new thread enables it in the clone child path, a forked
//! or vforked child right after the system call returns 0. SIGSYS must never be blocked when a
//! trap can happen (the kernel would kill the process), so the runtime removes it from the
//! masks the application sets (`rt_sigprocmask`, handlers' `sa_mask`); the application's own
//! SIGSYS handler (seccomp users) is kept in a table and called for SIGSYS that is not ours.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::arch::x86_64 as arch;
use crate::dispatch::HOOK;
use crate::{signals, sites, sys};

/// Non-zero once the net is armed for the process (read by the clone child path in assembly):
/// every thread turns it on at its next dispatch, every new thread and child at birth.
pub static ACTIVE: AtomicU64 = AtomicU64::new(0);
/// Non-zero when the net can be armed (the handler is installed and the kernel offers SUD).
static AVAILABLE: AtomicU64 = AtomicU64::new(0);
/// Set while the hook library is being loaded: its namespace's code is never rewritten and
/// never trapped, so mapping it does not arm the net.
pub static LOADING_HOOK: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);
/// Where the net was armed from, for the audit: 1 at start-up, 2 on new executable memory.
pub static ARMED_BY: AtomicU64 = AtomicU64::new(0);
/// The always-allowed range: the runtime's text.
pub static RANGE_START: AtomicU64 = AtomicU64::new(0);
/// Length of the always-allowed range.
pub static RANGE_LEN: AtomicU64 = AtomicU64::new(0);

const PR_SET_SYSCALL_USER_DISPATCH: i64 = 59;
const PR_SYS_DISPATCH_ON: i64 = 1;
/// Selector value: system calls pass.
pub const ALLOW: u8 = 0;
/// Selector value: system calls from outside the allowed range raise SIGSYS.
pub const BLOCK: u8 = 1;
const SYS_USER_DISPATCH: i32 = 2;

/// Code ranges of the hook library's namespace: its system calls (made outside a dispatch, for
/// example by its exit handlers) pass straight to the kernel.
static HOOK_RANGES: [[AtomicU64; 2]; 64] = [const { [const { AtomicU64::new(0) }; 2] }; 64];
static HOOK_RANGE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Whether the net is on.
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0
}

/// Whether the net can be armed (from then on SIGSYS must never be blocked for real).
#[inline]
pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed) != 0
}

/// Records a code range of the hook's namespace.
pub fn add_hook_range(start: u64, end: u64) {
    let i = HOOK_RANGE_COUNT.load(Ordering::Relaxed);
    if i < HOOK_RANGES.len() {
        HOOK_RANGES[i][0].store(start, Ordering::Relaxed);
        HOOK_RANGES[i][1].store(end, Ordering::Relaxed);
        HOOK_RANGE_COUNT.store(i + 1, Ordering::Release);
    }
}

fn in_hook_namespace(addr: u64) -> bool {
    let n = HOOK_RANGE_COUNT.load(Ordering::Acquire);
    HOOK_RANGES[..n]
        .iter()
        .any(|r| (r[0].load(Ordering::Relaxed)..r[1].load(Ordering::Relaxed)).contains(&addr))
}

/// Turns the net on for the calling thread (selector BLOCK).
pub fn enable_current() -> Result<(), i32> {
    enable_thread(BLOCK)
}

/// Turns the net on for the calling thread with the selector at `now`.
fn enable_thread(now: u8) -> Result<(), i32> {
    arch::set_selector(now);
    arch::set_thread_net(true);
    let sel = arch::selector_ptr() as i64;
    let (start, len) = (
        RANGE_START.load(Ordering::Relaxed),
        RANGE_LEN.load(Ordering::Relaxed),
    );
    sys::syscall6(
        libc::SYS_prctl,
        [
            PR_SET_SYSCALL_USER_DISPATCH,
            PR_SYS_DISPATCH_ON,
            start as i64,
            len as i64,
            sel,
            0,
        ],
    )
    .map(|_| ())
}

/// Re-enables the net in a new child process (fork, vfork) if it is armed: the kernel does not
/// carry it over. The child is inside a dispatch, whose exit restores BLOCK.
pub fn child_started() {
    if active() {
        arch::set_thread_net(false);
        on_this_thread();
    }
}

/// Installs the SIGSYS handler and checks that the kernel offers Syscall User Dispatch (it is
/// turned on and off again on this thread). `own` is the runtime's text, the range whose
/// system calls always pass. The net is armed later, by [`arm`].
pub fn init(own: (u64, u64)) -> Result<(), i32> {
    RANGE_START.store(own.0, Ordering::Relaxed);
    RANGE_LEN.store(own.1 - own.0, Ordering::Relaxed);
    signals::install(libc::SIGSYS)?;
    enable_thread(ALLOW)?;
    sys::syscall6(
        libc::SYS_prctl,
        [PR_SET_SYSCALL_USER_DISPATCH, 0, 0, 0, 0, 0],
    )?;
    arch::set_thread_net(false);
    AVAILABLE.store(1, Ordering::SeqCst);
    Ok(())
}

/// Arms the net for the whole process (once code that was not rewritten may exist), and turns
/// it on for the calling thread. `by`: 1 at start-up, 2 on new executable memory. Inside a
/// dispatch the selector stays ALLOW until the dispatch returns, which restores BLOCK.
pub fn arm(by: u64) {
    if AVAILABLE.load(Ordering::Relaxed) == 0 || LOADING_HOOK.load(Ordering::Relaxed) {
        return;
    }
    if ACTIVE.swap(1, Ordering::SeqCst) == 0 {
        ARMED_BY.store(by, Ordering::Relaxed);
        warm_decoder();
    }
    on_this_thread();
}

/// The decoder builds its tables (allocating) on first use: before the net is armed, not in the
/// SIGSYS handler that rewrites sites lazily (and, for a program started by the launcher's
/// loader, before the program runs: the launcher's malloc makes system calls of its own).
pub fn warm_decoder() {
    let _ = iced_x86::Decoder::new(64, &[0x90], iced_x86::DecoderOptions::NONE).decode();
}

/// Turns the armed net on for the calling thread if it is not yet (called by every dispatch).
#[inline]
pub fn on_this_thread() {
    if ACTIVE.load(Ordering::Relaxed) == 0 || arch::thread_net() {
        return;
    }
    if arch::current_frame().is_null() {
        let _ = enable_thread(BLOCK);
    } else {
        // Inside a dispatch: the hook runs with ALLOW; the outermost dispatch's exit sets BLOCK
        // (it sees the net on for this thread).
        let _ = enable_thread(ALLOW);
    }
}

/// Statistics for the audit.
pub mod stats {
    use core::sync::atomic::{AtomicU64, Ordering};

    /// System calls caught by the net (from the application, not the hook's namespace).
    pub static CAUGHT: AtomicU64 = AtomicU64::new(0);
    /// Distinct sites caught, with their counts: `[site, count]`.
    pub static SITES: [[AtomicU64; 2]; 256] = [const { [const { AtomicU64::new(0) }; 2] }; 256];

    /// Sites rewritten after their first call (bit set in the count word's top).
    pub const REWRITTEN: u64 = 1 << 63;

    /// Marks `site` as rewritten lazily.
    pub fn note_rewritten(site: u64) {
        if let Some(s) = SITES.iter().find(|s| s[0].load(Ordering::Relaxed) == site) {
            s[1].fetch_or(REWRITTEN, Ordering::Relaxed);
        }
    }

    /// Counts one call from `site`.
    pub fn record(site: u64) {
        CAUGHT.fetch_add(1, Ordering::Relaxed);
        for s in SITES.iter() {
            match s[0].compare_exchange(0, site, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {}
                Err(cur) if cur == site => {}
                Err(_) => continue,
            }
            s[1].fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
}

const REG_R8: usize = libc::REG_R8 as usize;
const REG_R9: usize = libc::REG_R9 as usize;
const REG_R10: usize = libc::REG_R10 as usize;
const REG_R11: usize = libc::REG_R11 as usize;
const REG_RDI: usize = libc::REG_RDI as usize;
const REG_RSI: usize = libc::REG_RSI as usize;
const REG_RDX: usize = libc::REG_RDX as usize;
const REG_RCX: usize = libc::REG_RCX as usize;
const REG_RAX: usize = libc::REG_RAX as usize;
const REG_RSP: usize = libc::REG_RSP as usize;
const REG_RIP: usize = libc::REG_RIP as usize;
const REG_EFL: usize = libc::REG_EFL as usize;

/// The SIGSYS handler (entered through [`arch::sys_signal_entry`]).
pub(crate) extern "C" fn handler(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = arch::selector();
    arch::set_selector(ALLOW);
    // SAFETY: the kernel passes a valid siginfo and ucontext to SA_SIGINFO handlers.
    let (code, call_addr) = unsafe {
        (
            (*info).si_code,
            core::ptr::read((info as *const u8).add(16) as *const u64),
        )
    };
    if code != SYS_USER_DISPATCH {
        signals::forward_owned(sig, info, ctx);
        arch::set_selector(prev);
        return;
    }
    // SAFETY: as above.
    let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
    let g = &mut uc.uc_mcontext.gregs;
    let nr = g[REG_RAX];
    let a = [
        g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9],
    ];
    let site = call_addr.wrapping_sub(2);
    if in_hook_namespace(site) {
        // The hook's own libc, outside a dispatch: straight to the kernel.
        // SAFETY: the system call the hook's code asked for.
        g[REG_RAX] = unsafe { arch::raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    } else {
        stats::record(site);
        match nr {
            // These need the dispatcher's frame handling (a stack to return on, a shared stack
            // to preserve, the signal frame at the site's stack pointer): enter it as a
            // rewritten site would.
            // arch_prctl: in loader mode it changes the thread pointer the dispatch restores;
            // execve/execveat: building the child's arguments needs a dispatch stack's room;
            // rt_sigprocmask and sigaltstack: made inside this handler, their effect would be
            // undone by its rt_sigreturn (which restores the mask and the alternate stack
            // saved in the signal frame).
            14 | 15 | 56 | 58 | 59 | 131 | 158 | 322 | 435 => {
                sites::insert(site);
                let sp = g[REG_RSP] as u64 - 8;
                // SAFETY: the application's stack, where a rewritten site would have pushed.
                unsafe { core::ptr::write_volatile(sp as *mut u64, call_addr) };
                g[REG_RSP] = sp as i64;
                g[REG_RIP] = arch::zp_entry as *const () as usize as i64;
            }
            _ => {
                let h = match HOOK.load(Ordering::Relaxed) {
                    0 => arch::zp_next as *const () as usize,
                    h => h,
                };
                // SAFETY: HOOK holds the hook installed by __hook_init, or the default.
                let hook: crate::dispatch::HookFn =
                    unsafe { core::mem::transmute::<usize, crate::dispatch::HookFn>(h) };
                // SAFETY: the application's system call, for the hook to handle.
                g[REG_RAX] = unsafe { hook(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
                // What the kernel leaves in rcx and r11 after a syscall.
                g[REG_RCX] = call_addr as i64;
                g[REG_R11] = g[REG_EFL];
                // Next time, the fast path.
                if crate::lazy::try_rewrite(site) {
                    stats::note_rewritten(site);
                }
            }
        }
    }
    arch::set_selector(prev);
}

/// `rt_sigprocmask(how, set, old, size)` while the net can be armed or lazy rewriting is on:
/// SIGSYS and SIGILL are never blocked for real (a trap or a site met half-way through its
/// rewrite while they are blocked would kill the process), but the application keeps its own
/// view: what it asked for is remembered per thread and shown in `old`. Returns `None` when
/// the call needs nothing of this (perform it as it is).
///
/// # Safety
/// `set` and `old` are the application's pointers (null or 8 bytes).
pub unsafe fn sigprocmask(how: i64, set: i64, old: i64, size: i64) -> Option<i64> {
    let keep = signals::kept_unblocked();
    if keep == 0
        || size != 8
        || ![libc::SIG_BLOCK, libc::SIG_UNBLOCK, libc::SIG_SETMASK].contains(&(how as i32))
    {
        // An invalid `how` is the kernel's to answer (EFAULT for an unreadable set first:
        // abseil's AddressIsReadable probes memory that way), without our reading the set.
        return None;
    }
    let was = arch::app_blocked_kept();
    // SAFETY: the application passed a readable sigset (or none).
    let requested = if set != 0 {
        unsafe { core::ptr::read_volatile(set as *const u64) }
    } else {
        0
    };
    let wants = match (set, how as i32) {
        (0, _) => was,
        (_, libc::SIG_BLOCK) => was | (requested & keep),
        (_, libc::SIG_UNBLOCK) => was & !(requested & keep),
        (_, libc::SIG_SETMASK) => requested & keep,
        _ => return None, // EINVAL from the kernel
    };
    let stripped = requested & !keep;
    let pass = if set != 0 && how as i32 != libc::SIG_UNBLOCK && requested & keep != 0 {
        &stripped as *const u64 as i64
    } else {
        set
    };
    if pass == set && was == 0 {
        return None; // nothing to hide either way
    }
    if let Err(e) = sys::syscall6(libc::SYS_rt_sigprocmask, [how, pass, old, size, 0, 0]) {
        return Some(-(e as i64));
    }
    arch::set_app_blocked_kept(wants);
    if old != 0 && was != 0 {
        // SAFETY: the kernel just wrote the old set there.
        unsafe {
            core::ptr::write_volatile(
                old as *mut u64,
                core::ptr::read_volatile(old as *const u64) | was,
            )
        };
    }
    Some(0)
}
