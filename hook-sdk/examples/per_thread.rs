//! Per-thread state: each thread of the program counts its own system calls in a
//! `thread_local!` of the hook, and says how many it made when it ends (`exit`), or when
//! the process ends (`exit_group`, for the thread that ends it).
//!
//! ```sh
//! zpoline run --hook target/release/examples/libper_thread.so -- python3 -c 'import threading'
//! ```

use std::cell::Cell;

use hook_sdk::{Action, Hook, Syscall, libc, raw};

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

struct PerThread;

impl Hook for PerThread {
    fn before(&self, call: &mut Syscall) -> Action {
        let n = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        if call.nr == libc::SYS_exit || call.nr == libc::SYS_exit_group {
            // The thread ends with this call: report now. One write: lines do not mix.
            let line = format!("per_thread: tid {} made {n} system calls\n", raw::gettid());
            let _ = raw::write_all(2, line.as_bytes());
        }
        Action::Continue
    }
}

hook_sdk::zpoline_hook!(PerThread);
