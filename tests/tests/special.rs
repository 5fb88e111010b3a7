//! Faults stay faults: address 0 holds the runtime's trampoline, but writing there or calling it
//! must behave as natively. And signals in awkward places: leaving a handler with siglongjmp,
//! cancelling threads blocked in system calls, interrupted and restarted system calls, and
//! repeated timer-signal storms.

use zpoline_tests::*;

#[test]
fn null_write_dies_of_sigsegv() {
    let cmd = Cmd::new(compile_program("nullwrite"));
    let native = cmd.run_native();
    assert_eq!(
        native.signal(),
        Some(libc::SIGSEGV),
        "native:\n{}",
        native.report()
    );
    let o = cmd.run_zpoline();
    assert_eq!(
        o.signal(),
        Some(libc::SIGSEGV),
        "a write to NULL must die of SIGSEGV under the runtime too\n{}",
        o.report()
    );
    assert_eq!(o.stdout, native.stdout, "{}", o.report());
}

fn null_call(mode_arg: &str, mode: &Mode) {
    let cmd = Cmd::new(compile_program("nullcall")).arg(mode_arg);
    let native = cmd.run_native();
    assert!(is_fault_signal(&native), "native:\n{}", native.report());
    let o = cmd.run(mode);
    assert!(
        is_fault_signal(&o),
        "a call to address 0 must die of a fault signal under the runtime too (natively: {}); \
         it must not run a system call\n{}",
        native.status_text(),
        o.report()
    );
    assert!(
        !o.stdout.contains("SYSCALL RAN") && !o.stdout.contains("returned from a call to NULL"),
        "the call to address 0 ran a system call\n{}",
        o.report()
    );
    assert_eq!(o.stdout, native.stdout, "{}", o.report());
}

#[test]
fn null_call_faults() {
    null_call("plain", &Mode::Zpoline);
}

#[test]
fn null_call_with_write_in_rax_runs_no_syscall() {
    null_call("write", &Mode::Zpoline);
}

#[test]
fn null_call_with_exit_group_in_rax_runs_no_syscall() {
    null_call("exit", &Mode::Zpoline);
}

#[test]
fn null_call_with_hook_runs_no_syscall() {
    null_call("write", &Mode::Hook(compile_hook("basic")));
}

#[test]
fn siglongjmp_out_of_signal_handlers() {
    let o = assert_program_same_as_native("sigjmp", &["2000", "100"], &Mode::Zpoline);
    assert!(o.stdout.contains("sigjmp: OK"), "{}", o.report());
}

#[test]
fn siglongjmp_out_of_signal_handlers_with_hook() {
    let o = assert_program_same_as_native(
        "sigjmp",
        &["2000", "100"],
        &Mode::Hook(compile_hook("clobber")),
    );
    assert!(o.stdout.contains("sigjmp: OK"), "{}", o.report());
}

#[test]
fn pthread_cancel_of_blocked_threads() {
    let o = assert_program_same_as_native("cancel", &["20"], &Mode::Zpoline);
    assert!(o.stdout.contains("cancel: OK"), "{}", o.report());
}

#[test]
fn pthread_cancel_of_blocked_threads_with_hook() {
    let o = assert_program_same_as_native("cancel", &["20"], &Mode::Hook(compile_hook("clobber")));
    assert!(o.stdout.contains("cancel: OK"), "{}", o.report());
}

#[test]
fn interrupted_and_restarted_syscalls() {
    let o = assert_program_same_as_native("restart", &[], &Mode::Zpoline);
    assert!(o.stdout.contains("restart: OK"), "{}", o.report());
}

#[test]
fn interrupted_and_restarted_syscalls_with_hook() {
    let o = assert_program_same_as_native("restart", &[], &Mode::Hook(compile_hook("clobber")));
    assert!(o.stdout.contains("restart: OK"), "{}", o.report());
}

#[test]
fn repeated_signal_storms_with_hook() {
    // Rare races show up only over many runs (lazypoline failed 3 of 126).
    let cmd = Cmd::new(compile_program("signals")).args(["30000", "200", "30"]);
    let mode = Mode::Hook(compile_hook("clobber"));
    for run in 0..20 {
        let o = cmd.run(&mode);
        assert!(
            o.code() == Some(0) && o.stdout.contains("signals: OK"),
            "run {run} of 20 failed\n{}",
            o.report()
        );
    }
}
