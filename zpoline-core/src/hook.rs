//! Loading the user's hook library (`LIBZPHOOK`) into its own link-map namespace and calling
//! its `__hook_init` with the address of the hook pointer (the zpoline ABI).

use core::ffi::{CStr, c_void};
use core::sync::atomic::Ordering;

use crate::arch::x86_64::zp_next;
use crate::dispatch::HOOK;

/// What went wrong while loading a hook library; each names the cause and the fix.
#[derive(Debug, PartialEq, Eq)]
pub enum HookError {
    /// `dlmopen` failed; holds the loader's message.
    Load(String),
    /// The library does not export `__hook_init`.
    NoInit,
    /// `__hook_init` returned this non-zero value.
    InitFailed(i32),
}

impl HookError {
    /// The one-line explanation printed before exiting.
    pub fn message(&self, path: &str) -> String {
        match self {
            HookError::Load(e) => format!(
                "cannot load hook library LIBZPHOOK={path}: {e}; set LIBZPHOOK to a shared library (.so) built for x86-64 Linux"
            ),
            HookError::NoInit => format!(
                "hook library {path} does not export __hook_init; define `int __hook_init(long placeholder, void *sys_call_hook_ptr)` (C) or use hook_sdk::zpoline_hook! (Rust)"
            ),
            HookError::InitFailed(rc) => format!(
                "__hook_init of hook library {path} returned {rc}; it must return 0 when the hook is ready"
            ),
        }
    }
}

type HookInit = unsafe extern "C" fn(i64, *mut c_void) -> i32;

fn dlerror() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dynamic loader error".to_string()
    } else {
        // SAFETY: non-null dlerror result is a C string.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// Loads `path` with `dlmopen(LM_ID_NEWLM, RTLD_NOW|RTLD_LOCAL)` (its own libc, never
/// rewritten) and runs its `__hook_init(0, &HOOK)`.
pub fn load(path: &CStr) -> Result<(), HookError> {
    // The hook's "next" is the default until __hook_init replaces it.
    HOOK.store(zp_next as *const () as usize, Ordering::SeqCst);
    // SAFETY: path is a C string; dlmopen reports failure by returning null.
    let handle = unsafe { libc::dlmopen(libc::LM_ID_NEWLM, path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(HookError::Load(dlerror()));
    }
    // SAFETY: handle is a live dlmopen handle.
    let sym = unsafe { libc::dlsym(handle, c"__hook_init".as_ptr()) };
    if sym.is_null() {
        return Err(HookError::NoInit);
    }
    // SAFETY: __hook_init has the zpoline signature by contract.
    let init: HookInit = unsafe { core::mem::transmute::<*mut c_void, HookInit>(sym) };
    // SAFETY: HOOK is an AtomicUsize, laid out like the function pointer the hook reads/writes.
    let rc = unsafe { init(0, HOOK.as_ptr() as *mut c_void) };
    if rc != 0 {
        HOOK.store(zp_next as *const () as usize, Ordering::SeqCst);
        return Err(HookError::InitFailed(rc));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_a_load_error() {
        let e = load(c"/nonexistent/libnothing.so").unwrap_err();
        match &e {
            HookError::Load(msg) => assert!(msg.contains("No such file"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let m = e.message("/nonexistent/libnothing.so");
        assert!(m.contains("LIBZPHOOK=/nonexistent/libnothing.so"));
        assert!(!m.contains('\n'));
    }

    #[test]
    fn library_without_init_is_reported() {
        // libm is a real shared library without __hook_init.
        let e = load(c"libm.so.6").unwrap_err();
        assert_eq!(e, HookError::NoInit);
        assert!(e.message("libm.so.6").contains("__hook_init"));
    }
}
