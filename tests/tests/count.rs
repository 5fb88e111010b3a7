//! `zpoline run --count` (apps/count, `strace -c` for zpoline): the calls and errors per
//! system call of a program, from its first instruction, match `strace -c` of its native run.

use std::collections::BTreeMap;

use zpoline_tests::*;

/// `name -> (calls, errors)` from a `strace -c` table.
fn parse_table(text: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
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
