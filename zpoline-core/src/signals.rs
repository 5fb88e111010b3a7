//! The fault handler that keeps out-of-range system call numbers alive.
//!
//! A rewritten site calls address `%rax`. Numbers below the stub land in the trampoline's
//! funnel; any other value (1000 lands on `hlt`, -1 and x32 numbers on unmapped memory) faults
//! *before* anything else happens, with `rip == rax` and the site's return address on top of the
//! stack. The SIGSEGV handler recognises exactly that state and resumes at the dispatcher, which
//! hands the number to the hook and the kernel like any other (the kernel answers ENOSYS).
//!
//! The same handler takes SIGILL where lazy rewriting is on: a site caught half-way through its
//! rewrite (`0f d0`, see `lazy.rs`) is completed as the call it is becoming.
//!
//! The application keeps its own SIGSEGV (and SIGILL) semantics: its `rt_sigaction` calls are
//! answered from a table (it sees its own handler), and faults that are not ours go to its
//! handler with its mask and flags, or, with the default action, kill the process as before.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::arch::x86_64 as arch;
use crate::{sites, sys};

/// The kernel's `struct sigaction` for rt_sigaction(2) on x86-64.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct KSigaction {
    /// Handler address, or SIG_DFL (0) / SIG_IGN (1).
    pub handler: u64,
    /// SA_* flags.
    pub flags: u64,
    /// SA_RESTORER function.
    pub restorer: u64,
    /// Blocked signals while the handler runs.
    pub mask: u64,
}

const SIGSEGV: i64 = libc::SIGSEGV as i64;
const SIGSYS: i64 = libc::SIGSYS as i64;
const SIGILL: i64 = libc::SIGILL as i64;
const SA_SIGINFO: u64 = libc::SA_SIGINFO as u64;
const SA_ONSTACK: u64 = libc::SA_ONSTACK as u64;
const SA_NODEFER: u64 = libc::SA_NODEFER as u64;
const SA_RESETHAND: u64 = libc::SA_RESETHAND as u64;
const SA_RESTORER: u64 = 0x0400_0000;

/// A signal the runtime handles itself while the application keeps its own view of it: the
/// application's action lives in a small ring of slots published through an index, so a
/// handler reads a consistent copy without a lock.
struct Owned {
    sig: i64,
    installed: AtomicBool,
    slots: [[AtomicU64; 4]; 8],
    current: AtomicUsize,
    next: AtomicUsize,
}

impl Owned {
    const fn new(sig: i64) -> Owned {
        Owned {
            sig,
            installed: AtomicBool::new(false),
            slots: [const { [const { AtomicU64::new(0) }; 4] }; 8],
            current: AtomicUsize::new(0),
            next: AtomicUsize::new(1),
        }
    }

    fn app_action(&self) -> KSigaction {
        let s = &self.slots[self.current.load(Ordering::Acquire) % self.slots.len()];
        KSigaction {
            handler: s[0].load(Ordering::Relaxed),
            flags: s[1].load(Ordering::Relaxed),
            restorer: s[2].load(Ordering::Relaxed),
            mask: s[3].load(Ordering::Relaxed),
        }
    }

    fn set_app_action(&self, a: &KSigaction) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let s = &self.slots[i];
        s[0].store(a.handler, Ordering::Relaxed);
        s[1].store(a.flags, Ordering::Relaxed);
        s[2].store(a.restorer, Ordering::Relaxed);
        s[3].store(a.mask, Ordering::Relaxed);
        self.current.store(i, Ordering::Release);
    }

    /// The runtime's own action for this signal, with the application's SA_ONSTACK.
    fn ours(&self, app_flags: u64) -> KSigaction {
        let handler: unsafe extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
            if self.sig == SIGSYS {
                arch::sys_signal_entry
            } else {
                arch::fault_signal_entry
            };
        KSigaction {
            handler: handler as *const () as usize as u64,
            flags: SA_SIGINFO | SA_RESTORER | SA_NODEFER | (app_flags & SA_ONSTACK),
            restorer: arch::restore_rt as *const () as usize as u64,
            mask: 0,
        }
    }
}

static OWNED: [Owned; 3] = [Owned::new(SIGSEGV), Owned::new(SIGSYS), Owned::new(SIGILL)];

fn owned(sig: i64) -> Option<&'static Owned> {
    OWNED.iter().find(|o| o.sig == sig)
}

fn rt_sigaction(
    sig: i64,
    act: Option<&KSigaction>,
    old: Option<&mut KSigaction>,
) -> Result<i64, i32> {
    let a = act.map_or(0, |a| a as *const KSigaction as i64);
    let o = old.map_or(0, |o| o as *mut KSigaction as i64);
    sys::syscall6(libc::SYS_rt_sigaction, [sig, a, o, 8, 0, 0])
}

/// Installs the runtime's handler for `sig` (SIGSEGV, SIGSYS or SIGILL), remembering the action
/// the application had.
pub fn install(sig: i32) -> Result<(), i32> {
    let Some(o) = owned(sig as i64) else {
        return Err(libc::EINVAL);
    };
    let mut old = KSigaction::default();
    rt_sigaction(o.sig, Some(&o.ours(0)), Some(&mut old))?;
    o.set_app_action(&old);
    rt_sigaction(o.sig, Some(&o.ours(old.flags)), None)?;
    o.installed.store(true, Ordering::Release);
    Ok(())
}

/// `rt_sigaction(sig, act, oldact, size)` on behalf of the application: a signal the runtime
/// owns (SIGSEGV, and SIGSYS under the safety net) is answered from its table; for the others
/// `None` (perform the real system call, with SIGSYS removed from the handler's mask while the
/// net is on: a trap while SIGSYS is blocked would kill the process).
///
/// Each call still makes exactly one real `rt_sigaction`, as natively (a tracer sees the same
/// calls): a new action re-installs the runtime's handler with the application's flags, a
/// query reads the kernel's. A vfork-like child, which shares this table with its parent but
/// has its own kernel table, is passed straight through.
///
/// # Safety
/// `act` / `old` are the application's pointers (null or valid for the kernel's struct).
pub unsafe fn sigaction(sig: i64, act: i64, old: i64, size: i64) -> Option<i64> {
    if size != 8 {
        return None;
    }
    if arch::in_vfork_child() {
        // A spawned child resets its handlers before it calls execve (posix_spawn): SIGSYS
        // must stay the runtime's while the net can trap its calls (the default action would
        // kill it). The call still reaches the kernel, as a query.
        let o = owned(sig).filter(|o| o.sig == SIGSYS && o.installed.load(Ordering::Acquire))?;
        let mut kernel = KSigaction::default();
        if let Err(e) = rt_sigaction(o.sig, None, Some(&mut kernel)) {
            return Some(-(e as i64));
        }
        if old != 0 {
            // SAFETY: the application passed a writable struct sigaction.
            unsafe { core::ptr::write_volatile(old as *mut KSigaction, o.app_action()) };
        }
        return Some(0);
    }
    let Some(o) = owned(sig).filter(|o| o.installed.load(Ordering::Acquire)) else {
        if arch::loader_mode() && (1..=64).contains(&sig) {
            // SAFETY: the application's own arguments.
            return Some(unsafe { wrapped_sigaction(sig, act, old, size) });
        }
        if act != 0 && kept_unblocked() != 0 {
            // SAFETY: the application passed a readable struct sigaction.
            let mut copy = unsafe { core::ptr::read_volatile(act as *const KSigaction) };
            if copy.mask & kept_unblocked() != 0 {
                copy.mask &= !kept_unblocked();
                let r = sys::syscall6(
                    libc::SYS_rt_sigaction,
                    [sig, &copy as *const KSigaction as i64, old, size, 0, 0],
                );
                return Some(r.unwrap_or_else(|e| -(e as i64)));
            }
        }
        return None;
    };
    let prev = o.app_action();
    let r = if act != 0 {
        // SAFETY: the application passed a readable struct sigaction.
        let new = unsafe { core::ptr::read_volatile(act as *const KSigaction) };
        o.set_app_action(&new);
        rt_sigaction(o.sig, Some(&o.ours(new.flags)), None)
    } else {
        let mut kernel = KSigaction::default();
        rt_sigaction(o.sig, None, Some(&mut kernel))
    };
    if let Err(e) = r {
        return Some(-(e as i64));
    }
    if old != 0 {
        // SAFETY: the application passed a writable struct sigaction.
        unsafe { core::ptr::write_volatile(old as *mut KSigaction, prev) };
    }
    Some(0)
}

/// `rt_sigaction` in loader mode for a signal the runtime does not own: a handler function is
/// installed as [`arch::app_signal_entry`], which runs it with the application's thread
/// pointer; the application sees its own handler in `old`. One real system call, as natively.
///
/// # Safety
/// `act` / `old` are the application's pointers (null or valid for the kernel's struct).
unsafe fn wrapped_sigaction(sig: i64, act: i64, old: i64, size: i64) -> i64 {
    let slot = &arch::APP_HANDLERS[sig as usize];
    let before = slot.load(Ordering::Acquire);
    let entry = arch::app_signal_entry as *const () as usize as u64;
    let mut copy = if act != 0 {
        // SAFETY: the application passed a readable struct sigaction.
        unsafe { core::ptr::read_volatile(act as *const KSigaction) }
    } else {
        KSigaction::default()
    };
    let mut pass = act;
    if act != 0 {
        copy.mask &= !kept_unblocked();
        if copy.handler > 1 {
            slot.store(copy.handler, Ordering::Release);
            copy.handler = entry;
        }
        pass = &copy as *const KSigaction as i64;
    }
    let r = sys::syscall6(libc::SYS_rt_sigaction, [sig, pass, old, size, 0, 0]);
    match r {
        Err(e) => {
            slot.store(before, Ordering::Release);
            -(e as i64)
        }
        Ok(_) => {
            if old != 0 {
                // SAFETY: the kernel just wrote the previous action there.
                let prev = unsafe { core::ptr::read_volatile(old as *const u64) };
                if prev == entry {
                    // SAFETY: as above.
                    unsafe { core::ptr::write_volatile(old as *mut u64, before) };
                }
            }
            0
        }
    }
}

/// The signals the runtime never lets be blocked for real (as a kernel signal set): SIGSYS
/// once the net can be armed (a trap while it is blocked kills the process), SIGILL once lazy
/// rewriting is on (a site met between its two writes raises it).
pub fn kept_unblocked() -> u64 {
    let mut m = 0;
    if crate::sud::available() {
        m |= sigbit(SIGSYS);
    }
    if OWNED[2].installed.load(Ordering::Relaxed) {
        m |= sigbit(SIGILL);
    }
    m
}

/// The bit of signal `sig` in a kernel signal set.
pub fn sigbit(sig: i64) -> u64 {
    1 << (sig - 1)
}

const REG_RAX: usize = libc::REG_RAX as usize;
const REG_RSP: usize = libc::REG_RSP as usize;
const REG_RIP: usize = libc::REG_RIP as usize;

/// Whether a fault at `rip` with `rax`, `rsp` is a rewritten site calling an out-of-range number.
fn is_out_of_range_call(rip: u64, rax: u64, rsp: u64) -> bool {
    if rip != rax || rsp == 0 || !rsp.is_multiple_of(8) {
        return false;
    }
    // SAFETY: the faulting call has just pushed its return address at rsp, so it is mapped.
    let ret = unsafe { core::ptr::read_volatile(rsp as *const u64) };
    sites::contains(ret.wrapping_sub(2))
}

/// Whether `rax` is a non-canonical address (bits 47..63 not all equal): `callq *%rax` then
/// faults on the call itself, before pushing anything.
fn non_canonical(rax: u64) -> bool {
    let top = rax >> 47;
    top != 0 && top != 0x1_ffff
}

/// Whether a fault at `rip` is a rewritten site's `callq *%rax` refused for a non-canonical
/// `rax`.
fn is_non_canonical_call(rip: u64, rax: u64) -> bool {
    // SAFETY: rip is the address of the faulting instruction, which was fetched.
    non_canonical(rax)
        && sites::contains(rip)
        && unsafe { core::ptr::read_volatile(rip as *const [u8; 2]) } == [0xff, 0xd0]
}

/// The bytes of a site half-way through a lazy rewrite: the second byte of `callq *%rax` is
/// written first, and `0f d0` is an undefined opcode (SIGILL), never a different instruction.
pub const HALF_REWRITTEN: [u8; 2] = [0x0f, 0xd0];

/// The SIGSEGV/SIGILL handler (entered through [`arch::fault_signal_entry`]).
pub(crate) extern "C" fn handler(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext for SA_SIGINFO handlers.
    let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
    let g = &mut uc.uc_mcontext.gregs;
    let (rip, rax, rsp) = (g[REG_RIP] as u64, g[REG_RAX] as u64, g[REG_RSP] as u64);
    let entry = arch::zp_entry as *const () as usize as i64;
    // SAFETY: the kernel passes a valid siginfo.
    let from_kernel = unsafe { (*info).si_code } > 0;
    if sig as i64 == SIGILL && from_kernel && sites::contains(rip) {
        // A site met half-way through its lazy rewrite (see `lazy.rs`).
        // SAFETY: rip is the address of the faulting instruction, which was fetched.
        if unsafe { core::ptr::read_volatile(rip as *const [u8; 2]) } == HALF_REWRITTEN {
            // Do what the finished `callq *%rax` will do (the site was proven to keep nothing
            // below its stack pointer): push the return address, enter the dispatcher.
            let sp = rsp - 8;
            // SAFETY: the application's stack, where the call pushes the same value.
            unsafe { core::ptr::write_volatile(sp as *mut u64, rip + 2) };
            g[REG_RSP] = sp as i64;
            g[REG_RIP] = entry;
        }
        // Otherwise the rewrite finished (or was undone) while the signal was delivered: run
        // the site again as it is now.
        return;
    }
    if sig as i64 == SIGILL {
        forward(sig, info, ctx);
        return;
    }
    if is_out_of_range_call(rip, rax, rsp) {
        g[REG_RIP] = entry;
        return;
    }
    if is_non_canonical_call(rip, rax) {
        // Finish the call the CPU refused: push the return address, enter the dispatcher.
        let sp = rsp - 8;
        // SAFETY: the application's stack, where the call would have pushed the same value.
        unsafe { core::ptr::write_volatile(sp as *mut u64, rip + 2) };
        g[REG_RSP] = sp as i64;
        g[REG_RIP] = entry;
        return;
    }
    forward(sig, info, ctx);
}

/// Delivers a signal of an owned kind that is not the runtime's business (a fault that is not
/// an out-of-range call, a SIGSYS from seccomp) as the application asked.
pub fn forward_owned(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    forward(sig, info, ctx);
}

/// Delivers a fault that is not ours as the application asked.
fn forward(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let Some(o) = owned(sig as i64) else { return };
    let act = o.app_action();
    if act.handler <= 1 {
        // SIG_DFL (or SIG_IGN, which the kernel overrides for faults): restore the default
        // and let the fault happen again, so the process dies exactly as it would have.
        let dfl = KSigaction {
            handler: 0,
            flags: SA_RESTORER,
            restorer: arch::restore_rt as *const () as usize as u64,
            mask: 0,
        };
        let _ = rt_sigaction(o.sig, Some(&dfl), None);
        o.installed.store(false, Ordering::Release);
        // SAFETY: the kernel passes a valid siginfo.
        let code = unsafe { (*info).si_code };
        if code <= 0 {
            // Sent by kill/tgkill, not a fault: send it again.
            let pid = sys::syscall6(libc::SYS_getpid, [0; 6]).unwrap_or(0);
            let tid = sys::syscall6(libc::SYS_gettid, [0; 6]).unwrap_or(0);
            let _ = sys::syscall6(libc::SYS_tgkill, [pid, tid, o.sig, 0, 0, 0]);
        }
        return;
    }
    let mut block = act.mask;
    if act.flags & SA_NODEFER == 0 {
        block |= sigbit(o.sig);
    }
    block &= !kept_unblocked();
    let _ = sys::sigprocmask(libc::SIG_BLOCK, Some(block));
    if act.flags & SA_RESETHAND != 0 {
        o.set_app_action(&KSigaction::default());
    }
    // Under the net the application's handler runs with BLOCK (its system calls are hooked);
    // in loader mode with its own thread pointer.
    let selector = arch::selector();
    if arch::thread_net() {
        arch::set_selector(crate::sud::BLOCK);
    }
    let runtime_fs = arch::loader_mode().then(|| {
        let (ours, theirs) = (arch::fs_base(), arch::app_fs());
        // SAFETY: only the application's handler runs until it is set back below (or the
        // handler leaves for application code, which wants this thread pointer).
        unsafe { arch::set_fs_base(theirs) };
        ours
    });
    // Either way the handler gets three arguments; a one-argument handler ignores two.
    // SAFETY: the application registered this handler.
    let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
        unsafe { core::mem::transmute(act.handler as *const () as usize) };
    f(sig, info, ctx);
    if let Some(ours) = runtime_fs {
        // SAFETY: back to the runtime's thread pointer for the rest of the handler.
        unsafe { arch::set_fs_base(ours) };
    }
    arch::set_selector(selector);
    // Returning restores the interrupted mask (and any context change the handler made).
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_addresses() {
        assert!(!non_canonical(0x7fff_ffff_f000));
        assert!(!non_canonical(0xffff_ffff_0000_0027));
        assert!(non_canonical(0x8000_0000_0000_0000));
        assert!(non_canonical(0x7fff_ffff_ffff_ffff));
        assert!(!is_non_canonical_call(0x1000, 0x7fff_ffff_ffff_ffff)); // not a site
    }

    #[test]
    fn not_ours_unless_rip_equals_rax() {
        let v = 0u64;
        assert!(!is_out_of_range_call(1, 2, &v as *const u64 as u64));
        assert!(!is_out_of_range_call(5, 5, 0));
        // a return address that is not a site
        let ret = [0x1234u64];
        assert!(!is_out_of_range_call(5, 5, ret.as_ptr() as u64));
    }
}
