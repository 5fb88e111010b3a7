//! Programs run through the launcher's own loader with the runtime (`zpoline run`): statically
//! linked programs (C with threads, fork and signals; static-pie; Go without cgo), and dynamic
//! ones whose dynamic loader's system calls are hooked from its first instruction. Each must
//! behave as natively, and a counting hook must see exactly the system calls `strace -f` shows
//! from the program's first instruction on.

use std::path::PathBuf;

use zpoline_tests::*;

fn staticmix(flags: &[&str], suffix: &str) -> PathBuf {
    let mut all = vec!["-O2", "-g", "-Wall", "-pthread"];
    all.extend_from_slice(flags);
    compile_c(&c_dir().join("staticmix.c"), &all, suffix)
}

fn staticmix_cmd(prog: &PathBuf) -> Cmd {
    Cmd::new(prog)
        .args(["one", "two"])
        .env("ZPTEST_GREETING", "hello")
}

#[test]
fn static_c_program_behaves_as_natively() {
    let prog = staticmix(&["-static"], "-static");
    let o = assert_same_as_native(&staticmix_cmd(&prog), &Mode::Loader(None));
    assert!(o.stdout.contains("threads ok: yes"), "{}", o.report());
    assert!(o.stdout.contains("exit 5"), "{}", o.report());
}

#[test]
fn static_c_program_counts_match_strace() {
    let prog = staticmix(&["-static"], "-static");
    counts_match_strace_loaded(
        "static-c",
        staticmix_cmd(&prog),
        &[
            (158, "arch_prctl"),
            (12, "brk"),
            (56, "clone"),
            (15, "rt_sigreturn"),
        ],
    );
}

#[test]
fn static_pie_program_counts_match_strace() {
    let prog = staticmix(&["-static-pie"], "-static-pie");
    let o = assert_same_as_native(&staticmix_cmd(&prog), &Mode::Loader(None));
    assert!(o.stdout.contains("child said"), "{}", o.report());
    counts_match_strace_loaded(
        "static-pie",
        staticmix_cmd(&prog),
        &[(158, "arch_prctl"), (56, "clone")],
    );
}

#[test]
fn static_go_program_with_goroutines_is_hooked() {
    let prog = build_go("static", false);
    let out = std::process::Command::new("file").arg(&prog).output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("statically linked"), "not static: {text}");
    }
    let o = assert_same_as_native(&Cmd::new(&prog), &Mode::Loader(None));
    assert_eq!(o.stdout, "go static ok 16 true true\n", "{}", o.report());
    counts_match_strace_loaded(
        "go-static",
        Cmd::new(&prog),
        &[
            (158, "arch_prctl"),
            (56, "clone"),
            (257, "openat"),
            (1, "write"),
        ],
    );
}

#[test]
fn dynamic_loader_system_calls_are_hooked() {
    // ls through the launcher: its dynamic loader's openat of libc and its mmaps are counted.
    let cmd = Cmd::new("/bin/ls").args(["-la", "/usr"]);
    assert_same_as_native(&cmd, &Mode::Loader(None));
    counts_match_strace_loaded(
        "ls-loaded",
        cmd,
        &[
            (158, "arch_prctl"),
            (257, "openat"),
            (9, "mmap"),
            (10, "mprotect"),
        ],
    );
}

#[test]
fn shell_pipeline_and_script_through_the_launcher() {
    let scratch = Scratch::new("loaded-script");
    let script = scratch.join("script.sh");
    std::fs::write(
        &script,
        "#!/bin/sh -e\necho \"script $# $1\"\nprintf 'a\\nb\\nc\\n' | wc -l\nexit ${ZPTEST_EXIT:-0}\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cmd = Cmd::new(&script).arg("x");
    let o = assert_same_as_native(&cmd.clone().env("ZPTEST_EXIT", "4"), &Mode::Loader(None));
    assert_eq!(o.code(), Some(4), "{}", o.report());
    counts_match_strace_loaded("script-loaded", cmd, &[(59, "execve"), (293, "pipe2")]);
}

#[test]
fn python_ssl_through_the_launcher_escapes_nothing() {
    let scratch = Scratch::new("loaded-audit");
    let report = scratch.join("audit.txt");
    let o = Cmd::new(python3())
        .args(["-c", "import ssl; print(ssl.OPENSSL_VERSION[:7])"])
        .env("ZPOLINE_AUDIT", &report)
        .run(&Mode::Loader(None));
    o.assert_success("python3 -c 'import ssl' through the launcher");
    assert_eq!(o.stdout, "OpenSSL\n", "{}", o.report());
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("escaped: 0 system calls"),
        "the audit shows escaped calls:\n{text}"
    );
    assert!(
        text.contains("libc.so.6+0x"),
        "the audit does not name the program's objects:\n{text}"
    );
}

#[test]
fn children_of_a_loaded_program_are_loaded_too() {
    // A shell that scrubs the runtime's variables, then runs a static program (which
    // LD_PRELOAD cannot reach), a command that does not exist and a dynamic one.
    let prog = staticmix(&["-static"], "-static");
    let script = format!(
        "unset LD_PRELOAD LIBZPHOOK; {} a b; nosuchcommand-zp 2>/dev/null; echo \"status $?\"; exec /bin/echo done",
        prog.display()
    );
    let cmd = Cmd::new("/bin/sh").arg("-c").arg(&script);
    let o = assert_same_as_native(&cmd, &Mode::Loader(None));
    assert!(o.stdout.contains("child said"), "{}", o.report());
    assert!(o.stdout.ends_with("status 127\ndone\n"), "{}", o.report());
    counts_match_strace_loaded(
        "children-loaded",
        cmd,
        &[(59, "execve"), (158, "arch_prctl"), (56, "clone")],
    );
}

#[test]
fn thread_churn_does_not_grow_the_process() {
    // Each thread of a loaded program gets a TLS block of the launcher's libc; 20000 threads
    // one after the other must leave the resident size where 200 leave it (it grew by about
    // 5 KiB per thread, then corrupted the heap when the launcher's malloc moved the program
    // break that the program's libc also moves).
    let prog = compile_c(
        &c_dir().join("churn.c"),
        &["-O2", "-static", "-pthread"],
        "-static",
    );
    let rss = |n: &str| {
        let o = Cmd::new(&prog).arg(n).run(&Mode::Loader(None));
        o.assert_success(&format!("churn {n} through the launcher"));
        o.stdout.trim().parse::<u64>().unwrap()
    };
    let (small, big) = (rss("200"), rss("20000"));
    assert!(
        big < small + 4096,
        "RSS grew from {small} KiB (200 threads) to {big} KiB (20000 threads)"
    );
}

#[test]
fn syscall_bytes_in_read_only_data_are_left_alone() {
    // -z noseparate-code puts .rodata (and .rela.dyn, the symbol tables) in the executable
    // segment: outside the unwind tables only the executable sections are swept. The bytes of
    // a relocation table rewritten before the dynamic loader applied it crashed rustup.
    for flags in [
        &["-O2", "-Wl,-z,noseparate-code"][..],
        &["-O2", "-static", "-Wl,-z,noseparate-code"][..],
    ] {
        let prog = compile_c(
            &c_dir().join("rodata.c"),
            flags,
            &flags.join("").replace(['-', ',', '='], ""),
        );
        let cmd = Cmd::new(&prog);
        let o = assert_same_as_native(&cmd, &Mode::Loader(None));
        assert!(
            o.stdout.starts_with("0f050f3490900f050f0568656c6c6f0f34"),
            "{}",
            o.report()
        );
        if !flags.contains(&"-static") {
            assert_same_as_native(&cmd, &Mode::Zpoline);
        }
    }
}

#[test]
fn the_dynamic_loader_run_as_a_program() {
    // ld.so has no PT_PHDR: the runtime finds its load bias from its ELF header.
    let cmd = Cmd::new("/lib64/ld-linux-x86-64.so.2").args(["/bin/echo", "hi"]);
    let o = assert_same_as_native(&cmd, &Mode::Loader(None));
    assert_eq!(o.stdout, "hi\n");
}

#[test]
fn proc_self_exe_names_the_program_and_origin_works() {
    // /proc/self/exe names the launcher; the runtime answers readlink with the program's path,
    // which the dynamic loader's $ORIGIN, Go's os.Executable and busybox rely on.
    let scratch = Scratch::new("loaded-origin");
    let (bin, lib) = (scratch.join("bin"), scratch.join("lib"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let src = scratch.join("o.c");
    std::fs::write(&src, "int origin_value(void) { return 42; }\n").unwrap();
    let main = scratch.join("m.c");
    std::fs::write(
        &main,
        "#include <stdio.h>\nint origin_value(void);\nint main(void) { printf(\"value %d\\n\", origin_value()); return 0; }\n",
    )
    .unwrap();
    let cc = |args: &[&std::ffi::OsStr]| {
        let st = std::process::Command::new("cc")
            .args(args)
            .status()
            .unwrap();
        assert!(st.success());
    };
    cc(&[
        "-shared".as_ref(),
        "-fPIC".as_ref(),
        "-o".as_ref(),
        lib.join("libo.so").as_os_str(),
        src.as_os_str(),
    ]);
    cc(&[
        "-o".as_ref(),
        bin.join("m").as_os_str(),
        main.as_os_str(),
        "-L".as_ref(),
        lib.as_os_str(),
        "-lo".as_ref(),
        "-Wl,-rpath,$ORIGIN/../lib".as_ref(),
    ]);
    let o = assert_same_as_native(&Cmd::new(bin.join("m")), &Mode::Loader(None));
    assert_eq!(o.stdout, "value 42\n");
    let prog = compile_c(&c_dir().join("ids.c"), &["-O2"], "");
    let o = assert_same_as_native(&Cmd::new(&prog), &Mode::Loader(None));
    assert!(
        o.stdout.contains(&format!("exe={}", prog.display())),
        "{}",
        o.report()
    );
}

#[test]
fn set_group_id_programs_keep_their_group_and_ldd_works() {
    // A set-group-ID program (to a group that is not ours) is started by the kernel's execve,
    // unhooked, so that it keeps its group; directly and as the child of a shell.
    let scratch = Scratch::new("loaded-setgid");
    let prog = scratch.join("ids");
    std::fs::copy(compile_c(&c_dir().join("ids.c"), &["-O2"], ""), &prog).unwrap();
    // SAFETY: chown with a valid path (as root, which the tests run as).
    let c = std::ffi::CString::new(prog.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: as above.
    let owned = unsafe { libc::chown(c.as_ptr(), 0, 65534) } == 0;
    if owned {
        std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o2755))
            .unwrap();
        let o = assert_same_as_native(&Cmd::new(&prog), &Mode::Loader(None));
        assert!(o.stdout.contains("egid=65534"), "{}", o.report());
        let sh = Cmd::new("/bin/sh").arg("-c").arg(prog.as_os_str());
        assert_same_as_native(&sh, &Mode::Loader(None));
    }
    // ldd sets LD_TRACE_LOADED_OBJECTS for its child: it must reach the program, not the
    // launcher (which would list its own libraries).
    let strip = |s: &str| {
        s.lines()
            .map(|l| l.split(" (0x").next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let cmd = Cmd::new("/usr/bin/ldd").arg("/bin/ls");
    let native = cmd.run_native();
    let loaded = cmd.run(&Mode::Loader(None));
    assert_eq!(
        strip(&native.stdout),
        strip(&loaded.stdout),
        "{}",
        loaded.report()
    );
}

#[test]
fn a_script_without_shebang_fails_to_exec_as_natively() {
    // execve answers ENOEXEC for a file that is neither ELF nor #!, and bash then runs it
    // itself: the runtime checks the first bytes before it hands a child to the launcher.
    let scratch = Scratch::new("loaded-noshebang");
    let script = scratch.join("plain.sh");
    std::fs::write(&script, "echo \"no shebang $1\"\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let line = format!("{} a; echo status $?; /bin/true", script.display());
    let cmd = Cmd::new("/bin/bash").arg("-c").arg(&line);
    let o = assert_same_as_native(&cmd, &Mode::Loader(None));
    assert_eq!(o.stdout, "no shebang a\nstatus 0\n", "{}", o.report());
    counts_match_strace_loaded("noshebang-loaded", cmd, &[(59, "execve")]);
}
