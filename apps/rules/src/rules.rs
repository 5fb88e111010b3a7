//! The rule file: TOML `[[rule]]` tables read into [`RuleSet`], every mistake reported as one
//! line `FILE:LINE:COLUMN: what was expected`.
//!
//! ```toml
//! log_file = "/tmp/rules.log"          # optional; default: the program's stderr
//!
//! [[rule]]
//! name = "keep passwd"                 # optional; default "rule N"
//! syscalls = ["unlink", "unlinkat"]    # the calls the rule looks at
//! when = 'path ~ "*passwd" && uid != 0' # optional condition (see expr.rs)
//! action = "fail"                      # log | fail | kill | suspend | return
//! errno = "EPERM"                      # fail: the error (default EPERM)
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use hook_sdk::args::{ArgKind, Signal};
use hook_sdk::{View, libc};
use serde::Deserialize;
use toml::Spanned;

use crate::consts;
use crate::expr::{self, Expr, Kind, Scope};
use crate::format::Format;

/// Ids of the variables every rule may use (named arguments start at [`NAMED`](var::NAMED)).
pub mod var {
    /// `syscall`: the call's name.
    pub const SYSCALL: u16 = 0;
    /// `nr`: the call's number.
    pub const NR: u16 = 1;
    /// `arg0` .. `arg5`: the raw registers (`ARG0 + i`).
    pub const ARG0: u16 = 2;
    /// `pid`.
    pub const PID: u16 = 8;
    /// `ppid`.
    pub const PPID: u16 = 9;
    /// `tid`.
    pub const TID: u16 = 10;
    /// `uid` (real).
    pub const UID: u16 = 11;
    /// `comm`: the thread's name.
    pub const COMM: u16 = 12;
    /// `exe`: the program's file.
    pub const EXE: u16 = 13;
    /// `ret`: the result (after-rules only).
    pub const RET: u16 = 14;
    /// `err`: the error's name (`ENOENT`), when the result is one (after-rules only).
    pub const ERR: u16 = 15;
    /// `call`: the call decoded, strace-style (`unlinkat(AT_FDCWD, "passwd", 0)`).
    pub const CALL: u16 = 16;
    /// `rule`: the rule's name.
    pub const RULE: u16 = 17;
    /// The first id of the named arguments (`path`, `flags`, `fd`...).
    pub const NAMED: u16 = 100;
}

/// Values read from what a call's arguments point to: (call, name, kind). `clone3`'s `flags`
/// (from its `struct clone_args`, like `clone`'s); the socket address of `connect`, `bind`
/// and `sendto` as `family` (`AF_INET`...), `port` and `address` (`"127.0.0.1"`, `"::1"`, a
/// unix socket's path).
pub const DERIVED: &[(i64, &str, Kind)] = &[
    (libc::SYS_clone3, "flags", Kind::Int),
    (libc::SYS_connect, "family", Kind::Int),
    (libc::SYS_connect, "port", Kind::Int),
    (libc::SYS_connect, "address", Kind::Str),
    (libc::SYS_bind, "family", Kind::Int),
    (libc::SYS_bind, "port", Kind::Int),
    (libc::SYS_bind, "address", Kind::Str),
    (libc::SYS_sendto, "family", Kind::Int),
    (libc::SYS_sendto, "port", Kind::Int),
    (libc::SYS_sendto, "address", Kind::Str),
];

/// Built-in variables: name, id, kind, after-rules only.
const BUILTINS: &[(&str, u16, Kind, bool)] = &[
    ("syscall", var::SYSCALL, Kind::Str, false),
    ("nr", var::NR, Kind::Int, false),
    ("arg0", var::ARG0, Kind::Int, false),
    ("arg1", var::ARG0 + 1, Kind::Int, false),
    ("arg2", var::ARG0 + 2, Kind::Int, false),
    ("arg3", var::ARG0 + 3, Kind::Int, false),
    ("arg4", var::ARG0 + 4, Kind::Int, false),
    ("arg5", var::ARG0 + 5, Kind::Int, false),
    ("pid", var::PID, Kind::Int, false),
    ("ppid", var::PPID, Kind::Int, false),
    ("tid", var::TID, Kind::Int, false),
    ("uid", var::UID, Kind::Int, false),
    ("comm", var::COMM, Kind::Str, false),
    ("exe", var::EXE, Kind::Str, false),
    ("ret", var::RET, Kind::Int, true),
    ("err", var::ERR, Kind::Str, true),
    ("call", var::CALL, Kind::Str, false),
    ("rule", var::RULE, Kind::Str, false),
];

/// When a rule is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Before the call is made: it may be refused.
    Before,
    /// After: the result is known and may be replaced.
    After,
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write a line to the log.
    Log,
    /// The call fails with this errno (before: it is not made; after: its result is replaced).
    Fail(i32),
    /// Send this signal to the process; the call is not made (before) and fails with EPERM
    /// if the process survives the signal.
    Kill(i32),
    /// Stop the process (SIGSTOP) so that it can be inspected; the call goes on after SIGCONT.
    Suspend,
    /// The call returns this value (before: it is not made; after: its result is replaced).
    Return(i64),
}

/// One rule, ready to evaluate.
#[derive(Debug)]
pub struct Rule {
    /// Its name (`name = "..."`, or `rule N`).
    pub name: String,
    /// The system call numbers it looks at.
    pub nrs: Vec<i64>,
    /// The condition (none: always).
    pub when: Option<Expr>,
    /// What it does.
    pub action: Action,
    /// Before or after the call.
    pub phase: Phase,
    /// The log line (`format = "..."`), or the default.
    pub format: Format,
    /// No log line for fail/kill/suspend/return (`quiet = true`).
    pub quiet: bool,
}

/// All rules of a file, indexed by system call number.
#[derive(Debug)]
pub struct RuleSet {
    /// The rules, in file order.
    pub rules: Vec<Rule>,
    /// Where log lines go (`log_file = "..."`), or the program's stderr.
    pub log_file: Option<String>,
    /// The names of the named arguments used (`var::NAMED + i`).
    pub arg_names: Vec<&'static str>,
    /// For each number below [`SLOTS`], the rules (indices) of each phase.
    before: Vec<Vec<u16>>,
    after: Vec<Vec<u16>>,
}

/// System call numbers indexed (x86-64 numbers are below 512).
pub const SLOTS: usize = 512;

impl RuleSet {
    /// The rules looking at `nr` before the call.
    pub fn before(&self, nr: i64) -> &[u16] {
        usize::try_from(nr)
            .ok()
            .and_then(|n| self.before.get(n))
            .map_or(&[], Vec::as_slice)
    }

    /// The rules looking at `nr` after the call.
    pub fn after(&self, nr: i64) -> &[u16] {
        usize::try_from(nr)
            .ok()
            .and_then(|n| self.after.get(n))
            .map_or(&[], Vec::as_slice)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    log_file: Option<String>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    syscalls: Option<Spanned<Vec<Spanned<String>>>>,
    when: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    errno: Option<Spanned<toml::Value>>,
    signal: Option<Spanned<toml::Value>>,
    value: Option<Spanned<i64>>,
    format: Option<Spanned<String>>,
    phase: Option<Spanned<String>>,
    quiet: Option<bool>,
}

/// A mistake at a byte range of the file.
struct At(Range<usize>, String);

fn at<T>(span: Range<usize>, msg: impl Into<String>) -> Result<T, At> {
    Err(At(span, msg.into()))
}

/// Line and column (1-based, in characters) of byte `offset` of `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + 1)
}

/// Reads and checks the rule file `path`.
pub fn load(path: &str) -> Result<RuleSet, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if std::path::Path::new(path).is_relative() {
            " (a relative path is looked up from each process's working directory: give an absolute one)"
        } else {
            ""
        };
        format!(
            "cannot read the rule file {path}: {e}{hint}; give the path of a TOML file of [[rule]] tables"
        )
    })?;
    parse(&text, path)
}

/// Checks the rule file `text` (named `file` in messages).
pub fn parse(text: &str, file: &str) -> Result<RuleSet, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, col) = line_col(text, e.span().map_or(0, |s| s.start));
        let msg = e.message().trim().replace('\n', " ");
        format!("{file}:{line}:{col}: {msg}")
    })?;
    let mut raw = raw;
    // A relative log file is next to the rule file (not in each process's directory).
    if let Some(log) = raw.log_file.as_mut() {
        let p = std::path::Path::new(log.as_str());
        if p.is_relative() {
            let dir = std::path::Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(
                    || std::env::current_dir().unwrap_or_default(),
                    |d| {
                        if d.is_absolute() {
                            d.to_path_buf()
                        } else {
                            std::env::current_dir().unwrap_or_default().join(d)
                        }
                    },
                );
            *log = dir.join(p).to_string_lossy().into_owned();
        }
    }
    build(raw, text).map_err(|At(span, msg)| {
        let (line, col) = line_col(text, span.start);
        format!("{file}:{line}:{col}: {msg}")
    })
}

/// Where the text of a string value starts in the file, if its characters map one to one onto
/// the value (a literal string, or a basic one without escapes): expression errors then point
/// at the exact column; otherwise at the string's start.
fn string_origin(text: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let raw = text.get(span.clone())?;
    for q in ["'''", "\"\"\"", "'", "\""] {
        if let Some(inner) = raw.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            // A multi-line string drops a newline right after its opening quotes.
            let (skip, inner) = match inner.strip_prefix('\n') {
                Some(rest) if q.len() == 3 => (1, rest),
                _ => (0, inner),
            };
            return (inner == value).then_some(span.start + q.len() + skip);
        }
    }
    None
}

/// The scope of one rule: the built-ins and the named arguments of its calls.
struct RuleScope<'a> {
    nrs: &'a [i64],
    phase: Option<Phase>,
    names: &'a mut Vec<&'static str>,
    /// Set when an after-only variable is used.
    uses_after: std::cell::Cell<bool>,
}

impl RuleScope<'_> {
    /// The kind of the named argument `name` in the rule's calls.
    fn arg(&self, name: &str) -> Option<(&'static str, Kind)> {
        if let Some(d) = DERIVED
            .iter()
            .find(|d| d.1 == name && self.nrs.contains(&d.0))
        {
            return Some((d.1, d.2));
        }
        self.nrs.iter().find_map(|&nr| {
            View::args_of(nr)?.iter().find(|a| a.name == name).map(|a| {
                (
                    a.name,
                    if a.kind == ArgKind::Str {
                        Kind::Str
                    } else {
                        Kind::Int
                    },
                )
            })
        })
    }
}

/// A scope with interior mutability for the names it interns.
struct Interning<'a, 'b>(&'b std::cell::RefCell<RuleScope<'a>>);

impl Scope for Interning<'_, '_> {
    fn var(&self, name: &str) -> Option<(u16, Kind)> {
        if let Some(&(_, id, kind, after)) = BUILTINS.iter().find(|b| b.0 == name) {
            let s = self.0.borrow();
            if after {
                if s.phase == Some(Phase::Before) {
                    // Refused: parse reports an unknown name; build explains (see check_after).
                    return None;
                }
                s.uses_after.set(true);
            }
            return Some((id, kind));
        }
        let mut s = self.0.borrow_mut();
        let (static_name, kind) = s.arg(name)?;
        let i = match s.names.iter().position(|&n| n == static_name) {
            Some(i) => i,
            None => {
                s.names.push(static_name);
                s.names.len() - 1
            }
        };
        Some((var::NAMED + i as u16, kind))
    }

    fn constant(&self, name: &str) -> Option<i64> {
        consts::constant(name)
    }

    fn var_names(&self) -> Vec<&'static str> {
        let s = self.0.borrow();
        let mut names: Vec<&'static str> = Vec::new();
        for &nr in s.nrs {
            for a in View::args_of(nr).unwrap_or(&[]) {
                if !names.contains(&a.name) {
                    names.push(a.name);
                }
            }
            for d in DERIVED.iter().filter(|d| d.0 == nr) {
                if !names.contains(&d.1) {
                    names.push(d.1);
                }
            }
        }
        names.extend(BUILTINS.iter().map(|b| b.0));
        names
    }
}

/// Parses a `when` or `format` string of the file with `f`, mapping error offsets to the file.
fn sub_parse<T>(
    text: &str,
    v: &Spanned<String>,
    f: impl FnOnce(&str) -> Result<T, expr::ParseError>,
) -> Result<T, At> {
    f(v.get_ref()).map_err(|e| {
        let span = v.span();
        let pos = string_origin(text, &span, v.get_ref()).map_or(span.start, |o| o + e.offset);
        At(pos..pos, e.message)
    })
}

/// An errno given as a name (`"EPERM"`) or a positive number.
fn errno_of(v: &Spanned<toml::Value>) -> Result<i32, At> {
    match v.get_ref() {
        toml::Value::String(s) => match consts::constant(s) {
            Some(n) if s.starts_with('E') && (1..4096).contains(&n) => Ok(n as i32),
            _ => at(
                v.span(),
                format!(
                    "unknown errno `{s}`: expected a name such as \"EPERM\", \"EACCES\", \"ENOENT\""
                ),
            ),
        },
        toml::Value::Integer(n) if (1..4096).contains(n) => Ok(*n as i32),
        _ => at(
            v.span(),
            "expected an errno name such as \"EPERM\" (or a number from 1 to 4095)",
        ),
    }
}

/// A signal given as a name (`"SIGKILL"`, `"KILL"`) or a number.
fn signal_of(v: &Spanned<toml::Value>) -> Result<i32, At> {
    match v.get_ref() {
        toml::Value::String(s) => match Signal::from_name(s) {
            Some(sig) => Ok(sig.0),
            None => at(
                v.span(),
                format!(
                    "unknown signal `{s}`: expected a name such as \"SIGKILL\", \"SIGTERM\", \"SIGSTOP\""
                ),
            ),
        },
        toml::Value::Integer(n) if (1..=64).contains(n) => Ok(*n as i32),
        _ => at(
            v.span(),
            "expected a signal name such as \"SIGKILL\" (or a number from 1 to 64)",
        ),
    }
}

fn build(raw: RawFile, text: &str) -> Result<RuleSet, At> {
    let mut rules = Vec::new();
    let mut names: Vec<&'static str> = Vec::new();
    if raw.rule.len() > usize::from(u16::MAX) {
        return at(
            raw.rule[usize::from(u16::MAX)].span(),
            format!(
                "too many rules ({}): at most {} per file",
                raw.rule.len(),
                u16::MAX
            ),
        );
    }
    if raw.rule.is_empty() {
        return at(
            0..0,
            "no rules: expected at least one [[rule]] table with `syscalls` and `action`",
        );
    }
    for (i, r) in raw.rule.iter().enumerate() {
        let span = r.span();
        let r = r.get_ref();
        let name = r.name.clone().unwrap_or_else(|| format!("rule {}", i + 1));
        // syscalls
        let Some(list) = &r.syscalls else {
            return at(
                span,
                format!(
                    "{name}: missing `syscalls`: expected a list of system call names, e.g. syscalls = [\"unlink\", \"unlinkat\"]"
                ),
            );
        };
        if list.get_ref().is_empty() {
            return at(
                list.span(),
                "expected at least one system call name in `syscalls`",
            );
        }
        let mut nrs = Vec::new();
        for s in list.get_ref() {
            match hook_sdk::syscall_number(s.get_ref()) {
                Some(nr) if (0..SLOTS as i64).contains(&nr) => nrs.push(nr),
                Some(nr) => {
                    return at(
                        s.span(),
                        format!(
                            "system call `{}` has number {nr}, beyond the rules' table of {SLOTS}",
                            s.get_ref()
                        ),
                    );
                }
                None => {
                    let hint = close_syscall(s.get_ref())
                        .map_or(String::new(), |c| format!("; did you mean `{c}`?"));
                    return at(
                        s.span(),
                        format!("unknown system call `{}`{hint}", s.get_ref()),
                    );
                }
            }
        }
        // phase and action
        let phase = match &r.phase {
            None => None,
            Some(p) => match p.get_ref().as_str() {
                "before" => Some(Phase::Before),
                "after" => Some(Phase::After),
                other => {
                    return at(
                        p.span(),
                        format!("unknown phase `{other}`: expected \"before\" or \"after\""),
                    );
                }
            },
        };
        let Some(action_name) = &r.action else {
            return at(
                span,
                format!(
                    "{name}: missing `action`: expected action = \"log\", \"fail\", \"kill\", \"suspend\" or \"return\""
                ),
            );
        };
        let action = match action_name.get_ref().as_str() {
            "log" => Action::Log,
            "fail" => Action::Fail(
                r.errno
                    .as_ref()
                    .map(errno_of)
                    .transpose()?
                    .unwrap_or(libc::EPERM),
            ),
            "kill" => Action::Kill(
                r.signal
                    .as_ref()
                    .map(signal_of)
                    .transpose()?
                    .unwrap_or(libc::SIGKILL),
            ),
            "suspend" => Action::Suspend,
            "return" => match &r.value {
                Some(v) => Action::Return(*v.get_ref()),
                None => {
                    return at(
                        action_name.span(),
                        "action \"return\" needs `value = N`: the result the program gets",
                    );
                }
            },
            other => {
                return at(
                    action_name.span(),
                    format!(
                        "unknown action `{other}`: expected \"log\", \"fail\", \"kill\", \"suspend\" or \"return\""
                    ),
                );
            }
        };
        // Keys that the action does not use are mistakes, not silently ignored.
        let unused = |key: &str, span: Range<usize>, users: &str| -> Result<(), At> {
            at(
                span,
                format!(
                    "`{key}` is not used by action \"{}\": it goes with {users}",
                    action_name.get_ref()
                ),
            )
        };
        if let (Some(e), false) = (&r.errno, matches!(action, Action::Fail(_))) {
            unused("errno", e.span(), "action = \"fail\"")?;
        }
        if let (Some(s), false) = (&r.signal, matches!(action, Action::Kill(_))) {
            unused("signal", s.span(), "action = \"kill\"")?;
        }
        if let (Some(v), false) = (&r.value, matches!(action, Action::Return(_))) {
            unused("value", v.span(), "action = \"return\"")?;
        }
        // when and format, in the rule's scope
        let scope = std::cell::RefCell::new(RuleScope {
            nrs: &nrs,
            phase,
            names: &mut names,
            uses_after: std::cell::Cell::new(false),
        });
        let when = match &r.when {
            Some(w) => Some(
                sub_parse(text, w, |s| expr::parse(s, &Interning(&scope)))
                    .map_err(|e| explain_after(e, phase))?,
            ),
            None => None,
        };
        let format = match &r.format {
            Some(f) => sub_parse(text, f, |s| Format::parse(s, &Interning(&scope)))
                .map_err(|e| explain_after(e, phase))?,
            None => {
                let after = phase == Some(Phase::After) || scope.borrow().uses_after.get();
                let default = default_format(action, after);
                Format::parse(&default, &Interning(&scope))
                    .map_err(|e| At(span.clone(), e.message))?
            }
        };
        let uses_after = scope.borrow().uses_after.get();
        let phase = phase.unwrap_or(if uses_after {
            Phase::After
        } else {
            Phase::Before
        });
        rules.push(Rule {
            name,
            nrs,
            when,
            action,
            phase,
            format,
            quiet: r.quiet.unwrap_or(false),
        });
    }
    let mut before = vec![Vec::new(); SLOTS];
    let mut after = vec![Vec::new(); SLOTS];
    for (i, r) in rules.iter().enumerate() {
        for &nr in &r.nrs {
            let slot = &mut (if r.phase == Phase::Before {
                &mut before
            } else {
                &mut after
            })[nr as usize % SLOTS];
            if !slot.contains(&(i as u16)) {
                slot.push(i as u16);
            }
        }
    }
    Ok(RuleSet {
        rules,
        log_file: raw.log_file,
        arg_names: names,
        before,
        after,
    })
}

/// The default log line of a rule.
fn default_format(action: Action, after: bool) -> String {
    let what = match action {
        Action::Log => String::new(),
        Action::Fail(e) => format!(" -> fail {}", hook_sdk::Errno::new(e).name().unwrap_or("?")),
        Action::Kill(s) => format!(" -> kill {}", Signal(s)),
        Action::Suspend => " -> suspended (resume with: kill -CONT {pid})".to_string(),
        Action::Return(v) => format!(" -> return {v}"),
    };
    let ret = if after { " = {ret}" } else { "" };
    format!("zpoline rules: [{{rule}}] {{comm}}[{{pid}}] {{exe}}: {{call}}{ret}{what}")
}

/// An unknown-name error for `ret`/`err` in a before-rule gets the real explanation.
fn explain_after(e: At, phase: Option<Phase>) -> At {
    if phase == Some(Phase::Before)
        && (e.1.contains("`ret`") || e.1.contains("`err`"))
        && (e.1.starts_with("unknown name") || e.1.starts_with("unknown variable"))
    {
        let name = if e.1.contains("`ret`") { "ret" } else { "err" };
        return At(
            e.0,
            format!(
                "`{name}` is only known after the call: use phase = \"after\" (or leave phase out)"
            ),
        );
    }
    e
}

/// A known system call name close to `name` (one edit away, or differing in case).
fn close_syscall(name: &str) -> Option<&'static str> {
    if name.len() > 64 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    (0..SLOTS as i64)
        .filter_map(hook_sdk::syscall_name)
        .find(|cand| *cand == lower || edit_distance(cand, &lower) == 1)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The names of named arguments across all views, for documentation and tests.
pub fn all_arg_names() -> BTreeMap<&'static str, Kind> {
    let mut m = BTreeMap::new();
    for nr in 0..SLOTS as i64 {
        for a in View::args_of(nr).unwrap_or(&[]) {
            m.entry(a.name).or_insert(if a.kind == ArgKind::Str {
                Kind::Str
            } else {
                Kind::Int
            });
        }
    }
    m
}
