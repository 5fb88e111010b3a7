//! The hook SDK for real: the README's five-minute Rust hook built from the README's own text
//! in a fresh crate, the examples of `hook-sdk/examples` (a `before` hook that denies, one that
//! changes arguments, an `after` hook that changes a result, per-thread state), a panicking
//! hook, and the C example; under `LD_PRELOAD` and through the launcher.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use zpoline_tests::*;

/// `<target>/release/examples/lib<name>.so`, built by `make` (`cargo build --release -p
/// hook-sdk --examples`).
fn example(name: &str) -> PathBuf {
    let p = target_dir()
        .join("release/examples")
        .join(format!("lib{name}.so"));
    assert!(
        p.is_file(),
        "{} is missing: build the SDK's examples first (`cargo build --release -p hook-sdk \
         --examples`; `make test` does it)",
        p.display()
    );
    p
}

/// Both ways of running a hook: `LD_PRELOAD` + `LIBZPHOOK`, and `zpoline run --hook`.
fn modes(hook: &Path) -> [Mode; 2] {
    [
        Mode::Hook(hook.to_path_buf()),
        Mode::Loader(Some(hook.to_path_buf())),
    ]
}

/// The fenced block that follows `<!-- five-minute-hook:TAG -->` in the README.
fn readme_block(readme: &str, tag: &str) -> String {
    let marker = format!("<!-- five-minute-hook:{tag} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README.md has no {marker}"));
    let rest = &readme[at..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body = &rest[open..];
    let start = body.find('\n').unwrap() + 1;
    let end = body[start..].find("```").expect("the block's end") + start;
    body[start..end].to_string()
}

/// Builds a hook crate with `Cargo.toml` and `src/lib.rs` in `dir` (offline, pinned to the
/// workspace's lock file, in its own target directory) and returns the library.
fn build_crate(dir: &Path, manifest: &str, lib: &str, name: &str) -> PathBuf {
    fs::create_dir_all(dir.join("src")).unwrap();
    let sdk = workspace_root().join("hook-sdk");
    fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("../zpoline/hook-sdk", sdk.to_str().unwrap()),
    )
    .unwrap();
    fs::write(dir.join("src/lib.rs"), lib).unwrap();
    // The workspace's lock file: the same versions of libc and syscalls, already downloaded.
    fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "the hook crate did not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = dir.join(format!("target/release/lib{name}.so"));
    assert!(lib.is_file(), "{} was not built", lib.display());
    lib
}

#[test]
fn the_readme_hook_builds_and_runs() {
    require_page_zero();
    let readme = fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let scratch = Scratch::new("readme-hook");
    let lib = build_crate(
        &scratch.join("myhook"),
        &readme_block(&readme, "Cargo.toml"),
        &readme_block(&readme, "lib.rs"),
        "myhook",
    );
    fs::write(scratch.join("hostname"), "myhost\n").unwrap();
    let missing = scratch.join("missing");
    for mode in modes(&lib) {
        let o = Cmd::new("cat").arg(scratch.join("hostname")).run(&mode);
        o.assert_success("cat under the README's hook");
        assert_eq!(o.stdout, "myhost\n", "{}", o.report());
        let line = format!(
            "[myhook] \"{}\" O_RDONLY = 3",
            scratch.join("hostname").display()
        );
        assert!(o.stderr.contains(&line), "no `{line}`:\n{}", o.report());
        // An error result is named.
        let o = Cmd::new("cat").arg(&missing).run(&mode);
        assert_eq!(o.code(), Some(1), "{}", o.report());
        let line = format!("[myhook] \"{}\" = ENOENT", missing.display());
        assert!(o.stderr.contains(&line), "no `{line}`:\n{}", o.report());
    }
}

#[test]
fn keep_passwd_denies_with_eperm_and_the_file_stays() {
    require_page_zero();
    let hook = example("keep_passwd");
    for mode in modes(&hook) {
        let scratch = Scratch::new("keep-passwd");
        fs::write(scratch.join("passwd"), "root:x:0:0\n").unwrap();
        fs::write(scratch.join("other"), "x\n").unwrap();
        let o = Cmd::new("rm")
            .args(["passwd", "other"])
            .current_dir(scratch.path())
            .run(&mode);
        assert_eq!(
            o.code(),
            Some(1),
            "rm must fail {}:\n{}",
            mode.name(),
            o.report()
        );
        assert!(
            o.stderr
                .contains("rm: cannot remove 'passwd': Operation not permitted"),
            "{}",
            o.report()
        );
        assert!(
            o.stderr
                .contains("keep_passwd: denied unlinkat(AT_FDCWD, \"passwd\", 0)"),
            "{}",
            o.report()
        );
        assert!(scratch.join("passwd").is_file(), "passwd was deleted");
        assert!(!scratch.join("other").exists(), "other was not deleted");
        // mv onto it, and truncation, are refused too.
        let o = Cmd::new("mv")
            .args(["-f", "x", "passwd"])
            .current_dir(scratch.path())
            .run(&mode);
        assert_ne!(o.code(), Some(0), "{}", o.report());
        let o = Cmd::new("sh")
            .args(["-c", ": > passwd"])
            .current_dir(scratch.path())
            .run(&mode);
        assert_ne!(o.code(), Some(0), "{}", o.report());
        assert_eq!(
            fs::read_to_string(scratch.join("passwd")).unwrap(),
            "root:x:0:0\n"
        );
    }
}

#[test]
fn redirect_changes_the_path_opened() {
    require_page_zero();
    let hook = example("redirect");
    let scratch = Scratch::new("redirect");
    fs::write(scratch.join("from"), "original\n").unwrap();
    fs::write(scratch.join("to"), "redirected\n").unwrap();
    for mode in modes(&hook) {
        let o = Cmd::new("cat")
            .arg(scratch.join("from"))
            .env("REDIRECT_FROM", scratch.join("from"))
            .env("REDIRECT_TO", scratch.join("to"))
            .run(&mode);
        o.assert_success("cat with a redirected path");
        assert_eq!(o.stdout, "redirected\n", "{}", o.report());
        // Without its variables, the hook stops the program with its message.
        let o = Cmd::new("true").run(&mode);
        assert_eq!(o.code(), Some(127), "{}", o.report());
        assert_eq!(
            o.stderr.trim_end(),
            "zpoline hook: redirect: set REDIRECT_FROM to the path to redirect",
            "{}",
            o.report()
        );
    }
}

#[test]
fn an_after_hook_changes_the_result() {
    require_page_zero();
    let hook = example("hostname");
    let native = Cmd::new("uname").arg("-n").run(&Mode::Native);
    assert_ne!(native.stdout, "zpoline\n");
    for mode in modes(&hook) {
        for prog in [&["uname", "-n"][..], &["hostname"]] {
            let o = Cmd::new(prog[0]).args(&prog[1..]).run(&mode);
            o.assert_success("uname -n / hostname");
            assert_eq!(o.stdout, "zpoline\n", "{}", o.report());
        }
    }
}

#[test]
fn per_thread_state_is_per_thread() {
    require_page_zero();
    let hook = example("per_thread");
    let prog = compile_program("threads");
    for mode in modes(&hook) {
        let o = Cmd::new(&prog).arg("50").run(&mode);
        o.assert_success("threads under the per-thread hook");
        let tids: std::collections::BTreeSet<&str> = o
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("per_thread: tid "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        // 32 workers and the main thread, each with its own count.
        assert!(
            tids.len() >= 33,
            "{} threads reported:\n{}",
            tids.len(),
            o.report()
        );
        for l in o
            .stderr
            .lines()
            .filter(|l| l.starts_with("per_thread: tid "))
        {
            let n: u64 = l.split(' ').nth(4).unwrap().parse().unwrap();
            assert!(n >= 50, "a thread counted {n} calls: {l}");
        }
    }
}

#[test]
fn a_panicking_hook_aborts_with_a_report() {
    require_page_zero();
    let scratch = Scratch::new("panic-hook");
    let manifest = "[package]\nname = \"panics\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                    [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
                    hook-sdk = { path = \"../zpoline/hook-sdk\" }\n";
    let lib = "use hook_sdk::{Hook, Syscall, libc};\nstruct P;\nimpl Hook for P {\n\
               fn after(&self, call: &Syscall, r: i64) -> i64 {\n\
               if call.nr == libc::SYS_getppid { panic!(\"getppid is not allowed\"); }\n\
               r\n}\n}\nhook_sdk::zpoline_hook!(P);\n";
    let lib = build_crate(&scratch.join("panics"), manifest, lib, "panics");
    for mode in modes(&lib) {
        let o = Cmd::new("sh").args(["-c", "echo $PPID"]).run(&mode);
        assert_eq!(o.signal(), Some(libc::SIGABRT), "{}", o.report());
        assert!(
            o.stderr
                .contains("zpoline hook: the hook panicked; aborting the program")
                && o.stderr.contains("getppid is not allowed"),
            "{}",
            o.report()
        );
    }
}

#[test]
fn the_c_example_denies_deletes() {
    require_page_zero();
    let hook = compile_c(
        &workspace_root().join("hook-sdk/examples/c/nodelete.c"),
        &[
            "-shared",
            "-fPIC",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            workspace_root().join("hook-sdk/include").to_str().unwrap(),
        ],
        ".so",
    );
    for mode in modes(&hook) {
        let scratch = Scratch::new("nodelete");
        fs::write(scratch.join("f"), "x").unwrap();
        let o = Cmd::new("rm").arg(scratch.join("f")).run(&mode);
        assert_eq!(o.code(), Some(1), "{}", o.report());
        assert!(
            o.stderr.contains("Operation not permitted"),
            "{}",
            o.report()
        );
        assert!(scratch.join("f").is_file());
    }
}
