//! `zpoline`: runs a program under `libzpoline.so`.
//!
//! ```text
//! zpoline run [--hook LIB] [--audit[=FILE]] -- CMD [ARGS...]
//! zpoline audit [--hook LIB] -- CMD [ARGS...]
//! zpoline load -- CMD [ARGS...]
//! ```
//!
//! `run` loads the runtime (found next to this binary, or `ZPOLINE_LIB`) into this process,
//! maps the command with the launcher's own ELF loader and lets the runtime rewrite it, load the
//! hook (`--hook`, `LIBZPHOOK`) and jump to its first instruction: statically linked programs
//! work, and a dynamic program's loader is hooked from its first system call. The program's
//! children are started the same way (`zpoline run --exec PATH -- ARGV...`, by the runtime).
//! `--preload` instead sets `LD_PRELOAD`, `LIBZPHOOK` and `ZPOLINE_AUDIT` and executes the
//! command (hooked from the runtime's constructor on; static programs are refused).
//!
//! `load` runs the command through the launcher's own ELF loader (`zpoline_launcher::loader`)
//! without the runtime: it maps the program and its interpreter into this process, builds the
//! initial stack and jumps to it, which diagnoses the loader.

#![cfg_attr(not(test), no_main)]

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use zpoline_launcher::loader;

const USAGE: &str = "usage: zpoline run [--hook LIB | --count | --trace[=FILE] | --trace FILE -- | --rules FILE] [--audit[=FILE]] [--preload] -- CMD [ARGS...]\n       zpoline audit [--hook LIB] -- CMD [ARGS...]\n       zpoline load -- CMD [ARGS...]   (runs CMD through the launcher's own ELF loader without the runtime: diagnoses the loader)";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// `load`: the launcher's own loader, without the runtime.
    load: bool,
    /// `--preload`: run with `LD_PRELOAD` instead of the launcher's loader.
    preload: bool,
    /// `--count`: the counting hook (`libzphook_count.so`, `strace -c`-style summary).
    count: bool,
    /// `--trace[=FILE]`: the tracing hook (`libzphook_trace.so`), to stderr or FILE.
    trace: Option<Option<OsString>>,
    /// `--rules FILE`: the rules hook (`libzphook_rules.so`) with the rule file FILE.
    rules: Option<PathBuf>,
    /// `--exec PATH`: the file to run, with `command` as its whole argv (how the runtime
    /// starts the children of a program the launcher loaded).
    exec: Option<PathBuf>,
    hook: Option<PathBuf>,
    audit: Option<OsString>,
    command: Vec<OsString>,
}

/// Parses the arguments after the program name.
fn parse(args: &[OsString]) -> Result<Request, String> {
    let Some(sub) = args.first().and_then(|a| a.to_str()) else {
        return Err(format!("missing command\n{USAGE}"));
    };
    let mut req = Request {
        load: false,
        preload: false,
        count: false,
        trace: None,
        rules: None,
        exec: None,
        hook: None,
        audit: None,
        command: Vec::new(),
    };
    match sub {
        "run" => {}
        "audit" => req.audit = Some("1".into()),
        "load" => req.load = true,
        "-h" | "--help" | "help" => return Err(USAGE.to_string()),
        other => {
            return Err(format!(
                "unknown command '{other}'; use 'run', 'audit' or 'load'\n{USAGE}"
            ));
        }
    }
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        match a.as_ref() {
            "--" => {
                req.command = args[i + 1..].to_vec();
                break;
            }
            "--hook" => {
                let v = args.get(i + 1).ok_or("--hook needs a library path")?;
                req.hook = Some(PathBuf::from(v));
                i += 1;
            }
            "--audit" => req.audit = Some("1".into()),
            "--preload" => req.preload = true,
            "--count" => req.count = true,
            "--trace" => {
                // `--trace FILE -- CMD`: a file when the command's `--` follows it.
                match (args.get(i + 1), args.get(i + 2)) {
                    (Some(f), Some(dd)) if dd == "--" && !f.to_string_lossy().starts_with('-') => {
                        req.trace = Some(Some(OsString::from(f)));
                        i += 1;
                    }
                    _ => req.trace = Some(None),
                }
            }
            s if s.starts_with("--trace=") => {
                req.trace = Some(Some(OsString::from(&s["--trace=".len()..])))
            }
            "--rules" => {
                let v = args.get(i + 1).ok_or("--rules needs a rule file (TOML)")?;
                req.rules = Some(PathBuf::from(v));
                i += 1;
            }
            s if s.starts_with("--rules=") => {
                req.rules = Some(PathBuf::from(&s["--rules=".len()..]))
            }
            "--exec" => {
                let v = args.get(i + 1).ok_or("--exec needs a file")?;
                req.exec = Some(PathBuf::from(v));
                i += 1;
            }
            s if s.starts_with("--hook=") => req.hook = Some(PathBuf::from(&s["--hook=".len()..])),
            s if s.starts_with("--audit=") => {
                req.audit = Some(OsString::from(&s["--audit=".len()..]))
            }
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'\n{USAGE}")),
            _ => {
                req.command = args[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if req.command.is_empty() {
        return Err(format!("no program to run\n{USAGE}"));
    }
    if u8::from(req.count)
        + u8::from(req.trace.is_some())
        + u8::from(req.hook.is_some())
        + u8::from(req.rules.is_some())
        > 1
    {
        return Err(format!(
            "--hook, --count, --trace and --rules each load a hook: use one of them\n{USAGE}"
        ));
    }
    if req.load && (req.hook.is_some() || req.audit.is_some()) {
        return Err(format!(
            "'load' runs without the runtime: --hook and --audit do not apply\n{USAGE}"
        ));
    }
    Ok(req)
}

/// `libzpoline.so`: `ZPOLINE_LIB`, or next to this binary, or in `../lib/zpoline/`.
fn find_runtime() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ZPOLINE_LIB") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ZPOLINE_LIB={} does not exist", p.display()))
        };
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    for cand in [
        dir.join("libzpoline.so"),
        dir.join("../lib/zpoline/libzpoline.so"),
    ] {
        if cand.is_file() {
            return cand
                .canonicalize()
                .map_err(|e| format!("{}: {e}", cand.display()));
        }
    }
    Err(format!(
        "cannot find libzpoline.so next to {} or in ../lib/zpoline/; build it (cargo build --release) or set ZPOLINE_LIB",
        exe.display()
    ))
}

/// The program `cmd` names, looked up in PATH like the shell does.
fn resolve(cmd: &OsString) -> Option<PathBuf> {
    let p = Path::new(cmd);
    if p.components().count() > 1 {
        return p.exists().then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(p))
        .find(|c| c.is_file())
}

/// Whether an ELF file has no program interpreter (statically linked): `LD_PRELOAD` cannot
/// reach it. Scripts and other files are not judged (`None`).
fn is_static_elf(path: &Path) -> Option<bool> {
    let data = std::fs::read(path).ok()?;
    if data.get(..4)? != b"\x7fELF" || *data.get(4)? != 2 {
        return None;
    }
    let u = |o: usize, n: usize| -> Option<u64> {
        let b = data.get(o..o + n)?;
        Some(b.iter().rev().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
    };
    let (phoff, phentsize, phnum) = (
        u(0x20, 8)? as usize,
        u(0x36, 2)? as usize,
        u(0x38, 2)? as usize,
    );
    let interp = (0..phnum).any(|i| u(phoff + i * phentsize, 4) == Some(3));
    Some(!interp)
}

/// Why `run` could not start the program: the message, and the exit status (126: found but
/// cannot be executed, 127: not found or cannot be set up), as a shell would report.
#[derive(Debug)]
struct Fail(u8, String);

impl From<String> for Fail {
    fn from(message: String) -> Fail {
        Fail(127, message)
    }
}

fn run(mut req: Request) -> Result<(), Fail> {
    let runtime = find_runtime()?;
    if req.count {
        // The counting hook installed next to the runtime.
        let count = runtime.with_file_name("libzphook_count.so");
        if !count.is_file() {
            return Err(Fail::from(format!(
                "--count: {} does not exist; build it (make) or install it (make install)",
                count.display()
            )));
        }
        req.hook = Some(count);
    }
    if let Some(file) = req.trace.take() {
        let trace = runtime.with_file_name("libzphook_trace.so");
        if !trace.is_file() {
            return Err(Fail::from(format!(
                "--trace: {} does not exist; build it (make) or install it (make install)",
                trace.display()
            )));
        }
        req.hook = Some(trace);
        if let Some(f) = file {
            let abs = std::env::current_dir()
                .map(|d| d.join(&f))
                .unwrap_or_else(|_| PathBuf::from(&f));
            // A trailing '-' (one file per process) survives the join.
            // SAFETY: no other thread runs yet; the hook reads it at its start.
            unsafe { std::env::set_var("ZPOLINE_TRACE_FILE", abs) };
        }
    }
    if let Some(file) = req.rules.take() {
        let rules = runtime.with_file_name("libzphook_rules.so");
        if !rules.is_file() {
            return Err(Fail::from(format!(
                "--rules: {} does not exist; build it (make) or install it (make install)",
                rules.display()
            )));
        }
        // Read now: a missing or unreadable file is reported before anything starts (the
        // hook checks the rules themselves, also before the program's first instruction).
        if let Err(e) = std::fs::File::open(&file) {
            return Err(Fail::from(format!(
                "--rules: cannot read {}: {e}; give the path of a TOML file of [[rule]] tables",
                file.display()
            )));
        }
        let abs = std::env::current_dir()
            .map(|d| d.join(&file))
            .unwrap_or_else(|_| file.clone());
        // SAFETY: no other thread runs yet; the hook reads it at its start.
        unsafe { std::env::set_var("ZPOLINE_RULES", abs) };
        req.hook = Some(rules);
    }
    if let Some(h) = req.hook.as_ref().filter(|h| !h.is_file()) {
        {
            return Err(Fail::from(format!(
                "hook library {} does not exist; pass --hook the path of a .so",
                h.display()
            )));
        }
    }
    let Some(program) = req.exec.clone().or_else(|| resolve(&req.command[0])) else {
        return Err(Fail(
            127,
            format!("{}: command not found", req.command[0].to_string_lossy()),
        ));
    };
    if !req.preload {
        return run_loaded(&req, &runtime, &program);
    }
    if is_static_elf(&program) == Some(true) {
        return Err(Fail::from(format!(
            "{} is statically linked: LD_PRELOAD cannot load the runtime into it; run it without --preload (the launcher's own loader)",
            program.display()
        )));
    }
    let mut cmd = Command::new(&req.command[0]);
    cmd.args(&req.command[1..]).env("LD_PRELOAD", &runtime);
    if let Some(h) = &req.hook {
        cmd.env("LIBZPHOOK", h.canonicalize().unwrap_or_else(|_| h.clone()));
    }
    if let Some(a) = &req.audit {
        cmd.env("ZPOLINE_AUDIT", a);
    }
    let e = cmd.exec();
    Err(Fail::from(format!("cannot run {}: {e}", program.display())))
}

/// The launcher's malloc top pad: 256 MiB, or a quarter of a limited address space
/// (`ulimit -v`).
fn top_pad() -> i32 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct passed.
    let limited = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } == 0
        && lim.rlim_cur != libc::RLIM_INFINITY;
    let pad: u64 = 256 << 20;
    if limited {
        pad.min(lim.rlim_cur / 4) as i32
    } else {
        pad as i32
    }
}

/// What `execve` would refuse before reading the file: a directory, a file without execute
/// permission (the shell's exit status 126 cases).
fn check_executable(path: &Path) -> Result<(), Fail> {
    if path.is_dir() {
        return Err(Fail(126, format!("{}: is a directory", path.display())));
    }
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| format!("{}: a NUL byte in the path", path.display()))?;
    // SAFETY: access with a valid C string.
    if unsafe { libc::access(c.as_ptr(), libc::X_OK) } != 0 {
        return Err(Fail(
            126,
            format!(
                "{}: permission denied (not executable: chmod +x it)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Why a program must be started by the kernel's `execve` to run as it should: set-user-ID or
/// set-group-ID (to another user or group than ours), or file capabilities.
fn privileged(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path).ok()?;
    // SAFETY: geteuid/getegid have no preconditions.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if md.mode() & libc::S_ISUID != 0 && md.uid() != euid {
        return Some("set-user-ID");
    }
    if md.mode() & libc::S_ISGID != 0 && md.gid() != egid {
        return Some("set-group-ID");
    }
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: getxattr with a valid path and name, asking only for the size.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    (n > 0).then_some("given file capabilities")
}

/// `#!INTERPRETER [ARG]` of a script, as the kernel reads it (one optional argument, the rest
/// of the line).
fn shebang(path: &Path) -> Option<(PathBuf, Option<OsString>)> {
    use std::io::Read as _;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n')?];
    let line = line.trim_ascii();
    let (interp, arg) = match line.iter().position(|b| b.is_ascii_whitespace()) {
        Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
        None => (line, None),
    };
    use std::os::unix::ffi::OsStrExt as _;
    let os = |b: &[u8]| std::ffi::OsStr::from_bytes(b).to_os_string();
    Some((
        PathBuf::from(os(interp)),
        arg.filter(|a| !a.is_empty()).map(os),
    ))
}

/// The environment the program starts with: the launcher's, without `ZPOLINE_LOADER` and
/// without the runtime in `LD_PRELOAD` (the program's own dynamic loader would load a second
/// copy); the runtime puts it back for children across `execve`.
fn program_environment(runtime: &Path) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt as _;
    let ours = runtime.as_os_str().as_bytes();
    let mut env = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == "ZPOLINE_LOADER" {
            continue;
        }
        // The program's LD_* variables, kept away from the launcher's dynamic loader.
        let k = match k.as_encoded_bytes().strip_prefix(b"ZPOLINE_APP_") {
            // SAFETY: a suffix, after an ASCII prefix, of an OsStr's bytes.
            Some(rest) => {
                unsafe { std::ffi::OsStr::from_encoded_bytes_unchecked(rest) }.to_os_string()
            }
            None => k,
        };
        let v = if k == "LD_PRELOAD" {
            let kept: Vec<&[u8]> = v
                .as_bytes()
                .split(|&b| b == b':' || b == b' ')
                .filter(|p| !p.is_empty() && *p != ours && !p.ends_with(b"/libzpoline.so"))
                .collect();
            if kept.is_empty() {
                continue;
            }
            std::ffi::OsStr::from_bytes(&kept.join(&b':')).to_os_string()
        } else {
            v
        };
        let mut e = k;
        e.push("=");
        e.push(v);
        env.push(e);
    }
    env
}

/// `zpoline run` without `--preload`: loads the runtime into this process, maps the program
/// with the launcher's own loader, and lets the runtime rewrite it, load the hook and jump to
/// its first instruction. Returns only on error.
fn run_loaded(req: &Request, runtime: &Path, program: &Path) -> Result<(), Fail> {
    let mut argv = req.command.clone();
    let mut program = program.to_path_buf();
    check_executable(&program)?;
    if let Some(why) = privileged(&program) {
        // Only the kernel's execve grants what the file carries: run it as it is, unhooked.
        if std::env::var_os("ZPOLINE_DEBUG").is_some_and(|v| v == "1") {
            eprintln!(
                "zpoline: {} is {why}: started by execve without the runtime, so that it keeps its privileges",
                program.display()
            );
        }
        let mut cmd = Command::new(&program);
        cmd.arg0(&argv[0]).args(&argv[1..]).env_clear();
        for e in program_environment(runtime) {
            let e = e.as_encoded_bytes();
            let at = e.iter().position(|&b| b == b'=').unwrap_or(e.len());
            // SAFETY: split at an ASCII '=' of bytes that came from an OsString.
            let (k, v) = unsafe {
                (
                    std::ffi::OsStr::from_encoded_bytes_unchecked(&e[..at]),
                    std::ffi::OsStr::from_encoded_bytes_unchecked(&e[(at + 1).min(e.len())..]),
                )
            };
            cmd.env(k, v);
        }
        let e = cmd.exec();
        return Err(Fail(126, format!("cannot run {}: {e}", program.display())));
    }
    if let Some((interp, arg)) = shebang(&program) {
        // As the kernel does: INTERPRETER [ARG] SCRIPT ARGS...
        let mut v = vec![interp.clone().into_os_string()];
        v.extend(arg);
        v.push(program.clone().into_os_string());
        v.extend(argv[1..].iter().cloned());
        argv = v;
        program = interp;
    }
    // SAFETY: the launcher runs no other thread yet; the runtime reads these at its start.
    unsafe {
        std::env::set_var("ZPOLINE_LOADER", "1");
        if let Ok(me) = std::env::current_exe() {
            // The runtime starts the program's children through this launcher too.
            std::env::set_var("ZPOLINE_LAUNCHER", me);
        }
        if let Some(h) = &req.hook {
            std::env::set_var("LIBZPHOOK", h.canonicalize().unwrap_or_else(|_| h.clone()));
        }
        if let Some(a) = &req.audit {
            std::env::set_var("ZPOLINE_AUDIT", a);
        }
    }
    let envp = program_environment(runtime);
    // The launcher's malloc serves the runtime (the TLS blocks of the program's threads, the
    // decoder's tables) after the program starts. Its memory is taken now, in one piece: the
    // program's libc moves the same program break (brk) with a cached idea of where it is, so
    // the launcher's libc must never move it again (one would shrink the other's heap), and no
    // system call of the launcher's libc (brk, a new arena's mmap) appears among the program's.
    // One arena for every thread, a top pad of 256 MiB (address space: pages are only used
    // when touched; about 50000 live threads' blocks), never trimmed.
    // SAFETY: mallopt/malloc/free of the launcher's own libc, no other thread running.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TOP_PAD, top_pad());
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::free(libc::malloc(64));
    }
    // Threads of the program run the launcher's libc in the hook: it must know it is not
    // single-threaded (malloc's locks). (After mallopt: the arena limit is read once.)
    let _ = std::thread::spawn(|| {}).join();
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(runtime.as_os_str()))
        .map_err(|_| format!("{}: a NUL byte in the path", runtime.display()))?;
    // SAFETY: dlopen of the runtime, whose constructor does nothing with ZPOLINE_LOADER=1.
    let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if handle.is_null() {
        // SAFETY: dlerror returns a C string after a failed dlopen.
        let why = unsafe { std::ffi::CStr::from_ptr(libc::dlerror()) };
        return Err(Fail::from(format!(
            "cannot load the runtime {}: {}",
            runtime.display(),
            why.to_string_lossy()
        )));
    }
    // SAFETY: dlsym on a live handle with a C string.
    let start = unsafe { libc::dlsym(handle, c"zpoline_loader_start".as_ptr()) };
    if start.is_null() {
        return Err(Fail::from(format!(
            "{} has no zpoline_loader_start: it is not the runtime this launcher was built with; rebuild both (cargo build --release)",
            runtime.display()
        )));
    }
    type Start = unsafe extern "C" fn(u64, u64, *const [u64; 2], usize) -> !;
    // SAFETY: the runtime exports it with this signature (zpoline-core/src/loader.rs).
    let start: Start = unsafe { std::mem::transmute::<*mut libc::c_void, Start>(start) };
    let p = loader::prepare(&program, &argv, &envp).map_err(|e| {
        // Found, but not something the runtime can run: a file the kernel would refuse with
        // ENOEXEC, or an ELF file for another machine or class (a 32-bit program runs
        // natively, unhooked: the runtime hooks x86-64 programs only).
        let foreign = [
            "not an ELF file",
            "not a 64-bit",
            "not an x86-64",
            "not a little-endian",
        ];
        if foreign.iter().any(|f| e.contains(f)) {
            Fail(126, format!("{e}: the runtime runs x86-64 programs only"))
        } else {
            Fail(127, e)
        }
    })?;
    let ranges: Vec<[u64; 2]> = p.exec_ranges.iter().map(|r| [r.start, r.end]).collect();
    loader::hand_over(&p);
    // SAFETY: the program was just prepared in this process; the runtime takes over this
    // thread and never returns.
    unsafe { start(p.entry, p.sp, ranges.as_ptr(), ranges.len()) }
}

/// `zpoline load`: maps the program (and its interpreter) with the launcher's own loader and
/// jumps to it. Returns only on error.
fn load(req: Request) -> String {
    let cmd = &req.command[0];
    let Some(program) = resolve(cmd) else {
        return format!("{}: command not found", cmd.to_string_lossy());
    };
    let mut magic = [0u8; 4];
    let is_elf = std::fs::File::open(&program)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"\x7fELF";
    if !is_elf {
        return format!(
            "{} is not an ELF file (scripts go through `zpoline run`)",
            cmd.to_string_lossy()
        );
    }
    match loader::prepare(&program, &req.command, &loader::environment()) {
        Err(e) => e,
        // SAFETY: the program was just prepared in this process, which runs no other thread;
        // nothing of the launcher is needed after the jump.
        Ok(p) => unsafe { loader::start(&p) },
    }
}

/// The program's `LD_*` variables would act on the launcher's own dynamic loader (and reach
/// the program only through it): when there are any, the launcher runs itself again with them
/// renamed `ZPOLINE_APP_LD_*`, which it gives back to the program (`program_environment`).
fn keep_ld_variables_for_the_program() {
    let renamed: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k.as_encoded_bytes().starts_with(b"LD_"))
        .collect();
    if renamed.is_empty() {
        return;
    }
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    let mut cmd = Command::new(me);
    cmd.args(std::env::args_os().skip(1));
    for (k, v) in renamed {
        let mut app = OsString::from("ZPOLINE_APP_");
        app.push(&k);
        cmd.env_remove(&k).env(app, v);
    }
    let e = cmd.exec();
    eprintln!("zpoline: cannot run itself again without the LD_* variables: {e}");
}

/// The C `main`: Rust's own start-up is skipped because it sets SIGPIPE to SIG_IGN (and a
/// SIGSEGV handler for stack overflows), and the program must inherit the dispositions the
/// launcher was started with (a shell's `trap "" PIPE` gives `yes | head -1` its EPIPE).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    i32::from(launcher_main())
}

/// (The test harness has its own `main`: this keeps `launcher_main` and what it calls in use.)
#[cfg(test)]
const _: fn() -> u8 = launcher_main;

/// What `zpoline` does; returns its exit status.
fn launcher_main() -> u8 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if matches!(parse(&args), Ok(ref r) if !r.preload && !r.load) {
        keep_ld_variables_for_the_program();
    }
    match parse(&args) {
        Err(msg) => {
            eprintln!("zpoline: {msg}");
            2
        }
        Ok(req) if req.load => {
            eprintln!("zpoline load: {}", load(req));
            127
        }
        Ok(req) => {
            let Fail(code, e) = run(req).unwrap_err();
            eprintln!("zpoline: {e}");
            code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_run_and_audit() {
        let r = parse(&os(&["run", "--hook", "h.so", "--", "ls", "-l"])).unwrap();
        assert_eq!(r.hook, Some(PathBuf::from("h.so")));
        assert_eq!(r.command, os(&["ls", "-l"]));
        assert_eq!(r.audit, None);
        let a = parse(&os(&["audit", "ls"])).unwrap();
        assert_eq!(a.audit, Some("1".into()));
        let f = parse(&os(&["run", "--audit=/tmp/x", "--", "true"])).unwrap();
        assert_eq!(f.audit, Some("/tmp/x".into()));
        assert!(!f.load);
        let l = parse(&os(&["load", "--", "echo", "hi"])).unwrap();
        assert!(l.load);
        assert_eq!(l.command, os(&["echo", "hi"]));
        assert_eq!((l.hook, l.audit), (None, None));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(
            parse(&os(&["walk"]))
                .unwrap_err()
                .contains("unknown command 'walk'")
        );
        assert!(
            parse(&os(&["run", "--bogus", "--", "ls"]))
                .unwrap_err()
                .contains("unknown option '--bogus'")
        );
        assert!(
            parse(&os(&["run", "--"]))
                .unwrap_err()
                .contains("no program")
        );
        assert!(
            parse(&os(&["run", "--hook"]))
                .unwrap_err()
                .contains("--hook needs")
        );
        assert!(
            parse(&os(&["load", "--hook", "h.so", "--", "ls"]))
                .unwrap_err()
                .contains("--hook and --audit do not apply")
        );
    }

    #[test]
    fn parses_the_hook_options() {
        let t = parse(&os(&["run", "--trace", "out.txt", "--", "ls"])).unwrap();
        assert_eq!(t.trace, Some(Some("out.txt".into())));
        assert_eq!(t.command, os(&["ls"]));
        // Without `--` after it, the word after --trace is the command.
        let t = parse(&os(&["run", "--trace", "ls", "-l"])).unwrap();
        assert_eq!(t.trace, Some(None));
        assert_eq!(t.command, os(&["ls", "-l"]));
        let t = parse(&os(&["run", "--trace=x-", "--", "ls"])).unwrap();
        assert_eq!(t.trace, Some(Some("x-".into())));
        let r = parse(&os(&["run", "--rules", "r.toml", "--", "rm", "f"])).unwrap();
        assert_eq!(r.rules, Some(PathBuf::from("r.toml")));
        assert!(
            parse(&os(&["run", "--rules"]))
                .unwrap_err()
                .contains("--rules needs")
        );
        assert!(
            parse(&os(&["run", "--count", "--rules", "r", "--", "ls"]))
                .unwrap_err()
                .contains("use one of them")
        );
    }

    #[test]
    fn tells_static_from_dynamic() {
        assert_eq!(is_static_elf(Path::new("/bin/ls")), Some(false));
        assert_eq!(is_static_elf(Path::new("/etc/passwd")), None);
    }
}
