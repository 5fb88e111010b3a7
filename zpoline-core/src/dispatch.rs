//! The Rust side of the dispatcher: the frame the assembly builds, the hook pointer, and the
//! default "next" function that performs a system call for the hook while keeping the kernel's
//! contract for the system calls that need more than a plain `syscall` (`rt_sigreturn`,
//! `clone`/`clone3` with a new stack, `vfork`).
//!
//! Everything here runs on the hook path: raw system calls only, no allocation, no lock, no
//! panic.

use core::sync::atomic::{AtomicUsize, Ordering};

use static_assertions::const_assert_eq;

use crate::arch::x86_64 as arch;
use crate::sites;

/// The dispatcher frame, lowest address first (see the drawing in `arch/x86_64.rs`).
#[repr(C)]
pub struct Frame {
    /// The thread's previous innermost frame (restored in `zp_tls` on the way out).
    pub prev: u64,
    /// The thread's Syscall User Dispatch selector at entry, restored on the way out.
    pub selector: u64,
    /// 0: return to the site; 1: the caller was not a rewritten site, fault.
    pub action: u64,
    /// Address of the saved vector state.
    pub vsave: u64,
    /// The thread pointer (`%fs` base) at the site, put back on the way out: the application's
    /// own when the launcher's loader started it, 0 under `LD_PRELOAD` (`%fs` is not touched).
    pub fs: u64,
    /// Application registers at the site.
    pub r15: u64,
    #[allow(missing_docs)]
    pub r14: u64,
    #[allow(missing_docs)]
    pub r13: u64,
    #[allow(missing_docs)]
    pub r12: u64,
    #[allow(missing_docs)]
    pub rbx: u64,
    #[allow(missing_docs)]
    pub r11: u64,
    #[allow(missing_docs)]
    pub rcx: u64,
    /// Sixth argument.
    pub r9: u64,
    /// Fifth argument.
    pub r8: u64,
    /// Fourth argument.
    pub r10: u64,
    /// Third argument.
    pub rdx: u64,
    /// Second argument.
    pub rsi: u64,
    /// First argument.
    pub rdi: u64,
    /// System call number on entry; the result on the way out.
    pub rax: u64,
    #[allow(missing_docs)]
    pub rbp: u64,
    #[allow(missing_docs)]
    pub rflags: u64,
    /// Where `callq *%rax` pushed its return address (site + 2): the application's stack
    /// pointer at the site minus 8; bit 0 set when the dispatch switched to the dispatch stack.
    pub retp: u64,
}

const_assert_eq!(core::mem::size_of::<Frame>(), 176);
const_assert_eq!(core::mem::offset_of!(Frame, vsave), 24);
const_assert_eq!(core::mem::offset_of!(Frame, fs), 32);
const_assert_eq!(core::mem::offset_of!(Frame, rax), 144);
const_assert_eq!(core::mem::offset_of!(Frame, rbp), 152);

impl Frame {
    /// The application's stack pointer at the site.
    pub fn site_sp(&self) -> u64 {
        self.ret_slot() + 8
    }

    /// Where the return address is.
    pub fn ret_slot(&self) -> u64 {
        self.retp & !1
    }

    /// Whether this dispatch runs on the thread's dispatch stack (it switched to it).
    pub fn switched(&self) -> bool {
        self.retp & 1 != 0
    }

    /// The return address `callq *%rax` pushed: site + 2.
    pub fn ret(&self) -> u64 {
        // SAFETY: the slot holds the pushed return address on the application's stack.
        unsafe { core::ptr::read(self.ret_slot() as *const u64) }
    }

    /// The top of the stack region that the dispatch and everything nested in it use: the
    /// dispatch stack's top when the frame is on it, else the site's stack pointer.
    pub fn region_top(&self) -> u64 {
        let (top, here) = (arch::dstack_top(), self as *const Frame as u64);
        if top != 0 && (top - crate::dstack::SIZE..top).contains(&here) {
            top
        } else {
            self.site_sp()
        }
    }
}

/// The zpoline hook signature: `long hook(long nr, long a1, …, long a6)`.
pub type HookFn = unsafe extern "C" fn(i64, i64, i64, i64, i64, i64, i64) -> i64;

/// The current hook. `__hook_init` receives its address, reads the default ([`arch::zp_next`]) as its
/// "next" and stores its own function: a `usize` has the layout of a C function pointer.
pub static HOOK: AtomicUsize = AtomicUsize::new(0);

/// Called by the dispatcher assembly with the frame it built, before anything else: returns
/// the hook to call, or 0 (and `action = 1`) when the caller is not a rewritten site.
///
/// # Safety
/// `f` must be the frame built by `zp_entry` on this thread.
pub unsafe extern "C" fn zp_prepare(f: *mut Frame) -> usize {
    // SAFETY: the assembly passes its live frame, exclusively ours for this call.
    let f = unsafe { &mut *f };
    crate::dstack::ensure();
    crate::sud::on_this_thread();
    if !sites::contains(f.ret().wrapping_sub(2)) {
        // Reached the trampoline through a call that is not a rewritten site (a null function
        // pointer): make it fault as it would natively.
        f.action = 1;
        return 0;
    }
    match HOOK.load(Ordering::Relaxed) {
        0 => arch::zp_next as *const () as usize,
        h => h,
    }
}

const SYS_RT_SIGRETURN: i64 = libc::SYS_rt_sigreturn;
const SYS_CLONE: i64 = libc::SYS_clone;
const SYS_VFORK: i64 = libc::SYS_vfork;
const SYS_CLONE3: i64 = libc::SYS_clone3;
const CLONE_VM: i64 = libc::CLONE_VM as i64;
const CLONE_VFORK: i64 = libc::CLONE_VFORK as i64;
const SYS_RT_SIGACTION: i64 = libc::SYS_rt_sigaction;
const SYS_ARCH_PRCTL: i64 = libc::SYS_arch_prctl;
const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
const SYS_RT_SIGPROCMASK: i64 = libc::SYS_rt_sigprocmask;
const SYS_FORK: i64 = libc::SYS_fork;
const SYS_EXECVE: i64 = libc::SYS_execve;
const SYS_READLINK: i64 = libc::SYS_readlink;
const SYS_READLINKAT: i64 = libc::SYS_readlinkat;
const SYS_EXECVEAT: i64 = libc::SYS_execveat;
const SYS_EXIT_GROUP: i64 = libc::SYS_exit_group;
const SYS_EXIT: i64 = libc::SYS_exit;
const SYS_MMAP: i64 = libc::SYS_mmap;
const SYS_MPROTECT: i64 = libc::SYS_mprotect;
const SYS_PKEY_MPROTECT: i64 = libc::SYS_pkey_mprotect;
const SYS_SHMAT: i64 = libc::SYS_shmat;

/// The system calls [`arch::zp_next`] does not perform with a plain `syscall`.
///
/// # Safety
/// A system call can do anything; the caller answers for its arguments.
pub unsafe extern "C" fn next_special(
    nr: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
    a6: i64,
) -> i64 {
    match nr {
        SYS_RT_SIGPROCMASK => {
            // SAFETY: the application's own arguments.
            if let Some(r) = unsafe { crate::sud::sigprocmask(a1, a2, a3, a4) } {
                return r;
            }
            // SAFETY: forwarded unchanged to the kernel.
            unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) }
        }
        _ => {
            // A fork-like clone waits until the launcher's malloc is not in use (loader.rs).
            let forking = arch::loader_mode()
                && matches!(nr, SYS_FORK | SYS_CLONE | SYS_CLONE3)
                // SAFETY: the application's arguments (clone3's struct is read as the kernel
                // will read it).
                && !unsafe { shares_memory(nr, a1) };
            let taken = forking && crate::loader::fork_prepare();
            // SAFETY: the caller's contract.
            let r = unsafe { special(nr, a1, a2, a3, a4, a5, a6) };
            crate::loader::fork_done(taken);
            if r == 0 && matches!(nr, SYS_FORK | SYS_VFORK | SYS_CLONE | SYS_CLONE3) {
                // A child that returns through the frames (fork, vfork, clone without a new
                // stack): the safety net is not inherited by a new task.
                crate::sud::child_started();
                // SAFETY: the kernel accepted the arguments (clone3's struct is readable).
                if !unsafe { shares_memory(nr, a1) } {
                    // Only this thread was copied, and the memory is the child's own.
                    crate::dstack::forked();
                    crate::vforkbuf::forked();
                    crate::lazy::forked();
                }
            }
            r
        }
    }
}

/// Whether the child of fork-like call `nr` (first argument `a1`) shares this memory.
///
/// # Safety
/// For `clone3`, `a1` points to a readable `struct clone_args`.
unsafe fn shares_memory(nr: i64, a1: i64) -> bool {
    match nr {
        SYS_VFORK => true,
        SYS_CLONE => a1 & CLONE_VM != 0,
        SYS_CLONE3 => {
            // SAFETY: the caller's contract; `flags` is the struct's first field.
            let flags = unsafe { (a1 as *const i64).read_unaligned() };
            flags & CLONE_VM != 0
        }
        _ => false,
    }
}

/// The special calls other than `rt_sigprocmask`.
unsafe fn special(nr: i64, a1: i64, a2: i64, a3: i64, a4: i64, a5: i64, a6: i64) -> i64 {
    match nr {
        SYS_RT_SIGACTION => {
            // SAFETY: the application's own arguments to rt_sigaction.
            if let Some(r) = unsafe { crate::signals::sigaction(a1, a2, a3, a4) } {
                return r;
            }
            // SAFETY: forwarded unchanged to the kernel.
            return unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
        }
        SYS_READLINK | SYS_READLINKAT if arch::loader_mode() => {
            let (path, buf, size) = if nr == SYS_READLINK {
                (a1, a2, a3)
            } else {
                (a2, a3, a4)
            };
            // SAFETY: the application's path argument.
            if !unsafe { crate::loader::is_self_exe(path) } {
                // SAFETY: the application's own arguments.
                return unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
            }
            // The call still reaches the kernel (a tracer sees it), into a buffer of ours: the
            // application's bytes past the answer stay as they were.
            let mut scratch = [0u8; 4096];
            let (sbuf, ssize) = (scratch.as_mut_ptr() as i64, size.clamp(0, 4096));
            // SAFETY: our buffer; the application's path.
            let r = unsafe {
                if nr == SYS_READLINK {
                    arch::raw_syscall(nr, a1, sbuf, ssize, 0, 0, 0)
                } else {
                    arch::raw_syscall(nr, a1, a2, sbuf, ssize, 0, 0)
                }
            };
            // SAFETY: as above.
            return unsafe { crate::loader::readlink(r, path, buf, size) };
        }
        SYS_EXECVE => {
            // SAFETY: the application's arguments; envp is the third.
            return unsafe { crate::follow::exec([nr, a1, a2, a3, a4, a5, a6], 3) };
        }
        SYS_EXECVEAT => {
            // SAFETY: the application's arguments; envp is the fourth.
            return unsafe { crate::follow::exec([nr, a1, a2, a3, a4, a5, a6], 4) };
        }
        SYS_EXIT => {
            if arch::loader_mode() && !arch::in_vfork_child() {
                // Its runtime TLS block goes back (after a quarantine, see loader.rs).
                crate::loader::retire_thread_block(arch::gs_base());
            }
            if let Some(index) = crate::dstack::releasable() {
                // SAFETY: this thread's own dispatch stack; exit does not return.
                unsafe { arch::exit_thread(a1, index) }
            }
            // SAFETY: forwarded unchanged to the kernel.
            return unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
        }
        SYS_EXIT_GROUP => {
            crate::audit::at_exit();
            // SAFETY: forwarded unchanged to the kernel.
            return unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
        }
        SYS_MMAP | SYS_MPROTECT | SYS_PKEY_MPROTECT | SYS_SHMAT => {
            // New executable memory: code that was not rewritten may run; arm the net.
            // SAFETY: forwarded unchanged to the kernel.
            let r = unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
            let exec = if nr == SYS_SHMAT {
                a3 & 0o100000 != 0
            } else {
                a3 & libc::PROT_EXEC as i64 != 0
            };
            if exec && !(-4095..0).contains(&r) {
                crate::sud::arm(2);
            }
            return r;
        }
        SYS_ARCH_PRCTL => {
            if arch::loader_mode() {
                // SAFETY: the application's own arguments.
                if let Some(r) = unsafe { crate::loader::arch_prctl(a1, a2) } {
                    return r;
                }
            }
            // SAFETY: forwarded unchanged to the kernel.
            let r = unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
            if a1 == ARCH_REQ_XCOMP_PERM && r == 0 {
                // AMX tiles may now hold state: save everything with XSAVE from now on.
                arch::CPU_FLAGS.fetch_or(arch::cpu::SLOW, Ordering::SeqCst);
            }
            return r;
        }
        _ => {}
    }
    let f = arch::current_frame();
    if f.is_null() {
        // Not inside a dispatch (a hook calling next from elsewhere): nothing to preserve.
        // SAFETY: forwarded unchanged to the kernel.
        return unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) };
    }
    // SAFETY: the current frame belongs to the dispatch this call is made from.
    let f = unsafe { &*f };
    let mut args = [nr, a1, a2, a3, a4, a5, a6];
    match nr {
        SYS_RT_SIGRETURN => {
            // The interrupted code's dispatch (if any) becomes the innermost again, and the
            // dispatch stack is free again if this dispatch took it: this dispatch never
            // returns through its exit.
            arch::set_current_frame(f.prev as *mut Frame);
            if f.switched() {
                arch::set_dstack_busy(false);
            }
            // The selector for the code the frame returns to (this dispatch's exit, which
            // would set it, never runs): the application's code runs with BLOCK under the
            // net; a dispatch or runtime code a signal interrupted, with ALLOW.
            // (Loader mode knows from the thread pointer at the restorer; under LD_PRELOAD a
            // dispatch below this one means the signal interrupted it.)
            let into_runtime = if arch::loader_mode() {
                f.fs == arch::gs_base()
            } else {
                f.prev != 0
            };
            if arch::thread_net() && !into_runtime {
                arch::set_selector(crate::sud::BLOCK);
            }
            // The thread pointer of the code returned to: the runtime's, or the application's
            // as it is now (0: left alone, LD_PRELOAD).
            let fs = if into_runtime || !arch::loader_mode() {
                f.fs
            } else {
                arch::app_fs()
            };
            // SAFETY: the kernel finds the signal frame at the site's stack pointer.
            unsafe { arch::sigreturn_at(f.site_sp(), fs) }
        }
        SYS_CLONE if a2 != 0 => {
            // clone(flags, stack, ptid, ctid, tls): the child starts on `stack`.
            args[2] = a2 - arch::CHILD_FRAME as i64;
            // SAFETY: `stack` is the child's stack top given by the application; the block
            // below it is free stack the child would use first.
            unsafe { write_child_frame(args[2] as u64, f) };
            // SAFETY: args describe a clone with the child frame in place.
            unsafe { clone_new_stack(&args, f, a1, a5 as u64) }
        }
        SYS_CLONE if a1 & CLONE_VM != 0 && a1 & CLONE_VFORK != 0 => {
            // SAFETY: the child shares this stack; the region up to the site is preserved.
            unsafe { vfork(&args, f) }
        }
        SYS_VFORK => {
            // SAFETY: as above.
            unsafe { vfork(&args, f) }
        }
        SYS_CLONE3 => {
            // SAFETY: a1/a2 are the application's clone_args pointer and size.
            unsafe { clone3(args, f) }
        }
        // SAFETY: forwarded unchanged to the kernel.
        _ => unsafe { arch::raw_syscall(nr, a1, a2, a3, a4, a5, a6) },
    }
}

/// `clone3(args, size)`: when the child gets a new stack, give the kernel a copy of the
/// arguments whose stack leaves room for the child frame (the application's struct is not
/// modified).
unsafe fn clone3(mut args: [i64; 7], f: &Frame) -> i64 {
    // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, …
    const STACK: usize = 5;
    const STACK_SIZE: usize = 6;
    const TLS: usize = 7;
    const MAX: usize = 32;
    let (uargs, size) = (args[1] as *const u64, args[2] as usize);
    if uargs.is_null() || !(8 * (STACK_SIZE + 1)..=8 * MAX).contains(&size) || size % 8 != 0 {
        // Let the kernel answer (EFAULT, EINVAL, E2BIG) exactly as it would.
        // SAFETY: forwarded unchanged.
        return unsafe {
            arch::raw_syscall(
                args[0], args[1], args[2], args[3], args[4], args[5], args[6],
            )
        };
    }
    let mut copy = [0u64; MAX];
    let words = size / 8;
    // The application's struct may be unreadable: read it with the kernel's help would cost a
    // system call; the application passed it to clone3, which reads it the same way.
    for (i, w) in copy.iter_mut().enumerate().take(words) {
        // SAFETY: the application passed `size` readable bytes at `uargs` (a fault here is the
        // fault the application's own bad pointer deserves).
        *w = unsafe { core::ptr::read_volatile(uargs.add(i)) };
    }
    let (stack, stack_size) = (copy[STACK], copy[STACK_SIZE]);
    if stack == 0 || stack_size < arch::CHILD_FRAME {
        // No new stack: a fork-like clone returns through the frames; CLONE_VFORK without a
        // stack shares ours.
        if copy[0] as i64 & CLONE_VM != 0 && copy[0] as i64 & CLONE_VFORK != 0 && stack == 0 {
            // SAFETY: the child shares this stack; the region up to the site is preserved.
            return unsafe { vfork(&args, f) };
        }
        // SAFETY: forwarded unchanged.
        return unsafe {
            arch::raw_syscall(
                args[0], args[1], args[2], args[3], args[4], args[5], args[6],
            )
        };
    }
    copy[STACK_SIZE] = stack_size - arch::CHILD_FRAME;
    // SAFETY: the child's stack is [stack, stack + stack_size); the frame goes at its top.
    unsafe { write_child_frame(stack + copy[STACK_SIZE], f) };
    args[1] = copy.as_mut_ptr() as i64;
    // SAFETY: args point at our copy, which lives until the system call returns.
    unsafe { clone_new_stack(&args, f, copy[0] as i64, copy[TLS]) }
}

/// A clone whose child starts on a new stack at the site; `flags` are the clone flags, `tls`
/// its thread pointer with `CLONE_SETTLS`.
unsafe fn clone_new_stack(args: &[i64; 7], f: &Frame, flags: i64, tls: u64) -> i64 {
    let mut args = *args;
    // A child that shares our memory but gets no TLS of its own (posix_spawn's) shares this very
    // TLS block: it marks itself, and we unmark once it has gone (exec or exit).
    let vfork_like = flags & CLONE_VM != 0
        && flags & CLONE_VFORK != 0
        && flags & (libc::CLONE_SETTLS as i64) == 0;
    if flags & CLONE_VM == 0 {
        // The child runs no runtime code before the site: it inherits the mark (and so does
        // this process, which then reopens its own descriptor once, needlessly).
        crate::lazy::forked();
    }
    // Loader mode: a thread gets a runtime TLS block of its own (else it shares ours, like the
    // vfork-like child, or has a copy of it); one without CLONE_SETTLS takes the application's
    // thread pointer, not the runtime's it would inherit from here.
    let (mut child_tp, mut child_fs) = (0, 0);
    if arch::loader_mode() {
        let settls = flags & (libc::CLONE_SETTLS as i64) != 0;
        if !settls {
            child_fs = f.fs;
        }
        if flags & CLONE_VM != 0 && !vfork_like {
            match crate::loader::new_thread_block() {
                Some(tp) => child_tp = tp,
                None => return -(libc::EAGAIN as i64),
            }
            // The child's thread pointer, known to its block from its first instruction.
            let app_fs = if settls { tls } else { f.fs };
            crate::loader::set_block_app_fs(child_tp, app_fs);
            // Its tid, in its block's descriptor before it runs.
            if args[0] == SYS_CLONE {
                let (fl, ptid) = crate::loader::tid_for_block(child_tp, args[1], args[3] as u64);
                args[1] = fl;
                args[3] = ptid as i64;
            } else {
                // clone3: args[1] points at the runtime's own copy of struct clone_args.
                let p = args[1] as *mut u64;
                // SAFETY: our copy (clone3 above), alive until the call returns; flags is
                // word 0, parent_tid word 3.
                unsafe {
                    let (fl, ptid) = crate::loader::tid_for_block(child_tp, *p as i64, *p.add(3));
                    *p = fl as u64;
                    *p.add(3) = ptid;
                }
            }
        }
    }
    // A vfork-like child claims a dispatch stack of its own through the TLS it shares: ours
    // is put back once it is gone.
    let (busy, top, index) = (
        arch::dstack_busy(),
        arch::dstack_top(),
        arch::dstack_index(),
    );
    // SAFETY: the caller prepared args and the child frame.
    let r = unsafe { arch::clone_with_frame(&args, f, u64::from(vfork_like), child_tp, child_fs) };
    if r < 0 && child_tp != 0 {
        crate::loader::free_thread_block(child_tp);
    }
    if vfork_like && (arch::dstack_index() != index || arch::dstack_top() != top) {
        if arch::dstack_top() != 0 {
            crate::dstack::release(arch::dstack_index());
        }
        arch::set_dstack(top, index);
        arch::set_dstack_busy(busy);
    }
    if vfork_like {
        arch::set_vfork_child(false);
    }
    r
}

/// A `vfork`-like clone sharing this stack, through one of the preallocated copy buffers.
unsafe fn vfork(args: &[i64; 7], f: &Frame) -> i64 {
    let Some((slot, buf, len)) = crate::vforkbuf::claim() else {
        return -(libc::EAGAIN as i64);
    };
    // The child runs on the application's stack, where the return address to the site is: the
    // region copy covers the frames (on the dispatch stack), this covers that address. The
    // child also shares our TLS: what it changes there is put back afterwards.
    let ret = f.ret();
    let (busy, top, index) = (
        arch::dstack_busy(),
        arch::dstack_top(),
        arch::dstack_index(),
    );
    // SAFETY: buf is ours until released; the region up to the site is preserved.
    let r = unsafe { arch::vfork_preserving(args, f.region_top(), buf, len) };
    if r == 0 {
        // The child: it shares the parent's memory and TLS until exec or exit. Its dispatches
        // get a dispatch stack of their own, not the application's stack (a goroutine's few
        // KiB would overflow into its neighbours') nor ours (our frames are on it).
        arch::set_vfork_child(true);
        crate::dstack::claim_for_vfork_child();
        return r;
    }
    // SAFETY: the slot callq pushed on the application's stack.
    unsafe { core::ptr::write_volatile(f.ret_slot() as *mut u64, ret) };
    if arch::dstack_index() != index || arch::dstack_top() != top {
        // The child (gone now: it called execve or exited) took a stack of its own.
        crate::dstack::release(arch::dstack_index());
    }
    arch::set_dstack(top, index);
    arch::set_dstack_busy(busy);
    arch::set_vfork_child(false);
    crate::vforkbuf::release(slot);
    r
}

/// Writes the block `clone_with_frame`'s child pops: the application's registers at the site.
unsafe fn write_child_frame(at: u64, f: &Frame) {
    let block: [u64; 14] = [
        f.r15,
        f.r14,
        f.r13,
        f.r12,
        f.rbx,
        f.rbp,
        f.r9,
        f.r8,
        f.r10,
        f.rdx,
        f.rsi,
        f.rdi,
        f.rflags,
        f.ret(),
    ];
    let p = at as *mut u64;
    for (i, v) in block.iter().enumerate() {
        // SAFETY: the caller vouches that [at, at + CHILD_FRAME) is the child's free stack.
        unsafe { core::ptr::write_volatile(p.add(i), *v) };
    }
}
