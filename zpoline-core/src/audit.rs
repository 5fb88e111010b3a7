//! The coverage audit: `ZPOLINE_AUDIT=1` prints, when the process exits (`exit_group`), what
//! the runtime did and what escaped it, so a coverage claim is something a user can check:
//!
//! ```text
//! zpoline audit: pid 20713 (main)
//!   start-up: 569 sites rewritten to callq *%rax, 8 through red-zone stubs, 0 left unpatched
//!   dispatch stacks: 1 claimed by threads over the run, 1 in use at exit (pool of 1024)
//!   safety net: Syscall User Dispatch on (armed when executable memory appeared), 4 system calls caught at 2 sites
//!     0x7fc2181c8105 /tmp/late/lib.so+0x1105 (raw_getppid+0x5): 1 caught; not mapped at start-up; rewritten after its first call
//!     0x7fc2181c6005 (anonymous memory: generated code): 3 caught; not mapped at start-up (loaded or generated later)
//!   rewritten lazily: 1 sites of code loaded after start-up, on their first call
//!   escaped: 0 system calls reached the kernel without passing the hook
//! ```
//!
//! `ZPOLINE_AUDIT=<path>` appends the report to that file instead of stderr. The report is
//! formatted into a stack buffer: no allocation at exit.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::{sud, sys};

static ENABLED: AtomicBool = AtomicBool::new(false);
static DONE: AtomicBool = AtomicBool::new(false);
/// The report's descriptor, kept at a number of at least [`crate::lazy::FD_FLOOR`] (a copy of
/// stderr, or the report file opened with O_APPEND), so it neither takes the low numbers the
/// program expects nor goes away when the program closes stderr before it exits; -1 if none.
static FD: AtomicI32 = AtomicI32::new(-1);
/// The descriptor's file (`st_dev`, `st_ino`): the program may close the number and reuse it.
static FD_ID: OnceLock<(u64, u64)> = OnceLock::new();
/// The report file's absolute path (`ZPOLINE_AUDIT=FILE`), opened again at exit if the
/// descriptor is no longer the runtime's.
static PATH: OnceLock<std::ffi::CString> = OnceLock::new();

/// Start-up figures, set once after the rewrite.
static STARTUP: OnceLock<Startup> = OnceLock::new();
/// Set when the safety net was requested but the kernel refused it.
pub static NET_REFUSED: AtomicU64 = AtomicU64::new(0);
/// Set when the safety net is ready to be armed.
pub static NET_READY: AtomicU64 = AtomicU64::new(0);

/// What start-up did, for the report.
#[derive(Debug, Default)]
pub struct Startup {
    /// Sites rewritten to `callq *%rax`.
    pub rewritten: usize,
    /// Red-zone sites rewritten to a jump into a stub.
    pub stubbed: usize,
    /// Sites left as they were: address and why.
    pub unpatched: Vec<(u64, &'static str)>,
}

/// Reads `ZPOLINE_AUDIT` (at start-up, before the hook is ready: opening a file is a system
/// call the hook must not see afterwards).
pub fn init(startup: Startup) {
    let Some(v) = std::env::var_os("ZPOLINE_AUDIT") else {
        return;
    };
    if v.is_empty() || v == "0" {
        return;
    }
    let low = if v == "1" {
        2
    } else {
        let mut path = std::path::PathBuf::from(&v);
        if path.is_relative()
            && let Ok(cwd) = std::env::current_dir()
        {
            path = cwd.join(path);
        }
        let Ok(path) = std::ffi::CString::new(path.into_os_string().into_encoded_bytes()) else {
            return;
        };
        let Ok(fd) = open_append(&path) else {
            return;
        };
        let _ = PATH.set(path);
        fd
    };
    let high = sys::syscall6(
        libc::SYS_fcntl,
        [
            low,
            libc::F_DUPFD_CLOEXEC as i64,
            crate::lazy::FD_FLOOR,
            0,
            0,
            0,
        ],
    );
    if PATH.get().is_some() {
        let _ = sys::syscall6(libc::SYS_close, [low, 0, 0, 0, 0, 0]);
    }
    if let Ok(fd) = high
        && let Some(id) = crate::lazy::identity(fd)
    {
        let _ = FD_ID.set(id);
        FD.store(fd as i32, Ordering::Relaxed);
    }
    let _ = STARTUP.set(startup);
    ENABLED.store(true, Ordering::Release);
}

/// Opens `path` for appending (created 0644 if missing).
fn open_append(path: &core::ffi::CStr) -> sys::SysResult {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    sys::syscall6(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as i64,
            path.as_ptr() as i64,
            flags as i64,
            0o644,
            0,
            0,
        ],
    )
}

/// Where the report goes at exit, and whether that descriptor must be closed afterwards: the
/// runtime's own descriptor if it still is (same file), else the file opened again, else
/// stderr if it is still the same file; -1 (no report) otherwise.
fn report_fd() -> (i64, bool) {
    let fd = FD.load(Ordering::Relaxed) as i64;
    if fd >= 0 && crate::lazy::identity(fd).is_some_and(|id| Some(&id) == FD_ID.get()) {
        return (fd, false);
    }
    match PATH.get().map(|p| open_append(p)) {
        Some(Ok(fd)) => (fd, true),
        Some(Err(_)) => (-1, false),
        // stderr, if it still is the file it was at start-up (else the report is dropped
        // rather than written into a file of the program's).
        None if crate::lazy::identity(2).is_some_and(|id| Some(&id) == FD_ID.get()) => (2, false),
        None => (-1, false),
    }
}

/// A fixed buffer that flushes to the report's file descriptor when full.
struct Out {
    buf: [u8; 2048],
    len: usize,
    fd: i64,
}

impl Out {
    fn flush(&mut self) {
        if self.fd >= 0 {
            sys::write_all(self.fd as i32, &self.buf[..self.len]);
        }
        self.len = 0;
    }
}

impl core::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

/// Where an address is: object path, offset in it and symbol, from the dynamic loader.
fn describe(out: &mut Out, addr: u64) {
    if crate::arch::x86_64::loader_mode() {
        // The program's objects, from its own dynamic loader's list (no symbols).
        if let Some((name, bias, _)) = crate::loader::object_of(addr) {
            let path = if name.is_empty() {
                "(the program)".into()
            } else {
                String::from_utf8_lossy(name)
            };
            let _ = write!(out, "{addr:#x} {path}+{:#x}", addr.wrapping_sub(bias));
            return;
        }
    }
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    let mut info: libc::Dl_info = unsafe { core::mem::zeroed() };
    // SAFETY: as above.
    let found = unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        let _ = write!(out, "{addr:#x} (anonymous memory: generated code)");
        return;
    }
    // SAFETY: dli_fname is a C string owned by the loader.
    let path = unsafe { core::ffi::CStr::from_ptr(info.dli_fname) }.to_string_lossy();
    let off = addr - info.dli_fbase as u64;
    let _ = write!(out, "{addr:#x} {path}+{off:#x}");
    if !info.dli_sname.is_null() {
        // SAFETY: dli_sname is a C string owned by the loader.
        let sym = unsafe { core::ffi::CStr::from_ptr(info.dli_sname) }.to_string_lossy();
        let _ = write!(out, " ({sym}+{:#x})", addr - info.dli_saddr as u64);
    }
}

/// Prints the report once, if enabled. Called on `exit_group`.
pub fn at_exit() {
    if !ENABLED.load(Ordering::Acquire) || DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    let (fd, close) = report_fd();
    let mut out = Out {
        buf: [0; 2048],
        len: 0,
        fd,
    };
    let pid = sys::syscall6(libc::SYS_getpid, [0; 6]).unwrap_or(0);
    // SAFETY: glibc's program_invocation_short_name is a C string set before main.
    let name = match crate::loader::program_name() {
        Some(n) => String::from_utf8_lossy(n),
        None => {
            unsafe { core::ffi::CStr::from_ptr(program_invocation_short_name) }.to_string_lossy()
        }
    };
    let _ = writeln!(out, "zpoline audit: pid {pid} ({name})");
    if let Some(s) = STARTUP.get() {
        let _ = writeln!(
            out,
            "  start-up: {} sites rewritten to callq *%rax, {} through red-zone stubs, {} left unpatched",
            s.rewritten,
            s.stubbed,
            s.unpatched.len()
        );
        for &(a, why) in &s.unpatched {
            let _ = write!(out, "    unpatched ");
            describe(&mut out, a);
            let _ = writeln!(out, ": {why}; caught by the safety net when it runs");
        }
    }
    let _ = writeln!(
        out,
        "  dispatch stacks: {} claimed by threads over the run, {} in use at exit (pool of {})",
        crate::dstack::CLAIMS.load(Ordering::Relaxed),
        crate::dstack::in_use(),
        crate::dstack::COUNT
    );
    let caught = sud::stats::CAUGHT.load(Ordering::Relaxed);
    if sud::active() {
        let sites = sud::stats::SITES
            .iter()
            .filter(|s| s[0].load(Ordering::Relaxed) != 0)
            .count();
        let when = if sud::ARMED_BY.load(Ordering::Relaxed) == 1 {
            "at start-up"
        } else {
            "when executable memory appeared"
        };
        let _ = writeln!(
            out,
            "  safety net: Syscall User Dispatch on (armed {when}), {caught} system calls caught at {sites} sites"
        );
        for s in sud::stats::SITES.iter() {
            let (site, word) = (s[0].load(Ordering::Relaxed), s[1].load(Ordering::Relaxed));
            let n = word & !sud::stats::REWRITTEN;
            if site == 0 {
                continue;
            }
            let _ = write!(out, "    ");
            describe(&mut out, site);
            let why = if word & sud::stats::REWRITTEN != 0 {
                "not mapped at start-up; rewritten after its first call"
            } else if STARTUP
                .get()
                .is_some_and(|st| st.unpatched.iter().any(|u| u.0 == site))
            {
                "left unpatched at start-up"
            } else {
                "not mapped at start-up (loaded or generated later)"
            };
            let _ = writeln!(out, ": {n} caught; {why}");
        }
        let _ = writeln!(
            out,
            "  rewritten lazily: {} sites of code loaded after start-up, on their first call",
            crate::lazy::REWRITTEN.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "  escaped: 0 system calls reached the kernel without passing the hook"
        );
    } else if NET_READY.load(Ordering::Relaxed) != 0 {
        let _ = writeln!(
            out,
            "  safety net: ready, never armed: no executable memory appeared after start-up"
        );
        let _ = writeln!(
            out,
            "  escaped: 0 system calls reached the kernel without passing the hook"
        );
    } else {
        let why = if NET_REFUSED.load(Ordering::Relaxed) != 0 {
            "refused by the kernel"
        } else {
            "turned off"
        };
        let _ = writeln!(
            out,
            "  safety net: {why}; system calls from code that was not rewritten are not counted and escape the hook"
        );
    }
    out.flush();
    if close {
        let _ = sys::syscall6(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    }
}

unsafe extern "C" {
    static program_invocation_short_name: *const libc::c_char;
}
