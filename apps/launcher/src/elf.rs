//! Parsing the headers of an ELF64 little-endian x86-64 executable or shared object: what a
//! loader needs (entry point, program headers, `PT_LOAD` segments, `PT_INTERP`, `PT_PHDR`,
//! `PT_GNU_STACK`), nothing more.
//!
//! Every error is one line naming the cause ("not an ELF file ...", "truncated ELF file: ...").
//! Callers prefix it with the file's path.

use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

/// The page size the segments must agree with (x86-64).
pub const PAGE_SIZE: u64 = 4096;

/// The size of one ELF64 program header (`sizeof(Elf64_Phdr)`), also the value of `AT_PHENT`.
pub const PHDR_SIZE: u64 = 56;

/// The size of the ELF64 file header (`sizeof(Elf64_Ehdr)`).
pub const EHDR_SIZE: u64 = 64;

/// The longest `PT_INTERP` path accepted (the kernel's limit is one page).
const MAX_INTERP_LEN: u64 = PAGE_SIZE;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_GNU_STACK: u32 = 0x6474_e551;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;

/// Segment permission bit: executable (`PF_X`).
pub const PF_X: u32 = 1;
/// Segment permission bit: writable (`PF_W`).
pub const PF_W: u32 = 2;
/// Segment permission bit: readable (`PF_R`).
pub const PF_R: u32 = 4;

/// The kind of ELF file, which decides where it is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ET_EXEC`: loaded at the fixed addresses of its segments.
    Exec,
    /// `ET_DYN`: position independent (PIE, static-pie, shared object, interpreter); loaded at
    /// an address the kernel chooses.
    Dyn,
}

/// One `PT_LOAD` program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `p_offset`: where the segment's bytes start in the file.
    pub offset: u64,
    /// `p_vaddr`: where they go in memory (before the load bias is added).
    pub vaddr: u64,
    /// `p_filesz`: how many bytes come from the file.
    pub filesz: u64,
    /// `p_memsz`: the size in memory; the bytes beyond `filesz` are zero (bss).
    pub memsz: u64,
    /// `p_flags`: [`PF_R`], [`PF_W`], [`PF_X`].
    pub flags: u32,
    /// `p_align`.
    pub align: u64,
}

impl Segment {
    /// The `mmap`/`mprotect` protection of the segment (`PROT_READ`, `PROT_WRITE`, `PROT_EXEC`).
    pub fn prot(&self) -> i32 {
        let mut prot = libc::PROT_NONE;
        if self.flags & PF_R != 0 {
            prot |= libc::PROT_READ;
        }
        if self.flags & PF_W != 0 {
            prot |= libc::PROT_WRITE;
        }
        if self.flags & PF_X != 0 {
            prot |= libc::PROT_EXEC;
        }
        prot
    }
}

/// What a loader needs from an ELF file's headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elf {
    /// `e_type`.
    pub kind: Kind,
    /// `e_entry` (before the load bias is added).
    pub entry: u64,
    /// `e_phoff`: where the program headers are in the file.
    pub phoff: u64,
    /// `e_phnum`: how many program headers there are.
    pub phnum: u16,
    /// The `PT_LOAD` segments, in file order (ascending `p_vaddr`, as the ELF spec requires).
    pub loads: Vec<Segment>,
    /// The `PT_INTERP` path (the program interpreter), if there is one.
    pub interp: Option<PathBuf>,
    /// `p_vaddr` of `PT_PHDR`, if there is one.
    pub phdr_vaddr: Option<u64>,
    /// `p_flags` of `PT_GNU_STACK`, if there is one (`PF_X` asks for an executable stack).
    pub stack_flags: Option<u32>,
}

impl Elf {
    /// Whether the program asks for an executable stack (`PT_GNU_STACK` with `PF_X`). Without
    /// `PT_GNU_STACK` the x86-64 kernel gives a non-executable stack too.
    pub fn exec_stack(&self) -> bool {
        self.stack_flags.is_some_and(|f| f & PF_X != 0)
    }

    /// The lowest and the highest address (exclusive) the `PT_LOAD` segments cover, before the
    /// load bias is added, rounded out to whole pages.
    pub fn span(&self) -> (u64, u64) {
        let lo = self.loads.iter().map(|s| s.vaddr).min().unwrap_or(0);
        let hi = self
            .loads
            .iter()
            .map(|s| s.vaddr + s.memsz)
            .max()
            .unwrap_or(0);
        (page_down(lo), page_up(hi))
    }
}

/// `addr` rounded down to a page boundary.
pub fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// `addr` rounded up to a page boundary.
pub fn page_up(addr: u64) -> u64 {
    addr.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Parses the headers of a whole file (or of a prefix of it that holds the ELF header, the
/// program headers and the `PT_INTERP` path).
pub fn parse(bytes: &[u8]) -> Result<Elf, String> {
    parse_with(&mut |offset, len| {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    })
}

/// Parses the headers, reading the file through `read_at(offset, len)`, which returns the bytes
/// at `offset` (fewer than `len` at the end of the file, like `pread`).
pub fn parse_with(
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
) -> Result<Elf, String> {
    let mut read = |offset: u64, len: u64, what: &str| -> Result<Vec<u8>, String> {
        let n = usize::try_from(len).map_err(|_| format!("{what} too large ({len} bytes)"))?;
        let b = read_at(offset, n).map_err(|e| format!("cannot read the {what}: {e}"))?;
        if b.len() < n {
            return Err(format!(
                "truncated ELF file: the {what} (bytes {offset:#x}..{:#x}) go beyond its end",
                offset.saturating_add(len)
            ));
        }
        Ok(b)
    };

    let ident = read(0, 16, "ELF identification").map_err(|e| {
        if e.starts_with("truncated") {
            not_elf()
        } else {
            e
        }
    })?;
    if ident[..4] != *b"\x7fELF" {
        return Err(not_elf());
    }
    if ident[4] != 2 {
        return Err(format!(
            "not a 64-bit ELF file (EI_CLASS is {}, 2 is ELFCLASS64)",
            ident[4]
        ));
    }
    if ident[5] != 1 {
        return Err(format!(
            "not a little-endian ELF file (EI_DATA is {}, 1 is ELFDATA2LSB)",
            ident[5]
        ));
    }
    let ehdr = read(0, EHDR_SIZE, "ELF header")?;
    let e_type = u16_at(&ehdr, 16);
    let e_machine = u16_at(&ehdr, 18);
    if e_machine != EM_X86_64 {
        return Err(format!(
            "not an x86-64 ELF file (e_machine is {e_machine}, {EM_X86_64} is EM_X86_64)"
        ));
    }
    let kind = match e_type {
        ET_EXEC => Kind::Exec,
        ET_DYN => Kind::Dyn,
        t => {
            return Err(format!(
                "not an executable or shared object (e_type is {t}; only ET_EXEC and ET_DYN load)"
            ));
        }
    };
    let entry = u64_at(&ehdr, 24);
    let phoff = u64_at(&ehdr, 32);
    let phentsize = u16_at(&ehdr, 54);
    let phnum = u16_at(&ehdr, 56);
    if phnum == 0 {
        return Err("no program headers (e_phnum is 0), so no PT_LOAD segment".into());
    }
    if u64::from(phentsize) != PHDR_SIZE {
        return Err(format!(
            "bad e_phentsize {phentsize} (ELF64 program headers are {PHDR_SIZE} bytes)"
        ));
    }
    let table = read(phoff, PHDR_SIZE * u64::from(phnum), "program headers")?;

    let mut elf = Elf {
        kind,
        entry,
        phoff,
        phnum,
        loads: Vec::new(),
        interp: None,
        phdr_vaddr: None,
        stack_flags: None,
    };
    let mut interp_at = None;
    for (i, ph) in table.chunks_exact(PHDR_SIZE as usize).enumerate() {
        let p_type = u32_at(ph, 0);
        let seg = Segment {
            flags: u32_at(ph, 4),
            offset: u64_at(ph, 8),
            vaddr: u64_at(ph, 16),
            filesz: u64_at(ph, 32),
            memsz: u64_at(ph, 40),
            align: u64_at(ph, 48),
        };
        match p_type {
            PT_LOAD => {
                if seg.offset % PAGE_SIZE != seg.vaddr % PAGE_SIZE {
                    return Err(format!(
                        "PT_LOAD #{i}: p_offset {:#x} and p_vaddr {:#x} are not congruent modulo the page size ({PAGE_SIZE})",
                        seg.offset, seg.vaddr
                    ));
                }
                if seg.filesz > seg.memsz {
                    return Err(format!(
                        "PT_LOAD #{i}: p_filesz {:#x} is larger than p_memsz {:#x}",
                        seg.filesz, seg.memsz
                    ));
                }
                if seg.vaddr.checked_add(seg.memsz).is_none_or(|e| e > 1 << 47) {
                    return Err(format!(
                        "PT_LOAD #{i}: p_vaddr {:#x} + p_memsz {:#x} is beyond the user address space",
                        seg.vaddr, seg.memsz
                    ));
                }
                elf.loads.push(seg);
            }
            PT_INTERP => {
                if seg.filesz == 0 || seg.filesz > MAX_INTERP_LEN {
                    return Err(format!(
                        "PT_INTERP: bad path length {} (p_filesz)",
                        seg.filesz
                    ));
                }
                interp_at = Some((seg.offset, seg.filesz));
            }
            PT_PHDR => elf.phdr_vaddr = Some(seg.vaddr),
            PT_GNU_STACK => elf.stack_flags = Some(seg.flags),
            _ => {}
        }
    }
    if elf.loads.is_empty() {
        return Err("no PT_LOAD segment: nothing to load".into());
    }
    if let Some((offset, len)) = interp_at {
        let raw = read(offset, len, "PT_INTERP path")?;
        let path = raw.split(|&b| b == 0).next().unwrap_or_default();
        if path.is_empty() {
            return Err("PT_INTERP: empty interpreter path".into());
        }
        elf.interp = Some(PathBuf::from(std::ffi::OsStr::from_bytes(path)));
    }
    Ok(elf)
}

fn not_elf() -> String {
    "not an ELF file (no \\x7fELF magic number)".into()
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().expect("2 bytes"))
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// Test helpers shared with the other modules' tests: a synthetic ELF file.
#[cfg(test)]
pub(crate) mod testelf {
    /// One program header for [`build`]: (type, flags, offset, vaddr, filesz, memsz, align).
    pub type Ph = (u32, u32, u64, u64, u64, u64, u64);

    /// An ELF64 x86-64 file of `e_type` with the program headers `phs` at offset 64, then
    /// `payload` written at `payload_at` (the file is extended with zeros as needed).
    pub fn build(
        e_type: u16,
        entry: u64,
        phs: &[Ph],
        payload_at: usize,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56 * phs.len()];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&62u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phs.len() as u16).to_le_bytes());
        for (i, &(t, fl, off, va, fs, ms, al)) in phs.iter().enumerate() {
            let p = &mut f[64 + 56 * i..64 + 56 * (i + 1)];
            p[0..4].copy_from_slice(&t.to_le_bytes());
            p[4..8].copy_from_slice(&fl.to_le_bytes());
            p[8..16].copy_from_slice(&off.to_le_bytes());
            p[16..24].copy_from_slice(&va.to_le_bytes());
            p[24..32].copy_from_slice(&va.to_le_bytes());
            p[32..40].copy_from_slice(&fs.to_le_bytes());
            p[40..48].copy_from_slice(&ms.to_le_bytes());
            p[48..56].copy_from_slice(&al.to_le_bytes());
        }
        if f.len() < payload_at + payload.len() {
            f.resize(payload_at + payload.len(), 0);
        }
        f[payload_at..payload_at + payload.len()].copy_from_slice(payload);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::testelf::build;
    use super::*;
    use std::path::Path;

    fn parse_file(p: &str) -> Result<Elf, String> {
        parse(&std::fs::read(p).unwrap())
    }

    #[test]
    fn parses_bin_true() {
        let e = parse_file("/bin/true").unwrap();
        assert_eq!(
            e.interp.as_deref(),
            Some(Path::new("/lib64/ld-linux-x86-64.so.2"))
        );
        assert!(e.loads.len() >= 2);
        assert!(e.loads.iter().any(|s| s.flags & PF_X != 0));
        assert!(e.entry != 0);
        assert_eq!(e.phoff, 64);
        assert!(!e.exec_stack());
        let (lo, hi) = e.span();
        assert!(lo <= e.entry && e.entry < hi);
        if e.kind == Kind::Dyn {
            assert!(e.phdr_vaddr.is_some(), "a PIE has PT_PHDR");
        }
    }

    #[test]
    fn parses_the_interpreter() {
        let e = parse_file("/lib64/ld-linux-x86-64.so.2").unwrap();
        assert_eq!(e.kind, Kind::Dyn);
        assert_eq!(e.interp, None);
        let (lo, hi) = e.span();
        assert_eq!(lo, 0);
        assert!(e.entry > lo && e.entry < hi);
        for s in &e.loads {
            assert_eq!(s.offset % PAGE_SIZE, s.vaddr % PAGE_SIZE);
        }
    }

    #[test]
    fn rejects_what_is_not_loadable() {
        assert_eq!(
            parse_file("/etc/passwd").unwrap_err(),
            "not an ELF file (no \\x7fELF magic number)"
        );
        assert!(parse(b"\x7fEL").unwrap_err().starts_with("not an ELF file"));
        let good = build(3, 0x1000, &[(1, 5, 0, 0, 0x100, 0x100, 0x1000)], 0, &[]);
        parse(&good).unwrap();

        let mut b = good.clone();
        b[4] = 1;
        assert!(parse(&b).unwrap_err().starts_with("not a 64-bit ELF file"));
        let mut b = good.clone();
        b[18] = 3;
        assert!(parse(&b).unwrap_err().starts_with("not an x86-64 ELF file"));
        let mut b = good.clone();
        b[16] = 1;
        assert!(
            parse(&b)
                .unwrap_err()
                .starts_with("not an executable or shared object")
        );
        assert!(
            parse(&good[..100])
                .unwrap_err()
                .starts_with("truncated ELF file: the program headers")
        );
        assert!(
            parse(&good[..40])
                .unwrap_err()
                .starts_with("truncated ELF file: the ELF header")
        );

        let no_load = build(3, 0, &[(0x6474_e551, 6, 0, 0, 0, 0, 16)], 0, &[]);
        assert!(
            parse(&no_load)
                .unwrap_err()
                .starts_with("no PT_LOAD segment")
        );
        let skew = build(2, 0, &[(1, 5, 0x10, 0x401000, 0x10, 0x10, 0x1000)], 0, &[]);
        let e = parse(&skew).unwrap_err();
        assert!(e.contains("not congruent modulo the page size"), "{e}");
        assert!(!e.contains('\n'));
        let interp_out = build(
            3,
            0,
            &[(3, 4, 0x400, 0, 20, 20, 1), (1, 5, 0, 0, 1, 1, 1)],
            0,
            &[],
        );
        assert!(parse(&interp_out).unwrap_err().contains("PT_INTERP path"));
    }

    #[test]
    fn reads_interp_stack_and_phdr() {
        let interp = b"/lib/ld-test.so\0";
        let f = build(
            3,
            0x1234,
            &[
                (6, 4, 64, 64, 56 * 4, 56 * 4, 8),
                (
                    3,
                    4,
                    0x200,
                    0x200,
                    interp.len() as u64,
                    interp.len() as u64,
                    1,
                ),
                (1, 7, 0, 0, 0x300, 0x2000, 0x1000),
                (0x6474_e551, 7, 0, 0, 0, 0, 16),
            ],
            0x200,
            interp,
        );
        let e = parse(&f).unwrap();
        assert_eq!(e.interp.as_deref(), Some(Path::new("/lib/ld-test.so")));
        assert_eq!(e.phdr_vaddr, Some(64));
        assert!(e.exec_stack());
        assert_eq!(e.span(), (0, 0x2000));
        assert_eq!(
            e.loads[0].prot(),
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC
        );
    }
}
