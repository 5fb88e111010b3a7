//! Changing a call's arguments: opening the file named by `REDIRECT_FROM` opens the one named
//! by `REDIRECT_TO` instead (both read when the hook is loaded).
//!
//! ```sh
//! REDIRECT_FROM=/etc/motd REDIRECT_TO=/tmp/motd \
//!     zpoline run --hook target/release/examples/libredirect.so -- cat /etc/motd
//! ```

use std::ffi::CString;
use std::sync::OnceLock;

use hook_sdk::args::CStr;
use hook_sdk::{Action, Hook, Syscall, View};

/// (from, to): `to` lives as long as the process, so its address may be passed to the kernel.
static PATHS: OnceLock<(Vec<u8>, CString)> = OnceLock::new();

struct Redirect;

impl Hook for Redirect {
    fn init(&self) -> Result<(), String> {
        let from = std::env::var("REDIRECT_FROM")
            .map_err(|_| "redirect: set REDIRECT_FROM to the path to redirect".to_string())?;
        let to = std::env::var("REDIRECT_TO")
            .map_err(|_| "redirect: set REDIRECT_TO to the path to open instead".to_string())?;
        let to = CString::new(to).map_err(|_| "redirect: REDIRECT_TO has a NUL byte")?;
        let _ = PATHS.set((from.into_bytes(), to));
        Ok(())
    }

    fn before(&self, call: &mut Syscall) -> Action {
        let Some((from, to)) = PATHS.get() else {
            return Action::Continue;
        };
        let mut buf = [0u8; CStr::MAX];
        match call.view() {
            View::Openat(mut o) if o.path.read(&mut buf) == Some(from) => {
                o.path = CStr(to.as_ptr() as u64);
                *call = o.to_syscall();
            }
            View::Open(mut o) if o.path.read(&mut buf) == Some(from) => {
                o.path = CStr(to.as_ptr() as u64);
                *call = o.to_syscall();
            }
            _ => {}
        }
        Action::Continue
    }
}

hook_sdk::zpoline_hook!(Redirect);
