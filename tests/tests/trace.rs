//! `zpoline run --trace=FILE` (apps/trace, strace for zpoline): the system calls of `ls -la`
//! and `cat`, from their first instruction, in the order `strace` shows them for their native
//! runs, with the same paths.

use zpoline_tests::*;

/// `(name, first string argument)` of each line of an strace-like log (`[pid ]name(...) = r`).
fn calls(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
            if l.starts_with("<...") || l.starts_with("---") || l.starts_with("+++") {
                return None;
            }
            let open = l.find('(')?;
            let name = l[..open].to_string();
            let rest = &l[open..];
            let s = rest.find('"').and_then(|a| {
                rest[a + 1..]
                    .find('"')
                    .map(|b| rest[a + 1..a + 1 + b].to_string())
            });
            Some((name, s))
        })
        .collect()
}

fn compare(args: &[&str]) {
    require_page_zero();
    let scratch = Scratch::new("trace");
    let ours = scratch.join("zpoline.txt");
    let theirs = scratch.join("strace.txt");
    let st = std::process::Command::new("strace")
        .arg("-o")
        .arg(&theirs)
        .args(args)
        .env("LC_ALL", "C")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .stdout(std::fs::File::create(scratch.join("native-stdout")).unwrap())
        .status()
        .expect("cannot run strace");
    assert!(st.success());
    let o = Cmd::new(release_artifact("zpoline"))
        .arg("run")
        .arg(format!("--trace={}", ours.display()))
        .arg("--")
        .args(args)
        .run(&Mode::Native);
    o.assert_success("zpoline run --trace");
    let mut a = calls(&std::fs::read_to_string(&ours).unwrap());
    let mut b = calls(&std::fs::read_to_string(&theirs).unwrap());
    // strace shows the execve that started the program; the trace starts after it.
    if b.first().is_some_and(|c| c.0 == "execve") {
        b.remove(0);
    }
    a.retain(|c| c.0 != "exit_group");
    b.retain(|c| c.0 != "exit_group");
    // Paths are compared where the trace decodes them (the common calls).
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        if x.1.is_none() {
            y.1 = None;
        }
    }
    assert_eq!(
        a,
        b,
        "trace differs from strace\nzpoline:\n{}\nstrace:\n{}",
        std::fs::read_to_string(&ours).unwrap(),
        std::fs::read_to_string(&theirs).unwrap()
    );
}

#[test]
fn ls_trace_matches_strace() {
    compare(&["/bin/ls", "-la", "/usr"]);
}

#[test]
fn cat_trace_matches_strace() {
    compare(&["/bin/cat", "/etc/hostname", "/etc/debian_version"]);
}
