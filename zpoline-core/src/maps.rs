//! Parsing `/proc/self/maps`: which regions are mapped, with which protection, from which file.

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// File offset of `start`.
    pub offset: u64,
    /// Path or pseudo-name (`[vdso]`, `[stack]`), empty for anonymous memory.
    pub path: String,
}

impl Mapping {
    /// The protection as `PROT_*` bits.
    pub fn prot(&self) -> i32 {
        (if self.read { libc::PROT_READ } else { 0 })
            | (if self.write { libc::PROT_WRITE } else { 0 })
            | (if self.exec { libc::PROT_EXEC } else { 0 })
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: u64) -> bool {
        (self.start..self.end).contains(&addr)
    }
}

/// Parses one line; `None` for a malformed one.
pub fn parse_line(line: &str) -> Option<Mapping> {
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?.as_bytes();
    let offset = u64::from_str_radix(it.next()?, 16).ok()?;
    let _dev = it.next()?;
    let _inode = it.next()?;
    let path = it.next().unwrap_or("").trim_start().to_string();
    let (s, e) = range.split_once('-')?;
    if perms.len() < 4 {
        return None;
    }
    Some(Mapping {
        start: u64::from_str_radix(s, 16).ok()?,
        end: u64::from_str_radix(e, 16).ok()?,
        read: perms[0] == b'r',
        write: perms[1] == b'w',
        exec: perms[2] == b'x',
        offset,
        path,
    })
}

/// Parses the whole text of a maps file.
pub fn parse(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(parse_line).collect()
}

/// The current process's mappings.
pub fn read_self() -> Result<Vec<Mapping>, i32> {
    let bytes = crate::sys::read_file(c"/proc/self/maps")?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_pseudo_lines() {
        let m = parse_line("7f1c2a400000-7f1c2a595000 r-xp 00028000 fe:01 1316 /usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(m.start, 0x7f1c2a400000);
        assert_eq!(m.end, 0x7f1c2a595000);
        assert!(m.read && !m.write && m.exec);
        assert_eq!(m.offset, 0x28000);
        assert_eq!(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(m.prot(), libc::PROT_READ | libc::PROT_EXEC);
        let v = parse_line(
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
        )
        .unwrap();
        assert_eq!(v.path, "[vsyscall]");
        assert!(v.exec && !v.read);
        let a = parse_line("7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ").unwrap();
        assert_eq!(a.path, "");
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn paths_with_spaces_survive() {
        let m = parse_line("1000-2000 r-xp 00000000 00:00 12 /tmp/a b/lib x.so (deleted)").unwrap();
        assert_eq!(m.path, "/tmp/a b/lib x.so (deleted)");
    }

    #[test]
    fn own_maps_have_an_executable_region() {
        let maps = read_self().unwrap();
        assert!(maps.iter().any(|m| m.exec));
        let here = own_maps_have_an_executable_region as *const () as usize as u64;
        assert!(maps.iter().any(|m| m.exec && m.contains(here)));
    }
}
