//! A cache of the rewrite plan, per mapped file, across processes.
//!
//! Finding the sites of libc and ld.so (building iced-x86's decoder tables, decoding the
//! functions that contain a candidate, judging their red zone) is most of a process's start-up
//! cost, and it gives the same answer every time for the same file. The answer is kept in a
//! small text file, keyed by the file's identity (device, inode, size, modification time, path)
//! and the mapping's offset and length, so the next process only checks it.
//!
//! Where: `$ZPOLINE_CACHE_DIR`, else `$XDG_CACHE_HOME/zpoline`, else `~/.cache/zpoline`; a
//! directory that is not owned by the user or is writable by others is not used.
//! `ZPOLINE_CACHE=0` turns the cache off. Every cached site is checked before it is used (its
//! two bytes must still be `0f 05` or `0f 34`); an entry that does not fit is recomputed.
//! All of this happens at start-up, before the hook is loaded.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::decode::{Site, Unsafe};
use crate::maps::Mapping;

/// Changes whenever the analysis could give another answer for the same bytes.
const ANALYSIS_VERSION: u32 = 2;
const MAGIC: &str = "zpoline-sites";

/// The cache directory, if usable.
pub struct Cache {
    dir: Option<PathBuf>,
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl Cache {
    /// Opens (creating it if needed) the cache directory; a disabled or unusable cache answers
    /// every lookup with a miss.
    pub fn open() -> Cache {
        if std::env::var_os("ZPOLINE_CACHE").is_some_and(|v| v == "0") {
            return Cache { dir: None };
        }
        let dir = std::env::var_os("ZPOLINE_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("zpoline"))
            })
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/zpoline")));
        let Some(dir) = dir else {
            return Cache { dir: None };
        };
        if !dir.is_dir() {
            let _ = std::fs::create_dir_all(&dir);
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let ok = std::fs::metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == me && m.mode() & 0o022 == 0);
        Cache {
            dir: ok.then_some(dir),
        }
    }

    /// Whether the cache is in use.
    pub fn enabled(&self) -> bool {
        self.dir.is_some()
    }

    /// The entry's file for a mapping: only file-backed mappings (and the vDSO, keyed by its
    /// contents) have one.
    fn entry(&self, m: &Mapping) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let ident = if m.path == "[vdso]" {
            // SAFETY: the vDSO mapping is readable and small.
            let bytes = unsafe {
                core::slice::from_raw_parts(m.start as *const u8, (m.end - m.start) as usize)
            };
            format!("vdso:{:016x}", fnv1a(bytes))
        } else if m.path.starts_with('/') && !m.path.ends_with(" (deleted)") {
            let md = std::fs::metadata(&m.path).ok()?;
            format!(
                "{}:{}:{}:{}.{}:{}",
                md.dev(),
                md.ino(),
                md.size(),
                md.mtime(),
                md.mtime_nsec(),
                m.path
            )
        } else {
            return None;
        };
        let key = format!(
            "{ident}:{}:{}:{}:{}",
            m.offset,
            m.end - m.start,
            ANALYSIS_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        Some(dir.join(format!("{:016x}.sites", fnv1a(key.as_bytes()))))
    }

    /// The sites of mapping `m`, if the cache has them and they still fit its bytes.
    pub fn load(&self, m: &Mapping) -> Option<Vec<Site>> {
        let text = std::fs::read_to_string(self.entry(m)?).ok()?;
        let sites = parse(&text, m.start, m.end)?;
        let fits = sites.iter().all(|s| {
            // SAFETY: parse keeps every site inside the (readable) mapping.
            let b = unsafe { core::ptr::read((s.addr) as *const [u8; 2]) };
            b == [0x0f, 0x05] || b == [0x0f, 0x34]
        });
        fits.then_some(sites)
    }

    /// Records the sites found in mapping `m` (errors are ignored: the cache is optional).
    pub fn store(&self, m: &Mapping, sites: &[Site]) {
        let Some(path) = self.entry(m) else { return };
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, format(sites, m.start)).is_ok()
            && std::fs::rename(&tmp, &path).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// The text of an entry: one line per site, offsets from the mapping's start.
/// `S off` rewritten to callq; `R off from` red-zone site moved with `[from, off)` to a stub;
/// `U off` red-zone site left as it is.
pub fn format(sites: &[Site], base: u64) -> String {
    let mut s = format!("{MAGIC} {ANALYSIS_VERSION}\n");
    for site in sites {
        let off = site.addr - base;
        match (site.unsafe_reason, site.takeover) {
            (None, _) => s += &format!("S {off:x}\n"),
            (Some(_), Some(t)) => s += &format!("R {off:x} {:x}\n", t - base),
            (Some(_), None) => s += &format!("U {off:x}\n"),
        }
    }
    s
}

/// Parses an entry for a mapping `[start, end)`; `None` if anything is off.
pub fn parse(text: &str, start: u64, end: u64) -> Option<Vec<Site>> {
    let mut lines = text.lines();
    if lines.next()? != format!("{MAGIC} {ANALYSIS_VERSION}") {
        return None;
    }
    let num = |s: Option<&str>| -> Option<u64> { u64::from_str_radix(s?, 16).ok() };
    let mut out = Vec::new();
    for line in lines {
        let mut f = line.split(' ');
        let kind = f.next()?;
        let addr = start.checked_add(num(f.next())?)?;
        if addr + 2 > end {
            return None;
        }
        let site = match kind {
            "S" => Site::safe(addr),
            "R" => {
                let from = start.checked_add(num(f.next())?)?;
                if from >= addr || addr - from > 8 {
                    return None;
                }
                Site {
                    addr,
                    unsafe_reason: Some(Unsafe::RedZone),
                    takeover: Some(from),
                }
            }
            "U" => Site {
                addr,
                unsafe_reason: Some(Unsafe::RedZone),
                takeover: None,
            },
            _ => return None,
        };
        out.push(site);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let base = 0x7f00_0000_0000;
        let sites = vec![
            Site::safe(base + 0x10),
            Site {
                addr: base + 0x40,
                unsafe_reason: Some(Unsafe::RedZone),
                takeover: Some(base + 0x3b),
            },
            Site {
                addr: base + 0x90,
                unsafe_reason: Some(Unsafe::RedZone),
                takeover: None,
            },
        ];
        let text = format(&sites, base);
        assert_eq!(parse(&text, base, base + 0x1000).unwrap(), sites);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let base = 0x1000;
        assert!(parse("garbage\nS 10\n", base, base + 0x100).is_none());
        assert!(
            parse(
                &format!("{MAGIC} {ANALYSIS_VERSION}\nS 200\n"),
                base,
                base + 0x100
            )
            .is_none()
        );
        assert!(
            parse(
                &format!("{MAGIC} {ANALYSIS_VERSION}\nR 40 10\n"),
                base,
                base + 0x100
            )
            .is_none()
        );
        assert!(
            parse(
                &format!("{MAGIC} {ANALYSIS_VERSION}\nX 40\n"),
                base,
                base + 0x100
            )
            .is_none()
        );
        assert_eq!(
            parse(&format!("{MAGIC} {ANALYSIS_VERSION}\n"), base, base + 0x100),
            Some(vec![])
        );
    }
}
