//! `zpoline`: runs a program under `libzpoline.so`.
//!
//! ```text
//! zpoline run [--hook LIB] [--audit[=FILE]] -- CMD [ARGS...]
//! zpoline audit [--hook LIB] -- CMD [ARGS...]
//! ```
//!
//! It sets `LD_PRELOAD` (the runtime found next to this binary, or `ZPOLINE_LIB`), `LIBZPHOOK`
//! and `ZPOLINE_AUDIT`, then executes the command. The runtime carries its variables on to
//! every child across `execve`. Statically linked programs, which `LD_PRELOAD` cannot reach,
//! are refused with an explanation.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: zpoline run [--hook LIB] [--audit[=FILE]] -- CMD [ARGS...]\n       zpoline audit [--hook LIB] -- CMD [ARGS...]";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
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
        hook: None,
        audit: None,
        command: Vec::new(),
    };
    match sub {
        "run" => {}
        "audit" => req.audit = Some("1".into()),
        "-h" | "--help" | "help" => return Err(USAGE.to_string()),
        other => {
            return Err(format!(
                "unknown command '{other}'; use 'run' or 'audit'\n{USAGE}"
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
        return p.is_file().then(|| p.to_path_buf());
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

fn run(req: Request) -> Result<(), String> {
    let runtime = find_runtime()?;
    if let Some(h) = req.hook.as_ref().filter(|h| !h.is_file()) {
        {
            return Err(format!(
                "hook library {} does not exist; pass --hook the path of a .so",
                h.display()
            ));
        }
    }
    let Some(program) = resolve(&req.command[0]) else {
        return Err(format!(
            "{}: command not found",
            req.command[0].to_string_lossy()
        ));
    };
    if is_static_elf(&program) == Some(true) {
        return Err(format!(
            "{} is statically linked: LD_PRELOAD cannot load the runtime into it, and the launcher's own loader for static programs is not there yet",
            program.display()
        ));
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
    Err(format!("cannot run {}: {e}", program.display()))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match parse(&args) {
        Err(msg) => {
            eprintln!("zpoline: {msg}");
            ExitCode::from(2)
        }
        Ok(req) => {
            let e = run(req).unwrap_err();
            eprintln!("zpoline: {e}");
            ExitCode::from(127)
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
    }

    #[test]
    fn tells_static_from_dynamic() {
        assert_eq!(is_static_elf(Path::new("/bin/ls")), Some(false));
        assert_eq!(is_static_elf(Path::new("/etc/passwd")), None);
    }
}
