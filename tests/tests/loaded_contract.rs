//! The syscall contract and the special calls again, through the launcher's loader
//! (`zpoline run`), where every dispatch also switches `%fs` between the program's thread
//! pointer and the runtime's: registers, red zone, vector state, signal storms on an alternate
//! stack, out-of-range numbers, siglongjmp out of handlers, cancellation, restarted calls,
//! threads, vfork, posix_spawn, raw clone/clone3. Each program checks itself and must print and
//! exit as natively; the hook is the clobbering one (it uses every caller-saved register).

use zpoline_tests::*;

fn clobber() -> Mode {
    Mode::Loader(Some(compile_hook("clobber")))
}

#[test]
fn registers_and_red_zone() {
    let o = assert_program_same_as_native("raw", &[], &clobber());
    assert!(
        o.stdout.contains("raw: registers preserved"),
        "{}",
        o.report()
    );
    let o = assert_program_same_as_native("redzone", &[], &clobber());
    assert!(o.stdout.contains("redzone: OK"), "{}", o.report());
}

#[test]
fn vector_state() {
    let o = assert_program_same_as_native("vector", &[], &clobber());
    assert!(
        o.stdout.contains("vector: xmm0-15 and x87 preserved"),
        "{}",
        o.report()
    );
}

#[test]
fn timer_signal_storm_with_altstack() {
    let o = assert_program_same_as_native("signals", &["30000", "200", "30"], &clobber());
    assert!(!o.stdout.is_empty(), "{}", o.report());
    let o = assert_program_same_as_native("signals", &["30000", "200", "30"], &Mode::Loader(None));
    assert!(!o.stdout.is_empty(), "{}", o.report());
}

#[test]
fn out_of_range_numbers() {
    let cmd = Cmd::new(compile_program("enosys")).arg("range");
    assert_same_as_native(&cmd, &clobber());
}

#[test]
fn siglongjmp_cancel_and_restart() {
    assert_program_same_as_native("sigjmp", &["2000", "100"], &clobber());
    assert_program_same_as_native("cancel", &["20"], &clobber());
    assert_program_same_as_native("restart", &[], &clobber());
}

#[test]
fn threads_vfork_spawn_fork_exec_clone() {
    assert_program_same_as_native("threads", &["1000"], &clobber());
    assert_program_same_as_native("vfork", &["300"], &clobber());
    assert_program_same_as_native("spawn", &["100"], &clobber());
    assert_program_same_as_native("fork", &["100"], &clobber());
    assert_program_same_as_native("exec", &[], &clobber());
    assert_program_same_as_native("clone", &["100"], &clobber());
}

#[test]
fn null_write_still_dies_of_sigsegv() {
    let cmd = Cmd::new(compile_program("nullwrite"));
    let native = cmd.run_native();
    let loaded = cmd.run(&Mode::Loader(None));
    assert_eq!(
        native.status_text(),
        loaded.status_text(),
        "{}\n{}",
        native.report(),
        loaded.report()
    );
}

fn case(args: &[&str]) -> Cmd {
    Cmd::new(compile_program("loadercases")).args(args)
}

#[test]
fn calls_after_an_asynchronous_signal_stay_hooked() {
    // The rt_sigreturn dispatch left the selector at ALLOW: the program's next calls from
    // sites not yet rewritten escaped the hook.
    let o = assert_same_as_native(&case(&["sigret"]), &Mode::Loader(None));
    assert_eq!(o.stdout, "sigret: ok\n");
    counts_match_strace_loaded("sigret-loaded", case(&["sigret"]), &[(110, "getppid")]);
}

#[test]
fn fork_while_other_threads_create_threads() {
    // A child forked while another thread was inside the launcher's malloc inherited its lock
    // taken and hung at its first thread.
    let o = assert_same_as_native(&case(&["forkdl", "100"]), &Mode::Loader(None));
    assert_eq!(o.stdout, "forkdl: 100 of 100 children fine\n");
}

#[test]
fn a_chain_of_threads_does_not_grow_the_process() {
    let o = case(&["chain", "20000"]).run(&Mode::Loader(None));
    o.assert_success("chain of 20000 threads through the launcher");
    assert_eq!(
        o.stdout,
        "chain: RSS grew less than 4 MiB\n",
        "{}",
        o.report()
    );
}

#[test]
fn thread_pointer_in_handlers_and_after_arch_prctl() {
    let o = assert_same_as_native(&case(&["clonefs"]), &Mode::Loader(None));
    assert_eq!(o.stdout, "clonefs: handler thread pointer ok\n");
    let o = assert_same_as_native(&case(&["setfs"]), &Mode::Loader(None));
    assert_eq!(o.stdout, "setfs: kept\n");
}

#[test]
fn hook_threads_have_their_thread_ids() {
    let o = Cmd::new(compile_program("threads"))
        .arg("200")
        .run(&Mode::Loader(Some(compile_hook("errorcheck"))));
    o.assert_success("threads through the launcher with an errorcheck-mutex hook");
    assert!(
        o.stderr.contains("errorcheck hook: 0 failed locks"),
        "{}",
        o.report()
    );
}

#[test]
fn readlink_answer_and_bad_signal_masks() {
    let o = assert_same_as_native(&case(&["readlink"]), &Mode::Loader(None));
    assert_eq!(o.stdout, "readlink: bytes past the answer untouched\n");
    for mode in [Mode::Loader(None), Mode::Zpoline] {
        let o = assert_same_as_native(&case(&["badmask"]), &mode);
        assert_eq!(o.stdout, "badmask: -1 EFAULT\n");
    }
}

#[test]
fn inherited_ignored_sigpipe_and_a_limited_address_space() {
    // The launcher skips Rust's start-up, which would have set SIGPIPE to SIG_IGN and made
    // the reset to SIG_DFL look needed; an inherited SIG_IGN reaches the program as natively.
    let cmd = Cmd::new("/bin/bash")
        .arg("-c")
        .arg("trap '' PIPE; yes | head -1; echo ${PIPESTATUS[0]}");
    let o = assert_same_as_native(&cmd, &Mode::Loader(None));
    assert_eq!(o.stdout, "y\n1\n", "{}", o.report());
    // ulimit -v: the dispatch-stack pool and the launcher's heap pad shrink to fit.
    let cmd = Cmd::new("/bin/sh")
        .arg("-c")
        .arg("ulimit -v 300000; ls /usr");
    assert_same_as_native(&cmd, &Mode::Loader(None));
    assert_same_as_native(&cmd, &Mode::Zpoline);
}
