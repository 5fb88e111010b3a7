//! Real programs under the runtime (no hook): the same stdout and exit status as natively.

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

/// Runs a compiled test program natively and under the runtime; both must print the same and
/// exit 0 (the programs check their own results).
fn same_program(name: &str, args: &[&str]) -> Outcome {
    let cmd = Cmd::new(compile_program(name)).args(args);
    let o = assert_same_as_native(&cmd, &Mode::Zpoline);
    o.assert_success(name);
    o
}

#[test]
fn threads_32_making_syscalls() {
    let o = same_program("threads", &[]);
    assert!(o.stdout.contains("threads: OK"), "{}", o.report());
}

#[test]
fn vfork_loop_keeps_parent_stack() {
    let o = same_program("vfork", &["300"]);
    assert!(o.stdout.contains("vfork: OK"), "{}", o.report());
}

#[test]
fn posix_spawn_loop() {
    let o = same_program("spawn", &["200"]);
    assert!(o.stdout.contains("spawn: OK"), "{}", o.report());
}

#[test]
fn fork_and_waitpid() {
    let o = same_program("fork", &["100"]);
    assert!(o.stdout.contains("fork: OK"), "{}", o.report());
}

#[test]
fn execve_bin_echo() {
    let o = same_program("exec", &[]);
    assert_eq!(
        o.stdout,
        "exec: before execve\nhello from execve\n",
        "{}",
        o.report()
    );
}
