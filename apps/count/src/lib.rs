//! `strace -c` for zpoline: counts each system call, its errors (results from -4095 to -1) and
//! the time spent in it (from the hook to the kernel and back), and prints a summary when the
//! process image ends (`exit_group`), most time first:
//!
//! ```text
//! zpoline count: pid 4021 (/usr/bin/ls)
//! % time     seconds  usecs/call     calls    errors syscall
//! ------ ----------- ----------- --------- --------- ----------------
//!  41.20    0.000212          11        19           mmap
//! ...
//! ------ ----------- ----------- --------- --------- ----------------
//! 100.00    0.000515                   104         6 total
//! ```
//!
//! `zpoline run --count -- CMD`, or `LIBZPHOOK=libzphook_count.so`. The summary goes to
//! stderr (a private copy made at start-up: programs close theirs at exit; none when the
//! program starts with stderr closed), or is appended to `ZPOLINE_COUNT_FILE`. Counting is
//! lock-free (atomic counters). Each process image prints its own summary: at `exit_group`, and
//! before an `execve` that is about to succeed (then counting starts again from zero); a fork
//! child starts from zero; a `vfork`/`posix_spawn` child, which shares its parent's memory,
//! counts into its parent's table and prints none. All the tables of a run add up to
//! `strace -c -f`.

use std::sync::atomic::{AtomicU64, Ordering};

use hook_sdk::{Hook, Next, Syscall, libc};

/// Numbers counted one by one; others go to one "other" bucket.
const SLOTS: usize = 512;

/// Per-syscall counters.
pub struct Counts {
    calls: [AtomicU64; SLOTS + 1],
    errors: [AtomicU64; SLOTS + 1],
    nanos: [AtomicU64; SLOTS + 1],
}

impl Counts {
    /// All zero.
    pub const fn new() -> Counts {
        Counts {
            calls: [const { AtomicU64::new(0) }; SLOTS + 1],
            errors: [const { AtomicU64::new(0) }; SLOTS + 1],
            nanos: [const { AtomicU64::new(0) }; SLOTS + 1],
        }
    }

    /// Records one call of `nr` that returned `result` after `nanos` nanoseconds.
    pub fn record(&self, nr: i64, result: i64, nanos: u64) {
        let i = usize::try_from(nr)
            .ok()
            .filter(|&n| n < SLOTS)
            .unwrap_or(SLOTS);
        self.calls[i].fetch_add(1, Ordering::Relaxed);
        if (-4095..0).contains(&result) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
        self.nanos[i].fetch_add(nanos, Ordering::Relaxed);
    }

    /// Starts again from zero (a fork child counts its own calls).
    pub fn reset(&self) {
        for a in self.calls.iter().chain(&self.errors).chain(&self.nanos) {
            a.store(0, Ordering::Relaxed);
        }
    }

    /// The `strace -c`-style table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(u64, u64, u64, String)> = (0..=SLOTS)
            .filter_map(|i| {
                let calls = self.calls[i].load(Ordering::Relaxed);
                (calls > 0).then(|| {
                    let name = if i == SLOTS {
                        "(other)".to_string()
                    } else {
                        hook_sdk::syscall_name(i as i64)
                            .map_or_else(|| format!("syscall_{i}"), str::to_string)
                    };
                    (
                        self.nanos[i].load(Ordering::Relaxed),
                        calls,
                        self.errors[i].load(Ordering::Relaxed),
                        name,
                    )
                })
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.3.cmp(&b.3)));
        let total_ns: u64 = rows.iter().map(|r| r.0).sum();
        let (total_calls, total_errors): (u64, u64) =
            rows.iter().fold((0, 0), |(c, e), r| (c + r.1, e + r.2));
        let line = "------ ----------- ----------- --------- --------- ----------------\n";
        let mut out = String::from("% time     seconds  usecs/call     calls    errors syscall\n");
        out.push_str(line);
        for (ns, calls, errors, name) in &rows {
            let pct = if total_ns == 0 {
                0.0
            } else {
                *ns as f64 * 100.0 / total_ns as f64
            };
            let errs = if *errors == 0 {
                String::new()
            } else {
                errors.to_string()
            };
            out.push_str(&format!(
                "{pct:6.2} {:11.6} {:11} {calls:9} {errs:>9} {name}\n",
                *ns as f64 / 1e9,
                ns / 1000 / calls
            ));
        }
        out.push_str(line);
        let errs = if total_errors == 0 {
            String::new()
        } else {
            total_errors.to_string()
        };
        out.push_str(&format!(
            "100.00 {:11.6} {:11} {total_calls:9} {errs:>9} total\n",
            total_ns as f64 / 1e9,
            ""
        ));
        out
    }
}

impl Default for Counts {
    fn default() -> Counts {
        Counts::new()
    }
}

static COUNTS: Counts = Counts::new();
/// A copy of stderr made at start-up: programs close their stderr at exit (coreutils do).
static STDERR: AtomicU64 = AtomicU64::new(u64::MAX);

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime of the hook's own libc (the vDSO: no system call) into our struct.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn report() {
    // Which process image the table is of: a run may print many (one per image).
    let exe = hook_sdk::exe().map_or_else(|| "?".into(), String::from_utf8_lossy);
    let text = format!(
        "zpoline count: pid {} ({exe})\n{}",
        hook_sdk::raw::getpid(),
        COUNTS.table()
    );
    let fd = match std::env::var_os("ZPOLINE_COUNT_FILE") {
        Some(path) => {
            let c =
                std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
            // SAFETY: open with a valid C string.
            c.map_or(-1, |c| unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                    0o644,
                )
            })
        }
        None => STDERR.load(Ordering::Relaxed) as i32,
    };
    if fd < 0 {
        return;
    }
    // SAFETY: write(2) of our own buffer through the hook's libc (not hooked).
    unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
    if fd != STDERR.load(Ordering::Relaxed) as i32 {
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
    }
}

/// The counting hook.
struct Count;

/// The process whose image the counters belong to: a child sharing the memory (`vfork`,
/// `posix_spawn`) counts into its parent's table and prints none.
static OWNER: AtomicU64 = AtomicU64::new(0);

fn owner() -> bool {
    OWNER.load(Ordering::Relaxed) == hook_sdk::raw::getpid() as u64
}

/// Whether a `fork`/`vfork`/`clone`/`clone3` call makes a child sharing this memory.
fn shares_memory(call: &Syscall) -> bool {
    match call.nr {
        libc::SYS_vfork => true,
        libc::SYS_clone => call.args[0] & libc::CLONE_VM as i64 != 0,
        libc::SYS_clone3 => hook_sdk::mem::read_value::<u64>(call.args[0] as u64)
            .is_some_and(|f| f & libc::CLONE_VM as u64 != 0),
        _ => false,
    }
}

/// Whether an `execve`/`execveat` will probably succeed: its file exists and may be executed
/// (`faccessat2(X_OK)`, the hook's own call).
fn exec_likely(call: &Syscall) -> bool {
    let (dirfd, path, flags) = if call.nr == libc::SYS_execve {
        (libc::AT_FDCWD as i64, call.args[0], 0)
    } else {
        (
            call.args[0],
            call.args[1],
            call.args[4] & libc::AT_EMPTY_PATH as i64,
        )
    };
    // SAFETY: faccessat2 reads the program's path; the kernel checks the pointer.
    let r = unsafe {
        hook_sdk::raw::syscall(
            libc::SYS_faccessat2,
            [dirfd, path, libc::X_OK as i64, flags, 0, 0],
        )
    };
    r == 0
}

impl Hook for Count {
    fn init(&self) -> Result<(), String> {
        // A private copy of stderr (closed at exec: the next image's hook makes its own); none
        // when the program starts with stderr closed.
        STDERR.store(
            hook_sdk::raw::private_fd(2).map_or(u64::MAX, |fd| fd as u64),
            Ordering::Relaxed,
        );
        OWNER.store(hook_sdk::raw::getpid() as u64, Ordering::Relaxed);
        // Read now, for the report's header (not in the middle of the program's exit).
        let _ = hook_sdk::exe();
        Ok(())
    }

    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        match call.nr {
            libc::SYS_exit_group => {
                COUNTS.record(call.nr, 0, 0);
                if owner() {
                    report();
                }
                return next.call(call);
            }
            // They do not come back here: counted before.
            libc::SYS_exit | libc::SYS_rt_sigreturn => {
                COUNTS.record(call.nr, 0, 0);
                return next.call(call);
            }
            libc::SYS_execve | libc::SYS_execveat if owner() && exec_likely(&call) => {
                // The image ends here when the call succeeds (it does not come back): its
                // table now, and a new count for what follows if it fails after all.
                // (`execvp` trying the directories of PATH fails the likely check: no table.)
                COUNTS.record(call.nr, 0, 0);
                report();
                COUNTS.reset();
                let r = next.call(call);
                COUNTS.record(call.nr, r, 0);
                return r;
            }
            _ => {}
        }
        let t0 = now_ns();
        let r = next.call(call);
        let fork_like = matches!(
            call.nr,
            libc::SYS_fork | libc::SYS_vfork | libc::SYS_clone | libc::SYS_clone3
        );
        if r == 0 && fork_like {
            if shares_memory(&call) {
                // The child of vfork (or clone(CLONE_VM) on this stack): the parent counts
                // the call; the child's calls go into the shared table.
                return r;
            }
            // A child with its own memory counts its own calls.
            COUNTS.reset();
            OWNER.store(hook_sdk::raw::getpid() as u64, Ordering::Relaxed);
            return r;
        }
        COUNTS.record(call.nr, r, now_ns().saturating_sub(t0));
        r
    }
}

hook_sdk::zpoline_hook!(Count);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_like_strace_c() {
        let c = Counts::new();
        c.record(257, 3, 2000);
        c.record(257, -2, 1000);
        c.record(0, 10, 9000);
        c.record(100_000, -38, 0);
        let t = c.table();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "% time     seconds  usecs/call     calls    errors syscall"
        );
        assert!(lines[2].ends_with(" read"), "{t}");
        assert!(lines[3].contains("        2         1 openat"), "{t}");
        assert!(lines[4].ends_with("(other)"), "{t}");
        assert!(
            lines.last().unwrap().contains("        4         2 total"),
            "{t}"
        );
        c.reset();
        assert_eq!(c.table().lines().count(), 4);
    }
}
