//! A `before` hook: nothing whose name ends in `passwd` may be deleted, renamed or truncated;
//! the program sees `EPERM` ("Operation not permitted") and the file stays.
//!
//! ```sh
//! cargo build --release -p hook-sdk --example keep_passwd
//! zpoline run --hook target/release/examples/libkeep_passwd.so -- rm passwd
//! ```

use hook_sdk::args::CStr;
use hook_sdk::{Action, Errno, Hook, Syscall, View, libc};

struct KeepPasswd;

/// Whether the path ends in `passwd` (read without allocating; unreadable paths pass, the
/// kernel answers them with EFAULT).
fn protected(path: CStr) -> bool {
    let mut buf = [0u8; CStr::MAX];
    path.read(&mut buf).is_some_and(|p| p.ends_with(b"passwd"))
}

impl Hook for KeepPasswd {
    fn before(&self, call: &mut Syscall) -> Action {
        let deny = match call.view() {
            View::Unlink(u) => protected(u.path),
            View::Unlinkat(u) => protected(u.path),
            View::Rename(r) => protected(r.oldpath) || protected(r.newpath),
            View::Renameat(r) => protected(r.oldpath) || protected(r.newpath),
            View::Renameat2(r) => protected(r.oldpath) || protected(r.newpath),
            View::Openat(o) => o.flags.contains(libc::O_TRUNC) && protected(o.path),
            View::Open(o) => o.flags.contains(libc::O_TRUNC) && protected(o.path),
            _ => false,
        };
        if deny {
            eprintln!("keep_passwd: denied {}", call.view());
            return Action::fail(Errno::EPERM);
        }
        Action::Continue
    }
}

hook_sdk::zpoline_hook!(KeepPasswd);
