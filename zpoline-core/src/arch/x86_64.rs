//! Every instruction the runtime writes by hand lives in this file.
//!
//! * [`zp_entry`]: the dispatcher the trampoline jumps to from a rewritten site.
//! * [`raw_syscall`]: the runtime's own `syscall` instruction (never rewritten).
//! * [`clone_with_frame`], [`vfork_preserving`], [`sigreturn_at`]: the special system calls.
//! * [`vec_save`] / [`vec_restore`]: the extended (x87/SSE/AVX/AVX-512) state.
//! * the per-thread block `zp_tls` (initial-exec TLS, reached through `%fs`).
//!
//! # The dispatcher's stacks
//!
//! A rewritten site `ff d0` (`callq *%rax`) pushes its return address, so the dispatcher starts
//! with `rsp = S - 8`, where `S` is the application's stack pointer at the site (the rewriter
//! only uses `callq` where the function keeps nothing below its stack pointer, see `decode.rs`;
//! red-zone sites go through a stub that steps over the red zone first). The dispatcher saves
//! the flags at `S-16` and moves to the thread's dispatch stack (`dstack.rs`), so nothing else
//! is written on the application's stack, whose size it does not know (Go's goroutine stacks
//! are a few KiB):
//!
//! ```text
//!  application stack                     dispatch stack (per thread, 256 KiB)
//!  S    +---------------------------+    top +--------------------------------+
//!  S-8  | return address = site + 2 | <------| retp (bit 0: switched stacks)  |
//!  S-16 | rflags (pushfq)           | ------>| rflags                         |
//!       | (red zone: untouched)     |        | rbp                    <- rbp  |
//!       +---------------------------+        | rax rdi rsi rdx r10 r8 r9      |  nr, arguments
//!                                            | rcx r11 rbx r12 r13 r14 r15    |  the rest
//!                                      F+24  | vsave: vector area (bit 0: XSAVE image) or 0
//!                                      F+16  | action: 1 = caller is not a rewritten site
//!                                      F+8   | selector: SUD selector at entry
//!                                      F     | prev: previous innermost frame <- zp_tls.cur
//!                                            | (alignment to 64)
//!                                            | vector area: zmm0-31, k0-7, MXCSR, x87 image
//!                                            | hook(nr, a1..a6) and whatever it calls
//! ```
//!
//! When the thread has no dispatch stack yet, is a vfork child (sharing its parent's), or its
//! dispatch stack is in use by a dispatch a signal interrupted, the frame is built on the
//! current stack instead, 128 bytes below `S` (the red zone is skipped). `Frame` (in
//! `dispatch.rs`) is the layout as a Rust struct; its size is checked at compile time.

use core::arch::{asm, global_asm, naked_asm};

use crate::dispatch::{Frame, zp_prepare};

/// Offset of `vsave` in the frame.
const _VSAVE_OFF: usize = 24;

/// CPU feature bits read by the dispatcher (see [`CPU_FLAGS`]).
pub mod cpu {
    /// AVX is enabled (vzeroupper, VEX moves).
    pub const AVX: u64 = 1 << 1;
    /// AVX-512 F+BW is enabled: zmm16-31 and k0-7 exist and are saved by hand.
    pub const AVX512: u64 = 1 << 2;
    /// `xsavec` is available for the slow path (else `xsave`).
    pub const XSAVEC: u64 = 1 << 3;
    /// The hook provably never touches the extended state (see `hook::vector_free`): the
    /// dispatcher skips saving it.
    pub const NOVEC: u64 = 1 << 5;
    /// Save the extended state with XSAVE/XRSTOR (AMX permitted, AVX-512 without BW, or
    /// `ZPOLINE_XSAVE=1`).
    pub const SLOW: u64 = 1 << 4;
}

/// XSTATE component bits (XCR0 / XINUSE).
pub mod xstate {
    /// x87 FPU state.
    pub const X87: u64 = 1 << 0;
    /// SSE: xmm0-15 and MXCSR.
    pub const SSE: u64 = 1 << 1;
    /// Upper halves of ymm0-15.
    pub const YMM: u64 = 1 << 2;
    /// AVX-512 opmask registers k0-7.
    pub const OPMASK: u64 = 1 << 5;
    /// Upper 256 bits of zmm0-15.
    pub const ZMM_HI256: u64 = 1 << 6;
    /// zmm16-31.
    pub const HI16_ZMM: u64 = 1 << 7;
    /// Protection keys register (never touched by hooks; not saved).
    pub const PKRU: u64 = 1 << 9;
    /// Components the fast path saves by hand.
    pub const FAST: u64 = X87 | SSE | YMM | OPMASK | ZMM_HI256 | HI16_ZMM;
}

/// Feature bits of [`cpu`], set once at start-up before any site is rewritten.
pub static CPU_FLAGS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Size of the XSAVE area for the slow path, a multiple of 64.
pub static XSAVE_SIZE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(4096);
/// Where a call through a null (or non-site) pointer is sent to fault: a PROT_NONE page.
pub static FAULT_TARGET: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Size of the fast-path vector area: zmm0-31 (2048), k0-7 (64), mxcsr slot (64), fxsave (512).
pub const FAST_AREA: u64 = 2688;

// The per-thread block: [0] the frame of the innermost dispatch on this thread; [8] flags
// (bit 0: this task is the child of a vfork-like clone, sharing its parent's memory and TLS);
// [16] the Syscall User Dispatch selector byte (see sud.rs); [24] the top of the thread's
// dispatch stack (0: none yet), [32] its index in the pool and [40] whether a dispatch is on
// it (see dstack.rs); [48] the application's own thread pointer (programs started by the
// launcher's loader, see `loader.rs`); [56] in a new thread's block, where the kernel stored
// its tid for the application (the clone child path copies it into the block's descriptor).
// Initial-exec TLS: the runtime is loaded at start-up (LD_PRELOAD, or by the launcher before the
// program), so its block is in the static TLS area and reachable as %fs:offset without calling
// __tls_get_addr.
global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".p2align 3",
    ".globl zp_tls",
    ".hidden zp_tls",
    ".type zp_tls, @object",
    ".size zp_tls, 64",
    "zp_tls:",
    ".zero 64",
    ".popsection",
);

/// Non-zero when the launcher's loader started the program in this process: the program has a
/// thread pointer (`%fs`) of its own, the runtime's is the GS base of each thread, and every
/// way into the runtime (dispatcher, signal handlers) switches `%fs` and back.
pub static LOADER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Whether the loader started the program (see [`LOADER`]).
#[inline(always)]
pub fn loader_mode() -> bool {
    LOADER.load(core::sync::atomic::Ordering::Relaxed) != 0
}

/// The `%fs` base of the calling thread (FSGSBASE instructions: loader mode only).
#[inline(always)]
pub fn fs_base() -> u64 {
    let v: u64;
    // SAFETY: rdfsbase only reads the register; the loader checked the kernel enables it.
    unsafe { asm!("rdfsbase {}", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Sets the `%fs` base of the calling thread (loader mode only).
///
/// # Safety
/// Code that runs next must expect this thread pointer.
#[inline(always)]
pub unsafe fn set_fs_base(v: u64) {
    // SAFETY: the caller's contract; the loader checked the kernel enables FSGSBASE.
    unsafe { asm!("wrfsbase {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// The GS base of the calling thread: the runtime's thread pointer in loader mode.
#[inline(always)]
pub fn gs_base() -> u64 {
    let v: u64;
    // SAFETY: rdgsbase only reads the register; the loader checked the kernel enables it.
    unsafe { asm!("rdgsbase {}", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Sets the GS base of the calling thread.
///
/// # Safety
/// In loader mode it must be a thread pointer of the runtime's (a TLS block of its libc).
#[inline(always)]
pub unsafe fn set_gs_base(v: u64) {
    // SAFETY: the caller's contract; the loader checked the kernel enables FSGSBASE.
    unsafe { asm!("wrgsbase {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// Reads the word at `zp_tls + OFF` of the calling thread.
#[inline(always)]
fn tls_load<const OFF: usize>() -> u64 {
    let v: u64;
    // SAFETY: reads this thread's zp_tls block through the initial-exec TLS offset; the block
    // is always there (zero-initialised .tbss) and OFF is inside it.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            "mov {v}, qword ptr fs:[{off} + {o}]",          // v = zp_tls[OFF]
            off = out(reg) _,
            v = out(reg) v,
            o = const OFF,
            options(nostack, readonly, preserves_flags),
        );
    }
    v
}

/// Writes the word at `zp_tls + OFF` of the calling thread.
#[inline(always)]
fn tls_store<const OFF: usize>(v: u64) {
    // SAFETY: writes this thread's zp_tls block, which only the runtime uses.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            "mov qword ptr fs:[{off} + {o}], {v}",          // zp_tls[OFF] = v
            off = out(reg) _,
            v = in(reg) v,
            o = const OFF,
            options(nostack, preserves_flags),
        );
    }
}

/// Where `zp_tls` lies relative to the thread pointer (its initial-exec TLS offset): the same in
/// every thread block of the runtime's libc.
pub fn tls_block_offset() -> i64 {
    let off: i64;
    // SAFETY: reads the GOT entry the linker made for zp_tls's TLS offset.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            off = out(reg) off,
            options(nostack, readonly, preserves_flags),
        );
    }
    off
}

/// Offsets and flag bits in `zp_tls`.
pub(crate) mod tls {
    pub const CUR: usize = 0;
    pub const FLAGS: usize = 8;
    pub const DSTACK_TOP: usize = 24;
    pub const DSTACK_INDEX: usize = 32;
    pub const DSTACK_BUSY: usize = 40;
    pub const APP_FS: usize = 48;
    pub const TID_FROM: usize = 56;
    /// A vfork-like child sharing its parent's memory and TLS.
    pub const VFORK_CHILD: u64 = 1;
    /// The safety net is on for this thread.
    pub const NET_ON: u64 = 2;
    /// The application asked for SIGSYS to be blocked (it is not, for real).
    pub const APP_BLOCKS_SIGSYS: u64 = 4;
    /// A vfork-like child started on a stack of its own (posix_spawn's): its dispatches stay
    /// on it (the dispatch stack in the TLS it shares is its parent's, in use).
    pub const STAY: u64 = 8;
    /// The application asked for SIGILL to be blocked (it is not, for real, while lazy
    /// rewriting is on).
    pub const APP_BLOCKS_SIGILL: u64 = 16;
}

fn set_flag(bit: u64, on: bool) {
    let f = tls_load::<{ tls::FLAGS }>();
    tls_store::<{ tls::FLAGS }>(if on { f | bit } else { f & !bit });
}

/// The current thread's innermost dispatcher frame, or null outside a dispatch.
#[inline(always)]
pub fn current_frame() -> *mut Frame {
    tls_load::<{ tls::CUR }>() as *mut Frame
}

/// Sets the current thread's innermost frame (used before `rt_sigreturn` abandons one).
#[inline(always)]
pub fn set_current_frame(f: *mut Frame) {
    tls_store::<{ tls::CUR }>(f as u64)
}

/// Whether this task is the child of a `vfork`-like clone (it shares its parent's memory,
/// including this very TLS block, until it calls `execve` or exits).
#[inline(always)]
pub fn in_vfork_child() -> bool {
    tls_load::<{ tls::FLAGS }>() & tls::VFORK_CHILD != 0
}

/// Marks (or unmarks) this task as the child of a `vfork`-like clone (unmarking also ends the
/// spawned child's stay-on-its-stack rule: the parent runs again).
#[inline(always)]
pub fn set_vfork_child(on: bool) {
    set_flag(tls::VFORK_CHILD, on);
    if !on {
        set_flag(tls::STAY, false);
    }
}

/// Whether the safety net is on for this thread.
#[inline(always)]
pub fn thread_net() -> bool {
    tls_load::<{ tls::FLAGS }>() & tls::NET_ON != 0
}

/// Records whether the safety net is on for this thread.
#[inline(always)]
pub fn set_thread_net(on: bool) {
    set_flag(tls::NET_ON, on)
}

/// The signals among SIGSYS and SIGILL that the application asked to block on this thread
/// (as a kernel signal set; they are not blocked for real, see `sud::sigprocmask`).
#[inline(always)]
pub fn app_blocked_kept() -> u64 {
    let f = tls_load::<{ tls::FLAGS }>();
    let mut m = 0;
    if f & tls::APP_BLOCKS_SIGSYS != 0 {
        m |= 1 << (libc::SIGSYS - 1);
    }
    if f & tls::APP_BLOCKS_SIGILL != 0 {
        m |= 1 << (libc::SIGILL - 1);
    }
    m
}

/// Records which of SIGSYS and SIGILL the application asked to block on this thread.
#[inline(always)]
pub fn set_app_blocked_kept(mask: u64) {
    set_flag(tls::APP_BLOCKS_SIGSYS, mask & 1 << (libc::SIGSYS - 1) != 0);
    set_flag(tls::APP_BLOCKS_SIGILL, mask & 1 << (libc::SIGILL - 1) != 0);
}

/// The top of this thread's dispatch stack (0 if it has none).
#[inline(always)]
pub fn dstack_top() -> u64 {
    tls_load::<{ tls::DSTACK_TOP }>()
}

/// The pool index of this thread's dispatch stack.
#[inline(always)]
pub fn dstack_index() -> u64 {
    tls_load::<{ tls::DSTACK_INDEX }>()
}

/// Gives this thread the dispatch stack `index` whose top is `top`.
#[inline(always)]
pub fn set_dstack(top: u64, index: u64) {
    tls_store::<{ tls::DSTACK_INDEX }>(index);
    tls_store::<{ tls::DSTACK_TOP }>(top);
}

/// The application's own thread pointer on this thread (loader mode): the `%fs` base its
/// code and signal handlers run with.
#[inline(always)]
pub fn app_fs() -> u64 {
    tls_load::<{ tls::APP_FS }>()
}

/// Records the application's own thread pointer on this thread (loader mode).
#[inline(always)]
pub fn set_app_fs(v: u64) {
    tls_store::<{ tls::APP_FS }>(v)
}

/// Whether this thread's dispatch stack is in use.
#[inline(always)]
pub fn dstack_busy() -> bool {
    tls_load::<{ tls::DSTACK_BUSY }>() != 0
}

/// Marks this thread's dispatch stack as in use (or free).
#[inline(always)]
pub fn set_dstack_busy(on: bool) {
    tls_store::<{ tls::DSTACK_BUSY }>(u64::from(on))
}

/// Gives the dispatch stack `index` back to the pool and ends the thread (`exit(code)`),
/// without touching the stack after the release: another thread may claim it at once.
///
/// # Safety
/// `index` must be the calling thread's dispatch stack.
#[unsafe(naked)]
pub unsafe extern "C" fn exit_thread(code: i64, index: u64) -> ! {
    naked_asm!(
        "mov %rsi, %rax", // rax = index
        "shr $6, %rax", // rax = word of the bitmap
        "and $63, %esi", // rsi = bit in the word
        "lea {used}(%rip), %rcx", // rcx = the bitmap
        "lock btr %rsi, (%rcx,%rax,8)", // free (no stack access from here on)
        "mov $60, %eax", // SYS_exit(code in rdi)
        "syscall",
        "ud2", // not reached
        used = sym crate::dstack::USED,
        options(att_syntax),
    )
}

/// Address of this thread's Syscall User Dispatch selector byte.
#[inline(always)]
pub fn selector_ptr() -> *mut u8 {
    let p: *mut u8;
    // SAFETY: computes fs_base + TLS offset of zp_tls + 16; glibc keeps fs_base at fs:0.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            "mov {p}, qword ptr fs:[0]",                    // p = thread pointer
            "lea {p}, [{p} + {off} + 16]",                  // p = &zp_tls.selector
            off = out(reg) _,
            p = out(reg) p,
            options(nostack, readonly, preserves_flags),
        );
    }
    p
}

/// This thread's selector value.
#[inline(always)]
pub fn selector() -> u8 {
    let v: u8;
    // SAFETY: reads this thread's selector byte.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            "mov {v}, byte ptr fs:[{off} + 16]",            // v = zp_tls.selector
            off = out(reg) _,
            v = out(reg_byte) v,
            options(nostack, readonly, preserves_flags),
        );
    }
    v
}

/// Sets this thread's selector value.
#[inline(always)]
pub fn set_selector(v: u8) {
    // SAFETY: writes this thread's selector byte, which only the runtime uses.
    unsafe {
        asm!(
            "mov {off}, qword ptr [rip + zp_tls@GOTTPOFF]", // off = TLS offset of zp_tls
            "mov byte ptr fs:[{off} + 16], {v}",            // zp_tls.selector = v
            off = out(reg) _,
            v = in(reg_byte) v,
            options(nostack, preserves_flags),
        );
    }
}

/// The dispatcher. Reached by `jmp` from the trampoline after a rewritten site executed
/// `callq *%rax`; returns to the site with the kernel's register contract (see the module
/// docs for the frame). Not callable from Rust.
///
/// Every `ret` executed after a system call returns to a `call` made before it; on CPUs whose
/// kernel refills the return stack buffer on the way back to user space (this machine's does),
/// each such `ret` is mispredicted (~30 ns). So the hook is called from here directly, the
/// default "next" ([`zp_next`]) goes back with an indirect `jmp`, and so does the dispatcher:
/// a pass-through hook that tail-calls "next" runs with no mispredicted return at all.
///
/// # Safety
/// Only the trampoline (and the fault handler redirecting an out-of-range number) may enter it,
/// with `rsp` pointing at the return address pushed by a rewritten site.
#[unsafe(naked)]
pub unsafe extern "C" fn zp_entry() {
    naked_asm!(
        // ---- choose the stack: the thread's dispatch stack unless already on it --------------
        "pushfq", // S-16: application rflags, before anything changes them (the site
        // was proven not to keep data below its stack pointer; a stub has stepped over it)
        // Until the frame is built, %fs may be the application's own thread pointer (a
        // program started by the loader): zp_tls is reached by its address instead.
        "cmpq $0, {loader}(%rip)", // started by the launcher's loader?
        "jne 13f", // then the runtime's thread pointer is the GS base
        "mov %fs:0, %rcx", // rcx = thread pointer (glibc keeps it at %fs:0)
        "14:",
        "add zp_tls@GOTTPOFF(%rip), %rcx", // rcx = &zp_tls of this thread
        "mov 24(%rcx), %r11", // r11 = top of this thread's dispatch stack (0: none)
        "testq $8, 8(%rcx)", // a spawned child on its own stack, sharing our TLS?
        "jnz 10f", // stay where we are
        "test %r11, %r11", // no dispatch stack yet?
        "jz 10f", // stay (zp_prepare claims one for the next time)
        "cmpq $0, 40(%rcx)", // is it in use (a dispatch on it was interrupted by a
        "jne 10f", // signal whose handler made this call)? stay where we are
        "sub %rsp, %r11", // r11 = top - rsp
        "sub $1, %r11", // r11 = top - rsp - 1: below {dsize} (unsigned) iff on the stack
        "cmp ${dsize}, %r11", // already on the dispatch stack (the hook itself)?
        "jae 11f", // no: switch
        "10:", // stay on this stack (nested: a signal handler or the hook itself)
        "lea 8(%rsp), %rcx", // rcx = S-8, where the return address is
        "mov %rcx, %r11", // r11 = retp, untagged: this dispatch did not switch
        "lea -112(%rsp), %rsp", // rsp = S-128: below the red zone
        "jmp 12f",
        "13:", // loader: the runtime's thread pointer for this thread is the GS base
        "rdgsbase %rcx", // rcx = thread pointer of the runtime's TLS
        "jmp 14b",
        "11:", // switch to the dispatch stack
        "movq $1, 40(%rcx)", // mark it in use before anything is written on it
        "mov 24(%rcx), %r11", // r11 = its top
        "lea 8(%rsp), %rcx", // rcx = S-8
        "mov %r11, %rsp", // rsp = the dispatch stack's top
        "lea 1(%rcx), %r11", // r11 = retp tagged with bit 0: this dispatch switched
        "12:",
        // ---- build the frame ------------------------------------------------------------
        "push %r11", // retp: where the return address is (S-8), bit 0 = switched
        "pushq -8(%rcx)", // rflags (from S-16)
        "push %rbp", // application rbp
        "mov %rsp, %rbp",                // rbp = frame top (S-144)
        "push %rax",                     // rbp-8:   nr
        "push %rdi",                     // rbp-16:  a1
        "push %rsi",                     // rbp-24:  a2
        "push %rdx",                     // rbp-32:  a3
        "push %r10",                     // rbp-40:  a4
        "push %r8",                      // rbp-48:  a5
        "push %r9",                      // rbp-56:  a6
        "push %rcx",                     // rbp-64:  rcx (kept for the fault path)
        "push %r11",                     // rbp-72:  r11 (kept for the fault path)
        "push %rbx",                     // rbp-80:  rbx (we keep the hook in it)
        "push %r12",                     // rbp-88:  r12 (we keep the vector area in it)
        "push %r13",                     // rbp-96
        "push %r14",                     // rbp-104
        "push %r15",                     // rbp-112
        "sub $40, %rsp", // F = rbp-152: prev, selector, action, vsave, fs
        "cld",                           // the C ABI wants DF clear in the hook
        // ---- loader: the runtime's TLS from here on -----------------------------------------
        "movq $0, 32(%rsp)", // F.fs = 0: %fs is left alone (LD_PRELOAD)
        "cmpq $0, {loader}(%rip)", // started by the launcher's loader?
        "je 15f",
        "rdfsbase %rax", // rax = the thread pointer at the site (rax is saved)
        "mov %rax, 32(%rsp)", // F.fs = it, put back on every way out
        "rdgsbase %rcx", // rcx = the runtime's thread pointer for this thread
        "cmp %rax, %rcx", // already the runtime's (nested in runtime code)?
        "je 15f",
        "mov zp_tls@GOTTPOFF(%rip), %r11", // r11 = TLS offset of zp_tls (r11 is saved)
        "mov %rax, %gs:48(%r11)", // zp_tls.app_fs = the application's thread pointer (before
        // the switch: a signal handler of the application needs it from the next instruction)
        "wrfsbase %rcx", // %fs = the runtime's: its TLS and the hook's libc work
        "15:",
        // ---- link the frame into this thread's zp_tls --------------------------------------
        "mov zp_tls@GOTTPOFF(%rip), %rcx", // rcx = TLS offset of zp_tls
        "mov %fs:(%rcx), %r11",          // r11 = previous innermost frame
        "mov %r11, 0(%rsp)", // F.prev = r11
        "mov %rsp, %fs:(%rcx)", // zp_tls.cur = F
        "movzbl %fs:16(%rcx), %r11d", // r11 = the thread's Syscall User Dispatch selector
        "mov %r11, 8(%rsp)", // F.selector = r11
        "movb $0, %fs:16(%rcx)", // ALLOW: the hook's own libc calls the kernel directly
        "movq $0, 16(%rsp)",             // F.action = return to the site
        // ---- is the caller a rewritten site? which hook? (before the system call: the
        //      return of this call is predicted) ----------------------------------------------
        "mov %rsp, %rdi",                // arg0 = F
        "and $-16, %rsp",                // the C ABI's alignment (the site's stack has none)
        "call {prepare}",                // rax = hook, or 0 (F.action = 1) for a non-site caller
        "lea -152(%rbp), %rsp",          // rsp = F again (lea keeps the flags)
        "test %rax, %rax",
        "jz 5f",                         // not a site: fault like natively
        "mov %rax, %rbx", // rbx = hook (callee-saved)
        // ---- extended state -----------------------------------------------------------------
        "xor %r12d, %r12d",              // r12 = no vector area (yet)
        "and $-64, %rsp",                // 64-byte alignment for zmm stores and XSAVE
        "testq ${novec}, {flags}(%rip)", // hook proven not to touch the extended state?
        "jnz 6f",
        "testq ${slow}, {flags}(%rip)",  // XSAVE path?
        "jnz 3f",
        "sub ${fast_area}, %rsp",        // fast path: fixed-size area
        "mov %rsp, %r12",                // r12 = vector area (callee-saved: survives the hook)
        "jmp 4f",
        "3:",
        "sub {xsize}(%rip), %rsp",       // slow path: XSAVE-sized area (multiple of 64)
        "lea 1(%rsp), %r12",             // r12 = area, tagged (bit 0) as an XSAVE image
        "4:",
        "call {save}",                   // save the extended state (clobbers rax, rcx, rdx)
        "6:",
        "mov %r12, -128(%rbp)",          // F.vsave = r12 (0 when nothing was saved)
        // ---- hook(nr, a1, a2, a3, a4, a5, a6) ---------------------------------------------
        "sub $16, %rsp",                 // room for the seventh argument, alignment kept
        "mov -56(%rbp), %rax",           // a6 (application r9)
        "mov %rax, (%rsp)",              // seventh C argument on the stack
        "mov -8(%rbp), %rdi",            // nr
        "mov -16(%rbp), %rsi",           // a1 (rdi)
        "mov -24(%rbp), %rdx",           // a2 (rsi)
        "mov -32(%rbp), %rcx",           // a3 (rdx)
        "mov -40(%rbp), %r8",            // a4 (r10)
        "mov -48(%rbp), %r9",            // a5 (r8)
        "call *%rbx",                    // rax = the hook's result
        "mov %rax, -8(%rbp)",            // F.rax = result (popped into rax below)
        "test %r12, %r12",               // anything saved?
        "jz 7f",
        "call {restore}",                // restore the extended state (clobbers rax, rcx, rdx)
        "7:",
        // ---- unlink the frame and restore the registers --------------------------------
        "lea -152(%rbp), %rsp",          // rsp = F
        "mov zp_tls@GOTTPOFF(%rip), %rcx", // rcx = TLS offset of zp_tls
        "mov 0(%rsp), %r11", // r11 = F.prev
        "mov %r11, %fs:(%rcx)", // zp_tls.cur = F.prev
        "mov 8(%rsp), %r11", // r11 = F.selector: the selector as it was
        "cmpq $0, 0(%rsp)", // outermost dispatch of the thread?
        "jne 30f",
        "testq $2, %fs:8(%rcx)", // and the safety net on for it (perhaps since this dispatch)?
        "jz 30f",
        "mov $1, %r11d", // then application code runs with BLOCK
        "30:",
        "movb %r11b, %fs:16(%rcx)", // the selector for what runs next
        "cmpq $0, {loader}(%rip)", // loader: the site's thread pointer back
        "je 32f",
        "mov 32(%rsp), %r11", // r11 = F.fs
        "rdgsbase %rax", // rax = the runtime's thread pointer (rax is restored below)
        "cmp %rax, %r11", // entered from runtime code? then F.fs is the runtime's
        "je 34f",
        "mov %fs:48(%rcx), %r11", // else the application's, as it is now (zp_tls.app_fs:
        // arch_prctl in a signal handler during this dispatch may have changed it)
        "34:",
        "wrfsbase %r11", // %fs is the application's again (no %fs access below)
        "32:",
        "add $40, %rsp", // drop prev, selector, action, vsave, fs
        "pop %r15",
        "pop %r14",
        "pop %r13",
        "pop %r12",
        "pop %rbx",
        "add $16, %rsp",                 // drop the saved r11 and rcx: the kernel clobbers them
        "pop %r9",
        "pop %r8",
        "pop %r10",
        "pop %rdx",
        "pop %rsi",
        "pop %rdi",
        "pop %rax",                      // rax = result
        "pop %rbp",
        // Restore the flags without popfq (microcoded, ~6 ns): the dispatcher and the hook can
        // only have changed the arithmetic flags and DF.
        "mov (%rsp), %r11",              // r11 = rflags, as the kernel leaves it
        "mov %rax, (%rsp)",              // park the result in the flags slot
        "testb $1, 8(%rsp)",             // did this dispatch switch stacks?
        "jnz 20f",
        "call {setflags}",               // flags from r11 (clobbers rax, rcx)
        "mov (%rsp), %rax", // rax = result
        "mov 8(%rsp), %rcx", // rcx = retp (S-8)
        "lea 8(%rcx), %rsp", // rsp = S, back on the application's stack (lea keeps the flags)
        "mov -8(%rsp), %rcx", // rcx = return address, as the kernel leaves it
        "jmp *%rcx", // back to site + 2 (an indirect jump: predicted)
        "20:",                           // leaving the dispatch stack
        "cmpq $0, {loader}(%rip)", // loader: %fs is the application's by now
        "jne 22f",
        "call {setflags}",               // flags from r11 (clobbers rax, rcx)
        "mov (%rsp), %rax", // rax = result
        "mov 8(%rsp), %rcx", // rcx = retp (S-8) + 1
        "lea 7(%rcx), %rsp", // rsp = S, back on the application's stack
        "mov %rax, -16(%rsp)", // park the result at S-16 (signal frames skip 128 bytes)
        "mov zp_tls@GOTTPOFF(%rip), %rax", // rax = TLS offset of zp_tls (mov keeps the flags)
        "movq $0, %fs:40(%rax)", // the dispatch stack is free again
        "mov -16(%rsp), %rax", // rax = result
        "mov -8(%rsp), %rcx", // rcx = return address, as the kernel leaves it
        "jmp *%rcx", // back to site + 2
        "22:", // the same, reaching zp_tls through the GS base (the runtime's thread pointer)
        "call {setflags}",               // flags from r11 (clobbers rax, rcx)
        "mov (%rsp), %rax", // rax = result
        "mov 8(%rsp), %rcx", // rcx = retp (S-8) + 1
        "lea 7(%rcx), %rsp", // rsp = S, back on the application's stack
        "mov %rax, -16(%rsp)", // park the result at S-16 (signal frames skip 128 bytes)
        "mov zp_tls@GOTTPOFF(%rip), %rax", // rax = TLS offset of zp_tls (mov keeps the flags)
        "movq $0, %gs:40(%rax)", // the dispatch stack is free again
        "mov -16(%rsp), %rax", // rax = result
        "mov -8(%rsp), %rcx", // rcx = return address, as the kernel leaves it
        "jmp *%rcx", // back to site + 2
        // ---- not a rewritten site (call through a null pointer): fault like natively ----------
        "5:",
        "mov zp_tls@GOTTPOFF(%rip), %rcx", // rcx = TLS offset of zp_tls
        "testb $1, 152+16(%rsp)", // did it switch to the dispatch stack?
        "jz 21f",
        "movq $0, %fs:40(%rcx)", // free it (a signal from here to the jump is not covered)
        "21:",
        "mov 0(%rsp), %r11", // r11 = F.prev
        "mov %r11, %fs:(%rcx)", // zp_tls.cur = F.prev
        "mov 8(%rsp), %r11", // r11 = F.selector: the selector as it was
        "cmpq $0, 0(%rsp)", // outermost dispatch of the thread?
        "jne 31f",
        "testq $2, %fs:8(%rcx)", // and the safety net on for it (perhaps since this dispatch)?
        "jz 31f",
        "mov $1, %r11d", // then application code runs with BLOCK
        "31:",
        "movb %r11b, %fs:16(%rcx)", // the selector for what runs next
        "cmpq $0, {loader}(%rip)", // loader: the site's thread pointer back
        "je 33f",
        "mov 32(%rsp), %r11", // r11 = F.fs
        "rdgsbase %rax", // rax = the runtime's thread pointer (rax is restored below)
        "cmp %rax, %r11", // entered from runtime code? then F.fs is the runtime's
        "je 35f",
        "mov %fs:48(%rcx), %r11", // else the application's, as it is now
        "35:",
        "wrfsbase %r11", // %fs is the application's again
        "33:",
        "lea 40(%rsp), %rsp", // drop prev, selector, action, vsave, fs
        "pop %r15",
        "pop %r14",
        "pop %r13",
        "pop %r12",
        "pop %rbx",
        "pop %r11",                      // the caller's r11
        "pop %rcx",                      // the caller's rcx
        "pop %r9",
        "pop %r8",
        "pop %r10",
        "pop %rdx",
        "pop %rsi",
        "pop %rdi",
        "pop %rax",                      // the called address, as natively
        "pop %rbp",
        "popfq",
        "mov (%rsp), %rsp", // rsp = retp (S-8, with bit 0 if it switched)
        "and $-8, %rsp", // S-8: the return address stays pushed, as natively (flags
        // change here; the process is about to take SIGSEGV)
        "jmp *{fault}(%rip)", // execute a PROT_NONE page: SIGSEGV
        flags = sym CPU_FLAGS,
        slow = const cpu::SLOW,
        novec = const cpu::NOVEC,
        xsize = sym XSAVE_SIZE,
        fast_area = const FAST_AREA,
        prepare = sym zp_prepare,
        save = sym vec_save,
        restore = sym vec_restore,
        fault = sym FAULT_TARGET,
        dsize = const crate::dstack::SIZE,
        setflags = sym restore_flags,
        loader = sym LOADER,
        options(att_syntax),
    )
}

/// Sets the arithmetic flags and DF from `r11` (saved rflags) without `popfq` (microcoded,
/// ~6 ns): the dispatcher and the hook can only have changed those. Internal calling
/// convention: clobbers `rax` and `rcx`, keeps `r11`.
///
/// # Safety
/// Only for the dispatcher's exit.
#[unsafe(naked)]
pub unsafe extern "C" fn restore_flags() {
    naked_asm!(
        "cld",                // DF as the C ABI has it ...
        "test $0x400, %r11d", // ... unless it was set at the site
        "jz 1f",
        "std", // (never in C code, but the kernel would keep it)
        "1:",
        "mov %r11, %rcx",
        "shr $11, %ecx",
        "and $1, %ecx",   // cl = OF
        "add $0x7f, %cl", // OF = cl (0x7f + 1 overflows, 0x7f + 0 does not)
        "mov %r11d, %eax",
        "mov %al, %ah", // ah = SF ZF AF PF CF of the site
        "sahf",         // restore them; OF and DF stay as just set
        "ret",          // (ret keeps the flags)
        options(att_syntax),
    )
}

/// Saves the extended state. Internal calling convention: `r12` = 64-byte aligned area of
/// [`FAST_AREA`] bytes, or an `XSAVE_SIZE` area tagged with bit 0 for the XSAVE path (the tag
/// travels with the area, so a mode change by another thread cannot mismatch save and restore).
/// Clobbers `rax`, `rcx`, `rdx` and flags.
///
/// Fast path, by CPU: zmm0-31 and k0-7 (AVX-512), or ymm0-15 (AVX), or xmm0-15, always MXCSR,
/// and the x87 registers when the x87 stack is not empty (TOP != 0). Reading XINUSE to skip
/// clean components costs more here (`xgetbv` ~14 ns) than saving them.
///
/// Fast-area layout: `0..2048` vector registers (xmm at stride 16, ymm at 32, zmm at 64),
/// `2048..2112` k0-7, `2112` MXCSR, `2120` x87-saved flag, `2176..2688` fxsave image.
///
/// # Safety
/// Only for the dispatcher, with the convention above.
#[unsafe(naked)]
pub unsafe extern "C" fn vec_save() {
    naked_asm!(
        "test $1, %r12b",                // XSAVE path?
        "jnz 8f",
        "stmxcsr 2112(%r12)",            // MXCSR
        "fnstsw %ax",                    // x87 status word: TOP in bits 11-13
        "and $0x3800, %eax",             // eax = TOP (non-zero: values on the x87 stack)
        "mov %eax, 2120(%r12)",          // remember for the restore
        "jz 1f",
        "fxsave64 2176(%r12)",           // x87 image (rare: the ABI keeps the stack empty)
        "1:",
        "testq ${avx512}, {flags}(%rip)",
        "jnz 3f",
        "testq ${avx}, {flags}(%rip)",
        "jnz 2f",
        "movdqu %xmm0, 0(%r12)",         // xmm0-15
        "movdqu %xmm1, 16(%r12)",
        "movdqu %xmm2, 32(%r12)",
        "movdqu %xmm3, 48(%r12)",
        "movdqu %xmm4, 64(%r12)",
        "movdqu %xmm5, 80(%r12)",
        "movdqu %xmm6, 96(%r12)",
        "movdqu %xmm7, 112(%r12)",
        "movdqu %xmm8, 128(%r12)",
        "movdqu %xmm9, 144(%r12)",
        "movdqu %xmm10, 160(%r12)",
        "movdqu %xmm11, 176(%r12)",
        "movdqu %xmm12, 192(%r12)",
        "movdqu %xmm13, 208(%r12)",
        "movdqu %xmm14, 224(%r12)",
        "movdqu %xmm15, 240(%r12)",
        "ret",
        "2:",
        "vmovdqu %ymm0, 0(%r12)",        // ymm0-15
        "vmovdqu %ymm1, 32(%r12)",
        "vmovdqu %ymm2, 64(%r12)",
        "vmovdqu %ymm3, 96(%r12)",
        "vmovdqu %ymm4, 128(%r12)",
        "vmovdqu %ymm5, 160(%r12)",
        "vmovdqu %ymm6, 192(%r12)",
        "vmovdqu %ymm7, 224(%r12)",
        "vmovdqu %ymm8, 256(%r12)",
        "vmovdqu %ymm9, 288(%r12)",
        "vmovdqu %ymm10, 320(%r12)",
        "vmovdqu %ymm11, 352(%r12)",
        "vmovdqu %ymm12, 384(%r12)",
        "vmovdqu %ymm13, 416(%r12)",
        "vmovdqu %ymm14, 448(%r12)",
        "vmovdqu %ymm15, 480(%r12)",
        "ret",
        "3:",
        "vmovdqu64 %zmm0, 0(%r12)",      // zmm0-31
        "vmovdqu64 %zmm1, 64(%r12)",
        "vmovdqu64 %zmm2, 128(%r12)",
        "vmovdqu64 %zmm3, 192(%r12)",
        "vmovdqu64 %zmm4, 256(%r12)",
        "vmovdqu64 %zmm5, 320(%r12)",
        "vmovdqu64 %zmm6, 384(%r12)",
        "vmovdqu64 %zmm7, 448(%r12)",
        "vmovdqu64 %zmm8, 512(%r12)",
        "vmovdqu64 %zmm9, 576(%r12)",
        "vmovdqu64 %zmm10, 640(%r12)",
        "vmovdqu64 %zmm11, 704(%r12)",
        "vmovdqu64 %zmm12, 768(%r12)",
        "vmovdqu64 %zmm13, 832(%r12)",
        "vmovdqu64 %zmm14, 896(%r12)",
        "vmovdqu64 %zmm15, 960(%r12)",
        "vmovdqu64 %zmm16, 1024(%r12)",
        "vmovdqu64 %zmm17, 1088(%r12)",
        "vmovdqu64 %zmm18, 1152(%r12)",
        "vmovdqu64 %zmm19, 1216(%r12)",
        "vmovdqu64 %zmm20, 1280(%r12)",
        "vmovdqu64 %zmm21, 1344(%r12)",
        "vmovdqu64 %zmm22, 1408(%r12)",
        "vmovdqu64 %zmm23, 1472(%r12)",
        "vmovdqu64 %zmm24, 1536(%r12)",
        "vmovdqu64 %zmm25, 1600(%r12)",
        "vmovdqu64 %zmm26, 1664(%r12)",
        "vmovdqu64 %zmm27, 1728(%r12)",
        "vmovdqu64 %zmm28, 1792(%r12)",
        "vmovdqu64 %zmm29, 1856(%r12)",
        "vmovdqu64 %zmm30, 1920(%r12)",
        "vmovdqu64 %zmm31, 1984(%r12)",
        "kmovq %k0, 2048(%r12)",         // k0-7
        "kmovq %k1, 2056(%r12)",
        "kmovq %k2, 2064(%r12)",
        "kmovq %k3, 2072(%r12)",
        "kmovq %k4, 2080(%r12)",
        "kmovq %k5, 2088(%r12)",
        "kmovq %k6, 2096(%r12)",
        "kmovq %k7, 2104(%r12)",
        "ret",
        // ---- slow path: XSAVE everything enabled ------------------------------------------
        "8:",
        "lea -1(%r12), %rcx",            // rcx = the area without its tag
        "xor %eax, %eax",                // zero the 64-byte XSAVE header (xrstor checks it)
        "mov %rax, 512(%rcx)",
        "mov %rax, 520(%rcx)",
        "mov %rax, 528(%rcx)",
        "mov %rax, 536(%rcx)",
        "mov %rax, 544(%rcx)",
        "mov %rax, 552(%rcx)",
        "mov %rax, 560(%rcx)",
        "mov %rax, 568(%rcx)",
        "mov $-1, %eax",                 // requested-feature bitmap: everything enabled
        "mov $-1, %edx",
        "testq ${xsavec}, {flags}(%rip)", // compacted format available?
        "jz 9f",
        "xsavec64 (%rcx)",               // compacted save (components in their initial state
        "ret",                           // are only marked, not written)
        "9:",
        "xsave64 (%rcx)",                // standard-format save
        "ret",
        flags = sym CPU_FLAGS,
        xsavec = const cpu::XSAVEC,
        avx = const cpu::AVX,
        avx512 = const cpu::AVX512,
        options(att_syntax),
    )
}

/// Restores what [`vec_save`] saved. Same convention as [`vec_save`].
///
/// # Safety
/// Only for the dispatcher and [`clone_with_frame`], after a matching [`vec_save`].
#[unsafe(naked)]
pub unsafe extern "C" fn vec_restore() {
    naked_asm!(
        "test $1, %r12b",                // XSAVE path?
        "jnz 8f",
        "cmpl $0, 2120(%r12)",           // x87 saved?
        "je 1f",
        "fxrstor64 2176(%r12)",          // x87 (vector registers are reloaded below)
        "1:",
        "testq ${avx512}, {flags}(%rip)",
        "jnz 5f",
        "testq ${avx}, {flags}(%rip)",
        "jnz 4f",
        "movdqu 0(%r12), %xmm0",         // xmm0-15
        "movdqu 16(%r12), %xmm1",
        "movdqu 32(%r12), %xmm2",
        "movdqu 48(%r12), %xmm3",
        "movdqu 64(%r12), %xmm4",
        "movdqu 80(%r12), %xmm5",
        "movdqu 96(%r12), %xmm6",
        "movdqu 112(%r12), %xmm7",
        "movdqu 128(%r12), %xmm8",
        "movdqu 144(%r12), %xmm9",
        "movdqu 160(%r12), %xmm10",
        "movdqu 176(%r12), %xmm11",
        "movdqu 192(%r12), %xmm12",
        "movdqu 208(%r12), %xmm13",
        "movdqu 224(%r12), %xmm14",
        "movdqu 240(%r12), %xmm15",
        "jmp 6f",
        "4:",
        "vmovdqu 0(%r12), %ymm0",        // ymm0-15
        "vmovdqu 32(%r12), %ymm1",
        "vmovdqu 64(%r12), %ymm2",
        "vmovdqu 96(%r12), %ymm3",
        "vmovdqu 128(%r12), %ymm4",
        "vmovdqu 160(%r12), %ymm5",
        "vmovdqu 192(%r12), %ymm6",
        "vmovdqu 224(%r12), %ymm7",
        "vmovdqu 256(%r12), %ymm8",
        "vmovdqu 288(%r12), %ymm9",
        "vmovdqu 320(%r12), %ymm10",
        "vmovdqu 352(%r12), %ymm11",
        "vmovdqu 384(%r12), %ymm12",
        "vmovdqu 416(%r12), %ymm13",
        "vmovdqu 448(%r12), %ymm14",
        "vmovdqu 480(%r12), %ymm15",
        "jmp 6f",
        "5:",
        "vmovdqu64 0(%r12), %zmm0",      // zmm0-31
        "vmovdqu64 64(%r12), %zmm1",
        "vmovdqu64 128(%r12), %zmm2",
        "vmovdqu64 192(%r12), %zmm3",
        "vmovdqu64 256(%r12), %zmm4",
        "vmovdqu64 320(%r12), %zmm5",
        "vmovdqu64 384(%r12), %zmm6",
        "vmovdqu64 448(%r12), %zmm7",
        "vmovdqu64 512(%r12), %zmm8",
        "vmovdqu64 576(%r12), %zmm9",
        "vmovdqu64 640(%r12), %zmm10",
        "vmovdqu64 704(%r12), %zmm11",
        "vmovdqu64 768(%r12), %zmm12",
        "vmovdqu64 832(%r12), %zmm13",
        "vmovdqu64 896(%r12), %zmm14",
        "vmovdqu64 960(%r12), %zmm15",
        "vmovdqu64 1024(%r12), %zmm16",
        "vmovdqu64 1088(%r12), %zmm17",
        "vmovdqu64 1152(%r12), %zmm18",
        "vmovdqu64 1216(%r12), %zmm19",
        "vmovdqu64 1280(%r12), %zmm20",
        "vmovdqu64 1344(%r12), %zmm21",
        "vmovdqu64 1408(%r12), %zmm22",
        "vmovdqu64 1472(%r12), %zmm23",
        "vmovdqu64 1536(%r12), %zmm24",
        "vmovdqu64 1600(%r12), %zmm25",
        "vmovdqu64 1664(%r12), %zmm26",
        "vmovdqu64 1728(%r12), %zmm27",
        "vmovdqu64 1792(%r12), %zmm28",
        "vmovdqu64 1856(%r12), %zmm29",
        "vmovdqu64 1920(%r12), %zmm30",
        "vmovdqu64 1984(%r12), %zmm31",
        "kmovq 2048(%r12), %k0",         // k0-7
        "kmovq 2056(%r12), %k1",
        "kmovq 2064(%r12), %k2",
        "kmovq 2072(%r12), %k3",
        "kmovq 2080(%r12), %k4",
        "kmovq 2088(%r12), %k5",
        "kmovq 2096(%r12), %k6",
        "kmovq 2104(%r12), %k7",
        "6:",
        "stmxcsr 2116(%r12)",            // MXCSR now (stmxcsr is cheap, ldmxcsr is not)
        "mov 2112(%r12), %eax",          // eax = the application's MXCSR
        "cmp 2116(%r12), %eax",          // did the hook change it?
        "je 7f",
        "ldmxcsr 2112(%r12)",            // yes: put it back
        "7:",
        "ret",
        // ---- slow path: XRSTOR everything enabled (components not saved are initialised) ---
        "8:",
        "lea -1(%r12), %rcx",            // rcx = the area without its tag
        "mov $-1, %eax",                 // requested-feature bitmap: everything enabled
        "mov $-1, %edx",
        "xrstor64 (%rcx)",               // standard or compacted image, as saved
        "ret",
        flags = sym CPU_FLAGS,
        avx = const cpu::AVX,
        avx512 = const cpu::AVX512,
        options(att_syntax),
    )
}

/// The default hook and every hook's "next" (`zp_next(nr, a1, …, a6)`, the zpoline signature):
/// performs the system call as the kernel would have at the site. Ordinary calls are one
/// `syscall` here; the few that need more (`rt_sigreturn`, `clone`, `vfork`, `clone3`,
/// `rt_sigaction`, `arch_prctl`, ...; `readlink` in loader mode) go to
/// [`crate::dispatch::next_special`]. Returns with an
/// indirect `jmp` instead of `ret` (see [`zp_entry`]).
///
/// # Safety
/// A system call can do anything; the caller answers for its arguments.
#[unsafe(naked)]
pub unsafe extern "C" fn zp_next(
    nr: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
    a6: i64,
) -> i64 {
    naked_asm!(
        "cmp $15, %rdi",                 // rt_sigreturn
        "je 1f",
        "cmp $56, %rdi",                 // clone
        "je 1f",
        "cmp $58, %rdi",                 // vfork
        "je 1f",
        "cmp $435, %rdi",                // clone3
        "je 1f",
        "cmp $13, %rdi",                 // rt_sigaction (SIGSEGV is the runtime's)
        "je 1f",
        "cmp $158, %rdi", // arch_prctl (AMX permission changes the saved state)
        "je 1f",
        "cmp $14, %rdi", // rt_sigprocmask (SIGSYS stays unblocked under the safety net)
        "je 1f",
        "cmp $57, %rdi", // fork (the child turns the safety net on)
        "je 1f",
        "cmp $59, %rdi", // execve (the runtime's variables go on to the new image)
        "je 1f",
        "cmp $322, %rdi", // execveat
        "je 1f",
        "cmp $231, %rdi", // exit_group (the audit report)
        "je 1f",
        "cmp $60, %rdi", // exit (the thread's dispatch stack goes back to the pool)
        "je 1f",
        "cmpq $0, {loader}(%rip)", // loader mode:
        "je 4f",
        "cmp $89, %rdi", // readlink and readlinkat (/proc/self/exe names the program)
        "je 1f",
        "cmp $267, %rdi",
        "je 1f",
        "4:",
        "cmpq $0, {armed}(%rip)", // safety net already armed?
        "jne 3f", // then new executable memory changes nothing
        "cmp $9, %rdi", // mmap
        "je 2f",
        "cmp $10, %rdi", // mprotect
        "je 2f",
        "cmp $329, %rdi", // pkey_mprotect
        "je 2f",
        "cmp $30, %rdi", // shmat
        "jne 3f",
        "test $0x8000, %ecx", // SHM_EXEC?
        "jnz 1f",
        "jmp 3f",
        "2:",
        "test $4, %cl", // PROT_EXEC (third argument)?
        "jnz 1f", // new executable memory: arm the net
        "3:",
        "mov %rdi, %rax",                // rax = nr
        "mov %rsi, %rdi",                // rdi = a1
        "mov %rdx, %rsi",                // rsi = a2
        "mov %rcx, %rdx",                // rdx = a3
        "mov %r8, %r10",                 // r10 = a4
        "mov %r9, %r8",                  // r8 = a5
        "mov 8(%rsp), %r9",              // r9 = a6 (seventh C argument, on the stack)
        "syscall",
        "pop %rcx",                      // return address (rcx is clobbered anyway)
        "jmp *%rcx",                     // return without a mispredicted ret
        "1:",
        "jmp {special}",                 // same arguments, same stack: a tail call
        special = sym zp_special,
        armed = sym crate::sud::ACTIVE,
        loader = sym LOADER,
        options(att_syntax),
    )
}

/// The special system calls of [`zp_next`], around [`crate::dispatch::next_special`] (Rust,
/// which may use vector registers). When the dispatch did not save the extended state (a
/// vector-free hook) it is saved here first, and recorded in the frame, so that the Rust code
/// cannot leak into the application's registers and a clone child starts with the
/// application's state.
///
/// # Safety
/// Same as [`zp_next`].
#[unsafe(naked)]
pub unsafe extern "C" fn zp_special(
    nr: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
    a6: i64,
) -> i64 {
    naked_asm!(
        "push %rbp",                     // frame: a6 is at 16(%rbp)
        "mov %rsp, %rbp",
        "push %rbx",                     // rbp-8:  callee-saved, holds the dispatcher frame
        "push %r12",                     // rbp-16: callee-saved, holds our vector area
        "push %rdi",                     // rbp-24: nr (then the result)
        "push %rsi",                     // rbp-32: a1
        "push %rdx",                     // rbp-40: a2
        "push %rcx",                     // rbp-48: a3
        "push %r8",                      // rbp-56: a4
        "push %r9",                      // rbp-64: a5
        "xor %r12d, %r12d",              // r12 = nothing saved here
        "mov zp_tls@GOTTPOFF(%rip), %rcx", // rcx = TLS offset of zp_tls
        "mov %fs:(%rcx), %rbx",          // rbx = the innermost dispatcher frame, or 0
        "test %rbx, %rbx",
        "jz 1f",
        "cmpq $0, 24(%rbx)",             // did that dispatch save the extended state?
        "jne 2f",                        // yes: nothing to do
        "1:",
        "and $-64, %rsp",                // 64-byte aligned area
        "testq ${slow}, {flags}(%rip)",
        "jnz 3f",
        "sub ${fast_area}, %rsp",        // fast layout
        "mov %rsp, %r12",
        "jmp 4f",
        "3:",
        "sub {xsize}(%rip), %rsp",       // XSAVE layout, tagged
        "lea 1(%rsp), %r12",
        "4:",
        "call {save}",                   // the application's extended state (clobbers rax, rcx, rdx)
        "test %rbx, %rbx",
        "jz 2f",
        "mov %r12, 24(%rbx)",            // frame.vsave = our area, for a clone child
        "2:",
        "sub $16, %rsp",                 // room for the seventh argument, alignment kept
        "mov 16(%rbp), %rax",            // a6
        "mov %rax, (%rsp)",
        "mov -24(%rbp), %rdi",           // nr
        "mov -32(%rbp), %rsi",           // a1
        "mov -40(%rbp), %rdx",           // a2
        "mov -48(%rbp), %rcx",           // a3
        "mov -56(%rbp), %r8",            // a4
        "mov -64(%rbp), %r9",            // a5
        "call {special}",                // rax = next_special(nr, a1..a6)
        "mov %rax, -24(%rbp)",           // keep the result
        "test %r12, %r12",               // saved here?
        "jz 5f",
        "test %rbx, %rbx",
        "jz 6f",
        "movq $0, 24(%rbx)",             // frame.vsave = none again
        "6:",
        "call {restore}",                // the application's extended state back
        "5:",
        "mov -24(%rbp), %rax",           // result
        "lea -16(%rbp), %rsp",
        "pop %r12",
        "pop %rbx",
        "pop %rbp",
        "ret",
        flags = sym CPU_FLAGS,
        slow = const cpu::SLOW,
        xsize = sym XSAVE_SIZE,
        fast_area = const FAST_AREA,
        save = sym vec_save,
        restore = sym vec_restore,
        special = sym crate::dispatch::next_special,
        options(att_syntax),
    )
}

/// The runtime's own system call: `raw_syscall(nr, a1, …, a6)`, the zpoline hook signature.
/// Its `syscall` instruction lies in the runtime's text, which is never rewritten, so it always
/// reaches the kernel.
///
/// # Safety
/// A system call can do anything; the caller answers for its arguments.
#[unsafe(naked)]
pub unsafe extern "C" fn raw_syscall(
    nr: i64,
    a1: i64,
    a2: i64,
    a3: i64,
    a4: i64,
    a5: i64,
    a6: i64,
) -> i64 {
    naked_asm!(
        "mov %rdi, %rax",   // rax = nr
        "mov %rsi, %rdi",   // rdi = a1
        "mov %rdx, %rsi",   // rsi = a2
        "mov %rcx, %rdx",   // rdx = a3
        "mov %r8, %r10",    // r10 = a4
        "mov %r9, %r8",     // r8 = a5
        "mov 8(%rsp), %r9", // r9 = a6 (seventh C argument, on the stack)
        "syscall",
        "ret",
        options(att_syntax),
    )
}

/// Bytes the child of [`clone_with_frame`] pops from its new stack before it returns to the site.
pub const CHILD_FRAME: u64 = 14 * 8;

/// `clone`/`clone3` with a new stack. `args` = `[nr, a1..a6]` as passed to the kernel, where the
/// child's stack pointer already points at a [`CHILD_FRAME`]-byte block written by the caller:
/// `r15 r14 r13 r12 rbx rbp r9 r8 r10 rdx rsi rdi rflags rip` (lowest address first) with the
/// application's values. Before the system call the application's vector state is reloaded
/// from `frame`, so the child starts with exactly the registers the application had at the site;
/// it pops the block and jumps to the site with `rax = 0` on its own stack. The parent returns
/// the kernel's result.
///
/// With `vfork_child` non-zero the child marks itself with [`set_vfork_child`] (it shares this
/// thread's TLS) before it returns to the site.
///
/// Loader mode: a non-zero `child_tp` becomes the child's GS base (its own runtime thread
/// pointer), and a non-zero `child_fs` its `%fs` base (a child without `CLONE_SETTLS` would
/// otherwise keep the runtime's, which is current here).
///
/// # Safety
/// `args` must describe a clone with a new stack prepared as above; `frame` must be the current
/// dispatcher frame.
#[unsafe(naked)]
pub unsafe extern "C" fn clone_with_frame(
    args: *const [i64; 7],
    frame: *const Frame,
    vfork_child: u64,
    child_tp: u64,
    child_fs: u64,
) -> i64 {
    naked_asm!(
        "push %rbx",                     // callee-saved registers we use
        "push %r12",
        "push %r13",
        "push %r14",
        "push %r15",
        "mov %rdx, %rbx",                // rbx = vfork_child (survives into the child)
        "mov %rcx, %r14",                // r14 = child_tp (survives into the child)
        "mov %r8, %r15",                 // r15 = child_fs (survives into the child)
        "mov %rdi, %r13",                // r13 = args
        "mov 24(%rsi), %r12",            // r12 = frame.vsave (tagged), or 0
        "test %r12, %r12",
        "jz 2f",
        "call {restore}",                // application vector state (clobbers rax, rcx, rdx)
        "2:",
        "mov 0(%r13), %rax",             // nr
        "mov 8(%r13), %rdi",             // a1
        "mov 16(%r13), %rsi",            // a2
        "mov 24(%r13), %rdx",            // a3
        "mov 32(%r13), %r10",            // a4
        "mov 40(%r13), %r8",             // a5
        "mov 48(%r13), %r9",             // a6
        "syscall",
        "test %rax, %rax",               // 0 in the child
        "jz 1f",
        "pop %r15",                      // parent (or error): back to the caller
        "pop %r14",
        "pop %r13",
        "pop %r12",
        "pop %rbx",
        "ret",
        "1:",                            // child: rsp = the block on its new stack
        "test %rbx, %rbx",               // a vfork-like child sharing our TLS?
        "jz 9f",
        "mov %rsp, %rbp",                // (rbp is popped from the block below)
        "and $-16, %rsp",                // the C ABI's alignment
        "call {spawned}",                // a dispatch stack of its own (the one in the TLS it
        "mov %rbp, %rsp",                // shares is its parent's, in use); %fs is still ours
        "9:",
        "test %r15, %r15",               // loader: the application's thread pointer to take?
        "jz 6f",
        "wrfsbase %r15",                 // %fs = it (no %fs access below)
        "6:",
        "test %r14, %r14",               // loader: a runtime thread pointer of its own?
        "jz 5f",
        "wrgsbase %r14",                 // GS base = it (after %fs: a signal in between finds
        // %fs and GS base as the application's code needs)
        "mov zp_tls@GOTTPOFF(%rip), %rax", // rax = TLS offset of zp_tls
        "mov 56(%r14,%rax), %rcx",       // rcx = zp_tls.tid_from: where the kernel put the
        "test %rcx, %rcx",               // child's tid for the application (0: in our block)
        "jz 5f",
        "mov (%rcx), %ecx",              // ecx = the child's tid (stored before it runs)
        "mov {tid_off}(%rip), %rax",     // rax = offset of tid in the thread descriptor
        "test %rax, %rax",
        "jz 5f",
        "mov %ecx, (%r14,%rax)",         // the descriptor's tid, before any hook runs here
        "5:",
        "cmpq $0, {loader}(%rip)",       // r9 = the runtime's thread pointer of the child:
        "je 7f",
        "rdgsbase %r9",                  // the GS base (loader)
        "jmp 8f",
        "7:",
        "mov %fs:0, %r9",                // or its own TLS, or ours (LD_PRELOAD)
        "8:",
        "add zp_tls@GOTTPOFF(%rip), %r9", // r9 = &zp_tls (in the child's runtime TLS)
        "test %rbx, %rbx",               // a vfork-like child sharing our TLS?
        "jz 3f",
        "orq $1, 8(%r9)", // zp_tls.flags |= vfork child
        "3:",
        "cmpq $0, {sud_active}(%rip)", // safety net on? (not inherited by a new task)
        "je 4f",
        "lea 16(%r9), %r8", // r8 = &zp_tls.selector
        "movb $1, (%r8)", // BLOCK: the child runs application code next
        "orq $2, 8-16(%r8)", // zp_tls.flags |= net on for this thread
        "mov $59, %edi", // prctl(PR_SET_SYSCALL_USER_DISPATCH,
        "mov $1, %esi", //       PR_SYS_DISPATCH_ON,
        "mov {sud_start}(%rip), %rdx", //       runtime text start,
        "mov {sud_len}(%rip), %r10", //       runtime text length,
        "mov $157, %eax", //       &selector)
        "syscall",
        "4:",
        "pop %r15",
        "pop %r14",
        "pop %r13",
        "pop %r12",
        "pop %rbx",
        "pop %rbp",
        "pop %r9",
        "pop %r8",
        "pop %r10",
        "pop %rdx",
        "pop %rsi",
        "pop %rdi",
        "xor %eax, %eax",                // the child's result
        "mov (%rsp), %r11",              // r11 = rflags, as the kernel leaves it
        "popfq",                         // the application's flags
        "mov (%rsp), %rcx",              // rcx = site + 2, as the kernel leaves it
        "ret",                           // to the site; rsp = the stack the application gave
        restore = sym vec_restore,
        sud_active = sym crate::sud::ACTIVE,
        sud_start = sym crate::sud::RANGE_START,
        sud_len = sym crate::sud::RANGE_LEN,
        loader = sym LOADER,
        spawned = sym crate::dstack::claim_for_spawned_child,
        tid_off = sym crate::loader::TID_OFF,
        options(att_syntax),
    )
}

/// `vfork` (or `clone(CLONE_VM|CLONE_VFORK)` without a stack) whose child shares this stack.
/// Copies `[rsp, top)` (the hook's and the dispatcher's frames up to the site's stack pointer)
/// to `buf` (not on this stack), makes the system call `args = [nr, a1..a6]`, and in the parent
/// copies the region back before returning, so whatever the child did to the shared stack is
/// undone. The child returns 0 through the intact frames. Returns `-E2BIG` without a system
/// call when the region is longer than `buf_len`.
///
/// # Safety
/// `top` must be above the current stack pointer on the same stack (the site's `rsp`); `buf`
/// must be `buf_len` writable bytes that nothing else uses until this returns in the parent.
#[unsafe(naked)]
pub unsafe extern "C" fn vfork_preserving(
    args: *const [i64; 7],
    top: u64,
    buf: *mut u8,
    buf_len: u64,
) -> i64 {
    naked_asm!(
        "push %rbx", // callee-saved registers we use
        "push %rbp",
        "push %r12",
        "push %r13",
        "push %r14",
        "push %r15",
        "mov %rdi, %r13", // r13 = args
        "mov %rsi, %r15", // r15 = top
        "sub %rsp, %r15", // r15 = length of [rsp, top)
        "mov $-7, %rax",  // -E2BIG
        "cmp %rcx, %r15", // longer than the buffer?
        "ja 9f",
        "mov %rdx, %r12", // r12 = copy buffer
        "mov %rsp, %rsi", // copy [rsp, top) ...
        "mov %r12, %rdi", // ... to the buffer
        "mov %r15, %rcx",
        "rep movsb",
        "mov 0(%r13), %rax",  // nr
        "mov 8(%r13), %rdi",  // a1
        "mov 16(%r13), %rsi", // a2
        "mov 24(%r13), %rdx", // a3
        "mov 32(%r13), %r10", // a4
        "mov 40(%r13), %r8",  // a5
        "mov 48(%r13), %r9",  // a6
        "syscall",            // the child runs on this stack until exec or exit
        "test %rax, %rax",
        "jz 9f",          // child: frames are intact, return 0
        "mov %rax, %rbx", // parent: rbx = result
        "mov %r12, %rsi", // copy the buffer ...
        "mov %rsp, %rdi", // ... back over whatever the child wrote
        "mov %r15, %rcx",
        "rep movsb",
        "mov %rbx, %rax", // result
        "9:",
        "pop %r15",
        "pop %r14",
        "pop %r13",
        "pop %r12",
        "pop %rbp",
        "pop %rbx",
        "ret",
        options(att_syntax),
    )
}

/// Executes `rt_sigreturn` with the stack pointer the application had at the site, which is
/// where the kernel looks for the signal frame, after setting the `%fs` base to `fs` when it is
/// not 0 (loader mode). Never returns.
///
/// # Safety
/// `sp` must be the site's stack pointer of an `rt_sigreturn` call.
#[unsafe(naked)]
pub unsafe extern "C" fn sigreturn_at(sp: u64, fs: u64) -> ! {
    naked_asm!(
        "test %rsi, %rsi", // loader: the thread pointer of the code the frame returns to?
        "jz 1f",
        "wrfsbase %rsi", // (the kernel does not restore it from the frame)
        "1:",
        "mov %rdi, %rsp", // the stack the signal frame is on
        "mov $15, %eax",  // SYS_rt_sigreturn
        "syscall",
        "ud2", // not reached
        options(att_syntax),
    )
}

/// Makes a signal-handler entry for the runtime's own handler `$handler` (SIGSEGV, SIGILL,
/// SIGSYS): in loader mode the interrupted code may run with the application's thread pointer,
/// so `%fs` becomes the runtime's (the GS base) for the handler and is put back before it
/// returns (the kernel's signal frame does not hold it). Otherwise a tail call.
macro_rules! runtime_signal_entry {
    ($name:ident, $handler:path, $what:literal) => {
        #[doc = concat!("Signal entry of ", $what, " (see `runtime_signal_entry`).")]
        ///
        /// # Safety
        /// Only the kernel calls it, as an `SA_SIGINFO` handler.
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
            naked_asm!(
                "cmpq $0, {loader}(%rip)", // started by the loader?
                "je 1f", // no: %fs is always the runtime's
                "rdfsbase %rax", // rax = thread pointer of the interrupted code
                "rdgsbase %rcx", // rcx = the runtime's
                "cmp %rax, %rcx", // the same (runtime code was interrupted)?
                "je 1f",
                "push %rbx", // (aligns the stack for the call)
                "mov %rax, %rbx", // rbx = the interrupted code's thread pointer
                "wrfsbase %rcx", // the runtime's TLS for the handler
                "call {handler}", // handler(sig, info, ctx): arguments untouched
                "wrfsbase %rbx", // the interrupted code's thread pointer back
                "pop %rbx",
                "ret", // to the restorer
                "1:",
                "jmp {handler}", // tail call
                loader = sym LOADER,
                handler = sym $handler,
                options(att_syntax),
            )
        }
    };
}

runtime_signal_entry!(
    fault_signal_entry,
    crate::signals::handler,
    "the SIGSEGV/SIGILL handler"
);
runtime_signal_entry!(sys_signal_entry, crate::sud::handler, "the SIGSYS handler");

/// The application's handlers in loader mode, by signal number (see [`app_signal_entry`]).
pub static APP_HANDLERS: [core::sync::atomic::AtomicU64; 65] =
    [const { core::sync::atomic::AtomicU64::new(0) }; 65];

/// What the kernel calls, in loader mode, for a signal the application handles (other than
/// the runtime's own SIGSEGV, SIGILL and SIGSYS): when the signal interrupted the runtime or
/// the hook (`%fs` is the runtime's thread pointer), the application's handler runs with its
/// own thread pointer and, when the safety net is on, the selector at BLOCK (its system calls
/// are hooked). When it returns, `%fs` is the runtime's again; the selector stays BLOCK for the
/// application's restorer, whose `rt_sigreturn` then enters the dispatcher, which resumes the
/// interrupted runtime code with ALLOW. When it interrupted the application, a tail call. The
/// handler is `APP_HANDLERS[sig]`.
///
/// ```text
///  handler stack (the signal frame's)
///  +----------------------------+
///  | return address (restorer)  |
///  | rbx (saved)                |  rbx = the runtime's thread pointer
///  | r12 (saved)                |  r12 = &zp_tls, r13b = selector at entry
///  | r13 (saved)                |
///  | (alignment)                |
///  +----------------------------+
/// ```
///
/// # Safety
/// Only the kernel calls it, as an `SA_SIGINFO` handler.
#[unsafe(naked)]
pub unsafe extern "C" fn app_signal_entry(
    sig: i32,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    naked_asm!(
        "movslq %edi, %rax", // rax = sig
        "lea {handlers}(%rip), %rcx", // rcx = the table
        "mov (%rcx,%rax,8), %r11", // r11 = the application's handler
        "rdfsbase %rax", // rax = thread pointer of the interrupted code
        "rdgsbase %rcx", // rcx = the runtime's
        "cmp %rax, %rcx", // the runtime or the hook was interrupted?
        "je 1f",
        "cmp {launcher_tp}(%rip), %rax", // or runtime code using the launcher's block
        "je 1f", // (loader.rs, with_launcher_block)?
        "jmp *%r11", // no: the application's own thread pointer is current
        "1:",
        "push %rbx", // callee-saved registers we use
        "push %r12",
        "push %r13",
        "sub $16, %rsp", // alignment for the call (entry rsp = 8 mod 16)
        "mov %rax, %rbx", // rbx = the thread pointer to put back
        "mov zp_tls@GOTTPOFF(%rip), %r12", // r12 = TLS offset of zp_tls
        "add %rcx, %r12", // r12 = &zp_tls of this thread (absolute: %fs changes below)
        "movzbl 16(%r12), %r13d", // r13 = the selector now (ALLOW inside a dispatch)
        "testq $2, 8(%r12)", // safety net on for this thread?
        "jz 2f",
        "movb $1, 16(%r12)", // BLOCK: the handler's system calls are the application's
        "2:",
        "mov 48(%r12), %rax", // rax = zp_tls.app_fs
        "wrfsbase %rax", // the application's thread pointer
        "call *%r11", // handler(sig, info, ctx)
        "wrfsbase %rbx", // the interrupted runtime code's again
        "testq $2, 8(%r12)", // net on? then the selector stays BLOCK: the application's
        "jnz 3f", // restorer runs next (its rt_sigreturn is hooked and puts ALLOW back)
        "movb %r13b, 16(%r12)", // the selector as it was
        "3:",
        "add $16, %rsp",
        "pop %r13",
        "pop %r12",
        "pop %rbx",
        "ret", // to the restorer
        handlers = sym APP_HANDLERS,
        launcher_tp = sym crate::loader::MAIN_TP,
        options(att_syntax),
    )
}

/// Starts the program the launcher's loader mapped: `%fs` = 0 (the program sets its own),
/// `rsp` = `sp` (argc, argv, envp, auxv), every other register 0, and jumps to `entry`.
///
/// # Safety
/// `entry` and `sp` must be a loaded program's entry point and initial stack.
#[unsafe(naked)]
pub unsafe extern "C" fn enter_program(entry: u64, sp: u64) -> ! {
    naked_asm!(
        "mov %rsi, %rsp", // the program's initial stack
        "mov %rdi, %r11", // r11 = entry
        "xor %eax, %eax",
        "wrfsbase %rax",  // no thread pointer yet, as after execve
        "push %rax",      // flags = 0 (DF clear) ...
        "popfq",          // ... as after execve
        "xor %ebx, %ebx", // every register 0 (rdx = 0: no atexit function)
        "xor %ecx, %ecx",
        "xor %edx, %edx",
        "xor %esi, %esi",
        "xor %edi, %edi",
        "xor %ebp, %ebp",
        "xor %r8d, %r8d",
        "xor %r9d, %r9d",
        "xor %r10d, %r10d",
        "xor %r12d, %r12d",
        "xor %r13d, %r13d",
        "xor %r14d, %r14d",
        "xor %r15d, %r15d",
        "jmp *%r11", // the program's first instruction
        options(att_syntax),
    )
}

/// Signal restorer for the runtime's own handlers (`SA_RESTORER`).
///
/// # Safety
/// Only the kernel returns here, at the end of a signal handler.
#[unsafe(naked)]
pub unsafe extern "C" fn restore_rt() {
    naked_asm!(
        "mov $15, %eax", // SYS_rt_sigreturn
        "syscall",
        "ud2", // not reached
        options(att_syntax),
    )
}

/// `cpuid` leaf `leaf`, subleaf `sub`: `[eax, ebx, ecx, edx]`.
pub fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// `xgetbv` with `ecx = index` (0: XCR0, 1: XINUSE). Only call when CPUID says it exists.
pub fn xgetbv(index: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: the caller checked OSXSAVE (and, for index 1, CPUID.(0xD,1).EAX[2]).
    unsafe {
        asm!("xgetbv", in("ecx") index, out("eax") lo, out("edx") hi,
             options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}
