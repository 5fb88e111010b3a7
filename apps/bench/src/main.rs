//! `zpoline-bench`: what does libzpoline.so cost a program?
//!
//! In one run it measures, natively and under `LD_PRELOAD=libzpoline.so` with a pass-through hook
//! (`c/passthrough.c`, zpoline hook ABI):
//!
//! - nanoseconds per `getpid` made by an inline-asm `syscall` instruction and by glibc's
//!   `syscall(SYS_getpid)`, timed inside a small C program (`c/getpid_loop.c`) that runs a
//!   warm-up and then several repetitions of N calls and reports their median;
//! - the start-up time of `/usr/bin/python3 -c pass` and `/bin/true` (wall time from spawn to
//!   exit, median of interleaved runs);
//! - both again through the launcher's own loader (`zpoline run --hook ... -- PROGRAM`), with a
//!   statically linked build of the getpid program.
//!
//! Both C files are embedded in this binary and compiled at run time with `cc` (or `$CC`) in a
//! temporary directory. The process pins itself to one CPU first; children inherit that.
//!
//! It prints a table with the ratios hooked/native and the project's targets (getpid ratio
//! <= 1.35, `python3 -c pass` start-up <= 1.5x), each marked PASS or MISS, then one
//! `BENCH-JSON {...}` line; `--json` prints only the JSON. Missing a target is informational:
//! the exit status is 0 unless something failed (1: a measured program crashed or gave a wrong
//! result; 2: bad usage or an environment that cannot run the runtime).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Source of the measured getpid program.
const GETPID_LOOP_C: &str = include_str!("../c/getpid_loop.c");
/// Source of the pass-through hook library.
const PASSTHROUGH_C: &str = include_str!("../c/passthrough.c");

/// Target for the hooked/native getpid ratio.
const GETPID_TARGET: f64 = 1.35;
/// Target for the hooked/native start-up ratio of `python3 -c pass`.
const PYTHON_STARTUP_TARGET: f64 = 1.5;
/// Debian's Python, measured rather than whatever `python3` is first on `PATH`.
const PYTHON: &str = "/usr/bin/python3";
/// The smallest program there is.
const TRUE: &str = "/bin/true";

const USAGE: &str = "\
usage: zpoline-bench [OPTIONS]

Measures getpid cost and program start-up time natively and under libzpoline.so with a
pass-through hook, and prints a table (plus one BENCH-JSON line).

options:
  --iters N      getpid calls per repetition (default 1000000)
  --reps N       repetitions inside each getpid process; its median is used (default 5)
  --rounds N     getpid processes per mode and setting, interleaved; median used (default 5)
  --runs N       start-up runs per program and setting, interleaved; median used (default 30)
  --quick        --iters 200000 --reps 3 --rounds 1 --runs 5: a smoke test, not a measurement
  --cpu N        pin to CPU N (default: the last CPU this process may use)
  --no-pin       do not pin to one CPU
  --zpoline PATH libzpoline.so to test (default: next to this binary, i.e. target/release)
  --hook PATH    hook library to use instead of the built-in pass-through hook (the check
                 that the hook is called is then skipped)
  --json         print only the JSON object (progress still goes to stderr)
  --keep         keep the temporary directory with the compiled C programs
  -h, --help     this text

environment: CC (default cc) compiles the C programs.
exit status: 0 measured (whether or not targets are met), 1 a program failed under the
runtime or gave a wrong result, 2 bad usage or environment (e.g. vm.mmap_min_addr).";

/// An error that ends the run, with the exit status it maps to.
#[derive(Debug)]
struct Failure {
    /// 1: something crashed or misbehaved; 2: usage or environment.
    code: u8,
    message: String,
}

impl Failure {
    /// Bad usage or an environment that cannot run the benchmark (exit status 2).
    fn setup(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// A measured program failed or misbehaved (exit status 1).
    fn crash(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// Command-line options.
#[derive(Debug)]
struct Options {
    iters: u64,
    reps: u32,
    rounds: u32,
    runs: u32,
    cpu: Option<usize>,
    pin: bool,
    zpoline: Option<PathBuf>,
    hook: Option<PathBuf>,
    json: bool,
    keep: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            iters: 1_000_000,
            reps: 5,
            rounds: 5,
            runs: 30,
            cpu: None,
            pin: true,
            zpoline: None,
            hook: None,
            json: false,
            keep: false,
        }
    }
}

/// What `parse_args` found: options to run with, or a request for the usage text.
enum Parsed {
    Run(Options),
    Help,
}

/// Parses the command line (without the program name).
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed> {
    fn number<T>(flag: &str, value: Option<String>, min: T) -> Result<T>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let value = value.ok_or_else(|| Failure::setup(format!("{flag} needs a value")))?;
        match value.parse::<T>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(Failure::setup(format!(
                "{flag}: '{value}' is not a number >= {min}"
            ))),
        }
    }

    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iters" => opts.iters = number(&arg, args.next(), 1)?,
            "--reps" => {
                // getpid_loop.c keeps at most 101 repetitions.
                opts.reps = number(&arg, args.next(), 1)?;
                if opts.reps > 101 {
                    return Err(Failure::setup("--reps: at most 101"));
                }
            }
            "--rounds" => opts.rounds = number(&arg, args.next(), 1)?,
            "--runs" => opts.runs = number(&arg, args.next(), 1)?,
            "--quick" => {
                opts.iters = 200_000;
                opts.reps = 3;
                opts.rounds = 1;
                opts.runs = 5;
            }
            "--cpu" => opts.cpu = Some(number(&arg, args.next(), 0)?),
            "--no-pin" => opts.pin = false,
            "--zpoline" | "--hook" => {
                let path = args
                    .next()
                    .ok_or_else(|| Failure::setup(format!("{arg} needs a path")))?;
                let path = Some(PathBuf::from(path));
                if arg == "--zpoline" {
                    opts.zpoline = path;
                } else {
                    opts.hook = path;
                }
            }
            "--json" => opts.json = true,
            "--keep" => opts.keep = true,
            "-h" | "--help" => return Ok(Parsed::Help),
            _ => {
                return Err(Failure::setup(format!(
                    "unknown argument '{arg}'\n\n{USAGE}"
                )));
            }
        }
    }
    Ok(Parsed::Run(opts))
}

/// Prints a progress line to stderr.
fn progress(message: &str) {
    eprintln!("zpoline-bench: {message}");
}

/// A temporary directory, removed when dropped unless `keep` is set.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn create(keep: bool) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("zpoline-bench.{}", std::process::id()));
        // A leftover from an earlier process with the same id is ours to replace.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path)
            .map_err(|e| Failure::setup(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self { path, keep })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            progress(&format!("kept {}", self.path.display()));
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Describes how a process ended, naming the signal if it was killed by one.
fn describe_status(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let name = match signal {
            libc::SIGSEGV => " (SIGSEGV)",
            libc::SIGBUS => " (SIGBUS)",
            libc::SIGILL => " (SIGILL)",
            libc::SIGABRT => " (SIGABRT)",
            libc::SIGSYS => " (SIGSYS)",
            libc::SIGKILL => " (SIGKILL)",
            libc::SIGTRAP => " (SIGTRAP)",
            libc::SIGFPE => " (SIGFPE)",
            _ => "",
        };
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        format!("killed by signal {signal}{name}{core}")
    } else {
        match status.code() {
            Some(code) => format!("exit status {code}"),
            None => format!("{status}"),
        }
    }
}

/// Runs `cmd` to completion, capturing its output; fails (exit status 1) unless it succeeds.
fn run_checked(cmd: &mut Command, what: &str) -> Result<Output> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure::crash(format!("{what}: cannot start: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Failure::crash(format!(
            "{what}: {}\n{}",
            describe_status(output.status),
            if tail.is_empty() {
                "(no output on stderr)".to_string()
            } else {
                tail.join("\n")
            }
        )));
    }
    Ok(output)
}

/// The runtime under test and the hook it loads.
struct Runtime {
    zpoline: PathBuf,
    hook: PathBuf,
    /// Extra settings for hooked runs, such as `ZPOLINE_SAVE_VECTORS=always` (the cost of
    /// keeping the extended state for a hook that may touch it) or `ZPOLINE_SUD=1` (the cost
    /// of the armed safety net).
    settings: &'static [(&'static str, &'static str)],
    /// Hooked runs go through the launcher's loader (`zpoline run --hook HOOK -- PROGRAM`)
    /// instead of `LD_PRELOAD`.
    launcher: Option<PathBuf>,
}

/// The settings a hooked run may get; removed from native runs and other hooked runs.
const SETTINGS: [&str; 3] = ["ZPOLINE_SAVE_VECTORS", "ZPOLINE_SUD", "ZPOLINE_RULES"];

impl Runtime {
    /// A command running `program` natively or under the runtime (environment set).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>, hooked: bool) -> Command {
        let mut cmd = match (&self.launcher, hooked) {
            (Some(launcher), true) => {
                let mut c = Command::new(launcher);
                c.arg("run")
                    .arg("--hook")
                    .arg(&self.hook)
                    .arg("--")
                    .arg(program);
                c
            }
            _ => Command::new(program),
        };
        self.apply(&mut cmd, hooked);
        cmd
    }

    /// Sets up `cmd`'s environment to run natively or under the runtime.
    fn apply<'c>(&self, cmd: &'c mut Command, hooked: bool) -> &'c mut Command {
        for k in SETTINGS {
            cmd.env_remove(k);
        }
        if hooked && self.launcher.is_some() {
            for (k, v) in self.settings {
                cmd.env(k, v);
            }
            cmd.env_remove("LD_PRELOAD")
                .env("ZPOLINE_LIB", &self.zpoline)
                .env_remove("LIBZPHOOK")
        } else if hooked {
            for (k, v) in self.settings {
                cmd.env(k, v);
            }
            cmd.env("LD_PRELOAD", &self.zpoline)
                .env("LIBZPHOOK", &self.hook)
        } else {
            cmd.env_remove("LD_PRELOAD").env_remove("LIBZPHOOK")
        }
    }
}

/// "native" or "hooked", for messages.
fn setting(hooked: bool) -> &'static str {
    if hooked { "hooked" } else { "native" }
}

/// Median of `values` (which must not be empty).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Reads a one-line value from /proc.
fn read_proc(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The CPU model from /proc/cpuinfo.
fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// Number of CPUs online (not just those this process may use, which pinning reduces to one).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(0)
}

/// Checks that the runtime can map page 0: `vm.mmap_min_addr` is 0, or we are root (who may map
/// it anyway with CAP_SYS_RAWIO). Returns a note to print, if any.
fn check_mmap_min_addr() -> Result<Option<String>> {
    let Some(value) = read_proc("/proc/sys/vm/mmap_min_addr") else {
        return Ok(Some(
            "note: cannot read /proc/sys/vm/mmap_min_addr; trying anyway".to_string(),
        ));
    };
    if value == "0" {
        return Ok(None);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return Ok(Some(format!(
            "note: vm.mmap_min_addr is {value}, not 0; running as root, which may map page 0 \
             anyway (CAP_SYS_RAWIO)"
        )));
    }
    Err(Failure::setup(format!(
        "vm.mmap_min_addr is {value}, not 0, and this is not root: libzpoline.so cannot map its \
         trampoline at address 0, so nothing can be measured under it.\n\
         Set it (until the next boot) with:\n\n    sudo sysctl -w vm.mmap_min_addr=0\n\n\
         or run `make bench`, which checks this first (scripts/mmap-min-addr.sh)."
    )))
}

/// Pins this process (and so its children) to one CPU: `wanted`, or else the last CPU it may
/// use. Returns the CPU.
fn pin_to_cpu(wanted: Option<usize>) -> io::Result<usize> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is a plain bit array for which all zeroes is a valid (empty) value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let allowed: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE, the size of `set`.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    let cpu = match wanted {
        Some(cpu) if allowed.contains(&cpu) => cpu,
        Some(cpu) => {
            return Err(io::Error::other(format!(
                "CPU {cpu} is not one this process may use ({allowed:?})"
            )));
        }
        None => *allowed
            .last()
            .ok_or_else(|| io::Error::other("empty CPU affinity mask"))?,
    };
    // SAFETY: `set` is a valid cpu_set_t and `cpu` is below CPU_SETSIZE.
    unsafe {
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
    }
    // SAFETY: `set` is a valid cpu_set_t of `size` bytes.
    if unsafe { libc::sched_setaffinity(0, size, &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cpu)
}

/// Finds libzpoline.so: `explicit`, or next to this executable (target/release).
fn find_zpoline(explicit: Option<&Path>) -> Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()
            .map_err(|e| Failure::setup(format!("cannot find this executable: {e}")))?
            .parent()
            .map(|dir| dir.join("libzpoline.so"))
            .ok_or_else(|| Failure::setup("this executable has no directory"))?,
    };
    path.canonicalize().map_err(|e| {
        Failure::setup(format!(
            "{}: {e}\nBuild it first with `make` (cargo build --release --workspace), or name it \
             with --zpoline PATH.",
            path.display()
        ))
    })
}

/// Writes `source` to `dir/name.c` and compiles it with `$CC` (default `cc`) and `flags` into
/// `dir/output`.
fn compile(dir: &Path, name: &str, source: &str, flags: &[&str], output: &str) -> Result<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let src = dir.join(format!("{name}.c"));
    fs::write(&src, source)
        .map_err(|e| Failure::setup(format!("cannot write {}: {e}", src.display())))?;
    let out = dir.join(output);
    let result = Command::new(&cc)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Failure::setup(format!(
                "cannot run the C compiler '{cc}': {e} (install gcc, or set CC)"
            ))
        })?;
    if !result.status.success() {
        return Err(Failure::setup(format!(
            "{cc} failed on {}: {}\n{}",
            src.display(),
            describe_status(result.status),
            String::from_utf8_lossy(&result.stderr)
        )));
    }
    Ok(out)
}

/// Checks that the hook is on the path of both inline-asm and libc system calls when hooked,
/// and of neither when native, with the probe call that passthrough.c answers.
fn check_probe(getpid_loop: &Path, runtime: &Runtime) -> Result<()> {
    for hooked in [false, true] {
        let mut cmd = runtime.command(getpid_loop, hooked);
        cmd.arg("probe");
        let output = run_checked(
            &mut cmd,
            &format!("getpid_loop probe ({})", setting(hooked)),
        )?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let want = if hooked {
            "probe asm=hooked libc=hooked"
        } else {
            "probe asm=native libc=native"
        };
        if stdout.trim() != want {
            return Err(Failure::crash(format!(
                "{} probe: expected '{want}', got '{}'{}",
                setting(hooked),
                stdout.trim(),
                if hooked {
                    ": the pass-through hook is not called for every system call, so the figures \
                     would not measure the runtime"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}

/// One run of getpid_loop: its median nanoseconds per call.
fn getpid_run(
    getpid_loop: &Path,
    mode: &str,
    hooked: bool,
    opts: &Options,
    runtime: &Runtime,
) -> Result<f64> {
    let mut cmd = runtime.command(getpid_loop, hooked);
    cmd.arg(mode)
        .arg(opts.iters.to_string())
        .arg(opts.reps.to_string());
    let what = format!("getpid_loop {mode} ({})", setting(hooked));
    let output = run_checked(&mut cmd, &what)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .split_whitespace()
        .find_map(|field| field.strip_prefix("median_ns="))
        .and_then(|value| value.parse::<f64>().ok())
        .ok_or_else(|| Failure::crash(format!("{what}: unexpected output '{}'", stdout.trim())))
}

/// Median ns per getpid, native and hooked, over `opts.rounds` interleaved processes each.
fn measure_getpid(
    getpid_loop: &Path,
    mode: &str,
    opts: &Options,
    runtime: &Runtime,
) -> Result<(f64, f64)> {
    let mut native = Vec::new();
    let mut hooked = Vec::new();
    for round in 0..opts.rounds {
        // Alternate which setting goes first, so neither always runs on a warmer machine.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for h in order {
            let ns = getpid_run(getpid_loop, mode, h, opts, runtime)?;
            if h { &mut hooked } else { &mut native }.push(ns);
        }
    }
    Ok((median(&native), median(&hooked)))
}

/// `program args...` as one string, for messages.
fn command_line(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wall time of one run of `program args`, from spawn to exit; fails unless it succeeds.
fn time_once(program: &str, args: &[&str], hooked: bool, runtime: &Runtime) -> Result<Duration> {
    let mut cmd = runtime.command(program, hooked);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| Failure::crash(format!("{program}: cannot start: {e}")))?;
    let elapsed = start.elapsed();
    if !status.success() {
        return Err(Failure::crash(format!(
            "{} ({}): {}",
            command_line(program, args),
            setting(hooked),
            describe_status(status)
        )));
    }
    Ok(elapsed)
}

/// Median start-up time in milliseconds of `program args`, native and hooked, over `opts.runs`
/// interleaved runs each, after one checked warm-up run each.
fn measure_startup(
    program: &str,
    args: &[&str],
    opts: &Options,
    runtime: &Runtime,
) -> Result<(f64, f64)> {
    for hooked in [false, true] {
        let mut cmd = runtime.command(program, hooked);
        cmd.args(args);
        let what = format!("{} ({})", command_line(program, args), setting(hooked));
        run_checked(&mut cmd, &what)?;
    }
    let mut native = Vec::new();
    let mut hooked = Vec::new();
    for run in 0..opts.runs {
        let order = if run % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for h in order {
            let ms = time_once(program, args, h, runtime)?.as_secs_f64() * 1e3;
            if h { &mut hooked } else { &mut native }.push(ms);
        }
    }
    Ok((median(&native), median(&hooked)))
}

/// One line of the results table.
struct Row {
    /// Short machine-readable name.
    key: &'static str,
    /// What was measured, for people.
    label: &'static str,
    /// "ns" or "ms".
    unit: &'static str,
    native: f64,
    hooked: f64,
    /// Largest acceptable hooked/native ratio, if the project set one.
    target: Option<f64>,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.hooked / self.native
    }

    /// Whether the target is met; `None` without a target.
    fn pass(&self) -> Option<bool> {
        self.target.map(|t| self.ratio() <= t)
    }

    fn value(&self, v: f64) -> String {
        match self.unit {
            "ns" => format!("{v:.1} ns"),
            _ => format!("{v:.2} {}", self.unit),
        }
    }
}

/// Facts about the machine and the run, printed above the table and in the JSON.
struct Context {
    kernel: String,
    cpu: String,
    cpus: usize,
    pinned: Option<usize>,
    zpoline: PathBuf,
    hook: String,
}

/// Escapes `s` as a JSON string, quotes included.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number for JSON (finite, else null).
fn json_number(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "null".to_string()
    }
}

/// The results as one line of JSON.
fn to_json(ctx: &Context, opts: &Options, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"kernel\":{},\"cpu\":{},\"cpus\":{},\"pinned_cpu\":{},\"zpoline\":{},\"hook\":{},\
         \"getpid_iters\":{},\"getpid_reps\":{},\"getpid_rounds\":{},\"startup_runs\":{},\
         \"results\":[",
        json_string(&ctx.kernel),
        json_string(&ctx.cpu),
        ctx.cpus,
        ctx.pinned.map_or("null".to_string(), |c| c.to_string()),
        json_string(&ctx.zpoline.display().to_string()),
        json_string(&ctx.hook),
        opts.iters,
        opts.reps,
        opts.rounds,
        opts.runs,
    );
    for (i, row) in rows.iter().enumerate() {
        let decimals = if row.unit == "ns" { 2 } else { 3 };
        let _ = write!(
            out,
            "{}{{\"name\":{},\"unit\":{},\"native\":{},\"hooked\":{},\"ratio\":{},\"target\":{},\
             \"pass\":{}}}",
            if i == 0 { "" } else { "," },
            json_string(row.key),
            json_string(row.unit),
            json_number(row.native, decimals),
            json_number(row.hooked, decimals),
            json_number(row.ratio(), 3),
            row.target.map_or("null".to_string(), |t| json_number(t, 2)),
            row.pass().map_or("null".to_string(), |p| p.to_string()),
        );
    }
    out.push_str("]}");
    out
}

/// The human-readable report.
fn to_table(ctx: &Context, opts: &Options, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "zpoline-bench: Linux {}, {}, {} CPU(s), {}",
        ctx.kernel,
        ctx.cpu,
        ctx.cpus,
        ctx.pinned
            .map_or("not pinned".to_string(), |c| format!("pinned to CPU {c}"))
    );
    let _ = writeln!(out, "  runtime: {}", ctx.zpoline.display());
    let _ = writeln!(out, "  hook:    {}", ctx.hook);
    let _ = writeln!(
        out,
        "  getpid: median of {} process(es) x median of {} x {} calls; start-up: median of {} \
         interleaved runs",
        opts.rounds, opts.reps, opts.iters, opts.runs
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<30} {:>11} {:>11} {:>11} {:>7} {:>8}  result",
        "measurement", "native", "hooked", "overhead", "ratio", "target"
    );
    for row in rows {
        let delta = row.hooked - row.native;
        let overhead = if row.unit == "ns" {
            format!("{delta:+.1} ns")
        } else {
            format!("{delta:+.2} {}", row.unit)
        };
        let _ = writeln!(
            out,
            "{:<30} {:>11} {:>11} {:>11} {:>6.2}x {:>8}  {}",
            row.label,
            row.value(row.native),
            row.value(row.hooked),
            overhead,
            row.ratio(),
            row.target.map_or("-".to_string(), |t| format!("<={t:.2}x")),
            match row.pass() {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "-",
            }
        );
    }
    let _ = writeln!(
        out,
        "\nTargets are informational: a MISS does not change the exit status."
    );
    out
}

/// Runs the whole benchmark.
fn run(opts: &Options) -> Result<()> {
    let mut notes = Vec::new();
    if let Some(note) = check_mmap_min_addr()? {
        notes.push(note);
    }
    let zpoline = find_zpoline(opts.zpoline.as_deref())?;
    if !Path::new(PYTHON).exists() {
        return Err(Failure::setup(format!(
            "{PYTHON} not found: install Debian's python3 (apt-get install python3)"
        )));
    }

    let pinned = if opts.pin {
        match pin_to_cpu(opts.cpu) {
            Ok(cpu) => Some(cpu),
            Err(e) if opts.cpu.is_some() => {
                return Err(Failure::setup(format!("cannot pin to CPU: {e}")));
            }
            Err(e) => {
                notes.push(format!("note: not pinned to one CPU: {e}"));
                None
            }
        }
    } else {
        None
    };

    let work = WorkDir::create(opts.keep)?;
    progress("compiling the C programs");
    let getpid_loop = compile(
        &work.path,
        "getpid_loop",
        GETPID_LOOP_C,
        &["-O2"],
        "getpid_loop",
    )?;
    let (hook, hook_label) = match &opts.hook {
        Some(path) => {
            let path = path
                .canonicalize()
                .map_err(|e| Failure::setup(format!("--hook {}: {e}", path.display())))?;
            let label = format!("{} (given with --hook)", path.display());
            (path, label)
        }
        None => {
            let path = compile(
                &work.path,
                "passthrough",
                PASSTHROUGH_C,
                &["-shared", "-fPIC", "-O2"],
                "libpassthrough.so",
            )?;
            (
                path,
                "pass-through (apps/bench/c/passthrough.c)".to_string(),
            )
        }
    };
    let static_loop = compile(
        &work.path,
        "getpid_loop",
        GETPID_LOOP_C,
        &["-O2", "-static"],
        "getpid_loop_static",
    )?;
    let launcher = zpoline.with_file_name("zpoline");
    let runtime = Runtime {
        zpoline,
        hook,
        settings: &[],
        launcher: None,
    };

    if opts.hook.is_none() {
        progress("checking that the hook sees inline-asm and libc system calls");
        check_probe(&getpid_loop, &runtime)?;
    } else {
        notes.push("note: --hook given: not checked that the hook is called".to_string());
    }

    let mut rows = Vec::new();
    let with = |settings| Runtime {
        zpoline: runtime.zpoline.clone(),
        hook: runtime.hook.clone(),
        settings,
        launcher: None,
    };
    let saving = with(&[("ZPOLINE_SAVE_VECTORS", "always")]);
    let netted = with(&[("ZPOLINE_SUD", "1")]);
    let loaded = Runtime {
        launcher: Some(launcher.clone()),
        ..with(&[])
    };
    // The rules hook (apps/rules) with two rule files: one whose rules do not list getpid
    // (the cost of the per-number index: a lookup), one with a rule on getpid whose condition
    // is evaluated on every call and is false (the cost of the expression).
    let rules_hook = runtime.zpoline.with_file_name("libzphook_rules.so");
    if !rules_hook.is_file() {
        return Err(Failure::setup(format!(
            "{}: not found; build the workspace first (make)",
            rules_hook.display()
        )));
    }
    let rules_file = |name: &str, text: &str| -> Result<&'static str> {
        let p = work.path.join(name);
        fs::write(&p, text)
            .map_err(|e| Failure::setup(format!("cannot write {}: {e}", p.display())))?;
        Ok(Box::leak(p.to_string_lossy().into_owned().into_boxed_str()))
    };
    let other_calls = rules_file(
        "rules-other.toml",
        "[[rule]]\nsyscalls = [\"unlink\", \"unlinkat\"]\nwhen = 'path ~ \"*passwd\"'\naction = \"fail\"\n",
    )?;
    let on_getpid = rules_file(
        "rules-getpid.toml",
        "[[rule]]\nsyscalls = [\"getpid\"]\nwhen = 'arg0 == 12345 && nr in (1, 2, 3)'\naction = \"log\"\n",
    )?;
    let ruled = |file: &'static str| Runtime {
        hook: rules_hook.clone(),
        settings: Box::leak(Box::new([("ZPOLINE_RULES", file)])),
        ..with(&[])
    };
    let rules_other = ruled(other_calls);
    let rules_getpid = ruled(on_getpid);
    if !launcher.is_file() {
        return Err(Failure::setup(format!(
            "{}: not found; build the workspace first (make)",
            launcher.display()
        )));
    }
    for (key, label, program, mode, rt, target) in [
        (
            "getpid_asm",
            "getpid, inline-asm syscall",
            &getpid_loop,
            "asm",
            &runtime,
            Some(GETPID_TARGET),
        ),
        (
            "getpid_libc",
            "getpid, libc syscall()",
            &getpid_loop,
            "libc",
            &runtime,
            Some(GETPID_TARGET),
        ),
        // The same hook with the extended state saved anyway: what a hook that uses vector
        // registers (printf, memcpy) pays for the contract.
        (
            "getpid_asm_vectors",
            "getpid, asm, vectors saved",
            &getpid_loop,
            "asm",
            &saving,
            None,
        ),
        // With the safety net armed (it arms itself when code appears after start-up): every
        // system call takes the kernel's slow entry path.
        (
            "getpid_asm_net",
            "getpid, asm, net armed",
            &getpid_loop,
            "asm",
            &netted,
            None,
        ),
        // A statically linked program through the launcher's loader (zpoline run): every
        // dispatch also switches %fs between the program's thread pointer and the runtime's.
        (
            "getpid_asm_loaded_static",
            "getpid, asm, static, launcher",
            &static_loop,
            "asm",
            &loaded,
            None,
        ),
        // A dynamic one: its libc is mapped by its own dynamic loader after start-up, so the
        // net is armed and libc's sites are rewritten on their first call.
        (
            "getpid_libc_loaded",
            "getpid, libc, launcher",
            &getpid_loop,
            "libc",
            &loaded,
            None,
        ),
        // The rules hook: no rule lists getpid.
        (
            "getpid_asm_rules_other",
            "getpid, asm, rules on other calls",
            &getpid_loop,
            "asm",
            &rules_other,
            None,
        ),
        // The rules hook: a rule on getpid whose condition is false.
        (
            "getpid_asm_rules_when",
            "getpid, asm, rule evaluated",
            &getpid_loop,
            "asm",
            &rules_getpid,
            None,
        ),
    ] {
        progress(&format!("measuring {label}"));
        let (native, hooked) = measure_getpid(program, mode, opts, rt)?;
        rows.push(Row {
            key,
            label,
            unit: "ns",
            native,
            hooked,
            target,
        });
    }
    for (key, label, program, args, rt, target) in [
        (
            "startup_python3",
            "start-up, python3 -c pass",
            PYTHON,
            &["-c", "pass"][..],
            &runtime,
            Some(PYTHON_STARTUP_TARGET),
        ),
        (
            "startup_true",
            "start-up, /bin/true",
            TRUE,
            &[][..],
            &runtime,
            None,
        ),
        (
            "startup_python3_loaded",
            "start-up, python3, launcher",
            PYTHON,
            &["-c", "pass"][..],
            &loaded,
            None,
        ),
        (
            "startup_true_loaded",
            "start-up, /bin/true, launcher",
            TRUE,
            &[][..],
            &loaded,
            None,
        ),
    ] {
        progress(&format!("measuring {label}"));
        let (native, hooked) = measure_startup(program, args, opts, rt)?;
        rows.push(Row {
            key,
            label,
            unit: "ms",
            native,
            hooked,
            target,
        });
    }

    let ctx = Context {
        kernel: read_proc("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".to_string()),
        cpu: cpu_model(),
        cpus: online_cpus(),
        pinned,
        zpoline: runtime.zpoline.clone(),
        hook: hook_label,
    };
    let json = to_json(&ctx, opts, &rows);
    if opts.json {
        println!("{json}");
        for note in &notes {
            eprintln!("{note}");
        }
    } else {
        print!("{}", to_table(&ctx, opts, &rows));
        for note in &notes {
            println!("{note}");
        }
        println!("BENCH-JSON {json}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let parsed = parse_args(std::env::args().skip(1));
    let result = match parsed {
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Run(opts)) => run(&opts),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("zpoline-bench: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn json_escapes() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(json_number(f64::NAN, 2), "null");
    }

    #[test]
    fn parses_options() {
        let args = ["--quick", "--cpu", "1", "--json"].map(String::from);
        let Ok(Parsed::Run(opts)) = parse_args(args) else {
            panic!("options rejected");
        };
        assert_eq!(
            (opts.iters, opts.rounds, opts.cpu, opts.json),
            (200_000, 1, Some(1), true)
        );
        assert!(parse_args(["--iters".to_string(), "0".to_string()]).is_err());
        assert!(parse_args(["--bogus".to_string()]).is_err());
    }

    #[test]
    fn row_targets() {
        let row = Row {
            key: "k",
            label: "l",
            unit: "ns",
            native: 100.0,
            hooked: 130.0,
            target: Some(1.35),
        };
        assert_eq!(row.pass(), Some(true));
        let json = to_json(
            &Context {
                kernel: "k".into(),
                cpu: "c".into(),
                cpus: 2,
                pinned: None,
                zpoline: PathBuf::from("/z"),
                hook: "h".into(),
            },
            &Options::default(),
            &[row],
        );
        assert!(json.contains("\"ratio\":1.300") && json.contains("\"pass\":true"));
    }
}
