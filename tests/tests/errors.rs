//! Error handling of the runtime: one `zpoline: ` line on stderr and exit status 127 before main,
//! or a warning and a normal run with `ZPOLINE_ON_ERROR=continue`.

use std::path::{Path, PathBuf};
use zpoline_tests::*;

/// The program run in these tests: `/bin/echo hello` (prints only if main runs).
fn echo() -> Cmd {
    Cmd::new("/bin/echo").arg("hello")
}

/// Checks a failure: status 127, nothing on stdout (main never ran), exactly one stderr line,
/// starting with "zpoline: " and containing every string of `mentions`.
fn expect_fatal(hook: &Path, mentions: &[&str]) -> Outcome {
    let o = echo().run_with_hook(hook);
    assert_eq!(
        o.code(),
        Some(127),
        "expected exit status 127\n{}",
        o.report()
    );
    assert_eq!(o.stdout, "", "main must not run\n{}", o.report());
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line on stderr\n{}",
        o.report()
    );
    assert!(
        lines[0].starts_with("zpoline: "),
        "the line must start with \"zpoline: \"\n{}",
        o.report()
    );
    for m in mentions {
        assert!(
            lines[0].contains(m),
            "the line must mention {m:?}\n{}",
            o.report()
        );
    }
    o
}

/// With `ZPOLINE_ON_ERROR=continue` the program runs as natively and stderr has a warning line.
fn expect_continue(hook: &Path, mentions: &[&str]) {
    let cmd = echo().env("ZPOLINE_ON_ERROR", "continue");
    let native = cmd.run_native();
    let o = cmd.run_with_hook(hook);
    assert_eq!(
        o.code(),
        Some(0),
        "expected the program to run\n{}",
        o.report()
    );
    assert_eq!(o.stdout, native.stdout, "{}", o.report());
    let warning = o.stderr.lines().find(|l| l.starts_with("zpoline: "));
    let Some(warning) = warning else {
        panic!(
            "expected a warning line starting with \"zpoline: \"\n{}",
            o.report()
        );
    };
    for m in mentions {
        assert!(
            warning.contains(m),
            "the warning must mention {m:?}\n{}",
            o.report()
        );
    }
}

fn missing_hook() -> PathBuf {
    PathBuf::from("/nonexistent/zpoline-test-hook.so")
}

#[test]
fn missing_hook_file() {
    let hook = missing_hook();
    expect_fatal(&hook, &[hook.to_str().unwrap()]);
}

#[test]
fn missing_hook_file_continue() {
    let hook = missing_hook();
    expect_continue(&hook, &[hook.to_str().unwrap()]);
}

#[test]
fn hook_without_hook_init() {
    expect_fatal(&compile_hook("noinit"), &["__hook_init"]);
}

#[test]
fn hook_without_hook_init_continue() {
    expect_continue(&compile_hook("noinit"), &["__hook_init"]);
}

#[test]
fn hook_init_returning_error() {
    expect_fatal(&compile_hook("initfail"), &[]);
}

#[test]
fn hook_init_returning_error_continue() {
    expect_continue(&compile_hook("initfail"), &[]);
}

#[test]
fn text_file_as_hook() {
    let scratch = Scratch::new("text-hook");
    let hook = scratch.join("not-a-library.so");
    std::fs::write(
        &hook,
        "This is a text file, not a shared library. It is long enough for the loader to read a \
         whole ELF header from it and say what is wrong.\n",
    )
    .unwrap();
    // The loader's own message (dlerror) for a file that is not ELF.
    expect_fatal(&hook, &[hook.to_str().unwrap(), "invalid ELF header"]);
}

#[test]
fn text_file_as_hook_continue() {
    let scratch = Scratch::new("text-hook-continue");
    let hook = scratch.join("not-a-library.so");
    std::fs::write(
        &hook,
        "just text, long enough to hold an ELF header and then some more\n",
    )
    .unwrap();
    expect_continue(&hook, &[]);
}

#[test]
fn no_hook_passes_everything_through() {
    let cmd = Cmd::new("/bin/echo").arg("hello");
    let o = assert_same_as_native_with(&cmd, &Mode::Zpoline, Compare::All, &|s| s.to_string());
    o.assert_success("echo hello");
}
