//! An `after` hook that changes a result: `uname` reports the node name `zpoline` (what
//! `hostname` and `uname -n` print), written into the program's `struct utsname` after the
//! kernel filled it.
//!
//! ```sh
//! zpoline run --hook target/release/examples/libhostname.so -- uname -n    # zpoline
//! ```

use hook_sdk::{Hook, Syscall, libc, mem};

struct Hostname;

impl Hook for Hostname {
    fn after(&self, call: &Syscall, result: i64) -> i64 {
        if call.nr == libc::SYS_uname && result == 0 {
            // struct utsname: six fields of 65 bytes; nodename is the second.
            let nodename = call.args[0] as u64 + 65;
            // SAFETY: the program's own struct utsname, just filled by the kernel.
            if unsafe { mem::write(nodename, b"zpoline\0") }.is_none() {
                return -(libc::EFAULT as i64);
            }
        }
        result
    }
}

hook_sdk::zpoline_hook!(Hostname);
