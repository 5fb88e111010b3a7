//! Real programs under the runtime, without a hook and with the register-clobbering hook: the
//! same stdout and exit status as natively.

use zpoline_tests::*;

/// `ls -la /` prints the link count of /proc, which is the number of processes and changes with
/// every test running in parallel: blank it out.
fn normalize_ls(s: &str) -> String {
    s.lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() >= 9 && f.last() == Some(&"proc") {
                let mut f = f.clone();
                f[1] = "N";
                f.join(" ")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn ls_la_root() {
    let cmd = Cmd::new("ls").args(["-la", "/"]);
    let o = assert_same_as_native_with(&cmd, &Mode::Zpoline, Compare::All, &normalize_ls);
    o.assert_success("ls -la /");
}

#[test]
fn sh_pipeline_ls_wc() {
    let cmd = Cmd::new("sh").args(["-c", "ls / | wc -l"]);
    let o = assert_same_as_native_with(&cmd, &Mode::Zpoline, Compare::All, &|s| s.to_string());
    o.assert_success("sh -c 'ls / | wc -l'");
}

#[test]
fn python3_json_ssl() {
    let cmd = Cmd::new(python3()).args(["-c", r#"import json, ssl; print(json.dumps({"a":1}))"#]);
    let o = assert_same_as_native_with(&cmd, &Mode::Zpoline, Compare::All, &|s| s.to_string());
    o.assert_success("python3 -c 'import json, ssl'");
    assert_eq!(o.stdout, "{\"a\": 1}\n");
}

#[test]
fn threads_32_making_syscalls() {
    let o = assert_program_same_as_native("threads", &[], &Mode::Zpoline);
    assert!(o.stdout.contains("threads: OK"), "{}", o.report());
}

#[test]
fn vfork_loop_keeps_parent_stack() {
    let o = assert_program_same_as_native("vfork", &["300"], &Mode::Zpoline);
    assert!(o.stdout.contains("vfork: OK"), "{}", o.report());
}

#[test]
fn posix_spawn_loop() {
    let o = assert_program_same_as_native("spawn", &["200"], &Mode::Zpoline);
    assert!(o.stdout.contains("spawn: OK"), "{}", o.report());
}

#[test]
fn fork_and_waitpid() {
    let o = assert_program_same_as_native("fork", &["100"], &Mode::Zpoline);
    assert!(o.stdout.contains("fork: OK"), "{}", o.report());
}

#[test]
fn execve_bin_echo() {
    let o = assert_program_same_as_native("exec", &[], &Mode::Zpoline);
    assert_eq!(
        o.stdout,
        "exec: before execve\nhello from execve\n",
        "{}",
        o.report()
    );
}

#[test]
fn raw_clone_clone3_and_vfork_from_main_binary() {
    let o = assert_program_same_as_native("clone", &["100"], &Mode::Zpoline);
    assert!(o.stdout.contains("clone: OK"), "{}", o.report());
}

#[test]
fn raw_clone_clone3_and_vfork_with_hook() {
    let mode = Mode::Hook(compile_hook("clobber"));
    let o = assert_program_same_as_native("clone", &["100"], &mode);
    assert!(o.stdout.contains("clone: OK"), "{}", o.report());
}

#[test]
fn threads_with_hook() {
    let mode = Mode::Hook(compile_hook("clobber"));
    let o = assert_program_same_as_native("threads", &["1000"], &mode);
    assert!(o.stdout.contains("threads: OK"), "{}", o.report());
}

#[test]
fn vfork_loop_with_hook() {
    let mode = Mode::Hook(compile_hook("clobber"));
    let o = assert_program_same_as_native("vfork", &["300"], &mode);
    assert!(o.stdout.contains("vfork: OK"), "{}", o.report());
}

#[test]
fn posix_spawn_loop_with_hook() {
    let mode = Mode::Hook(compile_hook("clobber"));
    let o = assert_program_same_as_native("spawn", &["100"], &mode);
    assert!(o.stdout.contains("spawn: OK"), "{}", o.report());
}

#[test]
fn shell_job_control_and_traps() {
    let script = "trap 'echo got CHLD' CHLD; for i in 1 2 3; do (exit $i) & wait $!; echo status $?; done; \
                  echo $(echo nested $(echo deeper)); sleep 0.01 & wait; echo done";
    for shell in ["sh", "bash"] {
        if shell == "bash" && !std::path::Path::new("/bin/bash").exists() {
            continue;
        }
        let cmd = Cmd::new(shell).args(["-c", script]);
        let o = assert_same_as_native(&cmd, &Mode::Zpoline);
        o.assert_success(shell);
    }
}
