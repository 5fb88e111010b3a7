//! Mapping an ELF file into the current process the way the kernel's `execve` does: one
//! reservation for the whole span of the `PT_LOAD` segments, then each segment mapped from the
//! file over it, with the bss zeroed and completed with anonymous pages.
//!
//! The same function loads a program and its interpreter (`ld-linux-x86-64.so.2`).

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::elf::{self, Elf, Kind, PAGE_SIZE, PHDR_SIZE, page_down, page_up};

/// One range of memory mapped for an image: `[start, end)`, page aligned, with its protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// `PROT_READ`, `PROT_WRITE`, `PROT_EXEC` as mapped.
    pub prot: i32,
}

impl Mapping {
    /// Whether the range holds code (`PROT_EXEC`).
    pub fn is_exec(&self) -> bool {
        self.prot & libc::PROT_EXEC != 0
    }
}

/// An ELF file mapped into the current process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The file's headers.
    pub elf: Elf,
    /// The load bias added to every `p_vaddr`: 0 for `ET_EXEC`.
    pub base: u64,
    /// The entry point in memory (`base + e_entry`).
    pub entry: u64,
    /// Where the program headers are in memory (`AT_PHDR`).
    pub phdr: u64,
    /// How many program headers there are (`AT_PHNUM`).
    pub phnum: u64,
    /// The whole reservation `[start, end)`: the segments and the `PROT_NONE` holes between them.
    pub span: (u64, u64),
    /// The ranges mapped for the segments, in order, with their protections.
    pub mappings: Vec<Mapping>,
    /// The `PT_INTERP` path, if the file names an interpreter.
    pub interp: Option<PathBuf>,
}

impl LoadedImage {
    /// The executable ranges `[start, end)` of the image.
    pub fn exec_ranges(&self) -> Vec<std::ops::Range<u64>> {
        self.mappings
            .iter()
            .filter(|m| m.is_exec())
            .map(|m| m.start..m.end)
            .collect()
    }

    /// Unmaps the whole image.
    ///
    /// # Safety
    ///
    /// Nothing may use the image's memory any more (no code of it runs, no pointer into it is
    /// used afterwards).
    pub unsafe fn unmap(&self) {
        // SAFETY: the span is the reservation `load` made; the caller promises it is unused.
        unsafe {
            libc::munmap(
                self.span.0 as *mut libc::c_void,
                (self.span.1 - self.span.0) as usize,
            )
        };
    }
}

/// Opens `path`, reads its headers with `pread` and maps it (see [`map`]).
pub fn load(path: &Path) -> Result<LoadedImage, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let elf = elf::parse_with(&mut |offset, len| {
        let mut buf = vec![0u8; len];
        let mut done = 0;
        while done < len {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(done);
        Ok(buf)
    })
    .map_err(|e| format!("{}: {e}", path.display()))?;
    map(&elf, &file, path)
}

/// Maps the segments of `elf`, read from `file` (named `path` in messages), into the current
/// process: `ET_EXEC` at its fixed addresses (an error if anything is there already), `ET_DYN`
/// where the kernel chooses (aligned to the largest `p_align`).
pub fn map(elf: &Elf, file: &File, path: &Path) -> Result<LoadedImage, String> {
    let fail = |what: String| format!("{}: {what}", path.display());
    let size = file
        .metadata()
        .map_err(|e| fail(format!("cannot stat: {e}")))?
        .len();
    for (i, s) in elf.loads.iter().enumerate() {
        if s.offset.saturating_add(s.filesz) > size {
            return Err(fail(format!(
                "truncated ELF file: PT_LOAD #{i} (bytes {:#x}..{:#x}) goes beyond its end ({size:#x} bytes)",
                s.offset,
                s.offset + s.filesz
            )));
        }
    }
    let (lo, hi) = elf.span();
    let len = hi - lo;
    let reserve = reserve(elf, lo, len).map_err(fail)?;
    let base = reserve - lo;
    let mut image = LoadedImage {
        path: path.to_path_buf(),
        elf: elf.clone(),
        base,
        entry: base.wrapping_add(elf.entry),
        phdr: 0,
        phnum: u64::from(elf.phnum),
        span: (reserve, reserve + len),
        mappings: Vec::new(),
        interp: elf.interp.clone(),
    };
    let result = map_segments(&mut image, file).and_then(|()| {
        image.phdr = phdr_address(elf, base)?;
        Ok(())
    });
    match result {
        Ok(()) => Ok(image),
        Err(e) => {
            // SAFETY: the reservation was just made and nothing uses it yet.
            unsafe { image.unmap() };
            Err(fail(e))
        }
    }
}

/// Reserves `len` bytes (`PROT_NONE`) for the image: at `lo` for `ET_EXEC`, anywhere suitably
/// aligned for `ET_DYN`. Returns the reservation's address.
fn reserve(elf: &Elf, lo: u64, len: u64) -> Result<u64, String> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    match elf.kind {
        Kind::Exec => {
            // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the new one is
            // PROT_NONE and owned by the image.
            let p = unsafe {
                libc::mmap(
                    lo as *mut libc::c_void,
                    len as usize,
                    libc::PROT_NONE,
                    flags | libc::MAP_FIXED_NOREPLACE,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                let e = std::io::Error::last_os_error();
                return Err(if e.raw_os_error() == Some(libc::EEXIST) {
                    format!(
                        "cannot load this ET_EXEC program at its fixed addresses {lo:#x}..{:#x}: the range is already in use in this process",
                        lo + len
                    )
                } else {
                    format!(
                        "cannot reserve {lo:#x}..{:#x} for this ET_EXEC program: {e}",
                        lo + len
                    )
                });
            }
            if p as u64 != lo {
                // SAFETY: unmaps the mapping the kernel placed elsewhere (a kernel older than
                // 4.17 ignores MAP_FIXED_NOREPLACE).
                unsafe { libc::munmap(p, len as usize) };
                return Err(format!(
                    "cannot load this ET_EXEC program at its fixed addresses {lo:#x}..{:#x}: the kernel placed it elsewhere (MAP_FIXED_NOREPLACE unsupported?)",
                    lo + len
                ));
            }
            Ok(lo)
        }
        Kind::Dyn => {
            let align = elf
                .loads
                .iter()
                .map(|s| s.align)
                .filter(|a| a.is_power_of_two())
                .max()
                .unwrap_or(PAGE_SIZE)
                .clamp(PAGE_SIZE, 1 << 30);
            let extra = align - PAGE_SIZE;
            // SAFETY: a fresh PROT_NONE mapping where the kernel chooses touches nothing else.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    (len + extra) as usize,
                    libc::PROT_NONE,
                    flags,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!(
                    "cannot reserve {len:#x} bytes for the image: {}",
                    std::io::Error::last_os_error()
                ));
            }
            let p = p as u64;
            let start = (p + align - 1) & !(align - 1);
            // SAFETY: unmaps the parts of the fresh mapping before and after the aligned span.
            unsafe {
                if start > p {
                    libc::munmap(p as *mut libc::c_void, (start - p) as usize);
                }
                let tail = p + len + extra - (start + len);
                if tail > 0 {
                    libc::munmap((start + len) as *mut libc::c_void, tail as usize);
                }
            }
            Ok(start)
        }
    }
}

/// Maps every `PT_LOAD` of `image` over its reservation.
fn map_segments(image: &mut LoadedImage, file: &File) -> Result<(), String> {
    let fd = file.as_raw_fd();
    let segments = image.elf.loads.clone();
    for (i, s) in segments.iter().enumerate() {
        let prot = s.prot();
        let start = image.base + s.vaddr;
        let page = page_down(start);
        let file_end = start + s.filesz;
        let mem_end = start + s.memsz;
        if s.filesz > 0 {
            let len = page_up(file_end) - page;
            // SAFETY: replaces pages inside the image's own reservation only.
            let p = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    len as usize,
                    prot,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    fd,
                    (s.offset - (start - page)) as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!(
                    "cannot map PT_LOAD #{i} at {page:#x}: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if s.memsz > s.filesz {
            let anon_start = if s.filesz > 0 {
                page_up(file_end)
            } else {
                page
            };
            if s.filesz > 0 && file_end < anon_start {
                zero_tail(file_end, prot).map_err(|e| format!("PT_LOAD #{i}: {e}"))?;
            }
            let anon_end = page_up(mem_end);
            if anon_end > anon_start {
                // SAFETY: replaces pages inside the image's own reservation only.
                let p = unsafe {
                    libc::mmap(
                        anon_start as *mut libc::c_void,
                        (anon_end - anon_start) as usize,
                        prot,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                        -1,
                        0,
                    )
                };
                if p == libc::MAP_FAILED {
                    return Err(format!(
                        "cannot map the bss of PT_LOAD #{i} at {anon_start:#x}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
        }
        image.mappings.push(Mapping {
            start: page,
            end: page_up(mem_end),
            prot,
        });
    }
    Ok(())
}

/// Zeroes from `from` to the end of its page: the rest of the last file-backed page of a segment
/// whose bss starts at `from` (the file's following bytes must not show), as the kernel does. A
/// page that is not writable is made writable for the moment.
fn zero_tail(from: u64, prot: i32) -> Result<(), String> {
    let page = page_down(from);
    let page_end = page + PAGE_SIZE;
    let writable = prot & libc::PROT_WRITE != 0;
    if !writable {
        // SAFETY: the page belongs to the segment just mapped from the file.
        if unsafe {
            libc::mprotect(
                page as *mut libc::c_void,
                PAGE_SIZE as usize,
                prot | libc::PROT_WRITE,
            )
        } != 0
        {
            return Err(format!(
                "cannot make {page:#x} writable to zero the bss: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: [from, page_end) lies within the writable private page mapped for the segment.
    unsafe { std::ptr::write_bytes(from as *mut u8, 0, (page_end - from) as usize) };
    if !writable {
        // SAFETY: restores the protection of the same page.
        unsafe { libc::mprotect(page as *mut libc::c_void, PAGE_SIZE as usize, prot) };
    }
    Ok(())
}

/// Where the program headers are in memory: `PT_PHDR` if there is one, else inside the first
/// `PT_LOAD` whose file bytes hold them.
fn phdr_address(elf: &Elf, base: u64) -> Result<u64, String> {
    if let Some(v) = elf.phdr_vaddr {
        return Ok(base + v);
    }
    let table_end = elf.phoff + PHDR_SIZE * u64::from(elf.phnum);
    elf.loads
        .iter()
        .find(|s| s.offset <= elf.phoff && table_end <= s.offset + s.filesz)
        .map(|s| base + s.vaddr + (elf.phoff - s.offset))
        .ok_or_else(|| {
            "the program headers are in no PT_LOAD segment and there is no PT_PHDR (AT_PHDR would be unknown)".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::testelf::build;

    /// Reads `len` bytes at `addr` of this process.
    fn mem(addr: u64, len: usize) -> Vec<u8> {
        // SAFETY: the tests only read ranges they just mapped readable.
        unsafe { std::slice::from_raw_parts(addr as *const u8, len).to_vec() }
    }

    #[test]
    fn maps_bin_true_like_the_kernel() {
        let img = load(Path::new("/bin/true")).unwrap();
        let file = std::fs::read("/bin/true").unwrap();
        assert_eq!(
            img.interp.as_deref(),
            Some(Path::new("/lib64/ld-linux-x86-64.so.2"))
        );
        assert_eq!(img.elf.kind, Kind::Dyn);
        assert_eq!(img.base % PAGE_SIZE, 0);
        assert_eq!(img.entry, img.base + img.elf.entry);
        assert_eq!(
            mem(img.phdr, 56 * img.phnum as usize),
            file[64..64 + 56 * img.phnum as usize]
        );
        let exec = img.exec_ranges();
        assert!(exec.iter().any(|r| r.contains(&img.entry)), "{img:#?}");
        for s in &img.elf.loads {
            let a = img.base + s.vaddr;
            let n = s.filesz.min(256) as usize;
            if s.flags & elf::PF_R != 0 {
                assert_eq!(mem(a, n), file[s.offset as usize..s.offset as usize + n]);
            }
            if s.memsz > s.filesz {
                let bss = a + s.filesz;
                assert!(
                    mem(bss, (s.memsz - s.filesz) as usize)
                        .iter()
                        .all(|&b| b == 0)
                );
            }
        }
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(
            maps.contains(&format!("{:x}-", img.mappings[0].start)),
            "{maps}"
        );
        // SAFETY: nothing uses the image.
        unsafe { img.unmap() };
    }

    #[test]
    fn loads_the_interpreter() {
        let img = load(Path::new("/lib64/ld-linux-x86-64.so.2")).unwrap();
        assert_eq!(img.interp, None);
        assert!(img.base != 0);
        assert!(img.exec_ranges().iter().any(|r| r.contains(&img.entry)));
        // SAFETY: nothing uses the image.
        unsafe { img.unmap() };
    }

    #[test]
    fn fixed_address_bss_and_occupied_range() {
        let dir = std::env::temp_dir().join(format!("zpoline-image-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("exec.elf");
        // One RW segment at 0x2ee0_0000 + 0x100: 0x1100 bytes from the file (0xab), the file
        // goes on with 0xcd bytes that must not show, then 0x2000 bytes of bss.
        let vaddr = 0x2ee0_0100;
        let mut payload = vec![0xab; 0x1100 - 0x100];
        payload.extend(vec![0xcd; 0x1000]);
        let f = build(
            2,
            vaddr,
            &[(1, 6, 0, vaddr - 0x100, 0x1100, 0x3100, 0x1000)],
            0x100,
            &payload,
        );
        std::fs::write(&path, &f).unwrap();
        let img = load(&path).unwrap();
        assert_eq!(img.base, 0);
        assert_eq!(img.phdr, vaddr - 0x100 + 64);
        assert_eq!(img.span, (0x2ee0_0000, 0x2ee0_4000));
        assert_eq!(
            img.mappings,
            [Mapping {
                start: 0x2ee0_0000,
                end: 0x2ee0_4000,
                prot: libc::PROT_READ | libc::PROT_WRITE
            }]
        );
        assert!(mem(vaddr, 0x1000).iter().all(|&b| b == 0xab));
        assert!(mem(0x2ee0_1100, 0x2f00).iter().all(|&b| b == 0));
        let again = load(&path).unwrap_err();
        assert!(again.contains("already in use"), "{again}");
        assert!(!again.contains('\n'));
        // SAFETY: nothing uses the image.
        unsafe { img.unmap() };
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_segments_beyond_the_file() {
        let dir = std::env::temp_dir().join(format!("zpoline-image-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("short.elf");
        std::fs::write(
            &path,
            build(3, 0, &[(1, 5, 0, 0, 0x5000, 0x5000, 0x1000)], 0, &[]),
        )
        .unwrap();
        let e = load(&path).unwrap_err();
        assert!(e.contains("truncated ELF file: PT_LOAD #0"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
