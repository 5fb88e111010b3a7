//! The launcher's own ELF loader, without the runtime: `zpoline load -- CMD [ARGS...]` maps CMD
//! (and its interpreter) into the launcher's process, builds the initial stack and jumps to it.
//! Every run must print the same and exit the same as the native run of CMD.

use std::ffi::OsStr;
use std::path::PathBuf;

use zpoline_tests::*;

/// `target/release/zpoline`.
fn zpoline() -> PathBuf {
    release_artifact("zpoline")
}

/// Runs `program args` natively and through `zpoline load --`, with the variables `env`, and
/// checks that the exit status, stdout and stderr are the same. Returns the loader's outcome.
fn assert_load_same_as_native(program: &OsStr, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let with_env = |mut c: Cmd| {
        for (k, v) in env {
            c = c.env(k, v);
        }
        c
    };
    let native_cmd = with_env(Cmd::new(program).args(args));
    let load_cmd = with_env(
        Cmd::new(zpoline())
            .args(["load", "--"])
            .arg(program)
            .args(args),
    );
    let mut last = None;
    for _attempt in 0..3 {
        let native = native_cmd.run_native();
        let loaded = load_cmd.run_native();
        let key = |o: &Outcome| (o.status_text(), o.stdout.clone(), o.stderr.clone());
        if key(&native) == key(&loaded) {
            return loaded;
        }
        last = Some((native, loaded));
    }
    let (native, loaded) = last.expect("at least one attempt");
    panic!(
        "`zpoline load` differs from the native run.\nexit status: native {}, loaded {}\nstdout {}\nstderr {}\n\nNATIVE:\n{}\n\nLOADED:\n{}",
        native.status_text(),
        loaded.status_text(),
        first_difference(&native.stdout, &loaded.stdout),
        first_difference(&native.stderr, &loaded.stderr),
        native.report(),
        loaded.report()
    );
}

#[test]
fn echo_with_arguments() {
    let o = assert_load_same_as_native(OsStr::new("/bin/echo"), &["hi", "there"], &[]);
    o.assert_success("zpoline load -- /bin/echo hi there");
    assert_eq!(o.stdout, "hi there\n");
}

#[test]
fn sh_exit_code_propagates() {
    let o = assert_load_same_as_native(OsStr::new("/bin/sh"), &["-c", "echo $0 $#; exit 3"], &[]);
    assert_eq!(o.code(), Some(3), "{}", o.report());
    assert_eq!(o.stdout, "/bin/sh 0\n");
}

#[test]
fn command_resolved_in_path() {
    // argv[0] stays as given ("sh"); the program is found in PATH.
    let o = assert_load_same_as_native(OsStr::new("sh"), &["-c", "echo $0; ls -d /"], &[]);
    o.assert_success("zpoline load -- sh -c ...");
    assert_eq!(o.stdout, "sh\n/\n");
}

#[test]
fn python3_through_the_interpreter() {
    let py = python3();
    let o = assert_load_same_as_native(
        py.as_os_str(),
        &["-c", "import os; print(os.getpid() > 0)"],
        &[],
    );
    o.assert_success("zpoline load -- python3 -c ...");
    assert_eq!(o.stdout, "True\n");
}

/// Runs `tests/c/loadee.c` built with `flags` natively and through the loader; `dynamic`: it
/// has an interpreter (`AT_BASE` is its load bias, else 0).
fn loadee(flags: &[&str], suffix: &str, dynamic: bool) {
    let mut all = vec!["-O2", "-g", "-Wall", "-Wextra", "-pthread"];
    all.extend(flags);
    let prog = compile_c(&c_dir().join("loadee.c"), &all, suffix);
    let source = c_dir().join("loadee.c");
    let source = source.to_str().expect("UTF-8 path");
    let o = assert_load_same_as_native(
        prog.as_os_str(),
        &[source, "two words", ""],
        &[("ZPTEST_LOADER_VAR", "from-the-test")],
    );
    o.assert_success(&format!("loadee {flags:?}"));
    for line in [
        "argc 4\n",
        "argv[2] two words\n",
        "ZPTEST_LOADER_VAR from-the-test\n",
        "AT_PAGESZ nonzero 1\n",
        "AT_ENTRY is _start 1\n",
        if dynamic {
            "AT_BASE nonzero 1\n"
        } else {
            "AT_BASE nonzero 0\n"
        },
        "AT_EXECFN is argv[0] 1\n",
        "AT_PLATFORM x86_64\n",
        "loadee: OK\n",
    ] {
        assert!(o.stdout.contains(line), "no {line:?} in\n{}", o.report());
    }
}

#[test]
fn static_program() {
    loadee(&["-static"], "-static", false);
}

#[test]
fn static_pie_program() {
    loadee(&["-static-pie", "-fPIE"], "-static-pie", false);
}

#[test]
fn dynamic_program() {
    loadee(&[], "", true);
}

#[test]
fn scripts_are_refused() {
    let o = Cmd::new(zpoline())
        .args(["load", "--", "/nonexistent-zpoline-cmd"])
        .run_native();
    assert_eq!(o.code(), Some(127), "{}", o.report());
    assert_eq!(
        o.stderr,
        "zpoline load: /nonexistent-zpoline-cmd: command not found\n"
    );
    let scratch = Scratch::new("loader-script");
    let script = scratch.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let o = Cmd::new(zpoline())
        .args(["load", "--"])
        .arg(&script)
        .run_native();
    assert_eq!(o.code(), Some(127), "{}", o.report());
    assert_eq!(
        o.stderr,
        format!(
            "zpoline load: {} is not an ELF file (scripts go through `zpoline run`)\n",
            script.display()
        )
    );
}
