//! The x86-64 syscall contract under the runtime: registers, red zone, vector state, signals,
//! raw syscalls in the main binary and out-of-range numbers.

use zpoline_tests::*;

#[test]
fn raw_syscalls_in_main_binary_and_registers_kept() {
    let o = assert_program_same_as_native("raw", &[], &Mode::Zpoline);
    assert!(
        o.stdout.contains("raw: hello from a raw write"),
        "{}",
        o.report()
    );
    assert!(
        o.stdout.contains("raw: registers preserved"),
        "{}",
        o.report()
    );
}

#[test]
fn raw_syscalls_registers_kept_with_hook() {
    // A C hook is free to use every caller-saved register, the argument registers included.
    let o = assert_program_same_as_native("raw", &[], &Mode::Hook(compile_hook("clobber")));
    assert!(
        o.stdout.contains("raw: registers preserved"),
        "{}",
        o.report()
    );
}

#[test]
fn red_zone_kept_across_syscall() {
    let o = assert_program_same_as_native("redzone", &[], &Mode::Zpoline);
    assert!(o.stdout.contains("redzone: asm leaf OK"), "{}", o.report());
    assert!(o.stdout.contains("redzone: C leaf OK"), "{}", o.report());
}

#[test]
fn red_zone_kept_across_syscall_with_hook() {
    let o = assert_program_same_as_native("redzone", &[], &Mode::Hook(compile_hook("clobber")));
    assert!(o.stdout.contains("redzone: OK"), "{}", o.report());
}

fn cpu_has(flag: &str) -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| {
            c.lines()
                .filter(|l| l.starts_with("flags"))
                .any(|l| l.split_whitespace().any(|f| f == flag))
        })
        .unwrap_or(false)
}

fn check_vector_output(o: &Outcome) {
    assert!(
        o.stdout.contains("vector: xmm0-15 and x87 preserved"),
        "{}",
        o.report()
    );
    if cpu_has("avx") {
        assert!(
            o.stdout.contains("vector: ymm0-15 preserved"),
            "{}",
            o.report()
        );
    }
    if cpu_has("avx512f") {
        assert!(
            o.stdout.contains("vector: zmm0-31 and k1-k7 preserved"),
            "{}",
            o.report()
        );
    }
}

#[test]
fn vector_registers_kept_across_syscall() {
    let o = assert_program_same_as_native("vector", &[], &Mode::Zpoline);
    check_vector_output(&o);
}

#[test]
fn vector_registers_kept_with_clobbering_hook() {
    let o = assert_program_same_as_native("vector", &[], &Mode::Hook(compile_hook("clobber")));
    check_vector_output(&o);
}

#[test]
fn timer_signal_storm_with_altstack() {
    let o = assert_program_same_as_native("signals", &["100000", "200", "50"], &Mode::Zpoline);
    assert!(o.stdout.contains("signals: OK"), "{}", o.report());
}

#[test]
fn timer_signal_storm_with_clobbering_hook() {
    let o = assert_program_same_as_native(
        "signals",
        &["50000", "200", "50"],
        &Mode::Hook(compile_hook("clobber")),
    );
    assert!(o.stdout.contains("signals: OK"), "{}", o.report());
}

#[test]
fn out_of_range_syscall_numbers_return_enosys() {
    let cmd = Cmd::new(compile_program("enosys")).arg("range");
    let native = cmd.run_native();
    native.assert_success("enosys (native)");
    for label in [
        "syscall(1000)",
        "syscall(-1)",
        "syscall(0x40000000|39)",
        "syscall(4000)",
    ] {
        assert!(
            native.stdout.contains(&format!("{label}: -1 errno ENOSYS")),
            "native run does not give ENOSYS for {label}:\n{}",
            native.report()
        );
    }
    let o = assert_same_as_native(&cmd, &Mode::Zpoline);
    o.assert_success("enosys");
}

#[test]
fn out_of_range_syscall_numbers_with_hook() {
    let cmd = Cmd::new(compile_program("enosys")).arg("range");
    let o = assert_same_as_native(&cmd, &Mode::Hook(compile_hook("clobber")));
    o.assert_success("enosys");
}

#[test]
fn syscall_numbers_with_high_bits_set() {
    // The kernel uses only the low 32 bits of rax: 0x100000000|39 is getpid. Some of these
    // numbers are non-canonical addresses: `callq *%rax` faults on the call itself.
    let cmd = Cmd::new(compile_program("enosys")).arg("highbits");
    let o = assert_same_as_native(&cmd, &Mode::Zpoline);
    o.assert_success("enosys highbits");
}

#[test]
fn rewriter_handles_page_straddling_and_fake_syscall_bytes() {
    let o = assert_program_same_as_native("rewrite", &[], &Mode::Zpoline);
    assert!(o.stdout.contains("rewrite: OK"), "{}", o.report());
}

#[test]
fn hook_gets_aligned_stack_at_both_alignments() {
    // The clobber hook faults (movaps) if called with a misaligned stack.
    let o = assert_program_same_as_native("rewrite", &[], &Mode::Hook(compile_hook("clobber")));
    assert!(o.stdout.contains("rewrite: OK"), "{}", o.report());
}
