//! Hook libraries in the zpoline ABI: the classic basic hook, a hook that rewrites results, the
//! workspace's example hook, and a counting hook checked against `strace -f`.

use std::collections::BTreeSet;
use zpoline_tests::*;

/// The syscall numbers in the basic hook's "syscall number N" lines.
fn hooked_numbers(stderr: &str) -> BTreeSet<u64> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("output from hook_function: syscall number "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

#[test]
fn classic_zpoline_basic_hook_with_ls() {
    let hook = compile_hook("basic");
    let cmd = Cmd::new("ls").arg("/");
    let o = assert_same_as_native(&cmd, &Mode::Hook(hook));
    o.assert_success("ls / with the basic hook");
    assert!(
        o.stderr
            .lines()
            .any(|l| l == "output from __hook_init: we can do some init work here"),
        "stderr lacks the __hook_init line\n{}",
        o.report()
    );
    // (Not exit_group: ls closes its stderr before exiting, so that line cannot be printed.)
    let nrs = hooked_numbers(&o.stderr);
    for (nr, name) in [
        (257, "openat"),
        (217, "getdents64"),
        (1, "write"),
        (3, "close"),
    ] {
        assert!(
            nrs.contains(&nr),
            "the hook never saw {name} ({nr}); it saw {nrs:?}\n{}",
            o.report()
        );
    }
}

#[test]
fn hook_rewriting_getdents64_to_enotsup_makes_ls_fail() {
    let hook = compile_hook("enotsup");
    let native = Cmd::new("ls").arg("/").run_native();
    native.assert_success("ls / (native)");
    let o = Cmd::new("ls").arg("/").run_with_hook(&hook);
    assert!(
        o.stderr.contains("Operation not supported"),
        "ls / with getdents64 answering -ENOTSUP should say \"Operation not supported\"\n{}",
        o.report()
    );
    assert!(
        o.code().is_some_and(|c| c != 0),
        "ls should exit with a non-zero status\n{}",
        o.report()
    );
}

#[test]
fn workspace_example_hook_prints_syscall_names() {
    let hook = example_basic_hook();
    let cmd = Cmd::new("ls").arg("/");
    let o = assert_same_as_native(&cmd, &Mode::Hook(hook));
    o.assert_success("ls / with libzphook_basic.so");
    for name in ["openat", "getdents64", "write"] {
        assert!(
            o.stderr.lines().any(|l| l.contains(name)),
            "libzphook_basic.so printed no line naming {name}\n{}",
            o.report()
        );
    }
}

#[test]
fn counting_hook_matches_strace_ls() {
    counts_match_strace(
        "ls -la",
        Cmd::new("ls").args(["-la", "/"]),
        &[(217, "getdents64")],
    );
}

#[test]
fn counting_hook_matches_strace_sh_pipeline() {
    counts_match_strace(
        "sh -c 'ls | wc -l'",
        Cmd::new("sh").args(["-c", "ls | wc -l"]).current_dir("/"),
        &[(56, "clone"), (59, "execve"), (61, "wait4")],
    );
}

#[test]
fn counting_hook_matches_strace_threads() {
    counts_match_strace(
        "threads",
        Cmd::new(compile_program("threads")).arg("200"),
        &[(435, "clone3"), (60, "exit"), (39, "getpid")],
    );
}

#[test]
fn counting_hook_matches_strace_signals() {
    counts_match_strace(
        "signals",
        Cmd::new(compile_program("signals")).args(["2000", "1000", "20"]),
        &[(15, "rt_sigreturn")],
    );
}

#[test]
fn counting_hook_matches_strace_vfork() {
    counts_match_strace(
        "vfork",
        Cmd::new(compile_program("vfork")).arg("30"),
        &[(58, "vfork"), (59, "execve")],
    );
}

#[test]
fn counting_hook_matches_strace_posix_spawn() {
    counts_match_strace(
        "spawn",
        Cmd::new(compile_program("spawn")).arg("20"),
        &[(435, "clone3"), (59, "execve")],
    );
}

#[test]
fn counting_hook_matches_strace_raw_clone() {
    counts_match_strace(
        "clone",
        Cmd::new(compile_program("clone")).arg("10"),
        &[
            (56, "clone"),
            (435, "clone3"),
            (58, "vfork"),
            (186, "gettid"),
        ],
    );
}

#[test]
fn counting_hook_matches_strace_restarts() {
    counts_match_strace(
        "restart",
        Cmd::new(compile_program("restart")),
        &[(0, "read"), (15, "rt_sigreturn")],
    );
}

#[test]
fn counting_hook_matches_strace_python() {
    counts_match_strace(
        "python3 -c 'import json'",
        Cmd::new(python3()).args(["-c", "import json"]),
        &[(257, "openat")],
    );
}

#[test]
fn counting_hook_sees_rt_sigreturn() {
    let hook = compile_hook("count");
    let scratch = Scratch::new("count-sigreturn");
    let o = Cmd::new(compile_program("signals"))
        .args(["2000", "500", "20"])
        .env("ZPTEST_COUNT_DIR", scratch.path())
        .run_with_hook(&hook);
    o.assert_success("signals with the counting hook");
    let counts = read_count_dumps(scratch.path());
    let sigreturns = counts.counts.get(&15).copied().unwrap_or(0);
    assert!(
        sigreturns >= 40,
        "the hook saw {sigreturns} rt_sigreturn calls, expected one per signal handled (>= 40)\n{}",
        o.report()
    );
}
