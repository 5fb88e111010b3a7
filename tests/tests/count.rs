//! `zpoline run --count` (apps/count, `strace -c` for zpoline): the calls and errors per
//! system call of a program, from its first instruction, match `strace -c` of its native run.

use std::collections::BTreeMap;

use zpoline_tests::*;

/// `name -> (calls, errors)` from a `strace -c` table.
fn parse_table(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Rows start with the percentage of time (headers and the pid line do not).
        if f.first().is_none_or(|p| p.parse::<f64>().is_err()) {
            continue;
        }
        // % time, seconds, usecs/call, calls, [errors], name
        let (calls, errors, name) = match f.len() {
            5 => (f[3], "0", f[4]),
            6 => (f[3], f[4], f[5]),
            _ => continue,
        };
        let (Ok(calls), Ok(errors)) = (calls.parse::<u64>(), errors.parse::<u64>()) else {
            continue;
        };
        if name != "total" {
            out.insert(name.to_string(), (calls, errors));
        }
    }
    out
}

#[test]
fn count_matches_strace_c() {
    require_page_zero();
    let scratch = Scratch::new("count");
    let strace_out = scratch.join("strace-c.txt");
    let native = std::process::Command::new("strace")
        .arg("-c")
        .arg("-o")
        .arg(&strace_out)
        .args(["/bin/ls", "-la", "/usr"])
        .env("LC_ALL", "C")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("cannot run strace");
    assert!(native.status.success());
    let o = Cmd::new(release_artifact("zpoline"))
        .args(["run", "--count", "--", "/bin/ls", "-la", "/usr"])
        .run(&Mode::Native);
    o.assert_success("zpoline run --count -- ls -la /usr");
    let ours = parse_table(&o.stderr);
    let theirs = parse_table(&std::fs::read_to_string(&strace_out).unwrap());
    assert!(ours.contains_key("openat"), "no table:\n{}", o.stderr);
    // The execve that started the program happened before it; strace -c leaves out exit_group.
    let skip = ["execve", "exit_group"];
    let names: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let mut diff = Vec::new();
    for n in names.into_iter().filter(|n| !skip.contains(&n.as_str())) {
        if ours.get(n) != theirs.get(n) {
            diff.push(format!(
                "{n}: zpoline {:?}, strace -c {:?}",
                ours.get(n),
                theirs.get(n)
            ));
        }
    }
    assert!(
        diff.is_empty(),
        "{}\n\nzpoline:\n{}\nstrace -c:\n{}",
        diff.join("\n"),
        o.stderr,
        std::fs::read_to_string(&strace_out).unwrap()
    );
}

/// A shell whose image ends in `exec`, with a fork child and a vfork child: each process image
/// prints its own table (the shell's before its `exec`), a vfork child none (it counts into
/// its parent's); all the tables together hold what `strace -c -f` counts.
#[test]
fn tables_of_exec_and_vfork_add_up_to_strace_c_f() {
    require_page_zero();
    let script = "for i in 1 2 3 4 5; do echo $i >/dev/null; done; (exit 0); exec /bin/true";
    let scratch = Scratch::new("count-exec");
    let strace_out = scratch.join("strace-c.txt");
    let st = std::process::Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&strace_out)
        .args(["/bin/bash", "-c", script])
        .env("LC_ALL", "C")
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .status()
        .expect("cannot run strace");
    assert!(st.success());
    let theirs = parse_table(&std::fs::read_to_string(&strace_out).unwrap());
    let o = Cmd::new("/bin/bash")
        .args(["-c", script])
        .run(&Mode::Run(vec!["--count".into()]));
    o.assert_success("bash under --count");
    // The tables, summed per system call.
    let mut ours: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let tables = o.stderr.matches("% time").count();
    for (name, (c, e)) in o
        .stderr
        .split("% time")
        .skip(1)
        .flat_map(|t| parse_table(&format!("% time{t}")))
    {
        let entry = ours.entry(name).or_default();
        entry.0 += c;
        entry.1 += e;
    }
    assert_eq!(tables, 3, "bash, its subshell, /bin/true:\n{}", o.stderr);
    // Each table says whose it is.
    for exe in ["(/usr/bin/bash)", "(/usr/bin/true)"] {
        assert!(
            o.stderr
                .lines()
                .any(|l| l.starts_with("zpoline count: pid ") && l.ends_with(exe)),
            "no header for {exe}:\n{}",
            o.stderr
        );
    }
    // strace also counts the execve that started bash (the launcher maps bash without one),
    // and never exit_group (it does not return).
    ours.remove("exit_group");
    let mut theirs = theirs;
    theirs.entry("execve".into()).and_modify(|e| e.0 -= 1);
    assert_eq!(ours, theirs, "per system call: ours, then strace -c -f");
    // The vfork child of the probe program prints no table of its own.
    let prog = compile_program("forktid");
    let o = Cmd::new(&prog).run(&Mode::Run(vec!["--count".into()]));
    o.assert_success("forktid under --count");
    assert_eq!(
        o.stderr.matches("% time").count(),
        2,
        "parent and fork child:\n{}",
        o.stderr
    );
    assert!(
        o.stderr
            .lines()
            .any(|l| l.trim_end().ends_with(" vfork") && l.contains("         1 ")),
        "vfork counted once:\n{}",
        o.stderr
    );
}

/// A program started with stderr closed: no table lands in the file it opens next (which gets
/// descriptor 2); the table is simply not printed.
#[test]
fn closed_stderr_gets_no_output_and_no_file_of_the_program() {
    require_page_zero();
    let scratch = Scratch::new("count-closed-stderr");
    for opt in ["--count", "--trace", "--rules"] {
        let rules = scratch.join("rules.toml");
        std::fs::write(
            &rules,
            "[[rule]]\nsyscalls = [\"openat\"]\naction = \"log\"\n",
        )
        .unwrap();
        let mut opts: Vec<std::ffi::OsString> = vec![opt.into()];
        if opt == "--rules" {
            opts.push(rules.into_os_string());
        }
        let o = Cmd::new("sh")
            .args([
                "-c",
                "exec 2>&-; exec sh -c 'echo USERDATA > userfile; cat userfile'",
            ])
            .current_dir(scratch.path())
            .run(&Mode::Run(opts));
        o.assert_success(opt);
        assert_eq!(o.stdout, "USERDATA\n", "{opt}: {}", o.report());
        assert_eq!(
            std::fs::read_to_string(scratch.join("userfile")).unwrap(),
            "USERDATA\n",
            "{opt}"
        );
    }
}
