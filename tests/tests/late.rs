//! Code that appears after start-up (dlopen, JIT, tcc -run, Python ctypes), children of
//! programs that scrub LD_PRELOAD, the coverage audit and the `zpoline` launcher. The safety net
//! (Syscall User Dispatch) must pass every system call of such code to the hook: the counting
//! hook and `strace -f` must agree.

use zpoline_tests::*;

fn late_lib() -> std::path::PathBuf {
    compile_c(
        &c_dir().join("late_lib.c"),
        &["-shared", "-fPIC", "-O2"],
        ".so",
    )
}

/// `late MODE late_lib.so N` (a library with a raw `getppid`, loaded with dlopen), compared
/// with `strace -f`.
fn late_dlopen(mode: &str, calls: &str) {
    require_page_zero();
    let cmd = Cmd::new(compile_program("late"))
        .arg(mode)
        .arg(late_lib())
        .arg(calls);
    counts_match_strace(&format!("late-{mode}"), cmd, &[(110, "getppid")]);
}

#[test]
fn dlopen_library_with_raw_syscalls_is_hooked() {
    late_dlopen("dlopen", "7");
}

#[test]
fn a_site_rewritten_lazily_in_a_fork_child_changes_the_child_only() {
    late_dlopen("forkdlopen", "5");
}

#[test]
fn a_file_the_program_puts_at_the_runtimes_descriptor_is_never_written() {
    late_dlopen("dupdlopen", "5");
}

#[test]
fn a_site_caught_half_way_through_its_lazy_rewrite_still_makes_its_call() {
    require_page_zero();
    // The runtime writes `d0` then `ff`; a thread that runs the site in between meets `0f d0`
    // (SIGILL), which the runtime completes as the call. The program makes that state itself.
    let cmd = Cmd::new(compile_program("sigill"))
        .arg("half")
        .arg(late_lib())
        .arg("4");
    let native = cmd.run_native();
    native.assert_success("sigill half natively");
    for mode in [Mode::Zpoline, Mode::Hook(compile_hook("clobber"))] {
        let o = cmd.run(&mode);
        o.assert_success("sigill half under the runtime");
        assert_eq!(o.stdout, native.stdout, "{}", o.report());
    }
}

#[test]
fn the_programs_own_sigill_handler_and_default_action_are_kept() {
    require_page_zero();
    let cmd = Cmd::new(compile_program("sigill")).arg("app");
    let native = cmd.run_native();
    assert_eq!(native.signal(), Some(libc::SIGILL), "{}", native.report());
    let o = cmd.run_zpoline();
    assert_eq!(
        o.signal(),
        Some(libc::SIGILL),
        "ud2 with the default action must kill with SIGILL\n{}",
        o.report()
    );
    assert_eq!(o.stdout, native.stdout, "{}", o.report());
}

#[test]
fn jit_code_is_hooked_and_may_change() {
    require_page_zero();
    let cmd = Cmd::new(compile_program("late")).args(["jit", "6"]);
    counts_match_strace("late-jit", cmd, &[(102, "getuid"), (104, "getgid")]);
}

#[test]
fn rwx_code_is_hooked() {
    require_page_zero();
    let cmd = Cmd::new(compile_program("late")).args(["rwx", "6"]);
    counts_match_strace("late-rwx", cmd, &[(102, "getuid"), (104, "getgid")]);
}

#[test]
fn python_ctypes_calling_mmaped_code_is_hooked() {
    require_page_zero();
    let cmd = Cmd::new(python3()).arg(c_dir().join("ctypes_jit.py"));
    counts_match_strace("late-ctypes", cmd, &[(102, "getuid")]);
}

#[test]
fn tcc_run_is_hooked() {
    require_page_zero();
    let tcc = std::path::Path::new("/usr/bin/tcc");
    assert!(
        tcc.is_file(),
        "tcc is not installed: apt-get install tcc (.ci/run does)"
    );
    let cmd = Cmd::new(tcc).arg("-run").arg(c_dir().join("tcc_prog.c"));
    counts_match_strace("late-tcc", cmd, &[(39, "getpid")]);
}

#[test]
fn children_of_a_shell_that_unsets_ld_preload_stay_hooked() {
    require_page_zero();
    let script =
        "unset LD_PRELOAD LIBZPHOOK; ls / >/dev/null; env -u LD_PRELOAD /bin/true; echo done";
    let cmd = Cmd::new("/bin/sh").args(["-c", script]);
    counts_match_strace(
        "late-unset-preload",
        cmd,
        &[(59, "execve"), (217, "getdents64")],
    );
}

#[test]
fn children_keep_the_runtime_in_their_environment() {
    require_page_zero();
    let o = Cmd::new("/bin/sh")
        .args(["-c", "unset LD_PRELOAD; env"])
        .run(&Mode::Zpoline);
    o.assert_success("env under a shell that unset LD_PRELOAD");
    let lib = libzpoline();
    assert!(
        o.stdout
            .lines()
            .any(|l| l == format!("LD_PRELOAD={}", lib.display())),
        "the child's environment lacks LD_PRELOAD={}\n{}",
        lib.display(),
        o.report()
    );
    let o = Cmd::new("/bin/sh")
        .args(["-c", "unset LD_PRELOAD; env"])
        .env("ZPOLINE_FOLLOW_EXEC", "0")
        .run(&Mode::Zpoline);
    assert!(
        !o.stdout.contains("LD_PRELOAD="),
        "ZPOLINE_FOLLOW_EXEC=0 must not re-add it\n{}",
        o.report()
    );
}

#[test]
fn audit_of_python_ssl_shows_nothing_escaped() {
    require_page_zero();
    let o = Cmd::new(python3())
        .args(["-c", "import ssl"])
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    o.assert_success("python3 -c 'import ssl' with ZPOLINE_AUDIT=1");
    for want in [
        "zpoline audit: pid",
        "start-up:",
        "sites rewritten",
        "safety net: Syscall User Dispatch on",
        "escaped: 0 system calls",
    ] {
        assert!(
            o.stderr.contains(want),
            "audit report lacks '{want}'\n{}",
            o.report()
        );
    }
}

#[test]
fn the_audit_never_writes_into_the_programs_files_and_outlives_a_closed_stderr() {
    require_page_zero();
    let dir = work_dir().join(format!("audit-fd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The program opens its own file at descriptor 3 (where a report file opened at start-up
    // used to sit) and then closes 1000 and 1001 (the runtime's numbers): the report goes to
    // the audit file (reopened by its absolute path, the program changed directory), the
    // program's file holds only what the program wrote.
    let o = Cmd::new("bash")
        .args([
            "-c",
            "exec 3>data; echo payload >&3; exec 1000>&- 1001>&-; cd /; echo done",
        ])
        .current_dir(&dir)
        .env("ZPOLINE_AUDIT", "report.txt")
        .run(&Mode::Zpoline);
    o.assert_success("bash with ZPOLINE_AUDIT=report.txt");
    let data = std::fs::read_to_string(dir.join("data")).unwrap();
    assert_eq!(data, "payload\n", "the program's own file was written into");
    let report = std::fs::read_to_string(dir.join("report.txt")).unwrap_or_default();
    assert!(
        report.contains("zpoline audit: pid") && report.contains("(bash)"),
        "no report in the audit file: '{report}'\n{}",
        o.report()
    );
    // ls closes stderr in an atexit handler, before exit_group: the report still appears.
    let o = Cmd::new("ls")
        .arg("/")
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    o.assert_success("ls / with ZPOLINE_AUDIT=1");
    assert!(
        o.stderr.contains("zpoline audit: pid") && o.stderr.contains("(ls)"),
        "no report from ls\n{}",
        o.report()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn audit_names_the_sites_the_net_caught() {
    require_page_zero();
    let lib = late_lib();
    let o = Cmd::new(compile_program("late"))
        .arg("dlopen")
        .arg(&lib)
        .arg("3")
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    o.assert_success("late dlopen with ZPOLINE_AUDIT=1");
    let line = o
        .stderr
        .lines()
        .find(|l| l.contains(&*lib.to_string_lossy()))
        .unwrap_or_else(|| panic!("the audit does not name {}\n{}", lib.display(), o.report()));
    assert!(line.contains("(raw_getppid+0x"), "no symbol in '{line}'");
    // Caught once, then rewritten through /proc/self/mem: the other calls take the fast path.
    assert!(line.contains(": 1 caught;"), "wrong count in '{line}'");
    assert!(
        line.contains("rewritten after its first call"),
        "no reason in '{line}'"
    );
    assert!(
        o.stderr.contains("rewritten lazily: 1 sites"),
        "{}",
        o.report()
    );
    let o = Cmd::new(compile_program("late"))
        .args(["jit", "2"])
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    assert!(
        o.stderr.contains("anonymous memory: generated code"),
        "{}",
        o.report()
    );
    let o = Cmd::new("/bin/true")
        .env("ZPOLINE_AUDIT", "1")
        .env("ZPOLINE_SUD", "0")
        .run(&Mode::Zpoline);
    assert!(
        o.stderr.contains("safety net: turned off"),
        "{}",
        o.report()
    );
}

fn launcher() -> std::path::PathBuf {
    release_artifact("zpoline")
}

#[test]
fn launcher_runs_and_audits_a_program() {
    require_page_zero();
    let o = Cmd::new(launcher())
        .args(["run", "--", "/bin/echo", "hi"])
        .run(&Mode::Native);
    o.assert_success("zpoline run -- /bin/echo hi");
    assert_eq!(o.stdout, "hi\n");
    let o = Cmd::new(launcher())
        .args(["run", "--hook"])
        .arg(example_basic_hook())
        .args(["--", "/bin/true"])
        .run(&Mode::Native);
    o.assert_success("zpoline run --hook basic -- /bin/true");
    assert!(
        o.stderr.contains("zpoline-basic: syscall 231 exit_group"),
        "{}",
        o.report()
    );
    let o = Cmd::new(launcher())
        .args(["audit", "--", "/bin/true"])
        .run(&Mode::Native);
    o.assert_success("zpoline audit -- /bin/true");
    assert!(o.stderr.contains("zpoline audit: pid"), "{}", o.report());
}

#[test]
fn launcher_explains_what_it_cannot_do() {
    let o = Cmd::new(launcher()).args(["walk"]).run(&Mode::Native);
    assert_eq!(o.code(), Some(2), "{}", o.report());
    assert!(
        o.stderr.starts_with("zpoline: unknown command 'walk'"),
        "{}",
        o.report()
    );
    let o = Cmd::new(launcher())
        .args(["run", "--hook", "/nonexistent.so", "--", "/bin/true"])
        .run(&Mode::Native);
    assert_eq!(o.code(), Some(127), "{}", o.report());
    assert!(
        o.stderr.contains("/nonexistent.so does not exist"),
        "{}",
        o.report()
    );
    let st = compile_c(&c_dir().join("tcc_prog.c"), &["-static", "-O2"], "-static");
    let o = Cmd::new(launcher())
        .args(["run", "--preload", "--"])
        .arg(&st)
        .run(&Mode::Native);
    assert_eq!(o.code(), Some(127), "{}", o.report());
    assert!(
        o.stderr.contains("is statically linked") && o.stderr.contains("without --preload"),
        "{}",
        o.report()
    );
}

#[test]
fn cgo_program_with_goroutines_and_file_io_is_hooked() {
    require_page_zero();
    let prog = build_go("cgo", true);
    let o = assert_same_as_native(&Cmd::new(&prog), &Mode::Zpoline);
    assert_eq!(o.stdout, "go ok true\n", "{}", o.report());
    let cmd = Cmd::new(&prog);
    counts_match_strace("go-cgo", cmd, &[(257, "openat"), (1, "write")]);
}

#[test]
fn net_arms_itself_only_when_code_appears() {
    require_page_zero();
    // Nothing new: the net stays ready and costs nothing.
    let o = Cmd::new("/bin/true")
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    o.assert_success("/bin/true with ZPOLINE_AUDIT=1");
    assert!(
        o.stderr.contains("safety net: ready, never armed"),
        "{}",
        o.report()
    );
    // ZPOLINE_SUD=1 arms it at start-up.
    let o = Cmd::new("/bin/true")
        .env("ZPOLINE_AUDIT", "1")
        .env("ZPOLINE_SUD", "1")
        .run(&Mode::Zpoline);
    assert!(o.stderr.contains("(armed at start-up)"), "{}", o.report());
    // New executable memory arms it.
    let o = Cmd::new(compile_program("late"))
        .args(["jit", "1"])
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    assert!(
        o.stderr.contains("(armed when executable memory appeared)"),
        "{}",
        o.report()
    );
    // A bad value is refused.
    let o = Cmd::new("/bin/true")
        .env("ZPOLINE_SUD", "maybe")
        .run(&Mode::Zpoline);
    assert_eq!(o.code(), Some(127), "{}", o.report());
    assert!(
        o.stderr.starts_with("zpoline: unknown ZPOLINE_SUD=maybe"),
        "{}",
        o.report()
    );
}

#[test]
fn application_seccomp_sigsys_handler_works_beside_the_net() {
    require_page_zero();
    let cmd = Cmd::new(compile_program("seccomp_trap"));
    let o = assert_same_as_native(&cmd, &Mode::Zpoline);
    assert!(
        o.stdout.contains("5 traps handled by the application: OK"),
        "{}",
        o.report()
    );
    let o = cmd.run(&Mode::Hook(compile_hook("clobber")));
    o.assert_success("seccomp_trap with the clobbering hook");
    assert!(o.stdout.contains("OK"), "{}", o.report());
}

#[test]
fn exiting_threads_give_their_dispatch_stacks_back() {
    require_page_zero();
    // 32 threads that all exit before the process does: the pool ends with the main thread's.
    let o = Cmd::new(compile_program("threads"))
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Hook(compile_hook("clobber")));
    o.assert_success("threads with ZPOLINE_AUDIT=1");
    let line = o
        .stderr
        .lines()
        .find(|l| l.contains("dispatch stacks:"))
        .unwrap_or_else(|| panic!("no dispatch stack line\n{}", o.report()));
    assert!(
        line.contains(" 1 in use at exit"),
        "stacks not given back: '{line}'"
    );
}

#[test]
fn a_fork_child_of_a_threaded_process_gets_the_other_threads_stacks_back() {
    require_page_zero();
    // 12 threads hold dispatch stacks when the main thread forks; the child has only its one
    // thread, then runs 12 short threads of its own. Both processes end with one stack in use.
    let prog = compile_program("forkthreads");
    let o = Cmd::new(&prog)
        .env("ZPOLINE_AUDIT", "1")
        .run(&Mode::Zpoline);
    o.assert_success("forkthreads with ZPOLINE_AUDIT=1");
    let lines: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.contains("dispatch stacks:"))
        .collect();
    assert_eq!(lines.len(), 2, "one report per process\n{}", o.report());
    for line in lines {
        assert!(
            line.contains(" 1 in use at exit"),
            "stacks of threads the child never had: '{line}'\n{}",
            o.report()
        );
    }
    counts_match_strace("forkthreads", Cmd::new(&prog), &[(56, "clone")]);
}

#[test]
fn go_program_running_children_with_os_exec_is_hooked() {
    require_page_zero();
    // os/exec forks with clone(CLONE_VM|CLONE_VFORK) from a goroutine whose stack is a few KiB:
    // the child's dispatches must not run on it (they overflowed into other goroutines' stacks).
    let prog = build_go("exec", true);
    for mode in [Mode::Zpoline, Mode::Hook(compile_hook("clobber"))] {
        let o = Cmd::new(&prog).run(&mode);
        o.assert_success("go os/exec program");
        assert_eq!(o.stdout, "go exec ok true\n", "{}", o.report());
    }
    counts_match_strace("go-exec", Cmd::new(&prog), &[(56, "clone"), (59, "execve")]);
}

#[test]
fn jvm_runs_with_the_documented_null_check_setting() {
    require_page_zero();
    // Without protection keys page 0 is readable, and the JVM's compiled code (C1 always, C2 by
    // default) finds null by reading through it: the documented setting turns C1 off and makes
    // C2 check explicitly (Documentation/README.md).
    let java = std::path::Path::new("/usr/bin/java");
    assert!(
        java.is_file(),
        "java is not installed: apt-get install openjdk-17-jdk-headless (.ci/run does)"
    );
    let src = workspace_root().join("tests/java/Hi.java");
    let o = Cmd::new(java)
        .arg(&src)
        .env(
            "JAVA_TOOL_OPTIONS",
            "-XX:-TieredCompilation -XX:+UnlockDiagnosticVMOptions -XX:-ImplicitNullChecks",
        )
        .env("HOME", work_dir())
        .run(&Mode::Hook(compile_hook("clobber")));
    o.assert_success("java Hi.java under the runtime");
    assert!(
        o.stdout
            .ends_with("thread\nnpe caught\nnpe 100000\njava ok\n"),
        "{}",
        o.report()
    );
}
