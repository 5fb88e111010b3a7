//! A user-space `execve`: maps a program and its interpreter into the current process, builds
//! its initial stack and jumps to it. [`prepare`] does everything but the jump, so that a
//! runtime can rewrite the executable ranges first; [`start`] jumps.

use std::ffi::{OsStr, OsString};
use std::ops::Range;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use crate::image::{self, LoadedImage};
use crate::stack::{self, MachineAux, ProgramAux, Stack, StackContents};

/// A program mapped and ready to start.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Where to jump: the interpreter's entry point, or the program's when it has none.
    pub entry: u64,
    /// The initial stack pointer (the address of `argc`).
    pub sp: u64,
    /// The program's load bias (0 for `ET_EXEC`).
    pub bias: u64,
    /// Every executable range mapped, `[start, end)`: the program's, then the interpreter's.
    pub exec_ranges: Vec<Range<u64>>,
    /// The program as mapped.
    pub program: LoadedImage,
    /// The interpreter as mapped, if the program has one (`PT_INTERP`).
    pub interpreter: Option<LoadedImage>,
    /// The stack as mapped.
    pub stack: Stack,
}

/// The launcher's own environment as `NAME=value` strings, in order.
pub fn environment() -> Vec<OsString> {
    std::env::vars_os()
        .map(|(k, v)| {
            let mut s = k;
            s.push("=");
            s.push(v);
            s
        })
        .collect()
}

/// Maps `program` (an ELF file) and its interpreter into the current process and builds the
/// initial stack with `argv`, `envp` and `AT_EXECFN` = `program`, as `execve(program, argv,
/// envp)` would. Nothing runs yet: see [`start`]. On error nothing stays mapped.
pub fn prepare(program: &Path, argv: &[OsString], envp: &[OsString]) -> Result<Prepared, String> {
    let prog = image::load(program)?;
    let interp = match &prog.interp {
        None => None,
        Some(path) => match image::load(path) {
            Ok(i) if i.interp.is_some() => {
                // SAFETY: both images were just mapped and nothing uses them.
                unsafe {
                    i.unmap();
                    prog.unmap();
                }
                return Err(format!(
                    "{}: the interpreter {} names an interpreter itself",
                    program.display(),
                    path.display()
                ));
            }
            Ok(i) => Some(i),
            Err(e) => {
                // SAFETY: the program was just mapped and nothing uses it.
                unsafe { prog.unmap() };
                return Err(format!(
                    "{}: cannot load its interpreter: {e}",
                    program.display()
                ));
            }
        },
    };
    let random = stack::random_bytes();
    let contents = random.map(|random| StackContents {
        argv,
        envp,
        execfn: program.as_os_str(),
        program: ProgramAux {
            phdr: prog.phdr,
            phnum: prog.phnum,
            entry: prog.entry,
            interp_base: interp.as_ref().map_or(0, |i| i.base),
        },
        machine: MachineAux::current(),
        random,
    });
    let stack = contents.and_then(|c| stack::create(&c, prog.elf.exec_stack()));
    let stack = match stack {
        Ok(s) => s,
        Err(e) => {
            // SAFETY: the images were just mapped and nothing uses them.
            unsafe {
                prog.unmap();
                if let Some(i) = &interp {
                    i.unmap();
                }
            }
            return Err(format!("{}: {e}", program.display()));
        }
    };
    let mut exec_ranges = prog.exec_ranges();
    if let Some(i) = &interp {
        exec_ranges.extend(i.exec_ranges());
    }
    Ok(Prepared {
        entry: interp.as_ref().map_or(prog.entry, |i| i.entry),
        sp: stack.sp,
        bias: prog.base,
        exec_ranges,
        program: prog,
        interpreter: interp,
        stack,
    })
}

/// Starts a prepared program on this thread, leaving the process the way `execve` would leave
/// it where a user-space loader can: every signal handler back to `SIG_DFL` (ignored signals stay
/// ignored, as `execve` keeps them: the launcher skips Rust's start-up, which ignores SIGPIPE), no alternate
/// signal stack, the launcher's rseq area unregistered (the program's libc registers its own),
/// the thread's name set to the program's file name. The signal mask is kept. Then it jumps
/// (see [`crate::arch::jump`]).
///
/// # Safety
///
/// `p` must come from [`prepare`] in this process, its memory untouched since; no other thread
/// may be running. Nothing of the launcher runs again: no destructor, no buffered output is
/// flushed.
pub unsafe fn start(p: &Prepared) -> ! {
    hand_over(p);
    unregister_rseq();
    // SAFETY: the caller promises a prepared program: sp points at argc of its stack, entry is
    // the entry point of the interpreter or of the program.
    unsafe { crate::arch::jump(p.entry, p.sp) }
}

/// What the process looks like to the program from its first instruction, as after `execve`:
/// every caught signal at its default action (ignored ones stay ignored), no alternate signal
/// stack, the thread named after the program. Called
/// right before the jump, by [`start`] or before the runtime takes over (which unregisters the
/// rseq area itself).
pub fn hand_over(p: &Prepared) {
    reset_signals();
    set_thread_name(p.program.path.file_name().unwrap_or_default());
}

/// The kernel's `struct sigaction` (for `rt_sigaction`, which also reaches the signals glibc
/// reserves for itself).
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Every caught signal back to `SIG_DFL` (ignored ones stay ignored, as across `execve`); the
/// alternate signal stack disabled.
fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let mut old = KernelSigaction::default();
        // SAFETY: rt_sigaction with no new action only writes `old`.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<KernelSigaction>(),
                &mut old as *mut KernelSigaction,
                8usize,
            )
        };
        let caught = old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN;
        if r == 0 && caught {
            let dfl = KernelSigaction::default();
            // SAFETY: sets the default action, which refers to no memory.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                )
            };
        }
    }
    let off = libc::stack_t {
        ss_sp: std::ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: disabling the alternate signal stack refers to no memory.
    unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
}

/// Unregisters the rseq area glibc registered for this thread (glibc 2.35+), so that the
/// program's libc can register its own; without it the program runs without rseq.
fn unregister_rseq() {
    const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;
    const RSEQ_SIG: u32 = 0x5305_3053;
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks the symbol up.
    let (offset, size) = unsafe {
        (
            libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_offset".as_ptr()) as *const isize,
            libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr()) as *const u32,
        )
    };
    if offset.is_null() || size.is_null() {
        return;
    }
    // SAFETY: both symbols are glibc's read-only variables of these types.
    let (offset, size) = unsafe { (*offset, *size) };
    if size == 0 {
        return;
    }
    let tp: u64;
    // SAFETY: reads the thread pointer, which glibc stores at %fs:0 on x86-64.
    unsafe {
        core::arch::asm!("mov %fs:0, {}", out(reg) tp, options(att_syntax, nostack, readonly, preserves_flags))
    };
    let area = tp.wrapping_add_signed(offset as i64);
    for len in [size.max(32), size] {
        // SAFETY: unregistering rseq only stops the kernel from writing to the area.
        let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) };
        if r == 0 {
            return;
        }
    }
}

/// The thread's name (`comm`), as `execve` sets it: the file name, cut to 15 bytes.
fn set_thread_name(name: &OsStr) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, buf.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_bin_true_with_its_interpreter() {
        let argv: Vec<OsString> = vec!["true".into(), "x".into()];
        let envp: Vec<OsString> = vec!["A=b".into()];
        let p = prepare(Path::new("/bin/true"), &argv, &envp).unwrap();
        let interp = p.interpreter.as_ref().unwrap();
        assert_eq!(p.entry, interp.entry);
        assert_eq!(p.bias, p.program.base);
        assert!(p.exec_ranges.iter().any(|r| r.contains(&p.program.entry)));
        assert!(p.exec_ranges.iter().any(|r| r.contains(&interp.entry)));
        // SAFETY: the stack was just built and is mapped.
        let buf = unsafe {
            std::slice::from_raw_parts(
                p.stack.start as *const u8,
                (p.stack.end - p.stack.start) as usize,
            )
        };
        let s = stack::parse(buf, p.stack.end, p.sp).unwrap();
        assert_eq!(s.argv, [b"true".to_vec(), b"x".to_vec()]);
        assert_eq!(s.envp, [b"A=b".to_vec()]);
        assert_eq!(s.aux(stack::AT_BASE), Some(interp.base));
        assert_eq!(s.aux(stack::AT_ENTRY), Some(p.program.entry));
        assert_eq!(s.aux(stack::AT_PHDR), Some(p.program.phdr));
        // SAFETY: nothing uses the images.
        unsafe {
            p.program.unmap();
            interp.unmap();
        }
    }

    #[test]
    fn reports_missing_files_and_non_elf() {
        let e = prepare(Path::new("/nonexistent/prog"), &[], &[]).unwrap_err();
        assert!(e.starts_with("/nonexistent/prog: cannot open"), "{e}");
        let e = prepare(Path::new("/etc/passwd"), &[], &[]).unwrap_err();
        assert_eq!(e, "/etc/passwd: not an ELF file (no \\x7fELF magic number)");
    }

    #[test]
    fn environment_is_name_equals_value() {
        let env = environment();
        assert_eq!(env.len(), std::env::vars_os().count());
        assert!(env.iter().all(|e| e.as_bytes().contains(&b'=')));
    }
}
