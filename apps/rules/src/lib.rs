//! syscalltrack-style control for zpoline: a TOML file of `[[rule]]` tables says which system
//! calls to log, refuse, answer, or stop or kill the process for ("which process did that?").
//!
//! ```toml
//! [[rule]]
//! name = "keep passwd"
//! syscalls = ["unlink", "unlinkat", "rename", "renameat", "renameat2"]
//! when = 'path ~ "*passwd" || newpath ~ "*passwd"'
//! action = "fail"
//! errno = "EPERM"
//! ```
//!
//! `zpoline run --rules FILE -- CMD`, or `LIBZPHOOK=libzphook_rules.so ZPOLINE_RULES=FILE`. The
//! file is read and checked when the hook loads, before the program's first instruction; a
//! mistake stops the program with `FILE:LINE:COLUMN: what was expected`. The language of
//! `when` is in [`expr`], the rule keys in [`rules`] and Documentation/rules.md.
//!
//! On the hook path (every system call) nothing is allocated and no lock is taken: the rules
//! of each system call number are found by index, strings (paths, `comm`, `exe`, the decoded
//! call) are read into stack buffers only when a rule uses them, and log lines are rendered
//! into a fixed buffer and written with one `write`.

pub mod consts;
pub mod expr;
pub mod format;
pub mod rules;

use std::cell::{Cell, OnceCell, UnsafeCell};
use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};

use hook_sdk::args::CStr;
use hook_sdk::{Hook, Next, Syscall, View, libc, raw};

use format::Buf;
use rules::{Action, RuleSet, var};

/// The rules of this process (read once, when the hook loads).
static RULES: OnceLock<RuleSet> = OnceLock::new();
/// Where log lines go: a descriptor kept from start-up (programs close their stderr).
static LOG_FD: AtomicI32 = AtomicI32::new(-1);

/// How many strings one evaluation may read into buffers of its own: the paths of a call (at
/// most two: `oldpath`, `newpath`) and the decoded call. (`comm`, `exe`, `syscall`, `err`
/// and `rule` need none.)
const STR_SLOTS: usize = 3;

/// The values of one call, read lazily: the [`expr::Env`] of the rules.
pub struct CallEnv<'a> {
    call: &'a Syscall,
    ret: Option<i64>,
    set: &'a RuleSet,
    rule: Cell<usize>,
    exe: OnceCell<Option<&'static [u8]>>,
    comm: OnceCell<([u8; 16], usize)>,
    slots: [OnceCell<(u16, Option<usize>)>; STR_SLOTS],
    /// Left uninitialised until a slot is used: most calls read no string at all.
    bufs: [UnsafeCell<MaybeUninit<[u8; CStr::MAX]>>; STR_SLOTS],
}

impl<'a> CallEnv<'a> {
    /// The values of `call` (and its result, after it).
    pub fn new(call: &'a Syscall, ret: Option<i64>, set: &'a RuleSet) -> Self {
        CallEnv {
            call,
            ret,
            set,
            rule: Cell::new(0),
            exe: OnceCell::new(),
            comm: OnceCell::new(),
            slots: Default::default(),
            bufs: [const { UnsafeCell::new(MaybeUninit::uninit()) }; STR_SLOTS],
        }
    }

    /// A string computed once per evaluation into a slot's buffer (`fill` writes the buffer
    /// and returns the length, or `None` when there is no value).
    fn slot_str(
        &self,
        id: u16,
        fill: impl FnOnce(&mut [u8; CStr::MAX]) -> Option<usize>,
    ) -> Option<&[u8]> {
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(&(sid, len)) = slot.get() {
                if sid == id {
                    // SAFETY: a filled slot's buffer was initialised when it was filled and is
                    // never written again.
                    return len.map(|n| unsafe { &(*self.bufs[i].get()).assume_init_ref()[..n] });
                }
                continue;
            }
            // SAFETY: this slot is empty: nothing borrows its buffer; it is filled only here,
            // once (OnceCell), and never written after.
            let buf = unsafe { &mut *self.bufs[i].get() }.write([0; CStr::MAX]);
            let len = fill(buf);
            let _ = slot.set((id, len));
            // SAFETY: initialised just above; not written again.
            return len.map(|n| unsafe { &(*self.bufs[i].get()).assume_init_ref()[..n] });
        }
        None
    }

    /// The name of named argument `id`.
    fn name_of(&self, id: u16) -> Option<&'static str> {
        self.set
            .arg_names
            .get(usize::from(id - var::NAMED))
            .copied()
    }

    /// The socket address argument of `connect`, `bind`, `sendto`: (pointer, length), read
    /// into a `sockaddr_storage`.
    fn sockaddr(&self) -> Option<([u8; 128], usize)> {
        let c = self.call;
        let (ptr, len) = match c.nr {
            libc::SYS_connect | libc::SYS_bind => (c.args[1], c.args[2]),
            libc::SYS_sendto => (c.args[4], c.args[5]),
            _ => return None,
        };
        let mut raw = [0u8; 128];
        let len = usize::try_from(len as u32).ok()?.min(raw.len());
        if ptr == 0 || len < 2 || hook_sdk::mem::read(ptr as u64, &mut raw[..len])? < len {
            return None;
        }
        Some((raw, len))
    }

    /// A value read through a pointer argument (`rules::DERIVED`): numbers.
    fn derived_int(&self, id: u16) -> Option<i64> {
        let c = self.call;
        match (c.nr, self.name_of(id)?) {
            (libc::SYS_clone3, "flags") => {
                hook_sdk::mem::read_value::<u64>(c.args[0] as u64).map(|f| f as i64)
            }
            (_, "family") => {
                let (raw, _) = self.sockaddr()?;
                Some(i64::from(u16::from_ne_bytes([raw[0], raw[1]])))
            }
            (_, "port") => {
                let (raw, len) = self.sockaddr()?;
                let family = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
                (matches!(family, libc::AF_INET | libc::AF_INET6) && len >= 4)
                    .then(|| i64::from(u16::from_be_bytes([raw[2], raw[3]])))
            }
            _ => None,
        }
    }

    /// A value read through a pointer argument (`rules::DERIVED`): strings.
    fn derived_str(&self, id: u16) -> Option<&[u8]> {
        if self.name_of(id)? != "address" {
            return None;
        }
        let (raw, len) = self.sockaddr()?;
        self.slot_str(id, |buf| {
            let family = i32::from(u16::from_ne_bytes([raw[0], raw[1]]));
            let mut w = Cursor { buf, len: 0 };
            match family {
                libc::AF_INET if len >= 8 => {
                    let ip = std::net::Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
                    let _ = write!(w, "{ip}");
                }
                libc::AF_INET6 if len >= 24 => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&raw[8..24]);
                    let _ = write!(w, "{}", std::net::Ipv6Addr::from(b));
                }
                libc::AF_UNIX => {
                    let path = &raw[2..len];
                    // A named socket's path ends at its NUL; an abstract one starts with one.
                    let end = if path.first() == Some(&0) {
                        path.len()
                    } else {
                        path.iter().position(|&b| b == 0).unwrap_or(path.len())
                    };
                    let n = end.min(w.buf.len());
                    w.buf[..n].copy_from_slice(&path[..n]);
                    w.len = n;
                }
                _ => return None,
            }
            Some(w.len)
        })
    }

    /// The named argument `id` of this call: its position and kind.
    fn named(&self, id: u16) -> Option<(usize, hook_sdk::args::ArgInfo)> {
        let name = *self.set.arg_names.get(usize::from(id - var::NAMED))?;
        let args = View::args_of(self.call.nr)?;
        let pos = args.iter().position(|a| a.name == name)?;
        Some((pos, args[pos]))
    }
}

/// `fmt::Write` into a fixed buffer, cut at its end.
struct Cursor<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl expr::Env for CallEnv<'_> {
    fn int(&self, id: u16) -> Option<i64> {
        let c = self.call;
        Some(match id {
            var::NR => c.nr,
            i if (var::ARG0..var::ARG0 + 6).contains(&i) => c.args[usize::from(i - var::ARG0)],
            var::PID => i64::from(raw::getpid()),
            var::PPID => i64::from(raw::getppid()),
            var::TID => i64::from(raw::gettid()),
            var::UID => i64::from(raw::getuid()),
            var::RET => self.ret?,
            i if i >= var::NAMED => match self.named(i) {
                Some((pos, info)) => info.value(c.args[pos]),
                None => self.derived_int(i)?,
            },
            _ => return None,
        })
    }

    fn str(&self, id: u16) -> Option<&[u8]> {
        match id {
            var::SYSCALL => hook_sdk::syscall_name(self.call.nr).map(str::as_bytes),
            var::COMM => {
                let (buf, n) = self.comm.get_or_init(|| {
                    let mut b = [0u8; 16];
                    let n = raw::thread_name(&mut b).len();
                    (b, n)
                });
                Some(&buf[..*n])
            }
            var::EXE => *self.exe.get_or_init(hook_sdk::exe),
            var::ERR => {
                let r = self.ret?;
                hook_sdk::result(r).err()?.name().map(str::as_bytes)
            }
            var::RULE => self
                .set
                .rules
                .get(self.rule.get())
                .map(|r| r.name.as_bytes()),
            var::CALL => self.slot_str(id, |buf| {
                let mut w = Cursor { buf, len: 0 };
                let _ = write!(w, "{}", self.call.view());
                Some(w.len)
            }),
            i if i >= var::NAMED => match self.named(i) {
                Some((pos, info)) => {
                    if info.kind != hook_sdk::args::ArgKind::Str {
                        return None;
                    }
                    let p = CStr(self.call.args[pos] as u64);
                    self.slot_str(id, |buf| p.read(buf).map(<[u8]>::len))
                }
                None => self.derived_str(i),
            },
            _ => None,
        }
    }
}

/// Writes a rendered line (with its newline) to the log, in one `write`.
fn log_line(line: &mut Buf) {
    line.finish_line();
    let fd = LOG_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let _ = raw::write_all(fd, line.as_bytes());
    }
}

/// Runs the rules of one phase; returns the result to give the program instead of the call's
/// (before: without making it), if a rule decided one.
fn run(set: &RuleSet, ids: &[u16], env: &CallEnv<'_>, after: Option<i64>) -> Option<i64> {
    let mut decided = None;
    for &i in ids {
        let rule = &set.rules[usize::from(i)];
        // `rule` names this rule in its own condition and line.
        env.rule.set(usize::from(i));
        if !rule.when.as_ref().is_none_or(|w| w.eval(env)) {
            continue;
        }
        let log = |quiet: bool| {
            if !quiet {
                let mut line = Buf::new();
                rule.format.render(env, &mut line);
                log_line(&mut line);
            }
        };
        match rule.action {
            Action::Log => log(false),
            Action::Fail(errno) => {
                log(rule.quiet);
                decided.get_or_insert(-i64::from(errno));
            }
            Action::Return(v) => {
                log(rule.quiet);
                decided.get_or_insert(v);
            }
            Action::Kill(sig) => {
                log(rule.quiet);
                // SAFETY: kill(2) of this process.
                unsafe {
                    raw::syscall(
                        libc::SYS_kill,
                        [i64::from(raw::getpid()), i64::from(sig), 0, 0, 0, 0],
                    )
                };
                // Surviving the signal (a handler): the call is refused (before) or its result
                // kept (after).
                decided.get_or_insert(after.unwrap_or(-i64::from(libc::EPERM)));
            }
            Action::Suspend => {
                log(rule.quiet);
                // SAFETY: kill(2) of this process; it stops here until SIGCONT.
                unsafe {
                    raw::syscall(
                        libc::SYS_kill,
                        [
                            i64::from(raw::getpid()),
                            i64::from(libc::SIGSTOP),
                            0,
                            0,
                            0,
                            0,
                        ],
                    )
                };
            }
        }
        if decided.is_some() {
            // The first rule that decides wins; later rules are not looked at.
            break;
        }
    }
    decided
}

/// The hook: rules from `ZPOLINE_RULES`.
pub struct Rules;

impl Hook for Rules {
    fn init(&self) -> Result<(), String> {
        let path = std::env::var("ZPOLINE_RULES").map_err(|_| {
            "the rules hook needs ZPOLINE_RULES=FILE (a TOML file of [[rule]] tables); zpoline run --rules FILE sets it".to_string()
        })?;
        let set = rules::load(&path)?;
        let fd = match &set.log_file {
            Some(f) => {
                let c = std::ffi::CString::new(f.as_str())
                    .map_err(|_| format!("{path}: log_file has a NUL byte"))?;
                // SAFETY: a valid C string.
                let fd = unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                        0o644,
                    )
                };
                if fd < 0 {
                    return Err(format!(
                        "{path}: cannot open log_file {f}: {}; give a writable path",
                        std::io::Error::last_os_error()
                    ));
                }
                fd
            }
            None => 2,
        };
        // Out of the program's way: a high descriptor, close-on-exec (the hook of the next
        // program image opens its own). For stderr a copy (programs close theirs at exit);
        // when the program starts with stderr closed, log lines are dropped (fd 2 would be the
        // program's next file).
        let moved = hook_sdk::raw::private_fd(fd);
        if moved.is_none() && fd > 2 {
            // SAFETY: the log file we opened, which could not be moved out of the way.
            unsafe { libc::close(fd) };
        }
        LOG_FD.store(moved.unwrap_or(-1), Ordering::Relaxed);
        // Read once here: {exe} must not allocate or lock on the hook path.
        let _ = hook_sdk::exe();
        let _ = RULES.set(set);
        Ok(())
    }

    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        let Some(set) = RULES.get() else {
            return next.call(call);
        };
        let (before, after) = (set.before(call.nr), set.after(call.nr));
        if before.is_empty() && after.is_empty() {
            return next.call(call);
        }
        ruled(set, before, after, call, next)
    }
}

/// A call some rule looks at. Kept out of line: its frame (the string buffers of [`CallEnv`],
/// ~13 KiB) is taken only by calls that rules list, not by every call (which may run on a
/// small stack: a thread's first call, a signal handler's on an alternate stack).
#[inline(never)]
#[cold]
fn ruled(set: &RuleSet, before: &[u16], after: &[u16], call: Syscall, next: Next) -> i64 {
    if !before.is_empty() {
        let env = CallEnv::new(&call, None, set);
        if let Some(r) = run(set, before, &env, None) {
            return r;
        }
    }
    let r = next.call(call);
    if after.is_empty() {
        return r;
    }
    let env = CallEnv::new(&call, Some(r), set);
    run(set, after, &env, Some(r)).unwrap_or(r)
}

hook_sdk::zpoline_hook!(Rules);

#[cfg(test)]
mod tests {
    use super::*;

    /// Rules over every call with a view (and clone3/connect's derived values), using every
    /// variable in conditions and formats, looked at with random arguments and results
    /// (pointers into random bytes, unmapped and non-canonical ones, -1, huge numbers): no
    /// panic (it would abort the program), and the log lines are rendered (to no descriptor:
    /// LOG_FD is -1 in tests).
    #[test]
    fn random_calls_through_every_variable() {
        let calls: Vec<&str> = (0..rules::SLOTS as i64)
            .filter(|&nr| View::args_of(nr).is_some())
            .filter_map(hook_sdk::syscall_name)
            .collect();
        let list = calls
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            r#"
[[rule]]
syscalls = [{list}]
when = 'path ~ "*a*" || comm != "x" || exe ~ "*" || syscall in ("read", "openat") || call ~ "*(*" || arg0 > 3 || pid > 0 || ppid >= 0 || tid > 0 || uid >= 0 || nr >= 0 || rule == "r"'
action = "log"
format = "{{rule}} {{comm}} {{exe}} {{syscall}} {{nr}} {{arg0:x}} {{arg5}} {{pid}} {{ppid}} {{tid}} {{uid}} {{call}} {{path}}"

[[rule]]
name = "r"
syscalls = [{list}]
when = 'ret < 0 || err == "ENOENT" || flags & O_CREAT || fd == 3'
action = "log"
format = "{{ret}} {{err}} {{flags:x}} {{fd}} {{path}} {{call}}"

[[rule]]
syscalls = ["clone3", "connect", "bind", "sendto"]
when = 'flags & CLONE_THREAD || port == 80 || address == "127.0.0.1" || family == AF_UNIX'
action = "log"
format = "{{flags}} {{port}} {{address}} {{family}}"
"#
        );
        let set = rules::parse(&text, "fuzz.toml").unwrap();
        let mut calls = hook_sdk::testing::RandomCalls::new(0x1234_5678_9abc_def1);
        for nr in 0..rules::SLOTS as i64 {
            let (before, after) = (set.before(nr), set.after(nr));
            if before.is_empty() && after.is_empty() {
                continue;
            }
            for _ in 0..16 {
                let call = calls.call(nr);
                let env = CallEnv::new(&call, None, &set);
                assert_eq!(run(&set, before, &env, None), None);
                let r = calls.result();
                let env = CallEnv::new(&call, Some(r), &set);
                assert_eq!(run(&set, after, &env, Some(r)), None);
            }
        }
    }
}
