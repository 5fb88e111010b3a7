//! `zpoline run --rules FILE` (apps/rules, syscalltrack-style control): rules that deny
//! deleting a file named passwd, kill a program that opens a given path, stop it for
//! inspection, rewrite a result after the call, and log with a format; malformed rule files
//! stop the program before it starts with `FILE:LINE:COLUMN: what was expected`. Each through
//! the launcher and under `LD_PRELOAD` with `ZPOLINE_RULES`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zpoline_tests::*;

/// The ways of running the rules hook: through the launcher (`--rules`), and `LD_PRELOAD`.
fn run(cmd: Cmd, rules: &Path, preload: bool) -> Outcome {
    if preload {
        cmd.env("ZPOLINE_RULES", rules)
            .run(&Mode::Hook(release_artifact("libzphook_rules.so")))
    } else {
        cmd.run(&Mode::Run(vec![
            "--rules".into(),
            rules.as_os_str().to_os_string(),
        ]))
    }
}

fn write_rules(dir: &Scratch, text: &str) -> PathBuf {
    let p = dir.join("rules.toml");
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn rm_passwd_fails_with_eperm_and_the_file_stays() {
    require_page_zero();
    for preload in [false, true] {
        let dir = Scratch::new("rules-passwd");
        let rules = write_rules(
            &dir,
            r#"
[[rule]]
name = "keep passwd"
syscalls = ["unlink", "unlinkat", "rename", "renameat", "renameat2"]
when = 'path ~ "*passwd" || newpath ~ "*passwd" || oldpath ~ "*passwd"'
action = "fail"
errno = "EPERM"
"#,
        );
        fs::write(dir.join("passwd"), "root:x:0:0\n").unwrap();
        fs::write(dir.join("group"), "root:x:0\n").unwrap();
        let o = run(
            Cmd::new("rm")
                .args(["passwd", "group"])
                .current_dir(dir.path()),
            &rules,
            preload,
        );
        assert_eq!(o.code(), Some(1), "{}", o.report());
        assert!(
            o.stderr
                .contains("rm: cannot remove 'passwd': Operation not permitted"),
            "{}",
            o.report()
        );
        // The log line says which process did what, and what the rule did.
        assert!(
            o.stderr.contains("zpoline rules: [keep passwd] rm[")
                && o.stderr
                    .contains("unlinkat(AT_FDCWD, \"passwd\", 0) -> fail EPERM"),
            "{}",
            o.report()
        );
        assert!(dir.join("passwd").is_file(), "passwd was deleted");
        assert!(!dir.join("group").exists(), "group was not deleted");
        // Renaming it away is refused too; the shell's own children follow the rules.
        let o = run(
            Cmd::new("sh")
                .args(["-c", "mv passwd x; echo mv=$?"])
                .current_dir(dir.path()),
            &rules,
            preload,
        );
        assert!(o.stdout.contains("mv=1"), "{}", o.report());
        assert!(dir.join("passwd").is_file());
    }
}

#[test]
fn a_program_that_opens_the_path_is_killed() {
    require_page_zero();
    for preload in [false, true] {
        let dir = Scratch::new("rules-kill");
        fs::write(dir.join("secret"), "the secret\n").unwrap();
        let rules = write_rules(
            &dir,
            &format!(
                r#"
[[rule]]
name = "no secrets"
syscalls = ["open", "openat"]
when = 'path == "{}"'
action = "kill"
signal = "SIGKILL"
"#,
                dir.join("secret").display()
            ),
        );
        let o = run(Cmd::new("cat").arg(dir.join("secret")), &rules, preload);
        assert_eq!(o.signal(), Some(libc::SIGKILL), "{}", o.report());
        assert!(!o.stdout.contains("the secret"), "{}", o.report());
        assert!(o.stderr.contains("[no secrets] cat["), "{}", o.report());
        assert!(o.stderr.contains("-> kill SIGKILL"), "{}", o.report());
        // Other paths are fine.
        let o = run(Cmd::new("cat").arg("/etc/hostname"), &rules, preload);
        o.assert_success("cat of another file");
    }
}

#[test]
fn a_result_is_rewritten_after_the_call() {
    require_page_zero();
    for preload in [false, true] {
        let dir = Scratch::new("rules-after");
        let rules = write_rules(
            &dir,
            r#"
# Missing files look forbidden instead.
[[rule]]
syscalls = ["openat"]
when = 'err == "ENOENT" && path ~ "*/missing*"'
action = "fail"
errno = "EACCES"
quiet = true

# Everyone is uid 4242, as far as they can tell.
[[rule]]
syscalls = ["getuid", "geteuid"]
phase = "after"
action = "return"
value = 4242
quiet = true
"#,
        );
        let o = run(
            Cmd::new("cat").arg(dir.join("missing.txt")),
            &rules,
            preload,
        );
        assert_eq!(o.code(), Some(1), "{}", o.report());
        assert!(o.stderr.contains("Permission denied"), "{}", o.report());
        let o = run(Cmd::new("id").arg("-u"), &rules, preload);
        assert_eq!(o.stdout.trim(), "4242", "{}", o.report());
    }
}

#[test]
fn log_lines_follow_the_format_and_go_to_the_log_file() {
    require_page_zero();
    for preload in [false, true] {
        let dir = Scratch::new("rules-log");
        let log = dir.join("rules.log");
        let rules = write_rules(
            &dir,
            &format!(
                r#"
log_file = "{}"

[[rule]]
syscalls = ["openat"]
when = 'path ~ "/etc/host*" && (flags & O_ACCMODE) == O_RDONLY && !(flags & O_CREAT)'
format = "{{comm}} opened {{path}} flags={{flags:x}} = {{ret}}"
action = "log"
"#,
                log.display()
            ),
        );
        let o = run(Cmd::new("cat").arg("/etc/hostname"), &rules, preload);
        o.assert_success("cat under a logging rule");
        let text = fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.lines()
                .any(|l| l == "cat opened /etc/hostname flags=0x0 = 3"),
            "log file:\n{text}\n{}",
            o.report()
        );
        assert!(!o.stderr.contains("opened"), "{}", o.report());
    }
}

#[test]
fn suspend_stops_the_process_until_sigcont() {
    require_page_zero();
    let dir = Scratch::new("rules-suspend");
    let rules = write_rules(
        &dir,
        r#"
[[rule]]
syscalls = ["openat"]
when = 'path == "/etc/hostname"'
action = "suspend"
"#,
    );
    let child = std::process::Command::new(release_artifact("zpoline"))
        .args(["run", "--rules"])
        .arg(&rules)
        .args(["--", "cat", "/etc/hostname"])
        .env_remove("LD_PRELOAD")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let state = || {
        fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().chars().next()))
            .flatten()
    };
    let start = Instant::now();
    while state() != Some('T') {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the process was not stopped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) of our child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("suspended (resume with: kill -CONT {pid})")),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        fs::read_to_string("/etc/hostname").unwrap()
    );
}

#[test]
fn malformed_rule_files_stop_the_program_before_it_starts() {
    require_page_zero();
    let cases: &[(&str, &str)] = &[
        (
            "[[rule]]\nsyscalls = [\"unlnk\"]\naction = \"fail\"\n",
            "rules.toml:2:13: unknown system call `unlnk`; did you mean `unlink`?",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\nwhen = 'path ~ \"*x\" && && uid'\naction = \"fail\"\n",
            "rules.toml:3:24: expected an operand, found `&&`",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\naction = \"explode\"\n",
            "rules.toml:3:10: unknown action `explode`: expected \"log\", \"fail\", \"kill\", \"suspend\" or \"return\"",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\naction = \"fail\"\nerrno = \"EPRM\"\n",
            "rules.toml:4:9: unknown errno `EPRM`",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\nwhen = \"ret < 0\"\nphase = \"before\"\naction = \"log\"\n",
            "rules.toml:3:9: `ret` is only known after the call",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\nactoin = \"log\"\n",
            "rules.toml:3:1: unknown field `actoin`, expected one of",
        ),
        (
            "[[rule]\nsyscalls = [\"unlink\"]\n",
            "rules.toml:1:7: invalid table header",
        ),
        (
            "[[rule]]\nsyscalls = [\"kill\"]\nwhen = 'sig == SIGKILL && pid > \"1\"'\naction = \"log\"\n",
            "rules.toml:3:33: ",
        ),
        (
            "[[rule]]\nsyscalls = [\"unlink\"]\naction = \"fail\"\nvalue = 3\n",
            "rules.toml:4:9: `value` is not used by action \"fail\"",
        ),
        (
            "[[rule]]\nsyscalls = [\"getpid\"]\naction = \"return\"\n",
            "rules.toml:3:10: action \"return\" needs `value = N`",
        ),
        ("", "rules.toml:1:1: no rules"),
    ];
    for (text, expected) in cases {
        for preload in [false, true] {
            let dir = Scratch::new("rules-bad");
            let rules = write_rules(&dir, text);
            let o = run(Cmd::new("sh").args(["-c", "echo started"]), &rules, preload);
            assert_eq!(o.code(), Some(127), "{text}\n{}", o.report());
            assert!(!o.stdout.contains("started"), "{}", o.report());
            let line = o
                .stderr
                .lines()
                .find(|l| l.contains("rules.toml:"))
                .unwrap_or_else(|| panic!("no file:line:column error for\n{text}\n{}", o.report()));
            assert!(
                line.contains(expected),
                "expected `{expected}` in\n{line}\n{}",
                o.report()
            );
            // One line: the runtime adds none of its own (ZPOLINE_HOOK_REFUSED).
            assert_eq!(o.stderr.lines().count(), 1, "{}", o.report());
        }
    }
    // A missing file is named by the launcher itself.
    let o = Cmd::new(release_artifact("zpoline"))
        .args(["run", "--rules", "/nonexistent/rules.toml", "--", "true"])
        .run(&Mode::Native);
    assert_eq!(o.code(), Some(127));
    assert!(
        o.stderr
            .contains("--rules: cannot read /nonexistent/rules.toml"),
        "{}",
        o.report()
    );
}

#[test]
fn review_regressions_rule_names_long_lines_relative_logs_low_fd_limits() {
    require_page_zero();
    let dir = Scratch::new("rules-review");
    // `rule` in a condition names the rule being looked at; a line longer than the 1 KiB
    // buffer still ends with its newline; a relative log_file is next to the rule file.
    let rules = write_rules(
        &dir,
        r#"
log_file = "rel.log"

[[rule]]
name = "first"
syscalls = ["openat"]
when = 'rule == "second"'
action = "log"

[[rule]]
name = "second"
syscalls = ["openat"]
when = 'rule == "second" && path ~ "*/missing*"'
action = "log"
"#,
    );
    let long = format!("/tmp/missing-{}", "x".repeat(1500));
    let o = Cmd::new("sh")
        .args([
            "-c",
            &format!("cd / && cat {long}; cat /nonexistent/missing-short"),
        ])
        .current_dir(dir.path())
        .run(&Mode::Run(vec![
            "--rules".into(),
            rules.clone().into_os_string(),
        ]));
    assert_eq!(o.code(), Some(1), "{}", o.report());
    let log = fs::read_to_string(dir.join("rel.log")).expect("rel.log next to the rule file");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "log:\n{log}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("zpoline rules: [second] cat[")),
        "log:\n{log}"
    );
    assert!(
        lines[0].len() <= 1024 && lines[1].contains("missing-short"),
        "log:\n{log}"
    );
    // With RLIMIT_NOFILE below 1000 the log descriptor still exists (a lower copy of stderr).
    let rules = write_rules(
        &dir,
        "[[rule]]\nsyscalls = [\"openat\"]\nwhen = 'path == \"/etc/hostname\"'\naction = \"log\"\n",
    );
    let o = Cmd::new("sh")
        .args(["-c", "ulimit -n 512; cat /etc/hostname"])
        .run(&Mode::Run(vec!["--rules".into(), rules.into_os_string()]));
    o.assert_success("cat with ulimit -n 512");
    assert!(o.stderr.contains("] cat["), "{}", o.report());
}

/// Values read through pointers: `clone3`'s flags (glibc makes threads with clone3), and the
/// port and address of `connect`.
#[test]
fn clone3_flags_and_connect_addresses() {
    require_page_zero();
    let dir = Scratch::new("rules-derived");
    let rules = write_rules(
        &dir,
        r#"
[[rule]]
syscalls = ["clone", "clone3"]
when = 'flags & CLONE_THREAD'
action = "log"
format = "THREAD {syscall}"

[[rule]]
syscalls = ["connect"]
when = 'family == AF_INET && port == 9 && address == "127.0.0.1"'
action = "fail"
errno = "EACCES"
quiet = true
"#,
    );
    let prog = compile_program("threads");
    for preload in [false, true] {
        let o = run(Cmd::new(&prog).arg("10"), &rules, preload);
        o.assert_success("threads under the rules");
        assert_eq!(
            o.stderr.matches("THREAD clone3").count(),
            32,
            "{}",
            o.report()
        );
        let o = run(
            Cmd::new(python3()).args([
                "-c",
                "import socket\n\
                 for port in (9, 10):\n\
                 \ttry:\n\
                 \t\tsocket.create_connection(('127.0.0.1', port))\n\
                 \texcept OSError as e:\n\
                 \t\tprint(port, e.errno)",
            ]),
            &rules,
            preload,
        );
        o.assert_success("python3 connects");
        assert_eq!(o.stdout, "9 13\n10 111\n", "{}", o.report());
    }
}
