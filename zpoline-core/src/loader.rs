//! Programs started by the launcher's own ELF loader (`zpoline run`): statically linked
//! programs, which `LD_PRELOAD` cannot reach, and dynamically linked ones from their dynamic
//! loader's first instruction.
//!
//! The launcher loads `libzpoline.so` into itself (with `ZPOLINE_LOADER=1`, so that the
//! constructor does nothing), maps the program and its interpreter, builds the initial stack
//! and calls [`zpoline_loader_start`], which sets up the runtime for the mapped code only,
//! loads the hook and jumps to the entry point. From there on two worlds share each thread:
//!
//! ```text
//!                 application world                 runtime world
//!  code           the program, its ld.so and libs   launcher, its libc, libzpoline, the hook
//!  thread ptr     %fs = what the program set        GS base = a TLS block of the launcher's
//!                 (arch_prctl, clone CLONE_SETTLS)  libc for this thread (zp_tls inside)
//!  switch         dispatcher entry: %fs = GS base; every way out: %fs = the site's (Frame.fs)
//!                 runtime signal handlers: the same around the handler
//!                 application handlers interrupting the runtime: %fs = zp_tls.app_fs
//! ```
//!
//! Each new thread of the application (a `clone` with `CLONE_VM` and a stack) gets a TLS block
//! of the launcher's libc from the dynamic loader's `_dl_allocate_tls`, as `pthread_create`
//! would; the clone child path sets it as its GS base. `arch_prctl(ARCH_SET_FS)` reaches the
//! kernel (a tracer sees it) and is recorded as the thread pointer to return with;
//! `ARCH_GET_FS` answers it. Needs the FSGSBASE instructions (Linux 5.9+).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::arch::x86_64 as arch;
use crate::sys;

/// `_dl_allocate_tls` of the launcher's dynamic loader.
static ALLOCATE_TLS: AtomicUsize = AtomicUsize::new(0);
/// `_dl_deallocate_tls`.
static DEALLOCATE_TLS: AtomicUsize = AtomicUsize::new(0);
static WARNED_GS: AtomicBool = AtomicBool::new(false);

/// Whether `ZPOLINE_LOADER=1`: the launcher loads the runtime and starts it itself.
pub fn requested() -> bool {
    std::env::var_os("ZPOLINE_LOADER").is_some_and(|v| v == "1")
}

const AT_HWCAP2: u64 = 26;
const HWCAP2_FSGSBASE: u64 = 1 << 1;

/// Bytes of glibc's `tcbhead_t` copied from the current thread into a new block: from
/// `multiple_threads` (24) through `feature_1` (72): the stack and pointer guards among them.
const HEADER_COPY: core::ops::Range<usize> = 24..80;

/// A new TLS block of the launcher's libc for an application thread, its header filled in as
/// `pthread_create` does (`tcb` and `self` point at it, the guards are copied). Allocates (the
/// launcher's malloc): the clone path, not the hot path.
pub fn new_thread_block() -> Option<u64> {
    let f = ALLOCATE_TLS.load(Ordering::Acquire);
    if f == 0 {
        return None;
    }
    free_retired();
    // SAFETY: the dynamic loader's own function, with its documented null argument.
    let alloc: unsafe extern "C" fn(*mut libc::c_void) -> *mut libc::c_void =
        unsafe { core::mem::transmute(f) };
    // SAFETY: as above, as the launcher's thread (see `with_launcher_block`).
    let tp = with_launcher_block(|| unsafe { alloc(core::ptr::null_mut()) }) as u64;
    if tp == 0 {
        return None;
    }
    let cur = arch::gs_base();
    // SAFETY: both blocks begin with a tcbhead_t of at least HEADER_COPY.end bytes.
    unsafe {
        for off in HEADER_COPY.step_by(8) {
            let v = core::ptr::read((cur as usize + off) as *const u64);
            core::ptr::write((tp as usize + off) as *mut u64, v);
        }
        core::ptr::write(tp as *mut u64, tp); // tcb
        core::ptr::write((tp + 16) as *mut u64, tp); // self
    }
    mark_rseq_unregistered(tp);
    Some(tp)
}

/// Offset of `tid` in the launcher's libc's thread descriptor (found at start-up in the
/// launcher's own, whose tid is the process id), 0 if not found.
pub static TID_OFF: AtomicU64 = AtomicU64::new(0);
/// Offset of the rseq area's `cpu_id` from the thread pointer, 0 without one.
static CPU_ID_OFF: AtomicU64 = AtomicU64::new(0);

/// Finds where the launcher's libc keeps a thread's `tid` in its descriptor: the one word of
/// the launcher's own that holds its thread id (a private layout: looked up, not assumed).
fn find_descriptor_fields(main_tp: u64) {
    let tid = sys::syscall6(libc::SYS_gettid, [0; 6]).unwrap_or(0) as u32;
    let found: Vec<u64> = (0x100..0x1000u64)
        .step_by(4)
        // SAFETY: the launcher's own thread descriptor, mapped and larger than 4 KiB with its
        // static TLS below it... read only within its first 4 KiB.
        .filter(|off| unsafe { core::ptr::read((main_tp + off) as *const u32) } == tid)
        .collect();
    if let [off] = found[..] {
        TID_OFF.store(off, Ordering::Relaxed);
    }
    if let Some((off, _)) = rseq_area() {
        CPU_ID_OFF.store((off + 4) as u64, Ordering::Relaxed);
    }
}

/// The launcher's libc's rseq area: its offset from the thread pointer and its size
/// (`__rseq_offset`, `__rseq_size`), `None` when it registers none.
fn rseq_area() -> Option<(i64, u32)> {
    let (off, size) = (lookup(c"__rseq_offset"), lookup(c"__rseq_size"));
    if off == 0 || size == 0 {
        return None;
    }
    // SAFETY: glibc's exported variables (ptrdiff_t and unsigned int).
    let (off, size) = unsafe { (*(off as *const i64), *(size as *const u32)) };
    (size != 0).then_some((off, size))
}

/// Where the kernel must store a new thread's tid so that its block's descriptor has it before
/// the thread runs (errorcheck and recursive mutexes of the hook's libc compare owners by tid):
/// returns the clone flags and parent-tid pointer to pass. Without `CLONE_PARENT_SETTID` in the
/// application's call it is added, pointing at the block's `tid`; with it, the application's
/// location is where the clone child path copies it from (`zp_tls.tid_from`).
pub fn tid_for_block(tp: u64, flags: i64, ptid: u64) -> (i64, u64) {
    let off = TID_OFF.load(Ordering::Relaxed);
    if off == 0 {
        return (flags, ptid);
    }
    let tid_from = tp.wrapping_add_signed(arch::tls_block_offset()) + arch::tls::TID_FROM as u64;
    const SETTID: i64 = libc::CLONE_PARENT_SETTID as i64;
    // SAFETY: the new block's zp_tls, not in use yet.
    unsafe {
        if flags & SETTID != 0 {
            core::ptr::write(tid_from as *mut u64, ptid);
            (flags, ptid)
        } else {
            core::ptr::write(tid_from as *mut u64, 0);
            (flags | SETTID, tp + off)
        }
    }
}

/// Marks the rseq area of block `tp` as not registered (`cpu_id` = -2).
fn mark_rseq_unregistered(tp: u64) {
    let off = CPU_ID_OFF.load(Ordering::Relaxed);
    if off != 0 {
        // SAFETY: the rseq area inside the block's thread descriptor (glibc's __rseq_offset).
        unsafe { core::ptr::write_volatile(tp.wrapping_add(off) as *mut i32, -2) };
    }
}

/// Records `app_fs` as the application's thread pointer in the runtime block `tp` (its
/// `zp_tls.app_fs`), before a new thread starts with it.
pub fn set_block_app_fs(tp: u64, app_fs: u64) {
    let at = tp.wrapping_add_signed(arch::tls_block_offset()) + arch::tls::APP_FS as u64;
    // SAFETY: a block of the runtime's libc made for the new thread, not in use yet; zp_tls
    // lies at the same TLS offset in every block.
    unsafe { core::ptr::write(at as *mut u64, app_fs) };
}

/// Gives back a block of [`new_thread_block`] that no thread uses.
pub fn free_thread_block(tp: u64) {
    let f = DEALLOCATE_TLS.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: the dynamic loader's own function; the block came from _dl_allocate_tls.
        let free: unsafe extern "C" fn(*mut libc::c_void, bool) =
            unsafe { core::mem::transmute(f) };
        // SAFETY: as above, as the launcher's thread (see `with_launcher_block`).
        with_launcher_block(|| unsafe { free(tp as *mut libc::c_void, true) });
    }
}

/// Held while the launcher's libc allocates or frees for the runtime, and across a fork.
static HOST_LOCK: AtomicBool = AtomicBool::new(false);

/// Runs `f` (which calls the launcher's malloc) as the launcher's own thread: `%fs` is the
/// launcher's thread block for its duration, one thread at a time. So the launcher's malloc
/// keeps one per-thread cache, the launcher's, instead of one per program thread that created
/// or ended threads (each left behind when that thread exits: ~1 KiB a thread), and a fork
/// never happens in the middle of it (the launcher's malloc lock would stay taken in the
/// child, which runs no fork handler of the launcher's libc). Signal entries treat the
/// launcher's block like the thread's own runtime block.
fn with_launcher_block<R>(f: impl FnOnce() -> R) -> R {
    while HOST_LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let (own, main) = (arch::fs_base(), MAIN_TP.load(Ordering::Relaxed));
    let borrow = main != 0 && own != main;
    if borrow {
        // SAFETY: the launcher's block; only this thread uses it as its TLS until put back
        // (the launcher's thread runs only the program, whose %fs is its own).
        unsafe { arch::set_fs_base(main) };
    }
    let r = f();
    if borrow {
        // SAFETY: this thread's runtime block again.
        unsafe { arch::set_fs_base(own) };
    }
    HOST_LOCK.store(false, Ordering::Release);
    r
}

/// Before a fork-like clone (no shared memory): waits until the launcher's malloc is not in
/// use by the runtime (see `with_launcher_block`), for a bounded time (a signal handler
/// that forks over an allocation on its own thread would wait for ever). True when taken.
pub fn fork_prepare() -> bool {
    for _ in 0..1_000_000 {
        if HOST_LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// After the fork-like clone, in the parent and in the child: [`fork_prepare`] undone.
pub fn fork_done(taken: bool) {
    if taken {
        HOST_LOCK.store(false, Ordering::Release);
    }
}

/// The launcher's own thread block (its libc made it at start-up; never freed).
pub static MAIN_TP: AtomicU64 = AtomicU64::new(0);
/// Blocks of exited threads with the serial number of their exit: freed by a thread that
/// creates a thread once [`QUARANTINE`] more threads have exited (an exiting thread still runs
/// a few instructions with its block after giving it back: none of them touches it, but a
/// signal handler could). Freeing in the creating thread keeps the launcher's malloc caches in
/// a thread that lives on.
static RETIRED: [AtomicU64; RING] = [const { AtomicU64::new(0) }; RING];
static RETIRED_AT: [AtomicU64; RING] = [const { AtomicU64::new(0) }; RING];
static EXITS: AtomicU64 = AtomicU64::new(0);
const RING: usize = 256;
const QUARANTINE: u64 = 64;

/// Called by a thread about to exit with its runtime thread pointer: the block goes back to
/// the launcher's malloc later (see `RETIRED`), so that a program that starts and ends
/// threads all the time does not grow. The launcher's own block is kept.
pub fn retire_thread_block(tp: u64) {
    if tp == 0 || tp == MAIN_TP.load(Ordering::Relaxed) {
        return;
    }
    let n = EXITS.fetch_add(1, Ordering::AcqRel);
    let i = (n % RING as u64) as usize;
    let old = RETIRED[i].swap(0, Ordering::AcqRel);
    if old != 0 {
        // 256 exits with no thread created meanwhile: this one is long gone.
        free_thread_block(old);
    }
    RETIRED_AT[i].store(n, Ordering::Relaxed);
    RETIRED[i].store(tp, Ordering::Release);
}

/// Frees the retired blocks whose quarantine is over (see [`RETIRED`]).
fn free_retired() {
    let now = EXITS.load(Ordering::Acquire);
    for (slot, at) in RETIRED.iter().zip(&RETIRED_AT) {
        let tp = slot.load(Ordering::Acquire);
        if tp != 0
            && now.saturating_sub(at.load(Ordering::Relaxed)) >= QUARANTINE
            && slot
                .compare_exchange(tp, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            free_thread_block(tp);
        }
    }
}

const ARCH_SET_GS: i64 = 0x1001;
const ARCH_SET_FS: i64 = 0x1002;
const ARCH_GET_FS: i64 = 0x1003;
const ARCH_GET_GS: i64 = 0x1004;

/// `arch_prctl(code, addr)` of the application in loader mode; `None` for the codes that need
/// nothing of it.
///
/// # Safety
/// The application's arguments.
pub unsafe fn arch_prctl(code: i64, addr: i64) -> Option<i64> {
    let f = arch::current_frame();
    let raw = |c: i64, a: i64| {
        // SAFETY: the application's system call.
        unsafe { arch::raw_syscall(libc::SYS_arch_prctl, c, a, 0, 0, 0, 0) }
    };
    match code {
        ARCH_SET_FS => {
            // The kernel sets it (a tracer sees the call); the dispatch goes on with the
            // runtime's and returns with this one.
            let r = raw(code, addr);
            // SAFETY: the runtime's thread pointer, for the rest of the dispatch.
            unsafe { arch::set_fs_base(arch::gs_base()) };
            if r == 0 {
                // Every dispatch of this thread that would return to application code with
                // the old thread pointer returns with the new one (a signal handler that sets
                // it, over an interrupted dispatch, keeps it as natively).
                let old = if f.is_null() {
                    arch::app_fs()
                } else {
                    // SAFETY: the current dispatch's frame.
                    unsafe { (*f).fs }
                };
                let mut at = f;
                while !at.is_null() {
                    // SAFETY: the frames linked from zp_tls.cur live on this thread's stacks.
                    unsafe {
                        if (*at).fs == old {
                            (*at).fs = addr as u64;
                        }
                        at = (*at).prev as *mut crate::dispatch::Frame;
                    }
                }
                arch::set_app_fs(addr as u64);
            }
            Some(r)
        }
        ARCH_GET_FS => {
            let r = raw(code, addr);
            if r == 0 {
                let fs = if f.is_null() {
                    arch::app_fs()
                } else {
                    // SAFETY: the current dispatch's frame.
                    unsafe { (*f).fs }
                };
                // SAFETY: the kernel just wrote there.
                unsafe { core::ptr::write_volatile(addr as *mut u64, fs) };
            }
            Some(r)
        }
        ARCH_GET_GS => {
            let r = raw(code, addr);
            if r == 0 {
                // SAFETY: the kernel just wrote there; the application never set one.
                unsafe { core::ptr::write_volatile(addr as *mut u64, 0) };
            }
            Some(r)
        }
        ARCH_SET_GS => {
            if !WARNED_GS.swap(true, Ordering::Relaxed) {
                sys::write_all(
                    2,
                    b"zpoline: the program tried to set its GS base, which the runtime uses for its per-thread block under the launcher's loader; refused with EPERM (run it with LD_PRELOAD: zpoline run --preload)\n",
                );
            }
            Some(-(libc::EPERM as i64))
        }
        _ => None,
    }
}

fn fail(msg: &str) -> ! {
    sys::write_all(2, format!("zpoline: {msg}\n").as_bytes());
    sys::exit_group(crate::init::EXIT_FAILURE)
}

fn lookup(name: &core::ffi::CStr) -> usize {
    // SAFETY: dlsym with a valid C string; RTLD_DEFAULT searches the launcher's namespace.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
}

/// Unregisters the launcher's restartable-sequences area from this thread: the kernel takes one
/// per thread, and the program's libc registers its own as it would natively (else it would
/// get EBUSY and run without).
fn release_rseq() {
    let Some((off, size)) = rseq_area() else {
        return;
    };
    const RSEQ_FLAG_UNREGISTER: i64 = 1;
    const RSEQ_SIG: i64 = 0x5305_3053;
    let area = arch::fs_base() as i64 + off;
    let _ = sys::syscall6(
        libc::SYS_rseq,
        [
            area,
            i64::from(size.max(32)),
            RSEQ_FLAG_UNREGISTER,
            RSEQ_SIG,
            0,
            0,
        ],
    );
}

/// The program's name (the last part of its argv[0]), for the audit: the launcher's libc
/// knows only its own.
static NAME: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// The program's file, absolute: what `/proc/self/exe` names natively (it names the launcher).
static EXE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// The path of the program the loader started (`None` under `LD_PRELOAD`).
pub fn exe() -> Option<&'static [u8]> {
    EXE.get().map(Vec::as_slice)
}

/// Whether the C string at `path` names this process's `/proc/self/exe`.
///
/// # Safety
/// `path` must be null or a readable C string.
pub unsafe fn is_self_exe(path: i64) -> bool {
    if path == 0 {
        return false;
    }
    // SAFETY: the caller's contract.
    let p = unsafe { core::ffi::CStr::from_ptr(path as *const libc::c_char) }.to_bytes();
    p == b"/proc/self/exe" || p == b"/proc/thread-self/exe"
}

/// The answer to `readlink(path, buf, size)` (or `readlinkat`'s last three) of
/// `/proc/self/exe` in loader mode, given the kernel's result `r` (made into a buffer of the
/// runtime's): the program's path, not the launcher's (the dynamic loader's `$ORIGIN`, Go's `os.Executable`, busybox
/// running its applets need it).
///
/// # Safety
/// The application's arguments.
pub unsafe fn readlink(r: i64, path: i64, buf: i64, size: i64) -> i64 {
    // SAFETY: the application's path argument.
    if r < 0 || buf == 0 || size <= 0 || !unsafe { is_self_exe(path) } {
        return r;
    }
    let Some(exe) = exe() else { return r };
    let n = exe.len().min(size as usize);
    // SAFETY: the application gave `size` writable bytes at `buf` for the answer (a bad
    // pointer faults here where the kernel would answer EFAULT).
    unsafe { core::ptr::copy_nonoverlapping(exe.as_ptr(), buf as *mut u8, n) };
    n as i64
}

/// The name of the program the loader started (`None` under `LD_PRELOAD`).
pub fn program_name() -> Option<&'static [u8]> {
    NAME.get().map(Vec::as_slice)
}

/// The program's program headers in memory and its load bias (from the auxiliary vector the
/// launcher built), for finding the objects its dynamic loader mapped later.
static PROGRAM: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

const AT_PHDR: u64 = 3;
const AT_PHNUM: u64 = 5;
const AT_BASE: u64 = 7;
const AT_EXECFN: u64 = 31;
/// The program's interpreter (AT_BASE), 0 without one.
static INTERP_BASE: AtomicU64 = AtomicU64::new(0);

/// Reads AT_PHDR and AT_PHNUM from the initial stack at `sp` (argc, argv, envp, auxv) and
/// records the program's headers and load bias.
///
/// # Safety
/// `sp` must be a complete initial process stack.
unsafe fn record_program(sp: u64) {
    let word = |p: u64| {
        // SAFETY: inside the initial stack (the caller's contract).
        unsafe { core::ptr::read(p as *const u64) }
    };
    let argc = word(sp);
    if argc > 0 && word(sp + 8) != 0 {
        // SAFETY: argv[0] is a C string on the initial stack.
        let arg0 = unsafe { core::ffi::CStr::from_ptr(word(sp + 8) as *const libc::c_char) };
        let base = arg0.to_bytes().rsplit(|&b| b == b'/').next().unwrap_or(b"");
        let _ = NAME.set(base.to_vec());
    }
    let mut p = sp + 8 * (argc + 2); // past argc, argv[], NULL
    while word(p) != 0 {
        p += 8; // envp[]
    }
    p += 8;
    let (mut phdr, mut phnum, mut base) = (0, 0, 0);
    while word(p) != 0 {
        match word(p) {
            AT_PHDR => phdr = word(p + 8),
            AT_PHNUM => phnum = word(p + 8),
            AT_BASE => base = word(p + 8),
            AT_EXECFN if word(p + 8) != 0 => {
                // SAFETY: AT_EXECFN points at a C string on the initial stack.
                let f = unsafe { core::ffi::CStr::from_ptr(word(p + 8) as *const libc::c_char) };
                let f = std::path::Path::new(std::ffi::OsStr::from_bytes(f.to_bytes()));
                if let Ok(abs) = std::fs::canonicalize(f) {
                    let _ = EXE.set(abs.into_os_string().into_vec());
                }
            }
            _ => {}
        }
        p += 16;
    }
    INTERP_BASE.store(base, Ordering::Relaxed);
    // The bias: where PT_PHDR says the headers are against where they are (0 without PT_PHDR:
    // a program linked at fixed addresses).
    // SAFETY: AT_PHDR points at AT_PHNUM mapped program headers.
    let phdrs =
        unsafe { core::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum as usize) };
    let bias = match phdrs.iter().find(|ph| ph.p_type == libc::PT_PHDR) {
        Some(ph) => phdr.wrapping_sub(ph.p_vaddr),
        // No PT_PHDR (a dynamic loader run as the program, some static-pie): the headers are
        // in the first segment, right after the ELF header at its start.
        None => {
            let first = phdrs
                .iter()
                .filter(|ph| ph.p_type == libc::PT_LOAD)
                .map(|ph| ph.p_vaddr & !0xfff)
                .min()
                .unwrap_or(0);
            let ehdr = phdr & !0xfff;
            // SAFETY: the page holding the program headers is mapped; checked before use.
            let e = unsafe { &*(ehdr as *const libc::Elf64_Ehdr) };
            if e.e_ident[..4] == *b"\x7fELF" && ehdr + e.e_phoff == phdr {
                ehdr.wrapping_sub(first)
            } else {
                0
            }
        }
    };
    PROGRAM[0].store(phdr, Ordering::Relaxed);
    PROGRAM[1].store(phnum, Ordering::Relaxed);
    PROGRAM[2].store(bias, Ordering::Release);
}

/// Calls `f(name, bias, program headers)` for the program and for every object its dynamic
/// loader has mapped (from the `r_debug` list its `DT_DEBUG` entry points at), until `f`
/// returns true. Makes no system call and allocates nothing (the SIGSYS handler uses it: the
/// launcher's `dl_iterate_phdr` knows only the launcher's objects).
pub fn for_each_object(mut f: impl FnMut(&[u8], u64, &[libc::Elf64_Phdr]) -> bool) {
    let (phdr, phnum, bias) = (
        PROGRAM[0].load(Ordering::Acquire),
        PROGRAM[1].load(Ordering::Relaxed) as usize,
        PROGRAM[2].load(Ordering::Relaxed),
    );
    if phdr == 0 {
        return;
    }
    // SAFETY: recorded from the auxiliary vector: mapped program headers.
    let phdrs = unsafe { core::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum) };
    if f(b"", bias, phdrs) {
        return;
    }
    // The interpreter, before it has made its own list (its ELF header is at its base).
    let interp = INTERP_BASE.load(Ordering::Relaxed);
    // SAFETY: the interpreter the launcher mapped; its header is checked before use.
    if interp != 0 && unsafe { object_at(interp, b"(interpreter)", &mut f) } {
        return;
    }
    let Some(dynamic) = phdrs.iter().find(|ph| ph.p_type == libc::PT_DYNAMIC) else {
        return; // statically linked
    };
    let mut d = bias.wrapping_add(dynamic.p_vaddr) as *const [u64; 2];
    let mut r_debug = 0;
    // SAFETY: the program's dynamic section, mapped with it, ends with DT_NULL.
    unsafe {
        while (*d)[0] != 0 {
            if (*d)[0] == 21 {
                r_debug = (*d)[1]; // DT_DEBUG: &_r_debug, set by the dynamic loader
            }
            d = d.add(1);
        }
    }
    if r_debug == 0 {
        return;
    }
    // struct r_debug { int r_version; struct link_map *r_map; ... }
    // struct link_map { l_addr, l_name, l_ld, l_next, l_prev, ... }
    // SAFETY: the dynamic loader's r_debug and link_map list (appended to, never torn).
    let mut l = unsafe { core::ptr::read_volatile((r_debug + 8) as *const u64) };
    let mut guard = 0;
    while l != 0 && guard < 4096 {
        guard += 1;
        // SAFETY: as above.
        let (addr, name, next) = unsafe {
            (
                core::ptr::read_volatile(l as *const u64),
                core::ptr::read_volatile((l + 8) as *const u64),
                core::ptr::read_volatile((l + 24) as *const u64),
            )
        };
        l = next;
        if name == 0 {
            continue;
        }
        // SAFETY: l_name is a C string of the dynamic loader's.
        let name = unsafe { core::ffi::CStr::from_ptr(name as *const libc::c_char) }.to_bytes();
        if name.is_empty() {
            continue; // the program itself, done above
        }
        if addr == interp {
            continue; // reported above
        }
        // SAFETY: a mapped object of the dynamic loader's list; its header is checked.
        if unsafe { object_at(addr, name, &mut f) } {
            return;
        }
    }
}

/// Calls `f(name, base, program headers)` for the shared object whose ELF header is at `base`
/// (its first segment starts at 0); false when there is none there.
///
/// # Safety
/// `base` must be 0 or the base of a mapped object.
unsafe fn object_at(
    base: u64,
    name: &[u8],
    f: &mut impl FnMut(&[u8], u64, &[libc::Elf64_Phdr]) -> bool,
) -> bool {
    if base == 0 {
        return false;
    }
    // SAFETY: the caller's contract; the magic number is checked before anything else is used.
    let ehdr = unsafe { &*(base as *const libc::Elf64_Ehdr) };
    if ehdr.e_ident[..4] != *b"\x7fELF" {
        return false;
    }
    // SAFETY: the object's program headers, mapped with its first segment.
    let phdrs = unsafe {
        core::slice::from_raw_parts(
            (base + ehdr.e_phoff) as *const libc::Elf64_Phdr,
            ehdr.e_phnum as usize,
        )
    };
    f(name, base, phdrs)
}

/// The object (name, bias) whose executable segment holds `addr`, with its `PT_GNU_EH_FRAME`.
pub fn object_of(addr: u64) -> Option<(&'static [u8], u64, Option<u64>)> {
    let mut found = None;
    for_each_object(|name, bias, phdrs| {
        let (mut inside, mut hdr) = (false, None);
        for ph in phdrs {
            let at = bias.wrapping_add(ph.p_vaddr);
            if ph.p_type == libc::PT_LOAD
                && ph.p_flags & libc::PF_X != 0
                && (at..at + ph.p_memsz).contains(&addr)
            {
                inside = true;
            } else if ph.p_type == libc::PT_GNU_EH_FRAME {
                hdr = Some(at);
            }
        }
        if inside {
            // SAFETY: the name lives as long as the object stays mapped (the dynamic
            // loader's string); callers use it at once.
            let name: &'static [u8] = unsafe { core::mem::transmute::<&[u8], &'static [u8]>(name) };
            found = Some((name, bias, hdr));
        }
        inside
    });
    found
}

/// Sets up the runtime for the program the launcher mapped (the executable code in `ranges`,
/// `n` pairs of `[start, end)`, and the vDSO are rewritten; the launcher's own code is not),
/// loads the hook (`LIBZPHOOK`) and jumps to `entry` with the stack pointer `sp`.
///
/// # Safety
/// `entry` and `sp` must be the mapped program's entry point and initial stack; `ranges` must
/// point at `n` pairs. Must be called once, from the launcher's only thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zpoline_loader_start(
    entry: u64,
    sp: u64,
    ranges: *const [u64; 2],
    n: usize,
) -> ! {
    // SAFETY: getauxval only reads the auxiliary vector.
    if unsafe { libc::getauxval(AT_HWCAP2 as libc::c_ulong) } as u64 & HWCAP2_FSGSBASE == 0 {
        fail(
            "the launcher's loader needs the FSGSBASE instructions (Linux 5.9 or later on a CPU that has them); run dynamically linked programs with `zpoline run --preload`",
        );
    }
    let (alloc, free) = (lookup(c"_dl_allocate_tls"), lookup(c"_dl_deallocate_tls"));
    if alloc == 0 || free == 0 {
        fail(
            "the launcher's dynamic loader does not export _dl_allocate_tls (glibc 2.26 or later is needed); run dynamically linked programs with `zpoline run --preload`",
        );
    }
    ALLOCATE_TLS.store(alloc, Ordering::Release);
    DEALLOCATE_TLS.store(free, Ordering::Release);
    find_descriptor_fields(arch::fs_base());
    release_rseq();
    mark_rseq_unregistered(arch::fs_base());
    // SAFETY: the caller passes the program's initial stack.
    unsafe { record_program(sp) };
    // SAFETY: the caller passes n pairs.
    let list: Vec<(u64, u64)> = unsafe { core::slice::from_raw_parts(ranges, n) }
        .iter()
        .map(|r| (r[0], r[1]))
        .collect();
    // The runtime's thread pointer is the GS base from now on, in this thread and every
    // thread the application creates.
    // SAFETY: this thread's own thread pointer; nothing else uses the GS base.
    unsafe { arch::set_gs_base(arch::fs_base()) };
    MAIN_TP.store(arch::fs_base(), Ordering::Relaxed);
    arch::LOADER.store(1, Ordering::SeqCst);
    arch::set_app_fs(0);
    crate::sud::warm_decoder();
    crate::init::start_for_program(&list);
    // SAFETY: the caller's contract.
    unsafe { arch::enter_program(entry, sp) }
}
