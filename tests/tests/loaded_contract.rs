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
