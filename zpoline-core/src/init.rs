//! Start-up: the ELF constructor of `libzpoline.so`. It runs before `main`: detects the CPU's
//! extended state, maps the trampoline, installs the fault handler, rewrites the code and loads
//! the hook library. Every failure prints one line naming the cause and the fix, and exits with
//! status 127, unless `ZPOLINE_ON_ERROR=continue`.

use core::sync::atomic::{AtomicBool, Ordering};
use std::ffi::CString;

use crate::arch::x86_64::{self as arch, cpu, xstate};
use crate::{audit, follow, hook, maps, rewrite, signals, sites, sud, sys, trampoline, vforkbuf};

static STARTED: AtomicBool = AtomicBool::new(false);

/// Exit status of a start-up failure (as for a command that cannot be run).
pub const EXIT_FAILURE: i32 = 127;

fn say(msg: &str) {
    let mut line = Vec::with_capacity(msg.len() + 10);
    line.extend_from_slice(b"zpoline: ");
    line.extend_from_slice(msg.as_bytes());
    line.push(b'\n');
    sys::write_all(2, &line);
}

/// Prints the error and exits 127, or warns and returns when the user asked to continue.
fn fail(msg: &str, keep_going: bool) {
    if keep_going {
        say(&format!(
            "warning: {msg} (ZPOLINE_ON_ERROR=continue: running without hooks)"
        ));
    } else {
        say(msg);
        sys::exit_group(EXIT_FAILURE);
    }
}

/// Reads the CPU's extended-state configuration into the dispatcher's flags.
pub fn detect_cpu() {
    let [_, _, ecx1, _] = arch::cpuid(1, 0);
    let osxsave = ecx1 & (1 << 27) != 0;
    let mut flags = 0;
    let mut size = 4096;
    if osxsave {
        let xcr0 = arch::xgetbv(0);
        let [eax_d1, ..] = arch::cpuid(0xd, 1);
        if eax_d1 & (1 << 1) != 0 {
            flags |= cpu::XSAVEC;
        }
        if xcr0 & xstate::YMM != 0 {
            flags |= cpu::AVX;
        }
        let [_, ebx7, ..] = arch::cpuid(7, 0);
        let avx512_bits = xstate::OPMASK | xstate::ZMM_HI256 | xstate::HI16_ZMM;
        let f_and_bw = ebx7 & (1 << 16) != 0 && ebx7 & (1 << 30) != 0;
        if xcr0 & avx512_bits != 0 {
            if xcr0 & avx512_bits == avx512_bits && f_and_bw {
                flags |= cpu::AVX512;
            } else {
                flags |= cpu::SLOW;
            }
        }
        // AMX tiles (17, 18) hold state only after arch_prctl(ARCH_REQ_XCOMP_PERM), which
        // switches to the slow path; PKRU is never touched by hooks. Anything else unknown:
        // let XSAVE handle it.
        let known = xstate::FAST | xstate::PKRU | (1 << 17) | (1 << 18);
        if xcr0 & !known != 0 {
            flags |= cpu::SLOW;
        }
        // Size of the XSAVE image for every enabled component (standard format upper bound).
        let [_, ebx_d0, ..] = arch::cpuid(0xd, 0);
        let [_, ebx_d1, ..] = arch::cpuid(0xd, 1);
        size = u64::from(ebx_d0.max(ebx_d1)).max(576).div_ceil(64) * 64;
    }
    if std::env::var_os("ZPOLINE_XSAVE").is_some_and(|v| v == "1") {
        // Every component through XSAVE/XRSTOR (tests the slow path on any machine).
        flags |= cpu::SLOW;
    }
    arch::CPU_FLAGS.store(flags, Ordering::Relaxed);
    arch::XSAVE_SIZE.store(size, Ordering::Relaxed);
}

/// The path of the mapping that holds the runtime's code (for children across execve).
fn own_runtime_path() -> String {
    let here = arch::zp_entry as *const () as usize as u64;
    maps::read_self()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.contains(here))
        .map(|m| m.path)
        .filter(|p| p.starts_with('/'))
        .unwrap_or_default()
}

/// How the dispatcher treats the extended state, in words (for `ZPOLINE_DEBUG=1`).
pub fn state_policy(flags: u64) -> &'static str {
    if flags & cpu::NOVEC != 0 {
        "not saved (the hook provably cannot touch it)"
    } else if flags & cpu::SLOW != 0 {
        "saved with XSAVE"
    } else if flags & cpu::AVX512 != 0 {
        "saved by hand (zmm0-31, k0-7, MXCSR, x87 when in use)"
    } else if flags & cpu::AVX != 0 {
        "saved by hand (ymm0-15, MXCSR, x87 when in use)"
    } else {
        "saved by hand (xmm0-15, MXCSR, x87 when in use)"
    }
}

/// `ZPOLINE_SAVE_VECTORS=always`: save the extended state even for a hook proven not to touch
/// it (for measurements and tests).
fn force_vector_save() -> bool {
    std::env::var_os("ZPOLINE_SAVE_VECTORS").is_some_and(|v| v == "always")
}

fn mmap_min_addr() -> String {
    sys::read_file(c"/proc/sys/vm/mmap_min_addr")
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The whole start-up sequence (`LD_PRELOAD`: every executable mapping is rewritten).
pub fn start() {
    start_with(None);
}

/// The start-up sequence for a program the launcher's loader mapped: only its executable
/// `ranges` (and the vDSO) are rewritten, not the launcher's own code.
pub fn start_for_program(ranges: &[(u64, u64)]) {
    start_with(Some(ranges));
}

fn start_with(only: Option<&[(u64, u64)]>) {
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let keep_going = std::env::var_os("ZPOLINE_ON_ERROR").is_some_and(|v| v == "continue");
    if let Some(v) = std::env::var_os("ZPOLINE_ON_ERROR")
        && v != "continue"
        && v != "exit"
    {
        say(&format!(
            "unknown ZPOLINE_ON_ERROR={}; use 'continue' or 'exit'",
            v.to_string_lossy()
        ));
        sys::exit_group(EXIT_FAILURE);
    }
    let t0 = std::time::Instant::now();
    detect_cpu();
    if let Err(e) = sites::init() {
        return fail(
            &format!("cannot allocate the site table (errno {e})"),
            keep_going,
        );
    }
    // A page to fault on for calls that are not rewritten sites.
    match sys::mmap(
        0,
        4096,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
        0,
    ) {
        Ok(p) => arch::FAULT_TARGET.store(p as u64, Ordering::Relaxed),
        Err(e) => {
            return fail(
                &format!("cannot map the fault page (errno {e})"),
                keep_going,
            );
        }
    }
    if let Err(e) = trampoline::map(arch::zp_entry as *const () as usize as u64) {
        let msg = match e {
            trampoline::MapError::Forbidden(_) => format!(
                "cannot map the trampoline at address 0: vm.mmap_min_addr is {}; run `sysctl -w vm.mmap_min_addr=0` as root",
                mmap_min_addr()
            ),
            trampoline::MapError::Occupied => {
                "cannot map the trampoline at address 0: something is already mapped there (is libzpoline.so preloaded twice?)".to_string()
            }
            trampoline::MapError::Moved(at) => format!(
                "cannot map the trampoline at address 0: the mapping was placed at {at:#x} instead (MAP_FIXED_NOREPLACE ignored: a kernel older than 4.17, or the program runs under an emulator such as valgrind, which zpoline cannot work in)"
            ),
            trampoline::MapError::Other(what, e) => format!("cannot set up the trampoline at address 0: {what} failed with errno {e}"),
        };
        return fail(&msg, keep_going);
    }
    if let Err(e) = crate::dstack::init() {
        return fail(
            &format!("cannot reserve the dispatch stacks (errno {e})"),
            keep_going,
        );
    }
    if let Err(e) = vforkbuf::init() {
        return fail(
            &format!("cannot map the vfork buffers (errno {e})"),
            keep_going,
        );
    }
    if let Err(e) = signals::install(libc::SIGSEGV) {
        return fail(
            &format!("cannot install the SIGSEGV handler (errno {e})"),
            keep_going,
        );
    }
    let t1 = std::time::Instant::now();
    let report = match rewrite::rewrite_all(only) {
        Ok(r) => r,
        Err(msg) => return fail(&msg, keep_going),
    };
    let t2 = std::time::Instant::now();
    let debug = std::env::var_os("ZPOLINE_DEBUG").is_some_and(|v| v == "1");
    if debug {
        say(&format!(
            "rewrote {} sites in {} mappings ({} from the cache, {} KiB), {} red-zone sites through stubs; {} sites left unpatched, {} unreadable mappings",
            report.rewritten,
            report.mappings,
            report.cached,
            report.bytes / 1024,
            report.stubbed,
            report.skipped.len(),
            report.unreadable.len()
        ));
        say(&format!(
            "set-up took {:?}, rewriting {:?}",
            t1 - t0,
            t2 - t1
        ));
        for (a, why, path, off) in &report.skipped {
            say(&format!("  unpatched {a:#x} ({why:?}) at {path}+{off:#x}"));
        }
    }
    // Code that was not rewritten exists already: sites left unpatched, executable mappings
    // that cannot be read, memory that is writable and executable (it may get code any time).
    let net_needed = !report.skipped.is_empty()
        || !report.unreadable.is_empty()
        || maps::read_self()
            .unwrap_or_default()
            .iter()
            .any(|m| m.write && m.exec);
    audit::init(audit::Startup {
        rewritten: report.rewritten,
        stubbed: report.stubbed,
        unpatched: report.skipped.iter().map(|k| (k.0, "its function keeps data in the red zone and no instructions before it can move")).collect(),
    });
    follow::init(&own_runtime_path());
    if let Some(path) = std::env::var_os("LIBZPHOOK") {
        let shown = path.to_string_lossy().into_owned();
        let Ok(c) = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())) else {
            return fail(
                &format!("LIBZPHOOK={shown} contains a NUL byte"),
                keep_going,
            );
        };
        if shown.is_empty() {
            return fail(
                "LIBZPHOOK is set but empty; set it to the path of a hook library or unset it",
                keep_going,
            );
        }
        // Everything that makes system calls of its own happens before __hook_init: from its
        // first instruction on, the hook sees exactly what the application does.
        let vector_free = hook::vector_free(std::path::Path::new(&path)) && !force_vector_save();
        start_net(debug, net_needed);
        sud::LOADING_HOOK.store(true, Ordering::SeqCst);
        let loaded = hook::load(&c);
        sud::LOADING_HOOK.store(false, Ordering::SeqCst);
        let ranges = match loaded {
            Ok(r) => r,
            Err(hook::HookError::InitFailed(hook::INIT_REPORTED)) if !keep_going => {
                // The hook printed why it refused to start: that line is the error.
                sys::exit_group(EXIT_FAILURE);
            }
            Err(e) => {
                arch::set_selector(sud::BLOCK * u8::from(sud::active()));
                return fail(&e.message(&shown), keep_going);
            }
        };
        for (s, e) in ranges {
            sud::add_hook_range(s, e);
        }
        if vector_free {
            arch::CPU_FLAGS.fetch_or(cpu::NOVEC, Ordering::SeqCst);
        }
    } else {
        if !force_vector_save() {
            // Pass-through: only the runtime's own (vector-free) code runs in a dispatch.
            arch::CPU_FLAGS.fetch_or(cpu::NOVEC, Ordering::SeqCst);
        }
        start_net(debug, net_needed);
    }
    if debug {
        say(&format!(
            "extended state: {}",
            state_policy(arch::CPU_FLAGS.load(Ordering::Relaxed))
        ));
    }
    if sud::active() {
        // From here on application code runs: system calls from outside the rewritten sites trap.
        arch::set_selector(sud::BLOCK);
    }
}

/// Prepares the Syscall User Dispatch safety net (unless `ZPOLINE_SUD=0`) and arms it at once
/// when code that was not rewritten exists (`needed`) or `ZPOLINE_SUD=1`; otherwise it arms
/// itself when executable memory appears. The selector is left at ALLOW (the caller sets BLOCK
/// when application code is about to run). Says once, and carries on with rewriting alone,
/// where the kernel does not offer it.
fn start_net(debug: bool, needed: bool) {
    let mode = std::env::var_os("ZPOLINE_SUD");
    if mode.as_ref().is_some_and(|v| v == "0") {
        return;
    }
    if let Some(v) = mode.as_ref().filter(|v| *v != "1" && *v != "auto") {
        say(&format!(
            "unknown ZPOLINE_SUD={}; use 0 (off), 1 (always on) or auto",
            v.to_string_lossy()
        ));
        sys::exit_group(EXIT_FAILURE);
    }
    let eager = mode.is_some_and(|v| v == "1") || needed;
    let here = arch::zp_entry as *const () as usize as u64;
    let own = maps::read_self()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.exec && m.contains(here))
        .map(|m| (m.start, m.end));
    let Some(own) = own else {
        say(
            "warning: cannot find the runtime's own code in /proc/self/maps; running without the Syscall User Dispatch safety net",
        );
        return;
    };
    match sud::init(own) {
        Ok(()) => {
            audit::NET_READY.store(1, Ordering::Relaxed);
            crate::lazy::init();
            if eager {
                sud::arm(1);
            }
            arch::set_selector(sud::ALLOW);
            if debug {
                say(if eager {
                    "safety net: Syscall User Dispatch armed"
                } else {
                    "safety net: Syscall User Dispatch ready, armed when new executable memory appears"
                });
            }
        }
        Err(e) => {
            audit::NET_REFUSED.store(1, Ordering::Relaxed);
            say(&format!(
                "warning: Syscall User Dispatch is not available (errno {e}; it needs Linux 5.11 or later); code loaded after start-up is not hooked"
            ))
        }
    }
}

/// The ELF constructor (not in unit-test binaries, which test the parts one by one).
#[cfg(not(test))]
extern "C" fn constructor() {
    if crate::loader::requested() {
        // The launcher starts the runtime itself once the program is mapped (loader.rs).
        return;
    }
    start();
}

#[cfg(not(test))]
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;
