//! `make install`: the launcher, the libraries, `zpoline.h` and `zpoline.pc` in a staging
//! directory; a C hook built with `pkg-config --cflags zpoline` runs through the installed
//! launcher, which finds the installed runtime.

use std::process::Command;

use zpoline_tests::*;

#[test]
fn installed_header_pkg_config_and_launcher_work_together() {
    let scratch = Scratch::new("install");
    let dest = scratch.join("dest");
    let st = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(workspace_root())
        .arg("install-files")
        .arg(format!("DESTDIR={}", dest.display()))
        .arg("PREFIX=/usr")
        .arg(format!("TARGET_DIR={}", target_dir().display()))
        .status()
        .expect("cannot run make");
    assert!(st.success(), "make install-files failed");
    for f in [
        "usr/bin/zpoline",
        "usr/lib/zpoline/libzpoline.so",
        "usr/lib/zpoline/libzphook_basic.so",
        "usr/lib/zpoline/libzphook_count.so",
        "usr/lib/zpoline/libzphook_trace.so",
        "usr/lib/zpoline/libzphook_rules.so",
        "usr/include/zpoline.h",
        "usr/lib/pkgconfig/zpoline.pc",
    ] {
        assert!(dest.join(f).is_file(), "{f} was not installed");
    }
    // pkg-config with the staging directory as sysroot gives the staged include path.
    let pc = Command::new("pkg-config")
        .args(["--cflags", "zpoline"])
        .env("PKG_CONFIG_PATH", dest.join("usr/lib/pkgconfig"))
        .env("PKG_CONFIG_SYSROOT_DIR", &dest)
        .output()
        .expect("cannot run pkg-config (apt-get install pkg-config; .ci/run does)");
    assert!(pc.status.success(), "pkg-config --cflags zpoline failed");
    let cflags = String::from_utf8_lossy(&pc.stdout).trim().to_string();
    assert!(cflags.contains("usr/include"), "cflags: {cflags}");
    let src = scratch.join("hook.c");
    std::fs::write(
        &src,
        "#include <zpoline.h>\n#include <sys/syscall.h>\nstatic zpoline_syscall_fn next;\n\
         static long hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)\n\
         { if (nr == SYS_getppid) return 4242; return next(nr, a1, a2, a3, a4, a5, a6); }\n\
         int __hook_init(long placeholder, void *slot)\n\
         { (void)placeholder; next = zpoline_install(slot, hook); return 0; }\n",
    )
    .unwrap();
    let hook = scratch.join("libhook.so");
    let mut cc = Command::new("cc");
    cc.args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
        .arg(&hook)
        .arg(&src);
    cc.args(cflags.split_whitespace());
    assert!(cc.status().unwrap().success(), "the C hook did not build");
    let o = Cmd::new(dest.join("usr/bin/zpoline"))
        .args(["run", "--hook"])
        .arg(&hook)
        .args(["--", "/bin/sh", "-c", "echo $PPID"])
        .run(&Mode::Native);
    o.assert_success("the installed launcher with a C hook");
    assert_eq!(o.stdout, "4242\n", "{}", o.report());
    // The installed launcher finds the installed rules hook.
    let rules = scratch.join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nsyscalls = [\"getppid\"]\naction = \"return\"\nvalue = 7\nquiet = true\n",
    )
    .unwrap();
    let o = Cmd::new(dest.join("usr/bin/zpoline"))
        .args(["run", "--rules"])
        .arg(&rules)
        .args(["--", "/bin/sh", "-c", "echo $PPID"])
        .run(&Mode::Native);
    o.assert_success("the installed launcher with --rules");
    assert_eq!(o.stdout, "7\n", "{}", o.report());
}
