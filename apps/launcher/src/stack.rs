//! The initial process stack, built as Linux's `execve` builds it for an x86-64 ELF program
//! (System V x86-64 ABI, `fs/binfmt_elf.c: create_elf_tables`).
//!
//! From the top of the stack down:
//!
//! ```text
//! 8 zero bytes
//! argv strings, envp strings, the AT_EXECFN string     (contiguous, argv[0] lowest)
//! "x86_64\0"                                           (AT_PLATFORM)
//! 16 random bytes                                      (AT_RANDOM)
//! padding, so that the stack pointer is 16-byte aligned
//! auxv pairs ..., AT_NULL 0
//! NULL, envp pointers ...
//! NULL, argv pointers ...
//! argc                                                 <- stack pointer
//! ```

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;

use crate::elf::{PAGE_SIZE, PHDR_SIZE, page_up};

/// End of the auxiliary vector.
pub const AT_NULL: u64 = 0;
/// Address of the program headers of the program.
pub const AT_PHDR: u64 = 3;
/// Size of one program header.
pub const AT_PHENT: u64 = 4;
/// Number of program headers.
pub const AT_PHNUM: u64 = 5;
/// Page size.
pub const AT_PAGESZ: u64 = 6;
/// Load bias of the interpreter (0 without one).
pub const AT_BASE: u64 = 7;
/// Flags (always 0).
pub const AT_FLAGS: u64 = 8;
/// Entry point of the program (not of the interpreter).
pub const AT_ENTRY: u64 = 9;
/// Real user id.
pub const AT_UID: u64 = 11;
/// Effective user id.
pub const AT_EUID: u64 = 12;
/// Real group id.
pub const AT_GID: u64 = 13;
/// Effective group id.
pub const AT_EGID: u64 = 14;
/// Address of the platform string.
pub const AT_PLATFORM: u64 = 15;
/// CPU capabilities (CPUID 1 EDX on x86).
pub const AT_HWCAP: u64 = 16;
/// Clock ticks per second (`times`).
pub const AT_CLKTCK: u64 = 17;
/// Whether the program runs with elevated privileges.
pub const AT_SECURE: u64 = 23;
/// Address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;
/// More CPU capabilities.
pub const AT_HWCAP2: u64 = 26;
/// Size of the rseq area the kernel supports (Linux 6.3+).
pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
/// Alignment of the rseq area (Linux 6.3+).
pub const AT_RSEQ_ALIGN: u64 = 28;
/// Address of the file name the program was executed as.
pub const AT_EXECFN: u64 = 31;
/// Address of the vDSO's ELF header.
pub const AT_SYSINFO_EHDR: u64 = 33;
/// Minimal signal stack size the kernel needs for a signal frame.
pub const AT_MINSIGSTKSZ: u64 = 51;

/// The platform string (`AT_PLATFORM`).
pub const PLATFORM: &[u8] = b"x86_64\0";

/// The largest stack made: the `RLIMIT_STACK` soft limit is capped to this (address space
/// only: the stack is mapped with MAP_NORESERVE, its pages used when touched).
pub const MAX_STACK: u64 = 4 << 30;
/// The stack made when `RLIMIT_STACK` is unlimited (natively it grows until it meets another
/// mapping).
pub const UNLIMITED_STACK: u64 = 1 << 30;

/// The auxiliary vector's values that describe the machine and the user rather than the
/// program: copied from what the launcher itself received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineAux {
    /// `AT_SYSINFO_EHDR` (0: absent).
    pub sysinfo_ehdr: u64,
    /// `AT_MINSIGSTKSZ` (0: absent).
    pub minsigstksz: u64,
    /// `AT_HWCAP`.
    pub hwcap: u64,
    /// `AT_HWCAP2` (0: absent).
    pub hwcap2: u64,
    /// `AT_PAGESZ`.
    pub pagesz: u64,
    /// `AT_CLKTCK`.
    pub clktck: u64,
    /// `AT_UID`.
    pub uid: u64,
    /// `AT_EUID`.
    pub euid: u64,
    /// `AT_GID`.
    pub gid: u64,
    /// `AT_EGID`.
    pub egid: u64,
    /// `AT_RSEQ_FEATURE_SIZE` (0: absent).
    pub rseq_feature_size: u64,
    /// `AT_RSEQ_ALIGN` (0: absent).
    pub rseq_align: u64,
}

impl MachineAux {
    /// The values the launcher received (`getauxval`).
    pub fn current() -> MachineAux {
        // SAFETY: getauxval only reads the process's auxiliary vector.
        let get = |t: u64| unsafe { libc::getauxval(t) };
        MachineAux {
            sysinfo_ehdr: get(AT_SYSINFO_EHDR),
            minsigstksz: get(AT_MINSIGSTKSZ),
            hwcap: get(AT_HWCAP),
            hwcap2: get(AT_HWCAP2),
            pagesz: match get(AT_PAGESZ) {
                0 => PAGE_SIZE,
                n => n,
            },
            clktck: match get(AT_CLKTCK) {
                0 => 100,
                n => n,
            },
            uid: get(AT_UID),
            euid: get(AT_EUID),
            gid: get(AT_GID),
            egid: get(AT_EGID),
            rseq_feature_size: get(AT_RSEQ_FEATURE_SIZE),
            rseq_align: get(AT_RSEQ_ALIGN),
        }
    }
}

/// The auxiliary vector's values that describe the loaded program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgramAux {
    /// `AT_PHDR`: the program's program headers in memory.
    pub phdr: u64,
    /// `AT_PHNUM`.
    pub phnum: u64,
    /// `AT_ENTRY`: the program's entry point (not the interpreter's).
    pub entry: u64,
    /// `AT_BASE`: the interpreter's load bias, 0 without an interpreter.
    pub interp_base: u64,
}

/// Everything the initial stack holds.
#[derive(Clone, Debug)]
pub struct StackContents<'a> {
    /// The arguments (`argv[0]` as the user gave it).
    pub argv: &'a [OsString],
    /// The environment, `NAME=value` strings.
    pub envp: &'a [OsString],
    /// The file name the program was executed as (`AT_EXECFN`).
    pub execfn: &'a OsStr,
    /// The program's part of the auxiliary vector.
    pub program: ProgramAux,
    /// The machine's and user's part of the auxiliary vector.
    pub machine: MachineAux,
    /// The bytes `AT_RANDOM` points to.
    pub random: [u8; 16],
}

impl StackContents<'_> {
    /// How many bytes the strings take (each with its NUL), the AT_EXECFN string included.
    fn strings_len(&self) -> u64 {
        self.argv
            .iter()
            .chain(self.envp)
            .map(|s| s.len() as u64 + 1)
            .sum::<u64>()
            + self.execfn.len() as u64
            + 1
    }

    /// The auxiliary vector, `AT_NULL` included, with the addresses of the strings and bytes it
    /// points to.
    fn auxv(&self, random: u64, execfn: u64, platform: u64) -> Vec<(u64, u64)> {
        let m = &self.machine;
        let p = &self.program;
        let mut v = Vec::with_capacity(24);
        if m.sysinfo_ehdr != 0 {
            v.push((AT_SYSINFO_EHDR, m.sysinfo_ehdr));
        }
        if m.minsigstksz != 0 {
            v.push((AT_MINSIGSTKSZ, m.minsigstksz));
        }
        v.extend([
            (AT_HWCAP, m.hwcap),
            (AT_PAGESZ, m.pagesz),
            (AT_CLKTCK, m.clktck),
            (AT_PHDR, p.phdr),
            (AT_PHENT, PHDR_SIZE),
            (AT_PHNUM, p.phnum),
            (AT_BASE, p.interp_base),
            (AT_FLAGS, 0),
            (AT_ENTRY, p.entry),
            (AT_UID, m.uid),
            (AT_EUID, m.euid),
            (AT_GID, m.gid),
            (AT_EGID, m.egid),
            (AT_SECURE, 0),
            (AT_RANDOM, random),
        ]);
        if m.hwcap2 != 0 {
            v.push((AT_HWCAP2, m.hwcap2));
        }
        v.push((AT_EXECFN, execfn));
        v.push((AT_PLATFORM, platform));
        if m.rseq_feature_size != 0 {
            v.push((AT_RSEQ_FEATURE_SIZE, m.rseq_feature_size));
            v.push((AT_RSEQ_ALIGN, m.rseq_align));
        }
        v.push((AT_NULL, 0));
        v
    }

    /// How many bytes [`build`] writes at the top of the stack (an upper bound).
    pub fn size(&self) -> u64 {
        let words = 1 + self.argv.len() as u64 + 1 + self.envp.len() as u64 + 1 + 2 * 24;
        8 + self.strings_len() + PLATFORM.len() as u64 + 16 + 16 + 8 * words
    }
}

/// Writes the stack for `contents` at the top of `buf`, whose last byte is at address `top - 1`
/// in the process that will run on it. Returns the stack pointer (the address of `argc`,
/// 16-byte aligned).
pub fn build(buf: &mut [u8], top: u64, contents: &StackContents<'_>) -> Result<u64, String> {
    let bottom = top - buf.len() as u64;
    if contents.size() > buf.len() as u64 || !top.is_multiple_of(16) {
        return Err(format!(
            "the arguments and environment ({} bytes) do not fit in the stack ({} bytes)",
            contents.size(),
            buf.len()
        ));
    }
    let mut put = |addr: u64, bytes: &[u8]| {
        let at = (addr - bottom) as usize;
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(top - 8, &[0; 8]);
    let strings = top - 8 - contents.strings_len();
    let mut p = strings;
    let mut place = |s: &OsStr| {
        let addr = p;
        put(addr, s.as_bytes());
        put(addr + s.len() as u64, &[0]);
        p += s.len() as u64 + 1;
        addr
    };
    let argv: Vec<u64> = contents.argv.iter().map(|s| place(s)).collect();
    let envp: Vec<u64> = contents.envp.iter().map(|s| place(s)).collect();
    let execfn = place(contents.execfn);
    let platform = strings - PLATFORM.len() as u64;
    let random = platform - 16;
    let auxv = contents.auxv(random, execfn, platform);
    let words = 1 + (argv.len() + 1) + (envp.len() + 1) + 2 * auxv.len();
    let sp = (random - 8 * words as u64) & !15;

    let mut w = Vec::with_capacity(8 * words);
    w.extend((argv.len() as u64).to_le_bytes());
    for a in argv.iter().chain([&0]).chain(&envp).chain([&0]) {
        w.extend(a.to_le_bytes());
    }
    for (k, v) in &auxv {
        w.extend(k.to_le_bytes());
        w.extend(v.to_le_bytes());
    }
    let mut put = |addr: u64, bytes: &[u8]| {
        let at = (addr - bottom) as usize;
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    };
    put(platform, PLATFORM);
    put(random, &contents.random);
    put(sp, &w);
    Ok(sp)
}

/// A stack as [`parse`] reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedStack {
    /// The argument strings.
    pub argv: Vec<Vec<u8>>,
    /// The environment strings.
    pub envp: Vec<Vec<u8>>,
    /// The auxiliary vector, without `AT_NULL`.
    pub auxv: Vec<(u64, u64)>,
}

impl ParsedStack {
    /// The value of the auxiliary vector's entry `key`.
    pub fn aux(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }
}

/// Reads back the stack in `buf` (whose end is at address `top`) from the stack pointer `sp`:
/// argc, argv, envp and auxv. Fails on pointers outside `buf`.
pub fn parse(buf: &[u8], top: u64, sp: u64) -> Result<ParsedStack, String> {
    let bottom = top - buf.len() as u64;
    let index = |addr: u64, len: u64| -> Result<usize, String> {
        if addr < bottom || addr + len > top {
            return Err(format!("address {addr:#x} is outside the stack"));
        }
        Ok((addr - bottom) as usize)
    };
    let word = |addr: u64| -> Result<u64, String> {
        let i = index(addr, 8)?;
        Ok(u64::from_le_bytes(
            buf[i..i + 8].try_into().expect("8 bytes"),
        ))
    };
    let string = |addr: u64| -> Result<Vec<u8>, String> {
        let i = index(addr, 1)?;
        let len = buf[i..]
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("unterminated string at {addr:#x}"))?;
        Ok(buf[i..i + len].to_vec())
    };
    let argc = word(sp)?;
    let mut at = sp + 8;
    let mut argv = Vec::new();
    for _ in 0..argc {
        argv.push(string(word(at)?)?);
        at += 8;
    }
    if word(at)? != 0 {
        return Err("argv is not NULL-terminated".into());
    }
    at += 8;
    let mut envp = Vec::new();
    loop {
        let p = word(at)?;
        at += 8;
        if p == 0 {
            break;
        }
        envp.push(string(p)?);
    }
    let mut auxv = Vec::new();
    loop {
        let (k, v) = (word(at)?, word(at + 8)?);
        at += 16;
        if k == AT_NULL {
            break;
        }
        auxv.push((k, v));
    }
    Ok(ParsedStack { argv, envp, auxv })
}

/// A stack mapped for a new program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    /// The initial stack pointer (the address of `argc`, 16-byte aligned).
    pub sp: u64,
    /// The lowest usable byte; the `PROT_NONE` guard page is the page below.
    pub start: u64,
    /// One past the highest byte.
    pub end: u64,
}

/// The size of the stack to map: the `RLIMIT_STACK` soft limit, capped to [`MAX_STACK`]
/// ([`UNLIMITED_STACK`] when unlimited), rounded up to pages.
pub fn stack_size() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct passed.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) } == 0;
    if !ok || lim.rlim_cur == libc::RLIM_INFINITY {
        UNLIMITED_STACK
    } else if lim.rlim_cur > MAX_STACK {
        MAX_STACK
    } else {
        page_up(lim.rlim_cur.max(PAGE_SIZE))
    }
}

/// 16 bytes from `getrandom`.
pub fn random_bytes() -> Result<[u8; 16], String> {
    let mut r = [0u8; 16];
    let mut done = 0;
    while done < r.len() {
        // SAFETY: getrandom writes at most the remaining bytes of `r`.
        let n = unsafe { libc::getrandom(r[done..].as_mut_ptr().cast(), r.len() - done, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("getrandom: {e}"));
            }
        } else {
            done += n as usize;
        }
    }
    Ok(r)
}

/// Maps a new stack ([`stack_size`] bytes, at least what `contents` need plus 64 KiB, with a
/// `PROT_NONE` guard page below; executable if `exec`) and builds `contents` at its top.
pub fn create(contents: &StackContents<'_>, exec: bool) -> Result<Stack, String> {
    let size = stack_size().max(page_up(contents.size()) + (64 << 10));
    let total = size + PAGE_SIZE;
    let mut prot = libc::PROT_READ | libc::PROT_WRITE;
    if exec {
        prot |= libc::PROT_EXEC;
    }
    // SAFETY: a fresh private anonymous mapping where the kernel chooses touches nothing else.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total as usize,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "cannot map a {size}-byte stack: {}",
            std::io::Error::last_os_error()
        ));
    }
    let guard = p as u64;
    // SAFETY: the lowest page of the mapping just made becomes the guard page.
    if unsafe { libc::mprotect(p, PAGE_SIZE as usize, libc::PROT_NONE) } != 0 {
        let e = std::io::Error::last_os_error();
        // SAFETY: unmaps the mapping just made, which nothing uses.
        unsafe { libc::munmap(p, total as usize) };
        return Err(format!("cannot protect the stack's guard page: {e}"));
    }
    let (start, end) = (guard + PAGE_SIZE, guard + total);
    // SAFETY: [start, end) is the writable part of the mapping just made, used by nothing else.
    let buf = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, size as usize) };
    match build(buf, end, contents) {
        Ok(sp) => Ok(Stack { sp, start, end }),
        Err(e) => {
            // SAFETY: as above; `buf` is not used after this.
            unsafe { libc::munmap(p, total as usize) };
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn contents<'a>(argv: &'a [OsString], envp: &'a [OsString]) -> StackContents<'a> {
        StackContents {
            argv,
            envp,
            execfn: OsStr::new("/usr/bin/prog"),
            program: ProgramAux {
                phdr: 0x40_0040,
                phnum: 11,
                entry: 0x40_1000,
                interp_base: 0x7f00_0000_0000,
            },
            machine: MachineAux::current(),
            random: *b"0123456789abcdef",
        }
    }

    #[test]
    fn round_trip() {
        let argv = os(&["prog", "", "two words", "ünïcode"]);
        let envp = os(&["A=1", "PATH=/bin:/usr/bin", "EMPTY="]);
        let c = contents(&argv, &envp);
        for top in [0x7fff_0000_0000u64, 0x7fff_0000_1000] {
            let mut buf = vec![0xeeu8; 8192];
            let sp = build(&mut buf, top, &c).unwrap();
            assert_eq!(sp % 16, 0);
            let bottom = top - buf.len() as u64;
            let p = parse(&buf, top, sp).unwrap();
            let bytes =
                |v: &[OsString]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
            assert_eq!(p.argv, bytes(&argv));
            assert_eq!(p.envp, bytes(&envp));
            let keys: Vec<u64> = p.auxv.iter().map(|&(k, _)| k).collect();
            let mut expected = vec![];
            if c.machine.sysinfo_ehdr != 0 {
                expected.push(AT_SYSINFO_EHDR);
            }
            if c.machine.minsigstksz != 0 {
                expected.push(AT_MINSIGSTKSZ);
            }
            expected.extend([
                AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS,
                AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE, AT_RANDOM,
            ]);
            if c.machine.hwcap2 != 0 {
                expected.push(AT_HWCAP2);
            }
            expected.extend([AT_EXECFN, AT_PLATFORM]);
            if c.machine.rseq_feature_size != 0 {
                expected.extend([AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN]);
            }
            assert_eq!(keys, expected);
            assert_eq!(p.aux(AT_PHDR), Some(0x40_0040));
            assert_eq!(p.aux(AT_PHENT), Some(56));
            assert_eq!(p.aux(AT_PHNUM), Some(11));
            assert_eq!(p.aux(AT_ENTRY), Some(0x40_1000));
            assert_eq!(p.aux(AT_BASE), Some(0x7f00_0000_0000));
            assert_eq!(p.aux(AT_SECURE), Some(0));
            assert_eq!(p.aux(AT_PAGESZ), Some(4096));
            // SAFETY: reading the launcher's own auxiliary vector.
            assert_eq!(p.aux(AT_UID), Some(unsafe { libc::getauxval(AT_UID) }));
            let at =
                |a: u64, n: usize| buf[(a - bottom) as usize..(a - bottom) as usize + n].to_vec();
            assert_eq!(at(p.aux(AT_RANDOM).unwrap(), 16), b"0123456789abcdef");
            assert_eq!(at(p.aux(AT_PLATFORM).unwrap(), 7), b"x86_64\0");
            assert_eq!(at(p.aux(AT_EXECFN).unwrap(), 14), b"/usr/bin/prog\0");
            // The strings sit right under the top 8 zero bytes, AT_EXECFN last.
            assert_eq!(p.aux(AT_EXECFN).unwrap() + 14, top - 8);
            assert_eq!(at(top - 8, 8), [0; 8]);
            // Nothing below the stack pointer was written.
            assert!(buf[..(sp - bottom) as usize].iter().all(|&b| b == 0xee));
        }
    }

    #[test]
    fn too_small_a_buffer_is_an_error() {
        let argv = os(&["prog"]);
        let envp = os(&[]);
        let mut buf = vec![0u8; 64];
        let e = build(&mut buf, 0x10000, &contents(&argv, &envp)).unwrap_err();
        assert!(e.contains("do not fit"), "{e}");
    }

    #[test]
    fn creates_a_mapped_stack() {
        let argv = os(&["a", "b"]);
        let envp = os(&["X=y"]);
        let s = create(&contents(&argv, &envp), false).unwrap();
        assert_eq!(s.sp % 16, 0);
        assert!(s.start < s.sp && s.sp < s.end);
        assert_eq!(
            s.end - s.start,
            stack_size().max(page_up(contents(&argv, &envp).size()) + (64 << 10))
        );
        // SAFETY: the stack was just mapped and is readable.
        let buf =
            unsafe { std::slice::from_raw_parts(s.start as *const u8, (s.end - s.start) as usize) };
        let p = parse(buf, s.end, s.sp).unwrap();
        assert_eq!(p.argv, [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(p.envp, [b"X=y".to_vec()]);
        assert_ne!(random_bytes().unwrap(), random_bytes().unwrap());
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let guard = maps
            .lines()
            .find(|l| l.starts_with(&format!("{:x}-{:x} ", s.start - PAGE_SIZE, s.start)))
            .unwrap_or_else(|| panic!("no guard page in\n{maps}"));
        assert!(guard.contains(" ---p "), "{guard}");
        // SAFETY: nothing uses the stack.
        unsafe {
            libc::munmap(
                (s.start - PAGE_SIZE) as *mut libc::c_void,
                (s.end - s.start + PAGE_SIZE) as usize,
            )
        };
    }
}
