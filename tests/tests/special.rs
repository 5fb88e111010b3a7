//! Faults stay faults: address 0 holds the runtime's trampoline, but writing there or calling it
//! must behave as natively.

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
