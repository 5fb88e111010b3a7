//! Keeping children hooked across `execve`: a program may scrub `LD_PRELOAD` (or replace it)
//! before it runs a child; the runtime puts its own variables back into the environment the
//! kernel receives, so the new image loads the runtime and the same hook again.
//!
//! The variables are captured at start-up; at `execve` time the new environment is built on the
//! stack (no allocation): the application's entries, with `LD_PRELOAD` extended to name the
//! runtime first when it does not, and `LIBZPHOOK` and the `ZPOLINE_*` settings added when
//! absent. `ZPOLINE_FOLLOW_EXEC=0` turns this off.

use std::sync::OnceLock;

/// Our variables, each `NAME=value\0`; the first is `LD_PRELOAD=<runtime path>`.
static VARS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
/// The launcher (`ZPOLINE_LAUNCHER`, set by `zpoline run`), NUL-terminated: a program it started
/// with its own loader has its children started the same way.
static LAUNCHER: OnceLock<Vec<u8>> = OnceLock::new();
/// Most arguments passed on through the launcher (more: the child is started with
/// `LD_PRELOAD` instead).
const MAX_ARGS: usize = 4096;

/// Most environment entries handled; a larger environment is passed on unchanged.
const MAX_ENV: usize = 1024;
/// Room for a combined `LD_PRELOAD=ours:theirs`.
const MAX_PRELOAD: usize = 4096;

/// Captures the variables to carry over: `runtime` is the path of libzpoline.so.
pub fn init(runtime: &str) {
    if std::env::var_os("ZPOLINE_FOLLOW_EXEC").is_some_and(|v| v == "0") || runtime.is_empty() {
        return;
    }
    let mut vars = vec![format!("LD_PRELOAD={runtime}\0").into_bytes()];
    for (k, v) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k == "LIBZPHOOK" || (k.starts_with("ZPOLINE_") && k != "ZPOLINE_LOADER") {
            let mut e = format!("{k}=").into_bytes();
            e.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            e.push(0);
            vars.push(e);
        }
    }
    let _ = VARS.set(vars);
    if let Some(l) = std::env::var_os("ZPOLINE_LAUNCHER") {
        let mut l = std::os::unix::ffi::OsStrExt::as_bytes(l.as_os_str()).to_vec();
        if l.starts_with(b"/") && !l.contains(&0) {
            l.push(0);
            let _ = LAUNCHER.set(l);
        }
    }
}

fn name_of(entry: &[u8]) -> &[u8] {
    entry.split(|&b| b == b'=').next().unwrap_or(entry)
}

/// Length of the C string at `p`.
///
/// # Safety
/// `p` must point at a NUL-terminated string.
unsafe fn c_len(p: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller vouches for the terminator.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    n
}

/// Performs `execve`-like system call `nr` with `args`, whose environment pointer is at
/// `args[env_index]`, with the runtime's variables restored in that environment.
///
/// # Safety
/// `args` are the application's arguments to execve/execveat.
pub unsafe fn exec(args: [i64; 7], env_index: usize) -> i64 {
    let Some(vars) = VARS.get() else {
        return raw(&args);
    };
    // A program the launcher's loader started: its children too (statically linked ones
    // included, and their dynamic loader's calls), through `zpoline run --exec PATH -- ARGV`.
    // The argument array takes 32 KiB of stack: only on a dispatch stack (not on the small
    // stack of a spawned child that has none).
    if crate::arch::x86_64::loader_mode()
        && args[0] == libc::SYS_execve
        && LAUNCHER.get().is_some()
        && roomy_stack()
        // SAFETY: the application's path argument.
        && !unsafe { names_descriptor(args[1]) }
    {
        // SAFETY: the caller's contract.
        return unsafe { exec_launched(args, env_index, vars) };
    }
    // SAFETY: the caller's contract.
    unsafe { exec_env(args, env_index, vars, None) }
}

fn raw(a: &[i64; 7]) -> i64 {
    // SAFETY: the application's system call.
    unsafe { crate::arch::x86_64::raw_syscall(a[0], a[1], a[2], a[3], a[4], a[5], a[6]) }
}

/// Whether the calling thread runs on its dispatch stack with 128 KiB or more to spare.
fn roomy_stack() -> bool {
    let here = core::hint::black_box(0u8);
    let sp = &here as *const u8 as u64;
    let top = crate::arch::x86_64::dstack_top();
    top != 0 && sp < top && sp > top - crate::dstack::SIZE + 128 * 1024
}

/// `execve` through the launcher: `launcher run --exec PATH -- ARGV...` (see [`exec`]).
///
/// # Safety
/// `args` are the application's arguments to execve.
#[inline(never)]
unsafe fn exec_launched(args: [i64; 7], env_index: usize, vars: &[Vec<u8>]) -> i64 {
    let original = args;
    // SAFETY: the caller's contract.
    let _ = unsafe { exec_launched_once(args, env_index, vars) };
    // Still here: the launcher was not tried, or could not be executed (a chroot or a mount
    // namespace that does not show it): the child starts as it would without the launcher
    // (with LD_PRELOAD), or the execve fails as natively.
    // SAFETY: the caller's contract.
    unsafe { exec_env(original, env_index, vars, None) }
}

/// Whether the file at `path` is an x86-64 ELF file or starts with `#!` (its first 20 bytes,
/// read through a descriptor opened for the purpose and closed again:
/// `O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC`).
///
/// # Safety
/// `path` must be a readable C string.
unsafe fn starts_like_a_program(path: i64) -> bool {
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    let Ok(fd) = crate::sys::syscall6(
        libc::SYS_openat,
        [libc::AT_FDCWD as i64, path, flags as i64, 0, 0, 0],
    ) else {
        return false;
    };
    let mut head = [0u8; 20];
    let n = crate::sys::syscall6(
        libc::SYS_pread64,
        [fd, head.as_mut_ptr() as i64, 20, 0, 0, 0],
    );
    let _ = crate::sys::syscall6(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    // ELF: only 64-bit little-endian x86-64 ones (a 32-bit program runs natively, unhooked).
    const EM_X86_64: u16 = 62;
    match n {
        Ok(20) if head.starts_with(b"\x7fELF") => {
            head[4] == 2 && head[5] == 1 && u16::from_le_bytes([head[18], head[19]]) == EM_X86_64
        }
        Ok(n) if n >= 2 => head.starts_with(b"#!"),
        _ => false,
    }
}

/// Whether `path` (a C string) names a descriptor (`/proc/self/fd/N`, `/dev/fd/N`): a
/// close-on-exec one would be gone when the launcher opens it.
///
/// # Safety
/// `path` must be null or a readable C string.
unsafe fn names_descriptor(path: i64) -> bool {
    if path == 0 {
        return false;
    }
    // SAFETY: the caller's contract.
    let p = unsafe { core::ffi::CStr::from_ptr(path as *const libc::c_char) }.to_bytes();
    [
        &b"/proc/self/fd/"[..],
        b"/proc/thread-self/fd/",
        b"/dev/fd/",
    ]
    .iter()
    .any(|pre| p.starts_with(pre))
}

/// One attempt of [`exec_launched`]: returns only when the launcher's execve failed (`Some`)
/// or was not tried (`None`: the file is not both readable and executable, or the arguments do
/// not fit).
///
/// # Safety
/// `args` are the application's arguments to execve.
unsafe fn exec_launched_once(
    mut args: [i64; 7],
    env_index: usize,
    vars: &[Vec<u8>],
) -> Option<i64> {
    let mut new_argv: [*const u8; MAX_ARGS + 8] = [core::ptr::null(); MAX_ARGS + 8];
    let launcher = LAUNCHER.get()?;
    // `/proc/self/exe` is the launcher here: the program's own file (busybox runs its applets
    // that way).
    let mut exe_path = [0u8; 4096];
    // SAFETY: the application's path argument.
    if unsafe { crate::loader::is_self_exe(args[1]) }
        && let Some(exe) = crate::loader::exe().filter(|e| e.len() < exe_path.len())
    {
        exe_path[..exe.len()].copy_from_slice(exe);
        args[1] = exe_path.as_ptr() as i64;
    }
    // SAFETY: the application's execve arguments.
    if !unsafe { launcher_argv(launcher, args[1], args[2], &mut new_argv) } {
        return None;
    }
    // What the kernel would refuse (a missing file: a shell's PATH search) it refuses, with
    // the same execve; a file the launcher cannot read (execute-only) starts without it.
    let ok = crate::sys::syscall6(
        libc::SYS_faccessat2,
        [
            libc::AT_FDCWD as i64,
            args[1],
            (libc::R_OK | libc::X_OK) as i64,
            0,
            0,
            0,
        ],
    );
    if ok.is_err() {
        return None;
    }
    // SAFETY: the application's path argument.
    if !unsafe { starts_like_a_program(args[1]) } {
        // Not ELF nor #!: the kernel answers ENOEXEC (a shell then runs it as a script) or
        // a binfmt_misc handler takes it: the same execve does that.
        return None;
    }
    args[1] = new_argv[0] as i64;
    args[2] = new_argv.as_ptr() as i64;
    let mut renamed = [0u8; 16 * 1024];
    // SAFETY: the new argv and the renamed variables live until the call returns.
    Some(unsafe { exec_env(args, env_index, vars, Some(&mut renamed)) })
}

/// Performs the exec with the runtime's variables in its environment. Through the launcher
/// (`rename` is its buffer), every `LD_*` variable is passed as `ZPOLINE_APP_LD_*` instead,
/// which the launcher gives back to the program: they are the program's, and the launcher's
/// own dynamic loader would obey them (`LD_PRELOAD` twice, `ldd`'s
/// `LD_TRACE_LOADED_OBJECTS` listing the launcher); the runtime leaves `LD_PRELOAD` (the
/// launcher loads it itself).
///
/// # Safety
/// `args` are the application's arguments to execve/execveat.
#[inline(never)]
unsafe fn exec_env(
    mut args: [i64; 7],
    env_index: usize,
    vars: &[Vec<u8>],
    mut rename: Option<&mut [u8]>,
) -> i64 {
    let through_launcher = rename.is_some();
    let envp = args[env_index] as *const *const u8;
    let mut out: [*const u8; MAX_ENV + 8] = [core::ptr::null(); MAX_ENV + 8];
    let mut preload_buf = [0u8; MAX_PRELOAD];
    let (mut idx, mut n, mut used) = (0, 0, 0);
    let mut have = [false; 64];
    let runtime = &vars[0][b"LD_PRELOAD=".len()..vars[0].len() - 1];
    while !envp.is_null() {
        // SAFETY: the application's environment array is NULL-terminated.
        let e = unsafe { *envp.add(idx) };
        if e.is_null() {
            break;
        }
        idx += 1;
        if n >= MAX_ENV {
            return raw(&args);
        }
        // SAFETY: each entry is a C string.
        let entry = unsafe { core::slice::from_raw_parts(e, c_len(e)) };
        let name = name_of(entry);
        let mut replaced = e;
        for (i, v) in vars.iter().enumerate().take(have.len()) {
            if name_of(v) == name {
                have[i] = true;
            }
        }
        if let Some(buf) = rename.as_deref_mut().filter(|_| name.starts_with(b"LD_")) {
            let mut body = entry;
            if name == b"LD_PRELOAD" {
                have[0] = true;
                // Without the runtime.
                let theirs = &entry[b"LD_PRELOAD=".len().min(entry.len())..];
                let mut at = b"LD_PRELOAD=".len();
                preload_buf[..at].copy_from_slice(b"LD_PRELOAD=");
                for p in theirs.split(|&b| b == b':' || b == b' ') {
                    if p.is_empty() || p == runtime || at + p.len() + 2 > preload_buf.len() {
                        continue;
                    }
                    if at > b"LD_PRELOAD=".len() {
                        preload_buf[at] = b':';
                        at += 1;
                    }
                    preload_buf[at..at + p.len()].copy_from_slice(p);
                    at += p.len();
                }
                if at == b"LD_PRELOAD=".len() {
                    continue; // nothing else was preloaded
                }
                body = &preload_buf[..at];
            }
            const PREFIX: &[u8] = b"ZPOLINE_APP_";
            if used + PREFIX.len() + body.len() < buf.len() {
                let at = &mut buf[used..used + PREFIX.len() + body.len() + 1];
                at[..PREFIX.len()].copy_from_slice(PREFIX);
                at[PREFIX.len()..PREFIX.len() + body.len()].copy_from_slice(body);
                at[PREFIX.len() + body.len()] = 0;
                replaced = at.as_ptr();
                used += PREFIX.len() + body.len() + 1;
            }
        } else if name == b"LD_PRELOAD" {
            let theirs = &entry[b"LD_PRELOAD=".len().min(entry.len())..];
            let named = theirs
                .split(|&b| b == b':' || b == b' ')
                .any(|p| p == runtime);
            if !named {
                let head = &vars[0][..vars[0].len() - 1]; // LD_PRELOAD=<runtime>
                let total = head.len() + 1 + theirs.len() + 1;
                if total > preload_buf.len() {
                    return raw(&args);
                }
                preload_buf[..head.len()].copy_from_slice(head);
                let mut at = head.len();
                if !theirs.is_empty() {
                    preload_buf[at] = b':';
                    at += 1;
                    preload_buf[at..at + theirs.len()].copy_from_slice(theirs);
                    at += theirs.len();
                }
                preload_buf[at] = 0;
                replaced = preload_buf.as_ptr();
            }
        }
        out[n] = replaced;
        n += 1;
    }
    for (i, v) in vars.iter().enumerate().take(have.len()) {
        if i == 0 && through_launcher {
            continue; // no LD_PRELOAD for the launcher
        }
        if !have[i] && n < out.len() - 1 {
            out[n] = v.as_ptr();
            n += 1;
        }
    }
    out[n] = core::ptr::null();
    args[env_index] = out.as_ptr() as i64;
    raw(&args)
}

/// Fills `out` with `launcher run --exec PATH -- ARGV...` for `execve(path, argv, …)`; false
/// when the arguments do not fit (or `path` is null).
///
/// # Safety
/// `path` and `argv` are the application's execve arguments (a C string, a NULL-terminated
/// array of C strings or null).
unsafe fn launcher_argv(
    launcher: &[u8],
    path: i64,
    argv: i64,
    out: &mut [*const u8; MAX_ARGS + 8],
) -> bool {
    if path == 0 {
        return false;
    }
    let head: [*const u8; 5] = [
        launcher.as_ptr(),
        c"run".as_ptr().cast(),
        c"--exec".as_ptr().cast(),
        path as *const u8,
        c"--".as_ptr().cast(),
    ];
    out[..head.len()].copy_from_slice(&head);
    let mut n = head.len();
    let argv = argv as *const *const u8;
    if !argv.is_null() {
        loop {
            // SAFETY: the application's NULL-terminated argv.
            let a = unsafe { *argv.add(n - head.len()) };
            if a.is_null() {
                break;
            }
            if n >= MAX_ARGS {
                return false;
            }
            out[n] = a;
            n += 1;
        }
    }
    if n == head.len() {
        // execve with an empty argv: the program gets its path as argv[0] from the launcher.
        out[n] = path as *const u8;
        n += 1;
    }
    out[n] = core::ptr::null();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name_of(b"A=b=c"), b"A");
        assert_eq!(name_of(b"NOEQ"), b"NOEQ");
        // SAFETY: a literal C string.
        assert_eq!(unsafe { c_len(c"abc".as_ptr().cast()) }, 3);
    }
}
