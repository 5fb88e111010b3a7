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
pub unsafe fn exec(mut args: [i64; 7], env_index: usize) -> i64 {
    let raw = |a: &[i64; 7]| {
        // SAFETY: the application's system call.
        unsafe { crate::arch::x86_64::raw_syscall(a[0], a[1], a[2], a[3], a[4], a[5], a[6]) }
    };
    let Some(vars) = VARS.get() else {
        return raw(&args);
    };
    let envp = args[env_index] as *const *const u8;
    let mut out: [*const u8; MAX_ENV + 8] = [core::ptr::null(); MAX_ENV + 8];
    let mut preload_buf = [0u8; MAX_PRELOAD];
    let mut n = 0;
    let mut have = [false; 64];
    let runtime = &vars[0][b"LD_PRELOAD=".len()..vars[0].len() - 1];
    if !envp.is_null() {
        loop {
            // SAFETY: the application's environment array is NULL-terminated.
            let e = unsafe { *envp.add(n) };
            if e.is_null() {
                break;
            }
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
            if name == b"LD_PRELOAD" {
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
    }
    for (i, v) in vars.iter().enumerate().take(have.len()) {
        if !have[i] && n < out.len() - 1 {
            out[n] = v.as_ptr();
            n += 1;
        }
    }
    out[n] = core::ptr::null();
    args[env_index] = out.as_ptr() as i64;
    raw(&args)
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
