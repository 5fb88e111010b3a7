//! `zpoline run --trace=FILE` (apps/trace, strace for zpoline): the system calls of `ls -la`,
//! `cat` and `python3 -c 'print(1)'`, from their first instruction, in the order `strace -f`
//! shows them for their native runs, with the same paths, and for `openat`, `read`, `write`,
//! `close` and `newfstatat` the same decoded arguments and results (buffers, flags, `struct
//! stat`), addresses aside.

use zpoline_tests::*;

/// One line of an strace-like log: `[pid ]name(arguments) = result`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Call {
    name: String,
    args: String,
    result: String,
}

/// The calls of an strace-like log (signal and exit notes and `<... resumed>` lines left
/// out).
fn calls(text: &str) -> Vec<Call> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            if l.starts_with("<...") || l.starts_with("---") || l.starts_with("+++") {
                return None;
            }
            let open = l.find('(')?;
            // The last `) = ` (strace pads before the `=`) ends the arguments: results never
            // hold one, strings may.
            let mut end = None;
            let mut from = l.len();
            while let Some(eq) = l[..from].rfind(" = ") {
                let before = l[..eq].trim_end();
                if before.ends_with(')') && before.len() > open {
                    end = Some((before.len() - 1, eq + 3));
                    break;
                }
                from = eq;
            }
            let (close, res) = end.unwrap_or((l.len(), l.len()));
            Some(Call {
                name: l[..open].to_string(),
                args: l[open + 1..close.max(open + 1)].to_string(),
                result: l[res..].to_string(),
            })
        })
        .collect()
}

/// The first string argument of a call.
fn first_string(args: &str) -> Option<&str> {
    let a = args.find('"')?;
    let b = args[a + 1..].find('"')?;
    Some(&args[a + 1..a + 1 + b])
}

/// `text` with addresses (hexadecimal numbers of 5 digits or more) replaced by `0x…`: they
/// differ between two runs.
fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i]);
        let digits = rest[i + 2..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        if digits >= 5 {
            out.push_str("0x…");
        } else {
            out.push_str(&rest[i..i + 2 + digits]);
        }
        rest = &rest[i + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// The calls whose arguments and results must read as strace's.
const DECODED: &[&str] = &["openat", "read", "write", "close", "newfstatat"];

/// Runs `program args` under `strace -f` and through `zpoline run --trace=FILE`, the same way
/// (stdin `/dev/null`, stdout and stderr files), and compares the two logs: the same calls in
/// the same order, the same first string argument where the trace shows one, and the same
/// arguments and result for the [`DECODED`] calls. Returns how many calls were compared.
fn compare(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> usize {
    require_page_zero();
    let scratch = Scratch::new("trace");
    let ours = scratch.join("zpoline.txt");
    let theirs = scratch.join("strace.txt");
    let program = program.as_ref();
    // A first run fills what a program caches on its first run (Python's `.pyc` files), so
    // that the two compared runs find the same files.
    Cmd::new(program)
        .args(args)
        .run(&Mode::Native)
        .assert_success("native run");
    Cmd::new("strace")
        .arg("-f")
        .arg("-o")
        .arg(&theirs)
        .arg(program)
        .args(args)
        .timeout(STRACE_TIMEOUT)
        .run(&Mode::Native)
        .assert_success("strace");
    Cmd::new(program)
        .args(args)
        .run(&Mode::Run(vec![
            format!("--trace={}", ours.display()).into(),
        ]))
        .assert_success("zpoline run --trace");
    let ours_text = std::fs::read_to_string(&ours).unwrap();
    let theirs_text = std::fs::read_to_string(&theirs).unwrap();
    let mut a = calls(&ours_text);
    let mut b = calls(&theirs_text);
    // strace shows the execve that started the program; the trace starts after it, at the
    // first instruction of the program's dynamic loader (the launcher's own loader, which
    // maps the program, runs before the hook is installed).
    if b.first().is_some_and(|c| c.name == "execve") {
        b.remove(0);
    }
    let report = || {
        format!(
            "zpoline (`zpoline run --trace`):\n{ours_text}\nstrace -f:\n{theirs_text}\n\
             (logs kept in {})",
            scratch.path().display()
        )
    };
    let names = |v: &[Call]| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    if names(&a) != names(&b) {
        let i = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x.name != y.name)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "the trace lists other calls than strace, from call {i}: zpoline {:?}, strace {:?}\n{}",
            &names(&a)[i..a.len().min(i + 5)],
            &names(&b)[i..b.len().min(i + 5)],
            report()
        );
    }
    for (i, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        // Paths, where the trace shows one (random bytes aside).
        if let Some(s) = first_string(&x.args).filter(|_| x.name != "getrandom") {
            assert_eq!(
                Some(s),
                first_string(&y.args),
                "call {i} ({}): other string than strace's\n{}",
                x.name,
                report()
            );
        }
        if DECODED.contains(&x.name.as_str()) {
            let ours = without_addresses(&format!("{}({}) = {}", x.name, x.args, x.result));
            let theirs = without_addresses(&format!("{}({}) = {}", y.name, y.args, y.result));
            assert_eq!(
                ours,
                theirs,
                "call {i}: decoded otherwise than by strace\n{}",
                report()
            );
        }
    }
    a.len()
}

#[test]
fn log_parsing() {
    let text = "123   openat(AT_FDCWD, \"a) = b\", O_RDONLY) = -1 ENOENT (No such file or directory)\n\
                123  close(3)                          = 0\n\
                123  fcntl(3, F_GETFD)                 = 0x1 (flags FD_CLOEXEC)\n\
                123  exit_group(0)                     = ?\n\
                123  +++ exited with 0 +++\n";
    let c = calls(text);
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].args, "AT_FDCWD, \"a) = b\", O_RDONLY");
    assert_eq!(c[0].result, "-1 ENOENT (No such file or directory)");
    assert_eq!(c[1].args, "3");
    assert_eq!(c[2].result, "0x1 (flags FD_CLOEXEC)");
    assert_eq!(c[3].result, "?");
    assert_eq!(first_string(&c[0].args), Some("a) = b"));
    assert_eq!(
        without_addresses("read(3, 0x7ffd12345678, 0x20) = 0x1000"),
        "read(3, 0x…, 0x20) = 0x1000"
    );
}

#[test]
fn ls_trace_matches_strace() {
    compare("/bin/ls", &["-la", "/usr"]);
}

#[test]
fn cat_trace_matches_strace() {
    compare("/bin/cat", &["/etc/hostname", "/etc/debian_version"]);
}

/// Python starts with a few hundred calls: the loader's, the interpreter's search for its
/// files (`newfstatat` of each candidate), `.pyc` files read whole, `rt_sigaction` of every
/// signal, and the `write` of the output.
#[test]
fn python_trace_matches_strace() {
    let n = compare(python3(), &["-c", "print(1)"]);
    assert!(n > 100, "only {n} calls traced");
}

/// 32 threads making system calls at once, traced to one file: every line is whole (one
/// `write` per line), and each is attributed to the thread that made the call (the tid a
/// thread's own `gettid` returned is the tid its lines start with).
#[test]
fn concurrent_threads_are_traced_line_by_line_with_their_own_tids() {
    let prog = compile_program("threads");
    let scratch = Scratch::new("trace-threads");
    let file = scratch.join("trace.txt");
    for preload in [false, true] {
        let _ = std::fs::remove_file(&file);
        let cmd = Cmd::new(&prog).arg("200");
        let o = if preload {
            cmd.env("ZPOLINE_TRACE_FILE", &file)
                .run(&Mode::Hook(release_artifact("libzphook_trace.so")))
        } else {
            let mut opt = std::ffi::OsString::from("--trace=");
            opt.push(&file);
            cmd.run(&Mode::Run(vec![opt]))
        };
        o.assert_success("threads under the trace");
        let text = std::fs::read_to_string(&file).unwrap();
        let mut gettids = 0;
        let mut tids = std::collections::BTreeSet::new();
        for line in text.lines() {
            let (tid, rest) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("a line without a tid: {line:?}"));
            let tid: i64 = tid
                .parse()
                .unwrap_or_else(|_| panic!("a line that does not start with a tid: {line:?}"));
            assert!(
                rest.contains(" = ") && rest.contains('('),
                "a broken line (mixed with another?): {line:?}"
            );
            tids.insert(tid);
            if let Some(r) = rest.strip_prefix("gettid() = ") {
                assert_eq!(r.parse::<i64>().ok(), Some(tid), "{line}");
                gettids += 1;
            }
        }
        assert!(tids.len() >= 33, "{} threads in the trace", tids.len());
        assert!(gettids >= 32 * 200, "{gettids} gettid lines");
    }
}

/// Each line carries the tid of the process that made the call: a fork child's and a vfork
/// child's getppid are theirs, not their parent's (the hook's libc caches the tid).
#[test]
fn fork_and_vfork_children_have_their_own_tids() {
    let prog = compile_program("forktid");
    let scratch = Scratch::new("trace-forktid");
    let file = scratch.join("trace.txt");
    for preload in [false, true] {
        let _ = std::fs::remove_file(&file);
        let o = if preload {
            Cmd::new(&prog)
                .env("ZPOLINE_TRACE_FILE", &file)
                .run(&Mode::Hook(release_artifact("libzphook_trace.so")))
        } else {
            let mut opt = std::ffi::OsString::from("--trace=");
            opt.push(&file);
            Cmd::new(&prog).run(&Mode::Run(vec![opt]))
        };
        o.assert_success("forktid under the trace");
        let pid = |what: &str| -> String {
            o.stdout
                .lines()
                .find_map(|l| l.strip_prefix(what))
                .unwrap_or_else(|| panic!("no `{what}` in\n{}", o.stdout))
                .to_string()
        };
        let (parent, child, vchild) = (pid("parent "), pid("fork child "), pid("vfork child "));
        let text = std::fs::read_to_string(&file).unwrap();
        let getppids: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" getppid() = "))
            .collect();
        assert_eq!(
            getppids,
            [
                format!("{child} getppid() = {parent}"),
                format!("{vchild} getppid() = {parent}")
            ],
            "{}",
            text
        );
    }
}
