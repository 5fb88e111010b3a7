//! Helpers for the integration tests of `libzpoline.so`.
//!
//! Every integration test runs a real program, natively and under the runtime (`LD_PRELOAD` of
//! `target/release/libzpoline.so`, optionally with a hook library named by `LIBZPHOOK`), and
//! compares the two runs, or compares what a hook saw with what `strace -f` saw.
//!
//! - [`libzpoline`] and [`release_artifact`] find what `cargo build --release` built (the tests
//!   never build the runtime themselves: `make test` builds the workspace first);
//! - [`compile_program`] and [`compile_hook`] compile the C sources of `tests/c/` and
//!   `tests/c/hooks/` with `cc`, cached by a hash of the source;
//! - [`Cmd`] runs a command in a [`Mode`] (native, runtime, runtime + hook) with a timeout and
//!   returns an [`Outcome`]; [`assert_same_as_native`] compares with the native run;
//! - [`Cmd::run_strace`] runs under `strace -f -qq -n` and [`parse_strace`] parses its output;
//!   [`hook_window_counts`], [`read_count_dumps`] and [`compare_counts`] serve the counting hook;
//! - [`require_page_zero`] fails (never skips) when page 0 cannot be mapped.
//!
//! Everything the tests write goes under `target/zpoline-tests/`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one command may run before it is killed and the test fails.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one command may run under strace before it is killed and the test fails.
pub const STRACE_TIMEOUT: Duration = Duration::from_secs(300);

/// Environment variables that must never leak from the test's own environment into a run.
const CLEARED_ENV: &[&str] = &[
    "LD_PRELOAD",
    "LIBZPHOOK",
    "ZPOLINE_ON_ERROR",
    "LD_LIBRARY_PATH",
];

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The directory holding the C sources (`tests/c`).
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// The directory where the tests put what they build and write: `<target>/zpoline-tests`.
pub fn work_dir() -> PathBuf {
    let dir = target_dir().join("zpoline-tests");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A file that `cargo build --release` puts in `<target>/release/`. Panics, telling how to build
/// it, if it is missing: the tests never build the workspace themselves.
pub fn release_artifact(file_name: &str) -> PathBuf {
    let path = target_dir().join("release").join(file_name);
    if !path.is_file() {
        panic!(
            "{} is missing.\nBuild the workspace in release mode first: `cargo build --release` \
             in {} (`make test` does it before running the tests).",
            path.display(),
            workspace_root().display()
        );
    }
    path
}

/// The runtime, `<target>/release/libzpoline.so` (see [`release_artifact`]).
pub fn libzpoline() -> PathBuf {
    release_artifact("libzpoline.so")
}

/// The example hook built by the workspace (`apps/basic`): `<target>/release/libzphook_basic.so`.
pub fn example_basic_hook() -> PathBuf {
    release_artifact("libzphook_basic.so")
}

/// `/usr/bin/python3` if it exists, else `python3` (looked up in `PATH` when run).
pub fn python3() -> PathBuf {
    let usr = Path::new("/usr/bin/python3");
    if usr.exists() {
        usr.to_path_buf()
    } else {
        PathBuf::from("python3")
    }
}

// ---------------------------------------------------------------------------------------------
// Preconditions
// ---------------------------------------------------------------------------------------------

/// Checks that this process may map page 0, as the runtime must. Panics with the reason and the
/// fix when it cannot: a machine that cannot run the runtime fails the tests, it never skips them.
pub fn require_page_zero() {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(msg) = RESULT.get_or_init(check_page_zero) {
        panic!("{msg}");
    }
}

fn check_page_zero() -> Result<(), String> {
    // SAFETY: mapping a fresh anonymous page at address 0 (never replacing anything) and
    // unmapping it again touches no memory the program uses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p.is_null() {
        // SAFETY: unmaps exactly the page mapped above.
        unsafe { libc::munmap(p, 4096) };
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if p != libc::MAP_FAILED {
        // SAFETY: unmaps the page the kernel placed elsewhere.
        unsafe { libc::munmap(p, 4096) };
        return Err(
            "mmap(0, MAP_FIXED_NOREPLACE) returned another address: this kernel \
                    cannot map page 0 for the runtime's trampoline"
                .into(),
        );
    }
    if err.raw_os_error() == Some(libc::EEXIST) {
        return Ok(()); // something already lives at 0: not our problem here
    }
    let min = fs::read_to_string("/proc/sys/vm/mmap_min_addr")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("(unreadable: {e})"));
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    Err(format!(
        "PRECONDITION FAILED: this process cannot map page 0 (mmap at address 0: {err}), so \
         libzpoline.so cannot place its trampoline there and every test under the runtime would \
         fail.\nvm.mmap_min_addr = {min}, euid = {euid}.\nFix: run as root (CAP_SYS_RAWIO may map \
         below vm.mmap_min_addr) or run `sysctl -w vm.mmap_min_addr=0` as root."
    ))
}

// ---------------------------------------------------------------------------------------------
// Scratch directories
// ---------------------------------------------------------------------------------------------

/// A fresh directory under `<target>/zpoline-tests/tmp/`, removed when dropped unless the test is
/// failing (then it is kept for inspection and its path printed).
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Creates `<target>/zpoline-tests/tmp/<label>-<pid>-<n>` (characters of `label` other than
    /// letters, digits, `-` and `_` become `_`).
    pub fn new(label: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = work_dir()
            .join("tmp")
            .join(format!("{label}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Scratch { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(kept {} for inspection)", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compiling the C sources
// ---------------------------------------------------------------------------------------------

/// 64-bit FNV-1a, a stable hash for the compile cache.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The hash of every header in `tests/c` (all programs may include them).
fn headers_hash() -> u64 {
    let mut names: Vec<PathBuf> = fs::read_dir(c_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension() == Some(OsStr::new("h")))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.iter().fold(0xcbf2_9ce4_8422_2325, |h, p| {
        fnv1a(h, &fs::read(p).unwrap_or_default())
    })
}

/// Compiles `source` with `cc <flags> -o OUT source` into `<target>/zpoline-tests/build/`, named
/// after the source's stem and a hash of the source, the headers of `tests/c` and the flags; an
/// existing output with that name is reused. Panics with the compiler's output if it fails.
pub fn compile_c(source: &Path, flags: &[&str], suffix: &str) -> PathBuf {
    let text = fs::read(source)
        .unwrap_or_else(|e| panic!("cannot read C source {}: {e}", source.display()));
    let mut hash = fnv1a(headers_hash(), &text);
    for f in flags {
        hash = fnv1a(hash, f.as_bytes());
        hash = fnv1a(hash, b"\0");
    }
    let stem = source.file_stem().unwrap().to_string_lossy();
    let dir = work_dir().join("build");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let out = dir.join(format!("{stem}-{hash:016x}{suffix}"));
    if out.is_file() {
        return out;
    }
    static N: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{stem}-{hash:016x}.tmp{}-{}{suffix}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let result = Command::new("cc")
        .args(flags)
        .arg("-I")
        .arg(c_dir())
        .arg("-o")
        .arg(&tmp)
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cc (is a C compiler installed?): {e}"));
    if !result.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!(
            "compiling {} failed ({}):\n{}{}",
            source.display(),
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
    }
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("cannot rename into {}: {e}", out.display()));
    out
}

/// Compiles the test program `tests/c/<name>.c` (`cc -O2 -g -Wall -pthread`) and returns the
/// path of the executable.
pub fn compile_program(name: &str) -> PathBuf {
    compile_c(
        &c_dir().join(format!("{name}.c")),
        &["-O2", "-g", "-Wall", "-Wextra", "-pthread"],
        "",
    )
}

/// Compiles the hook library `tests/c/hooks/<name>.c` (`cc -shared -fPIC -O2`) and returns the
/// path of the shared object.
pub fn compile_hook(name: &str) -> PathBuf {
    compile_c(
        &c_dir().join("hooks").join(format!("{name}.c")),
        &["-shared", "-fPIC", "-O2", "-g", "-Wall", "-Wextra"],
        ".so",
    )
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// How a command is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As it is.
    Native,
    /// With `LD_PRELOAD=libzpoline.so` and no hook (every syscall passes through).
    Zpoline,
    /// With `LD_PRELOAD=libzpoline.so` and `LIBZPHOOK=<path>`.
    Hook(PathBuf),
    /// Through the launcher's own loader: `zpoline run [--hook <path>] -- PROGRAM ARGS`.
    Loader(Option<PathBuf>),
    /// `zpoline run OPTIONS -- PROGRAM ARGS` (e.g. `--rules FILE`).
    Run(Vec<OsString>),
}

impl Mode {
    /// The environment variables this mode adds.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let mut env = Vec::new();
        if matches!(self, Mode::Zpoline | Mode::Hook(_)) {
            env.push(("LD_PRELOAD".to_string(), libzpoline().into_os_string()));
        }
        if let Mode::Hook(hook) = self {
            env.push(("LIBZPHOOK".to_string(), hook.clone().into_os_string()));
        }
        env
    }

    /// A short name for messages.
    pub fn name(&self) -> String {
        match self {
            Mode::Native => "native".into(),
            Mode::Zpoline => "under libzpoline.so".into(),
            Mode::Hook(h) => format!(
                "under libzpoline.so with hook {}",
                h.file_name().unwrap_or_default().to_string_lossy()
            ),
            Mode::Run(opts) => format!(
                "through `zpoline run {}`",
                opts.iter()
                    .map(|o| o.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Mode::Loader(None) => "through the launcher's loader".into(),
            Mode::Loader(Some(h)) => format!(
                "through the launcher's loader with hook {}",
                h.file_name().unwrap_or_default().to_string_lossy()
            ),
        }
    }

    /// The program and arguments that run `program args` in this mode.
    pub fn invocation(&self, program: &OsStr, args: &[OsString]) -> (OsString, Vec<OsString>) {
        match self {
            Mode::Run(opts) => {
                let mut all: Vec<OsString> = vec!["run".into()];
                all.extend(opts.iter().cloned());
                all.push("--".into());
                all.push(program.to_os_string());
                all.extend(args.iter().cloned());
                (release_artifact("zpoline").into_os_string(), all)
            }
            Mode::Loader(h) => {
                let mut all: Vec<OsString> = vec!["run".into()];
                if let Some(h) = h {
                    all.push("--hook".into());
                    all.push(h.clone().into_os_string());
                }
                all.push("--".into());
                all.push(program.to_os_string());
                all.extend(args.iter().cloned());
                (release_artifact("zpoline").into_os_string(), all)
            }
            _ => (program.to_os_string(), args.to_vec()),
        }
    }
}

/// A command to run: program, arguments, extra environment, working directory and timeout.
/// The variables `LD_PRELOAD`, `LIBZPHOOK`, `ZPOLINE_ON_ERROR` and `LD_LIBRARY_PATH` of the test's
/// own environment are removed, `LC_ALL=C` is set and stdin is `/dev/null`.
#[derive(Clone, Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    timeout: Duration,
}

impl Cmd {
    /// A command running `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env: vec![("LC_ALL".into(), "C".into())],
            dir: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Cmd {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets the timeout (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// A shell command line that reproduces the run in `mode`.
    pub fn repro(&self, mode: &Mode) -> String {
        let mut s = String::new();
        if let Some(dir) = &self.dir {
            let _ = write!(s, "cd {} && ", shell_quote(dir.as_os_str()));
        }
        s.push_str("env");
        for (k, v) in mode_env_os(mode).iter().chain(self.env.iter()) {
            let _ = write!(s, " {}={}", k.to_string_lossy(), shell_quote(v.as_os_str()));
        }
        let (program, args) = mode.invocation(&self.program, &self.args);
        let _ = write!(s, " {}", shell_quote(&program));
        for a in &args {
            let _ = write!(s, " {}", shell_quote(a));
        }
        s
    }

    /// Runs natively.
    pub fn run_native(&self) -> Outcome {
        self.run(&Mode::Native)
    }

    /// Runs under the runtime without a hook.
    pub fn run_zpoline(&self) -> Outcome {
        self.run(&Mode::Zpoline)
    }

    /// Runs under the runtime with the hook library `hook`.
    pub fn run_with_hook(&self, hook: &Path) -> Outcome {
        self.run(&Mode::Hook(hook.to_path_buf()))
    }

    /// Runs in `mode` and waits for the end (or the timeout, which fails the test). Checks
    /// [`require_page_zero`] first when the mode uses the runtime.
    pub fn run(&self, mode: &Mode) -> Outcome {
        if *mode != Mode::Native {
            require_page_zero();
        }
        let (program, args) = mode.invocation(&self.program, &self.args);
        let mut cmd = self.base_command(&program);
        cmd.args(&args);
        for (k, v) in mode_env_os(mode).iter().chain(self.env.iter()) {
            cmd.env(k, v);
        }
        let repro = self.repro(mode);
        self.spawn_and_wait(cmd, repro, self.timeout)
    }

    /// Runs in `mode` under `strace -f -qq -n -o <trace_file>`. The runtime's variables are passed
    /// with `strace -E`, so that only the traced program gets them. Returns the outcome (of
    /// strace, whose exit status is the program's) and the parsed trace.
    pub fn run_strace(&self, mode: &Mode, trace_file: &Path) -> (Outcome, Trace) {
        if *mode != Mode::Native {
            require_page_zero();
        }
        let mut cmd = self.base_command(OsStr::new("strace"));
        cmd.args(["-f", "-qq", "-n", "-o"]).arg(trace_file);
        let mut repro = format!(
            "strace -f -qq -n -o {}",
            shell_quote(trace_file.as_os_str())
        );
        for (k, v) in mode_env_os(mode) {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(&v);
            cmd.arg("-E").arg(&kv);
            let _ = write!(repro, " -E {}", shell_quote(&kv));
        }
        let (program, args) = mode.invocation(&self.program, &self.args);
        cmd.arg("--").arg(&program).args(&args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut full = String::new();
        if let Some(dir) = &self.dir {
            let _ = write!(full, "cd {} && ", shell_quote(dir.as_os_str()));
        }
        full.push_str("env");
        for (k, v) in &self.env {
            let _ = write!(full, " {}={}", k.to_string_lossy(), shell_quote(v));
        }
        let _ = write!(full, " {repro} -- {}", shell_quote(&program));
        for a in &args {
            let _ = write!(full, " {}", shell_quote(a));
        }
        let outcome = self.spawn_and_wait(cmd, full, self.timeout.max(STRACE_TIMEOUT));
        let text = fs::read_to_string(trace_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", trace_file.display()));
        (outcome, parse_strace(&text))
    }

    /// A `Command` for `program` without the [`CLEARED_ENV`] variables, in the command's
    /// directory.
    fn base_command(&self, program: &OsStr) -> Command {
        let mut cmd = Command::new(program);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn spawn_and_wait(&self, mut cmd: Command, repro: String, timeout: Duration) -> Outcome {
        let out_dir = Scratch::new("output");
        let out_path = out_dir.join("stdout");
        let err_path = out_dir.join("stderr");
        let stdout = File::create(&out_path).expect("create stdout file");
        let stderr = File::create(&err_path).expect("create stderr file");
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        // SAFETY: setrlimit is async-signal-safe; no core files from the crash tests.
        unsafe {
            cmd.pre_exec(|| {
                let zero = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &zero);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{repro}`: {e}"));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > timeout => {
                    // SAFETY: kills the process group this test started (its id is the child's).
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                    let status = child.wait().expect("wait after kill");
                    let o = Outcome::new(repro.clone(), status, &out_path, &err_path);
                    panic!(
                        "TIMEOUT: killed after {:?}: {}\n{}",
                        timeout,
                        repro,
                        o.report()
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("waiting for `{repro}`: {e}"),
            }
        };
        // Whatever the process group left behind (a daemonised grandchild) goes too.
        // SAFETY: as above; the group may be empty (ESRCH), which is fine.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
        Outcome::new(repro, status, &out_path, &err_path)
    }
}

fn mode_env_os(mode: &Mode) -> Vec<(OsString, OsString)> {
    mode.env()
        .into_iter()
        .map(|(k, v)| (OsString::from(k), v))
        .collect()
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// A shell command line reproducing the run.
    pub repro: String,
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output (invalid UTF-8 replaced).
    pub stdout: String,
    /// Standard error (invalid UTF-8 replaced).
    pub stderr: String,
}

impl Outcome {
    fn new(repro: String, status: ExitStatus, out: &Path, err: &Path) -> Outcome {
        let read = |p: &Path| {
            let mut bytes = Vec::new();
            if let Ok(mut f) = File::open(p) {
                let _ = f.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Outcome {
            repro,
            status,
            stdout: read(out),
            stderr: read(err),
        }
    }

    /// The exit code, if the process exited.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// "exit 0", "killed by SIGSEGV (11)", ...
    pub fn status_text(&self) -> String {
        describe_status(self.status)
    }

    /// A multi-line description: command, status, stdout and stderr (each cut to 6000 bytes).
    pub fn report(&self) -> String {
        format!(
            "  command: {}\n  status:  {}\n  stdout:\n{}\n  stderr:\n{}",
            self.repro,
            self.status_text(),
            indent(&truncate(&self.stdout, 6000)),
            indent(&truncate(&self.stderr, 6000))
        )
    }

    /// Panics with the report unless the process exited with status 0.
    pub fn assert_success(&self, what: &str) -> &Outcome {
        if self.code() != Some(0) {
            panic!("{what}: expected exit 0\n{}", self.report());
        }
        self
    }
}

/// "exit N" or "killed by SIGNAME (N)".
pub fn describe_status(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exit {code}")
    } else if let Some(sig) = status.signal() {
        format!("killed by {} ({sig})", signal_name(sig))
    } else {
        format!("{status:?}")
    }
}

/// The name of a signal number ("SIGSEGV"), or "signal N (description)" for the rarer ones.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSYS => "SIGSYS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        _ => {
            // SAFETY: strsignal returns a pointer to a static or thread-local string.
            let desc = unsafe {
                let p = libc::strsignal(sig);
                if p.is_null() {
                    String::new()
                } else {
                    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            };
            return format!("signal {sig} ({desc})");
        }
    };
    name.to_string()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n[... {} more bytes]", &s[..cut], s.len() - cut)
}

fn indent(s: &str) -> String {
    if s.is_empty() {
        return "    (empty)".into();
    }
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first line where `a` and `b` differ, for messages.
pub fn first_difference(a: &str, b: &str) -> String {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            return format!(
                "first difference at line {}:\n    native:  {:?}\n    runtime: {:?}",
                i + 1,
                x.unwrap_or(&"<end of output>"),
                y.unwrap_or(&"<end of output>")
            );
        }
    }
    if a != b {
        "the outputs differ only in their final newline".into()
    } else {
        "no difference".into()
    }
}

/// What [`assert_same_as_native`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Exit status and stdout.
    StdoutAndStatus,
    /// Exit status, stdout and stderr.
    All,
}

/// Runs `cmd` natively and in `mode` and checks that the exit status and stdout (and stderr with
/// [`Compare::All`]) are the same after `normalize`. When they differ, the native run is repeated:
/// if it now matches the runtime's output, the machine changed between the runs (e.g. a
/// timestamp) and the comparison counts as equal; if the two native runs differ from each other
/// the whole comparison is retried, three times at most. Returns the runtime's outcome.
pub fn assert_same_as_native_with(
    cmd: &Cmd,
    mode: &Mode,
    compare: Compare,
    normalize: &dyn Fn(&str) -> String,
) -> Outcome {
    let key = |o: &Outcome| {
        (
            describe_status(o.status),
            normalize(&o.stdout),
            if compare == Compare::All {
                normalize(&o.stderr)
            } else {
                String::new()
            },
        )
    };
    let mut last = None;
    for _attempt in 0..3 {
        let native = cmd.run_native();
        let runtime = cmd.run(mode);
        if key(&native) == key(&runtime) {
            return runtime;
        }
        let again = cmd.run_native();
        if key(&again) == key(&runtime) {
            return runtime;
        }
        let stable = key(&again) == key(&native);
        last = Some((native, runtime));
        if stable {
            break;
        }
    }
    let (native, runtime) = last.expect("at least one attempt");
    let mut msg = format!(
        "{} differs from the native run of the same command.\n",
        mode.name()
    );
    if describe_status(native.status) != describe_status(runtime.status) {
        let _ = writeln!(
            msg,
            "exit status: native {}, runtime {}",
            native.status_text(),
            runtime.status_text()
        );
    }
    if normalize(&native.stdout) != normalize(&runtime.stdout) {
        let _ = writeln!(
            msg,
            "stdout {}",
            first_difference(&normalize(&native.stdout), &normalize(&runtime.stdout))
        );
    }
    if compare == Compare::All && normalize(&native.stderr) != normalize(&runtime.stderr) {
        let _ = writeln!(
            msg,
            "stderr {}",
            first_difference(&normalize(&native.stderr), &normalize(&runtime.stderr))
        );
    }
    panic!(
        "{msg}\nNATIVE:\n{}\n\nRUNTIME:\n{}",
        native.report(),
        runtime.report()
    );
}

/// [`assert_same_as_native_with`] comparing exit status and stdout as they are.
pub fn assert_same_as_native(cmd: &Cmd, mode: &Mode) -> Outcome {
    assert_same_as_native_with(cmd, mode, Compare::StdoutAndStatus, &|s| s.to_string())
}

/// Compiles `tests/c/<name>.c`, runs it with `args` natively (it must exit 0: the programs check
/// their own results) and in `mode`, and checks that both runs print the same and exit 0 (see
/// [`assert_same_as_native`]). Returns the outcome in `mode`.
pub fn assert_program_same_as_native(name: &str, args: &[&str], mode: &Mode) -> Outcome {
    let cmd = Cmd::new(compile_program(name)).args(args);
    cmd.run_native()
        .assert_success(&format!("{name} natively (the test program itself fails)"));
    let o = assert_same_as_native(&cmd, mode);
    o.assert_success(&format!("{name} {}", mode.name()));
    o
}

/// Whether a run died of a fault signal (SIGSEGV, SIGBUS, SIGILL, SIGTRAP or SIGFPE).
pub fn is_fault_signal(o: &Outcome) -> bool {
    matches!(
        o.signal(),
        Some(libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGTRAP | libc::SIGFPE)
    )
}

// ---------------------------------------------------------------------------------------------
// strace
// ---------------------------------------------------------------------------------------------

/// One system call in strace's output (a complete line, or an `<unfinished ...>` line joined with
/// its `<... resumed>` line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallRecord {
    /// The thread id strace printed.
    pub pid: u32,
    /// The number strace printed with `-n` (`None` for `[???]` or without `-n`).
    pub nr: Option<u64>,
    /// The name strace printed (`syscall_0x3e8` for unknown numbers).
    pub name: String,
    /// The text of the call from its name up to the result (or to `<unfinished ...>`).
    pub call: String,
    /// The result text after ` = ` (`0`, `-1 ENOENT (No such file or directory)`, `?`), or
    /// `None` if the call never finished (its thread died in it).
    pub result: Option<String>,
}

impl SyscallRecord {
    /// Whether the kernel reported an ERESTART* result (the call was interrupted by a signal
    /// and is restarted or fails with EINTR).
    pub fn is_restart(&self) -> bool {
        self.result
            .as_deref()
            .is_some_and(|r| r.starts_with("? ERESTART"))
    }
}

/// A parsed strace output.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The system calls, in the order they started.
    pub records: Vec<SyscallRecord>,
    /// Signal deliveries: (pid, text between `---` markers).
    pub signals: Vec<(u32, String)>,
}

/// Parses the output of `strace -f [-n] -o FILE` (lines start with the pid).
pub fn parse_strace(text: &str) -> Trace {
    let mut trace = Trace::default();
    let mut pending: HashMap<u32, usize> = HashMap::new();
    for line in text.lines() {
        let line = line.trim_end();
        let Some((pid, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let rest = rest.trim_start();
        // With -n a signal line also starts with "[ NR] " (the number of the interrupted call).
        let after_nr = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map_or(rest, |(_, t)| t.trim_start());
        if let Some(sig) = after_nr.strip_prefix("--- ") {
            trace
                .signals
                .push((pid, sig.trim_end_matches("---").trim().to_string()));
            continue;
        }
        if rest.starts_with("+++ ") {
            continue;
        }
        let (nr, rest) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((n, tail)) => (n.trim().parse::<u64>().ok(), tail.trim_start()),
                None => continue,
            },
            None => (None, rest),
        };
        if let Some(resumed) = rest.strip_prefix("<... ") {
            // "<... NAME resumed>ARGS) = RESULT"
            if let Some(idx) = pending.remove(&pid) {
                let rec = &mut trace.records[idx];
                rec.result = result_of(resumed);
                if let Some((_, tail)) = resumed.split_once(" resumed>") {
                    rec.call
                        .push_str(tail.rsplit_once(" = ").map_or(tail, |(a, _)| a));
                }
            }
            continue;
        }
        let Some(paren) = rest.find('(') else {
            continue;
        };
        let name = rest[..paren].to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(call) = rest.strip_suffix("<unfinished ...>") {
            pending.insert(pid, trace.records.len());
            trace.records.push(SyscallRecord {
                pid,
                nr,
                name,
                call: call.trim_end().to_string(),
                result: None,
            });
        } else {
            let call = rest
                .rsplit_once(" = ")
                .map_or(rest, |(a, _)| a)
                .trim_end()
                .to_string();
            trace.records.push(SyscallRecord {
                pid,
                nr,
                name,
                call,
                result: result_of(rest),
            });
        }
    }
    trace
}

fn result_of(s: &str) -> Option<String> {
    s.rsplit_once(" = ").map(|(_, r)| r.trim().to_string())
}

/// The x86-64 system call names, from `<asm/unistd_64.h>` (empty if the header is missing).
fn syscall_names() -> &'static HashMap<u64, String> {
    static NAMES: OnceLock<HashMap<u64, String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut m = HashMap::new();
        for p in [
            "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
            "/usr/include/asm/unistd_64.h",
        ] {
            if let Ok(text) = fs::read_to_string(p) {
                for line in text.lines() {
                    let mut w = line.split_whitespace();
                    if let (Some("#define"), Some(name), Some(nr)) = (w.next(), w.next(), w.next())
                        && let (Some(name), Ok(nr)) =
                            (name.strip_prefix("__NR_"), nr.parse::<u64>())
                    {
                        m.insert(nr, name.to_string());
                    }
                }
                break;
            }
        }
        m
    })
}

/// The name of an x86-64 system call number ("getpid"), or "syscall_0x..." if unknown.
pub fn syscall_name(nr: u64) -> String {
    syscall_names()
        .get(&nr)
        .cloned()
        .unwrap_or_else(|| format!("syscall_{nr:#x}"))
}

// ---------------------------------------------------------------------------------------------
// The counting hook (tests/c/hooks/count.c)
// ---------------------------------------------------------------------------------------------

/// The bucket the counting hook uses for numbers outside `0..COUNT_BUCKETS`.
pub const COUNT_BUCKETS: u64 = 1024;

/// `restart_syscall`: run by the kernel itself when it restarts an interrupted call (the program
/// never executes it, so no hook sees it).
const NR_RESTART_SYSCALL: u64 = 219;
const NR_EXECVE: u64 = 59;
const NR_EXECVEAT: u64 = 322;

const NR_RT_SIGRETURN: u64 = 15;
const NR_EXIT_GROUP: u64 = 231;
const MARK_READY: &str = "\"/zpoline-test-hook-ready\"";
const MARK_DUMP: &str = "\"/zpoline-test-hook-dump\"";
const MARK_DUMPED: &str = "\"/zpoline-test-hook-dumped\"";

/// What strace saw inside the counting hook's windows (see [`hook_window_counts`]).
#[derive(Clone, Debug, Default)]
pub struct WindowCounts {
    /// Calls per number (numbers ≥ [`COUNT_BUCKETS`] and unknown ones under `COUNT_BUCKETS`).
    pub counts: BTreeMap<u64, u64>,
    /// Of those, calls the hook may not have counted: calls that returned ERESTART* (interrupted;
    /// the hook sees them once whether or not the kernel re-executes them, strace may show them
    /// twice), and calls of other threads that raced with the hook's snapshot at `exit_group`.
    pub restarts: BTreeMap<u64, u64>,
    /// How many times the ready marker was seen (process images that the hook counted in).
    pub ready_markers: usize,
    /// How many dumps strace saw.
    pub dumps: usize,
    /// Threads (pids) that made calls inside a window.
    pub threads: usize,
    /// Threads still running after another thread of their process took the hook's snapshot
    /// at `exit_group`: each may have been counted by the hook in a call that `exit_group`
    /// cut off before it reached the kernel (and so strace never showed).
    pub cut_off: u64,
}

/// Extracts from a strace trace (of a program run with the counting hook) the calls the hook
/// should have counted, per thread: a thread of the first process starts outside any window and
/// enters one at the ready marker; every later thread or process starts inside one (it was created
/// by a process whose hook was ready). Inside a window every call counts, except the hook's own
/// calls between the dump and dumped markers; the call right after the dumped marker (the trigger:
/// exit_group, exit or execve) counts; a successful execve leaves the window until the new image's
/// ready marker. `restart_syscall` never counts, and neither does the runtime's own call that
/// turns its safety net on in each new thread and child process
/// (`prctl(PR_SET_SYSCALL_USER_DISPATCH, …)`, see [`RuntimeInternal`]).
pub fn hook_window_counts(trace: &Trace) -> WindowCounts {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Outside,
        Inside,
        Dumping,
        Trigger,
    }
    let mut out = WindowCounts::default();
    let mut state: HashMap<u32, State> = HashMap::new();
    let mut active = std::collections::HashSet::new();
    let root = trace.records.first().map(|r| r.pid);
    let is_marker = |r: &SyscallRecord, m: &str| r.name == "faccessat" && r.call.contains(m);
    // Thread groups: a clone with CLONE_THREAD puts the child in its parent's process. When one
    // thread dumps the counts (at exit_group), the other threads of its process may still run
    // for an instant: their later calls are after the snapshot.
    let mut group: HashMap<u32, u32> = HashMap::new();
    for r in &trace.records {
        let tid = r.result.as_deref().and_then(|v| v.parse::<u32>().ok());
        if let (true, Some(tid)) = (
            matches!(r.name.as_str(), "clone" | "clone3") && r.call.contains("CLONE_THREAD"),
            tid,
        ) {
            let g = *group.get(&r.pid).unwrap_or(&r.pid);
            group.insert(tid, g);
        }
    }
    let group_of = |pid: u32| *group.get(&pid).unwrap_or(&pid);
    // Who made each thread and process.
    let mut parent: HashMap<u32, u32> = HashMap::new();
    for r in &trace.records {
        if matches!(r.name.as_str(), "clone" | "clone3" | "fork" | "vfork")
            && let Some(child) = r.result.as_deref().and_then(|v| v.parse::<u32>().ok())
        {
            parent.insert(child, r.pid);
        }
    }
    let mut dumped: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut late_threads: std::collections::HashSet<u32> = std::collections::HashSet::new();
    let mut internal = RuntimeInternal::default();
    for r in &trace.records {
        let is_internal = internal.check(r);
        if dumped.contains(&group_of(r.pid))
            && state.get(&r.pid) != Some(&State::Dumping)
            && state.get(&r.pid) != Some(&State::Trigger)
        {
            if is_marker(r, MARK_READY) {
                dumped.remove(&group_of(r.pid));
            } else if state.get(&r.pid) != Some(&State::Outside) {
                // Raced with the snapshot: the hook may or may not have counted it.
                late_threads.insert(r.pid);
                let nr = r.nr.unwrap_or(COUNT_BUCKETS).min(COUNT_BUCKETS);
                if nr != NR_RESTART_SYSCALL && !is_internal {
                    *out.counts.entry(nr).or_insert(0) += 1;
                    *out.restarts.entry(nr).or_insert(0) += 1;
                }
                continue;
            }
        }
        // A thread or process starts inside the window if its creator is in one (made by a
        // hooked clone); one the launcher made before the program started is not hooked.
        let initial = match parent.get(&r.pid) {
            _ if Some(r.pid) == root => State::Outside,
            Some(p) if state.get(p) == Some(&State::Outside) => State::Outside,
            _ => State::Inside,
        };
        let s = *state.entry(r.pid).or_insert(initial);
        let nr = r.nr.unwrap_or(COUNT_BUCKETS).min(COUNT_BUCKETS);
        let exec_ok =
            matches!(r.nr, Some(NR_EXECVE | NR_EXECVEAT)) && r.result.as_deref() == Some("0");
        let next = match s {
            State::Outside => {
                if is_marker(r, MARK_READY) {
                    out.ready_markers += 1;
                    State::Inside
                } else {
                    State::Outside
                }
            }
            State::Dumping => {
                if r.nr == Some(NR_RT_SIGRETURN) {
                    // A signal handled while the hook writes its counts (Go preempts threads
                    // with SIGURG at any time): counted if the hook had not written that line
                    // yet.
                    *out.counts.entry(NR_RT_SIGRETURN).or_insert(0) += 1;
                    *out.restarts.entry(NR_RT_SIGRETURN).or_insert(0) += 1;
                }
                if is_marker(r, MARK_DUMPED) {
                    State::Trigger
                } else {
                    State::Dumping
                }
            }
            State::Inside | State::Trigger => {
                if s == State::Inside && is_marker(r, MARK_DUMP) {
                    out.dumps += 1;
                    dumped.insert(group_of(r.pid));
                    State::Dumping
                } else if s == State::Inside && is_marker(r, MARK_READY) {
                    out.ready_markers += 1;
                    State::Inside
                } else {
                    if nr != NR_RESTART_SYSCALL && !is_internal {
                        *out.counts.entry(nr).or_insert(0) += 1;
                        if r.is_restart() {
                            *out.restarts.entry(nr).or_insert(0) += 1;
                        }
                        active.insert(r.pid);
                    }
                    if s == State::Trigger && !exec_ok && r.nr != Some(NR_EXIT_GROUP) {
                        // A thread exit or a failed execve: the process goes on, the hook counts on.
                        dumped.remove(&group_of(r.pid));
                    }
                    if exec_ok {
                        State::Outside
                    } else {
                        State::Inside
                    }
                }
            }
        };
        state.insert(r.pid, next);
    }
    out.threads = active.len();
    out.cut_off = late_threads.len() as u64;
    // The safety net's SIGSYS handler returns with its own rt_sigreturn, which strace sees and
    // the hook does not: one per SIGSYS delivered with si_code=SYS_USER_DISPATCH, unless the
    // call it caught ended the thread or the process (exit, exit_group).
    // (execve and execveat are caught, then entered through the dispatcher after the handler
    // returned, like clone and rt_sigreturn.)
    let net = trace
        .signals
        .iter()
        .filter(|(_, t)| {
            t.contains("SYS_USER_DISPATCH")
                && !["__NR_exit_group,", "__NR_exit,"]
                    .iter()
                    .any(|n| t.contains(n))
        })
        .count() as u64;
    if let Some(c) = out.counts.get_mut(&NR_RT_SIGRETURN) {
        *c = c.saturating_sub(net);
    }
    out
}

/// Recognises the calls the runtime makes for itself after the hook is ready, which it never
/// passes to the hook: turning on Syscall User Dispatch in a new thread or child process (option
/// 59; strace spells it `PR_SET_SYSCALL_USER_DISPATCH` or `0x3b`), and rewriting a site lazily
/// through its `/proc/self/mem` descriptor (numbered 1000 or more): `fstat` of the descriptor
/// and two 1-byte `pwrite64`s per site, and, in a forked child, opening its own (`openat` of
/// `/proc/self/mem`, `dup3` or `fcntl(F_DUPFD_CLOEXEC, 1000)`, `close` of the first number).
/// Feed it the records in order: a `close` is the runtime's only right after its `openat`.
#[derive(Debug, Default)]
pub struct RuntimeInternal {
    /// Per thread: the number the runtime's `openat` of `/proc/self/mem` returned.
    opened: HashMap<u32, String>,
    /// Per thread: the descriptor the runtime opened to read the first bytes of a file it
    /// starts through the launcher.
    peeked: HashMap<u32, String>,
}

impl RuntimeInternal {
    /// Whether `r` is one of the runtime's own calls (see the type).
    pub fn check(&mut self, r: &SyscallRecord) -> bool {
        let args = r.call.get(r.name.len() + 1..).unwrap_or("");
        let arg = |i: usize| {
            args.split(',')
                .nth(i)
                .map(|a| a.trim().trim_end_matches(')'))
        };
        let high = |i: usize| {
            arg(i)
                .and_then(|a| a.parse::<u32>().ok())
                .is_some_and(|fd| fd >= 1000)
        };
        match r.name.as_str() {
            // One byte at a time: `\320` (0xd0) at site+1, then `\377` (0xff) at the site, or
            // `\5` back at site+1 when that fails.
            "pwrite64" => {
                high(0)
                    && [r#""\320", 1,"#, r#""\377", 1,"#, r#""\5", 1,"#]
                        .iter()
                        .any(|b| r.call.contains(b))
            }
            "fstat" => high(0),
            "openat" if r.call.contains("\"/proc/self/mem\"") => {
                if let Some(fd) = r.result.as_deref() {
                    self.opened.insert(r.pid, fd.to_string());
                }
                true
            }
            "dup3" => high(1) && self.opened.get(&r.pid).map(String::as_str) == arg(0),
            "fcntl" => {
                r.call.contains("F_DUPFD_CLOEXEC, 1000")
                    && self.opened.get(&r.pid).map(String::as_str) == arg(0)
            }
            "close" if self.peeked.get(&r.pid).map(String::as_str) == arg(0) => {
                self.peeked.remove(&r.pid);
                true
            }
            "close" => {
                high(0) || {
                    let mine = self.opened.get(&r.pid).map(String::as_str) == arg(0);
                    if mine {
                        self.opened.remove(&r.pid);
                    }
                    mine
                }
            }
            // The checks before a child is started through the launcher (follow.rs): access,
            // and the first 4 bytes read through a descriptor opened for that.
            "faccessat2" => r.call.contains("X_OK, 0"),
            "openat" if r.call.contains("O_RDONLY|O_NOCTTY|O_NONBLOCK|O_CLOEXEC)") => {
                if let Some(fd) = r.result.as_deref() {
                    self.peeked.insert(r.pid, fd.to_string());
                }
                true
            }
            "pread64" => {
                self.peeked.get(&r.pid).map(String::as_str) == arg(0) && r.call.contains(", 20, 0)")
            }
            "prctl" => {
                r.call.contains("PR_SET_SYSCALL_USER_DISPATCH")
                    || r.call.contains("prctl(0x3b")
                    || r.call.contains("prctl(59")
            }
            _ => false,
        }
    }
}

/// The counts the counting hook wrote: the sum over all dump files in `dir`.
#[derive(Clone, Debug, Default)]
pub struct HookCounts {
    /// Calls per number ([`COUNT_BUCKETS`] for "other").
    pub counts: BTreeMap<u64, u64>,
    /// The dump files read.
    pub files: usize,
    /// The pids that wrote dumps.
    pub pids: Vec<u32>,
}

/// Reads and sums every dump file the counting hook wrote in `dir`.
pub fn read_count_dumps(dir: &Path) -> HookCounts {
    let mut out = HookCounts::default();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        out.files += 1;
        for line in text.lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("pid"), Some(pid), Some("trigger"), Some(_)) => {
                    out.pids.push(pid.parse().unwrap_or(0));
                }
                (Some(nr), Some(count), None, None) => {
                    let nr = if nr == "other" {
                        COUNT_BUCKETS
                    } else {
                        nr.parse()
                            .unwrap_or_else(|_| panic!("bad line {line:?} in {}", path.display()))
                    };
                    let count: u64 = count
                        .parse()
                        .unwrap_or_else(|_| panic!("bad line {line:?} in {}", path.display()));
                    *out.counts.entry(nr).or_insert(0) += count;
                }
                _ => panic!("bad line {line:?} in {}", path.display()),
            }
        }
    }
    out
}

/// Compares what the hook counted with what strace saw in the hook's windows: for every number,
/// `strace - restarts <= hook <= strace` must hold (a call interrupted with ERESTART* is seen once
/// by the hook but may appear twice in strace). Returns a table of every number with a
/// difference, or of all numbers when `Ok`.
pub fn compare_counts(hook: &HookCounts, strace: &WindowCounts) -> Result<String, String> {
    let mut table = String::new();
    let mut bad = 0;
    let nrs: std::collections::BTreeSet<u64> = hook
        .counts
        .keys()
        .chain(strace.counts.keys())
        .copied()
        .collect();
    let _ = writeln!(
        table,
        "  {:>5} {:<24} {:>8} {:>8} {:>9}",
        "nr", "name", "strace", "hook", "restarts"
    );
    for nr in nrs {
        let h = hook.counts.get(&nr).copied().unwrap_or(0);
        let s = strace.counts.get(&nr).copied().unwrap_or(0);
        let r = strace.restarts.get(&nr).copied().unwrap_or(0);
        let ok = s - r <= h && h <= s + strace.cut_off;
        if !ok {
            bad += 1;
        }
        let name = if nr == COUNT_BUCKETS {
            "(other)".to_string()
        } else {
            syscall_name(nr)
        };
        let _ = writeln!(
            table,
            "  {nr:>5} {name:<24} {s:>8} {h:>8} {r:>9}{}",
            if ok { "" } else { "   <-- differs" }
        );
    }
    if bad == 0 {
        Ok(table)
    } else {
        let total_s: u64 = strace.counts.values().sum();
        let total_h: u64 = hook.counts.values().sum();
        Err(format!(
            "{bad} system call number(s) counted differently by the hook and by strace \
             (strace total {total_s}, hook total {total_h}; strace saw {} ready marker(s), {} \
             dump(s), the hook wrote {} file(s)).\n\
             strace > hook: the runtime ran calls without passing them to the hook (or made \
             calls of its own); hook > strace: the hook saw calls that never reached the kernel.\n{table}",
            strace.ready_markers, strace.dumps, hook.files
        ))
    }
}

/// Builds the Go program in `tests/go/<name>` with the `go` of the machine (Debian's
/// golang-go; `.ci/run` installs it): with `cgo`, linked against libc; without, a statically
/// linked program that makes its own system calls.
pub fn build_go(name: &str, cgo: bool) -> PathBuf {
    let go = Path::new("/usr/bin/go");
    assert!(
        go.is_file(),
        "go is not installed: apt-get install golang-go (.ci/run does)"
    );
    let src = workspace_root().join("tests/go").join(name);
    let out = work_dir()
        .join("build")
        .join(format!("go-{name}{}", if cgo { "" } else { "-static" }));
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let status = Command::new(go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .env("GOCACHE", work_dir().join("gocache"))
        .env("GOPATH", work_dir().join("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .status()
        .expect("cannot run go build");
    assert!(status.success(), "go build of tests/go/{name} failed");
    out
}

/// Runs `cmd` under strace with the counting hook and compares, over the whole process tree, the
/// hook's counts per syscall number with what strace saw between the hook's markers.
/// `must_see` lists syscall numbers (with names, for the message) the hook must have counted.
pub fn counts_match_strace(label: &str, cmd: Cmd, must_see: &[(u64, &str)]) {
    counts_match_strace_in(label, cmd, must_see, false)
}

/// [`counts_match_strace`] through the launcher's loader (`zpoline run`): every system call from
/// the program's first instruction on (its dynamic loader's too) is in the window.
pub fn counts_match_strace_loaded(label: &str, cmd: Cmd, must_see: &[(u64, &str)]) {
    counts_match_strace_in(label, cmd, must_see, true)
}

fn counts_match_strace_in(label: &str, cmd: Cmd, must_see: &[(u64, &str)], loaded: bool) {
    let hook = compile_hook("count");
    let scratch = Scratch::new(&format!("count-{label}"));
    let dumps = scratch.join("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    let cmd = cmd.env("ZPTEST_COUNT_DIR", &dumps);
    let trace_file = scratch.join("strace.txt");
    let mode = if loaded {
        Mode::Loader(Some(hook))
    } else {
        Mode::Hook(hook)
    };
    let (o, trace) = cmd.run_strace(&mode, &trace_file);
    o.assert_success(&format!("{label} under strace with the counting hook"));
    let hook_counts = read_count_dumps(&dumps);
    let window = hook_window_counts(&trace);
    let context = format!(
        "{label}\n{}\nstrace output: {}",
        o.report(),
        trace_file.display()
    );
    assert!(
        window.ready_markers > 0,
        "strace never saw the hook's ready marker: the hook was not called\n{context}"
    );
    assert!(
        hook_counts.files > 0,
        "the hook wrote no counts in {}\n{context}",
        dumps.display()
    );
    for (nr, name) in must_see {
        assert!(
            hook_counts.counts.get(nr).copied().unwrap_or(0) > 0,
            "the hook never counted {name} ({nr})\n{context}"
        );
    }
    match compare_counts(&hook_counts, &window) {
        Ok(table) => eprintln!("{label}: counts match\n{table}"),
        Err(e) => panic!("{e}\n{context}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"100   [  59] execve("/bin/x", ["x"], 0x7ffd /* 3 vars */) = 0
100   [  12] brk(NULL)                  = 0x5555
100   [ 269] faccessat(AT_FDCWD, "/zpoline-test-hook-init", F_OK) = -1 ENOENT (No such file or directory)
100   [ 269] faccessat(AT_FDCWD, "/zpoline-test-hook-ready", F_OK) = -1 ENOENT (No such file or directory)
100   [  39] getpid()                   = 100
100   [  56] clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 101
101   [   0] read(3,  <unfinished ...>
100   [  61] wait4(-1,  <unfinished ...>
101   [   0] <... read resumed>"x", 1) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
101   --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---
101   [  15] rt_sigreturn({mask=[]})    = 0
101   [   0] read(3, "x", 1)            = 1
101   [ 219] restart_syscall(<... resuming interrupted clock_nanosleep ...>) = 0
101   [ 269] faccessat(AT_FDCWD, "/zpoline-test-hook-dump", F_OK) = -1 ENOENT (No such file or directory)
101   [ 257] openat(AT_FDCWD, "/d/101.0", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0644) = 3
101   [ 269] faccessat(AT_FDCWD, "/zpoline-test-hook-dumped", F_OK) = -1 ENOENT (No such file or directory)
101   [  59] execve("/bin/y", ["y"], 0x7ffd /* 3 vars */) = 0
101   [  12] brk(NULL)                  = 0x5555
101   [???] syscall_0xffffffffffffffff(0x1, 0, 0, 0, 0x64, 0x7ffd) = -1 ENOSYS (Function not implemented)
101   +++ exited with 0 +++
100   [  61] <... wait4 resumed>[{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 101
100   [ 231] exit_group(0)              = ?
"#;

    #[test]
    fn recognises_the_runtimes_own_calls_only() {
        let t = parse_strace(
            r#"7   [ 257] openat(AT_FDCWD, "/proc/self/mem", O_RDWR|O_CLOEXEC) = 3
7   [ 292] dup3(3, 1000, O_CLOEXEC)     = 1000
7   [   3] close(3)                   = 0
7   [   5] fstat(1000, {st_mode=S_IFREG|0600, st_size=0, ...}) = 0
7   [  18] pwrite64(1000, "\320", 1, 140737354125313) = 1
7   [   3] close(3)                   = 0
7   [   5] fstat(1, {st_mode=S_IFCHR|0620, st_rdev=makedev(0x88, 0), ...}) = 0
7   [  18] pwrite64(4, "\377", 1, 0) = 1
7   [ 157] prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0, 0x7f00) = 0
"#,
        );
        let mut internal = RuntimeInternal::default();
        let seen: Vec<bool> = t.records.iter().map(|r| internal.check(r)).collect();
        // The second close(3) is the application's: the runtime closed its number already.
        assert_eq!(
            seen,
            [true, true, true, true, true, false, false, false, true]
        );
    }

    #[test]
    fn parses_complete_unfinished_and_resumed_lines() {
        let t = parse_strace(SAMPLE);
        assert_eq!(t.records.len(), 18);
        assert_eq!(t.signals.len(), 1);
        let wait = t.records.iter().find(|r| r.name == "wait4").unwrap();
        assert_eq!(wait.result.as_deref(), Some("101"));
        assert!(wait.call.contains("WIFEXITED"));
        let read = t.records.iter().find(|r| r.name == "read").unwrap();
        assert!(read.is_restart());
        let unknown = t.records.iter().find(|r| r.nr.is_none()).unwrap();
        assert_eq!(unknown.name, "syscall_0xffffffffffffffff");
        assert_eq!(t.records.last().unwrap().result.as_deref(), Some("?"));
    }

    #[test]
    fn windows_follow_the_markers() {
        let w = hook_window_counts(&parse_strace(SAMPLE));
        assert_eq!(w.ready_markers, 1);
        assert_eq!(w.dumps, 1);
        let expect: BTreeMap<u64, u64> = [
            (39, 1),
            (56, 1),
            (0, 2),
            (61, 1),
            (15, 1),
            (59, 1),
            (231, 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(w.counts, expect);
        assert_eq!(w.restarts.get(&0), Some(&1));
        let hook = HookCounts {
            counts: [
                (39, 1),
                (56, 1),
                (0, 1),
                (61, 1),
                (15, 1),
                (59, 1),
                (231, 1),
            ]
            .into_iter()
            .collect(),
            files: 1,
            pids: vec![101],
        };
        compare_counts(&hook, &w).unwrap();
        let mut missing = hook.clone();
        missing.counts.remove(&15);
        assert!(compare_counts(&missing, &w).is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote(OsStr::new("/bin/ls")), "/bin/ls");
        assert_eq!(shell_quote(OsStr::new("ls | wc")), "'ls | wc'");
        assert_eq!(shell_quote(OsStr::new("it's")), r"'it'\''s'");
    }

    #[test]
    fn syscall_names_come_from_the_header() {
        if syscall_names().is_empty() {
            return;
        }
        assert_eq!(syscall_name(39), "getpid");
        assert_eq!(syscall_name(15), "rt_sigreturn");
    }
}
