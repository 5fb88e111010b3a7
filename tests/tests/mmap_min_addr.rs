//! The error message when page 0 cannot be mapped. This test changes the machine-wide sysctl
//! `vm.mmap_min_addr` for a moment, so it lives in its own test binary (cargo runs test binaries
//! one at a time) and always restores the old value.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use zpoline_tests::*;

const SYSCTL: &str = "/proc/sys/vm/mmap_min_addr";

/// Restores `vm.mmap_min_addr` when dropped (also when the test panics).
struct RestoreSysctl {
    old: String,
}

impl Drop for RestoreSysctl {
    fn drop(&mut self) {
        if let Err(e) = fs::write(SYSCTL, &self.old) {
            eprintln!(
                "COULD NOT RESTORE vm.mmap_min_addr to {}: {e}; run `sysctl -w vm.mmap_min_addr={}`",
                self.old.trim(),
                self.old.trim()
            );
        }
    }
}

/// Copies the runtime into a directory any user can read, as a user without privileges must
/// load it.
fn world_readable_copy() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zpoline-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let so = dir.join("libzpoline.so");
    fs::copy(libzpoline(), &so).unwrap();
    fs::set_permissions(&so, fs::Permissions::from_mode(0o755)).unwrap();
    so
}

#[test]
fn unmappable_page_zero_is_explained() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIPPED unmappable_page_zero_is_explained: changing vm.mmap_min_addr needs root"
        );
        return;
    }
    let so = world_readable_copy();
    let so_dir = so.parent().unwrap().to_path_buf();

    let old = fs::read_to_string(SYSCTL).expect("read vm.mmap_min_addr");
    if let Err(e) = fs::write(SYSCTL, "65536") {
        let _ = fs::remove_dir_all(&so_dir);
        eprintln!(
            "SKIPPED unmappable_page_zero_is_explained: cannot set vm.mmap_min_addr ({e}); \
             /proc/sys is read-only here"
        );
        return;
    }
    let guard = RestoreSysctl { old };

    let args = [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "env",
    ];
    let preload = format!("LD_PRELOAD={}", so.display());
    let out = Command::new("setpriv")
        .args(args)
        .arg(&preload)
        .arg("/bin/true")
        .env_remove("LD_PRELOAD")
        .env_remove("LIBZPHOOK")
        .env_remove("ZPOLINE_ON_ERROR")
        .output()
        .expect("run setpriv");
    drop(guard);
    let _ = fs::remove_dir_all(&so_dir);

    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!(
        "command: sysctl -w vm.mmap_min_addr=65536; setpriv {} {preload} /bin/true\nstatus: {}\nstderr:\n{stderr}",
        args.join(" "),
        describe_status(out.status)
    );
    assert_eq!(out.status.code(), Some(127), "expected exit 127\n{report}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "expected exactly one line on stderr\n{report}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("vm.mmap_min_addr"))
        .unwrap_or_else(|| panic!("no stderr line names vm.mmap_min_addr\n{report}"));
    assert!(line.starts_with("zpoline: "), "{report}");
    assert!(
        line.contains("65536"),
        "the line must give the current value 65536\n{report}"
    );
    assert!(
        line.contains("sysctl -w vm.mmap_min_addr=0"),
        "the line must give the fix `sysctl -w vm.mmap_min_addr=0`\n{report}"
    );
}
