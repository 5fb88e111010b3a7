//! Rewriting every `syscall`/`sysenter` of the process's executable mappings into
//! `callq *%rax` (`ff d0`).
//!
//! Two phases. First everything is read and decided while the code stays as it is: the
//! mappings (`/proc/self/maps`), the function tables of the loaded objects, the sites
//! ([`crate::decode`]). Then, with every signal blocked and without calling into any library
//! (the pages being written may hold the very code such a call would run), each run of pages
//! that holds sites is made writable, patched and given back its exact original protection. A
//! site that straddles two pages simply makes both writable. No page is left writable and
//! executable.

use crate::decode::{self, Site, Unsafe};
use crate::ehframe;
use crate::maps::{self, Mapping};
use crate::stubs::{self, Stubs};
use crate::{sites, sys};

/// What one rewriting pass did.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Executable mappings examined.
    pub mappings: usize,
    /// Bytes of code searched.
    pub bytes: u64,
    /// Sites rewritten to `callq *%rax`.
    pub rewritten: usize,
    /// Red-zone sites rewritten to a `jmp` into a stub.
    pub stubbed: usize,
    /// Sites left as they are: address, reason, mapping path and file offset.
    pub skipped: Vec<(u64, Unsafe, String, u64)>,
    /// Executable mappings that could not be read (execute-only), by path.
    pub unreadable: Vec<String>,
    /// Mappings whose sites came from the cache.
    pub cached: usize,
}

/// Whether a mapping is never rewritten: the trampoline, the kernel's legacy vsyscall page and
/// the runtime itself (whose own `syscall` instructions must reach the kernel).
fn excluded(m: &Mapping, own_path: &str) -> bool {
    m.start == 0 || m.path == "[vsyscall]" || (!own_path.is_empty() && m.path == own_path)
}

/// The path of the mapping that holds the runtime's code.
fn own_path(all: &[Mapping]) -> String {
    let here = crate::arch::x86_64::zp_entry as *const () as usize as u64;
    all.iter()
        .find(|m| m.contains(here))
        .map(|m| m.path.clone())
        .unwrap_or_default()
}

/// Finds the sites of every executable mapping (phase one).
pub fn find_all(all: &[Mapping], report: &mut Report) -> Vec<Site> {
    let own = own_path(all);
    let cache = crate::cache::Cache::open();
    let objects = ehframe::objects();
    let mut tables: Vec<Option<Vec<ehframe::Range>>> = vec![None; objects.len()];
    let mut out = Vec::new();
    for m in all.iter().filter(|m| m.exec && !excluded(m, &own)) {
        if !m.read {
            report.unreadable.push(m.path.clone());
            continue;
        }
        report.mappings += 1;
        report.bytes += m.end - m.start;
        let (found, from_cache) = match cache.load(m) {
            Some(sites) => (sites, true),
            None => (scan_mapping(m, &objects, &mut tables), false),
        };
        if from_cache {
            report.cached += 1;
        } else if cache.enabled() {
            cache.store(m, &found);
        }
        for s in found {
            // A site whose two bytes run past the mapping cannot be an instruction we rewrite.
            if s.addr + 2 > m.end {
                continue;
            }
            if let Some(why) = s.unsafe_reason {
                report
                    .skipped
                    .push((s.addr, why, m.path.clone(), s.addr - m.start + m.offset));
            }
            out.push(s);
        }
    }
    out
}

/// Decodes the sites of one mapping, with the function table of the object it belongs to.
fn scan_mapping(
    m: &Mapping,
    objects: &[ehframe::Object],
    tables: &mut [Option<Vec<ehframe::Range>>],
) -> Vec<Site> {
    {
        let obj = objects
            .iter()
            .position(|o| o.exec.iter().any(|&(s, e)| s < m.end && m.start < e));
        let fns: &[ehframe::Range] = match obj {
            Some(i) => {
                if tables[i].is_none() {
                    // SAFETY: PT_GNU_EH_FRAME of a loaded object points at its mapped table.
                    tables[i] = Some(
                        objects[i]
                            .eh_frame_hdr
                            .map(|h| unsafe { ehframe::functions(h) })
                            .unwrap_or_default(),
                    );
                }
                tables[i].as_deref().unwrap_or(&[])
            }
            None => &[],
        };
        // SAFETY: a readable mapping from /proc/self/maps, not unmapped while we read it
        // (start-up is single-threaded; late code is handled by its own path).
        let bytes = unsafe {
            core::slice::from_raw_parts(m.start as *const u8, (m.end - m.start) as usize)
        };
        let code = executable_sections(m);
        decode::scan_in(bytes, m.start, fns, code.as_deref())
    }
}

/// The executable sections (`SHF_EXECINSTR`) of the file a mapping maps, as addresses in the
/// mapping, from the file's section headers; `None` when they cannot be read (no file, no
/// section headers): then everything outside the function records is swept.
fn executable_sections(m: &Mapping) -> Option<Vec<ehframe::Range>> {
    use std::os::unix::fs::FileExt;
    if !m.path.starts_with('/') {
        return None;
    }
    let f = std::fs::File::open(&m.path).ok()?;
    let mut eh = [0u8; 64];
    f.read_exact_at(&mut eh, 0).ok()?;
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u64::from(u16::from_le_bytes([b[o], b[o + 1]]));
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let (shoff, shentsize, shnum) = (u64_at(&eh, 0x28), u16_at(&eh, 0x3a), u16_at(&eh, 0x3c));
    if shoff == 0 || shnum == 0 || shentsize < 64 || shnum > 65_000 {
        return None;
    }
    let mut table = vec![0u8; (shentsize * shnum) as usize];
    f.read_exact_at(&mut table, shoff).ok()?;
    let (file_lo, file_hi) = (m.offset, m.offset + (m.end - m.start));
    let mut out = Vec::new();
    for sh in table.chunks_exact(shentsize as usize) {
        const SHT_NOBITS: u32 = 8;
        const SHF_EXECINSTR: u64 = 4;
        let (ty, flags) = (
            u32::from_le_bytes([sh[4], sh[5], sh[6], sh[7]]),
            u64_at(sh, 8),
        );
        let (off, size) = (u64_at(sh, 0x18), u64_at(sh, 0x20));
        if flags & SHF_EXECINSTR == 0 || ty == SHT_NOBITS || size == 0 {
            continue;
        }
        let (lo, hi) = (off.max(file_lo), (off + size).min(file_hi));
        if lo < hi {
            out.push((m.start + (lo - file_lo), m.start + (hi - file_lo)));
        }
    }
    out.sort_unstable();
    Some(out)
}

/// Ranges `[start, end)` to make writable to perform `writes`, each with the protection to
/// restore: every mapping that holds a byte to write, whole (one `mprotect` per mapping each
/// way, instead of splitting the mapping into many areas page by page, which costs far more).
fn page_runs(writes: &[Write], all: &[Mapping]) -> Vec<(u64, u64, i32)> {
    let mut runs: Vec<(u64, u64, i32)> = Vec::new();
    let mut last: Option<usize> = None;
    for w in writes {
        for a in [w.addr, w.addr + w.len as u64 - 1] {
            if last.is_some_and(|i| all[i].contains(a)) {
                continue;
            }
            let Some(i) = all.iter().position(|m| m.contains(a)) else {
                continue;
            };
            last = Some(i);
            let m = &all[i];
            if !runs.iter().any(|r| r.0 == m.start) {
                runs.push((m.start, m.end, m.prot()));
            }
        }
    }
    runs.sort_unstable();
    runs
}

/// Bytes to store at an address during phase two.
#[derive(Debug, Clone, Copy)]
struct Write {
    addr: u64,
    bytes: [u8; 16],
    len: usize,
}

impl Write {
    fn new(addr: u64, b: &[u8]) -> Write {
        let mut bytes = [0u8; 16];
        bytes[..b.len()].copy_from_slice(b);
        Write {
            addr,
            bytes,
            len: b.len(),
        }
    }
}

/// Phase two: performs `writes` (their sites are already in the site set).
///
/// Must not allocate or call into other libraries: the pages it makes writable may hold them.
fn patch(writes: &[Write], runs: &[(u64, u64, i32)]) -> Result<(), (&'static str, i32)> {
    let old_mask =
        sys::sigprocmask(libc::SIG_SETMASK, Some(!0)).map_err(|e| ("rt_sigprocmask", e))?;
    let mut result = Ok(());
    let mut opened = 0;
    for &(s, e, prot) in runs {
        // Keep the pages executable while they are written when the system allows it (another
        // thread may be running there); otherwise read-write for the instant of the write.
        let rw = sys::mprotect(
            s,
            (e - s) as usize,
            prot | libc::PROT_WRITE | libc::PROT_READ,
        )
        .or_else(|_| sys::mprotect(s, (e - s) as usize, libc::PROT_READ | libc::PROT_WRITE));
        if let Err(err) = rw {
            result = Err(("mprotect", err));
            break;
        }
        opened += 1;
    }
    if result.is_ok() {
        for w in writes {
            if w.len == 2 {
                // SAFETY: `w.addr` is the first byte of a decoded syscall/sysenter instruction whose
                // page(s) were just made writable; one 2-byte store replaces it.
                unsafe {
                    (w.addr as *mut u16)
                        .write_unaligned(u16::from_le_bytes([w.bytes[0], w.bytes[1]]))
                };
            } else {
                for i in 0..w.len {
                    // SAFETY: decoded instructions being replaced, in pages made writable above.
                    unsafe {
                        core::ptr::write_volatile((w.addr + i as u64) as *mut u8, w.bytes[i])
                    };
                }
            }
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
    for &(s, e, prot) in &runs[..opened] {
        if let Err(err) = sys::mprotect(s, (e - s) as usize, prot) {
            result = Err(("mprotect", err));
        }
    }
    let _ = sys::sigprocmask(libc::SIG_SETMASK, Some(old_mask));
    result
}

/// Rewrites every safe site of every executable mapping, or with `only`, of the mappings that
/// overlap those ranges and of the vDSO (a program started by the launcher's loader).
pub fn rewrite_all(only: Option<&[(u64, u64)]>) -> Result<Report, String> {
    let all = maps::read_self()
        .map_err(|e| format!("cannot read /proc/self/maps (errno {e}); is /proc mounted?"))?;
    let mut report = Report::default();
    let found = match only {
        None => find_all(&all, &mut report),
        Some(ranges) => {
            let chosen: Vec<Mapping> = all
                .iter()
                .filter(|m| {
                    m.path == "[vdso]" || ranges.iter().any(|&(s, e)| m.start < e && s < m.end)
                })
                .cloned()
                .collect();
            find_all(&chosen, &mut report)
        }
    };
    let entry = crate::arch::x86_64::zp_entry as *const () as u64;
    let mut writes = Vec::with_capacity(found.len());
    let mut stubs = Stubs::default();
    for s in &found {
        match (s.unsafe_reason, s.takeover) {
            (None, _) if sites::insert(s.addr) => {
                writes.push(Write::new(s.addr, &[0xff, 0xd0]));
                report.rewritten += 1;
            }
            (Some(_), Some(t)) if s.addr - t <= 8 => {
                let Some(at) = stubs.alloc(t, (s.addr - t) as usize + stubs::TAIL, &all) else {
                    continue;
                };
                // SAFETY: [t, s) are decoded instructions of a readable mapping.
                let moved =
                    unsafe { core::slice::from_raw_parts(t as *const u8, (s.addr - t) as usize) };
                let (code, ret) = stubs::build(at, moved, s.addr, entry);
                if !sites::insert(ret - 2) {
                    continue;
                }
                // SAFETY: `at` is inside a stub page we mapped read-write and have not sealed.
                unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), at as *mut u8, code.len()) };
                writes.push(Write::new(t, &stubs::patch_bytes(t, s.addr, at)));
                report.stubbed += 1;
                report.skipped.retain(|k| k.0 != s.addr);
            }
            _ => {}
        }
    }
    stubs
        .seal()
        .map_err(|e| format!("mprotect failed with errno {e} while sealing stubs"))?;
    let runs = page_runs(&writes, &all);
    patch(&writes, &runs)
        .map_err(|(what, e)| format!("{what} failed with errno {e} while rewriting code"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(start: u64, end: u64, prot: &str, path: &str) -> Mapping {
        maps::parse_line(&format!("{start:x}-{end:x} {prot} 00000000 00:00 0 {path}")).unwrap()
    }

    #[test]
    fn straddling_site_opens_both_mappings() {
        let all = [
            m(0x10000, 0x11000, "r-xp", "/lib/x.so"),
            m(0x11000, 0x13000, "r-xp", "/lib/y.so"),
        ];
        let runs = page_runs(&[Write::new(0x10fff, &[0xff, 0xd0])], &all);
        let rx = libc::PROT_READ | libc::PROT_EXEC;
        assert_eq!(runs, vec![(0x10000, 0x11000, rx), (0x11000, 0x13000, rx)]);
    }

    #[test]
    fn one_run_per_mapping_with_its_protection() {
        let all = [
            m(0x10000, 0x12000, "r-xp", "/a"),
            m(0x12000, 0x13000, "--xp", "/a"),
            m(0x20000, 0x21000, "r-xp", "/b"),
        ];
        let w: Vec<Write> = [0x10010, 0x11010, 0x12010, 0x20010]
            .iter()
            .map(|&a| Write::new(a, &[0xff, 0xd0]))
            .collect();
        let runs = page_runs(&w, &all);
        assert_eq!(
            runs,
            vec![
                (0x10000, 0x12000, libc::PROT_READ | libc::PROT_EXEC),
                (0x12000, 0x13000, libc::PROT_EXEC),
                (0x20000, 0x21000, libc::PROT_READ | libc::PROT_EXEC)
            ]
        );
    }

    #[test]
    fn exclusions() {
        assert!(excluded(&m(0, 0x1000, "--xp", ""), "/x/libzpoline.so"));
        assert!(excluded(
            &m(0xffffffffff600000, 0xffffffffff601000, "--xp", "[vsyscall]"),
            ""
        ));
        assert!(excluded(
            &m(0x1000, 0x2000, "r-xp", "/x/libzpoline.so"),
            "/x/libzpoline.so"
        ));
        assert!(!excluded(
            &m(0x1000, 0x2000, "r-xp", "[vdso]"),
            "/x/libzpoline.so"
        ));
    }

    #[test]
    fn patch_rewrites_a_private_copy() {
        // An executable anonymous page holding `syscall; ret`.
        let p = sys::mmap(
            0,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
        .unwrap() as u64;
        // SAFETY: p is our fresh RW page.
        unsafe {
            core::ptr::copy_nonoverlapping([0x0fu8, 0x05, 0xc3].as_ptr(), (p + 0xffe) as *mut u8, 2)
        };
        sys::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC).unwrap();
        let all = [m(p, p + 4096, "r-xp", "")];
        let w = [Write::new(p + 0x10, &[0xff, 0xd0])];
        patch(&w, &page_runs(&w, &all)).unwrap();
        // SAFETY: the page is readable.
        let b = unsafe { core::ptr::read((p + 0x10) as *const [u8; 2]) };
        assert_eq!(b, [0xff, 0xd0]);
        let now = maps::read_self()
            .unwrap()
            .into_iter()
            .find(|x| x.contains(p))
            .unwrap();
        assert!(now.read && now.exec && !now.write);
    }
}
