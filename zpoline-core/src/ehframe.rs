//! Function boundaries from `.eh_frame_hdr` / `.eh_frame` (the unwind tables every x86-64 ELF
//! object carries). The rewriter decodes each function from its first byte, so it always sees
//! real instruction boundaries, and the red-zone analysis knows which instructions belong to the
//! function that contains a site.
//!
//! The tables are read in place, in the loaded object's memory.

/// A half-open address range `[start, end)` of one function (one FDE).
pub type Range = (u64, u64);

const DW_EH_PE_OMIT: u8 = 0xff;

/// Reads unaligned little-endian values from process memory.
struct Cursor {
    at: u64,
}

impl Cursor {
    fn u8(&mut self) -> u8 {
        // SAFETY: callers only walk tables inside a loaded object's mapped, readable segments.
        let v = unsafe { core::ptr::read_unaligned(self.at as *const u8) };
        self.at += 1;
        v
    }
    fn u16(&mut self) -> u16 {
        // SAFETY: as above.
        let v = unsafe { core::ptr::read_unaligned(self.at as *const u16) };
        self.at += 2;
        v
    }
    fn u32(&mut self) -> u32 {
        // SAFETY: as above.
        let v = unsafe { core::ptr::read_unaligned(self.at as *const u32) };
        self.at += 4;
        v
    }
    fn u64(&mut self) -> u64 {
        // SAFETY: as above.
        let v = unsafe { core::ptr::read_unaligned(self.at as *const u64) };
        self.at += 8;
        v
    }
    fn uleb(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let b = self.u8();
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return v;
            }
        }
    }
    fn sleb(&mut self) -> i64 {
        let (mut v, mut shift) = (0i64, 0u32);
        loop {
            let b = self.u8();
            if shift < 64 {
                v |= i64::from(b & 0x7f) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    v |= -1i64 << shift;
                }
                return v;
            }
        }
    }
    /// Reads a NUL-terminated string of at most 15 bytes into a fixed buffer (no allocation):
    /// the bytes and their count; longer strings are cut (the rest is skipped).
    fn cstr_bytes(&mut self) -> ([u8; 16], usize) {
        let (mut s, mut n) = ([0u8; 16], 0);
        loop {
            let b = self.u8();
            if b == 0 {
                return (s, n);
            }
            if n < s.len() - 1 {
                s[n] = b;
                n += 1;
            }
        }
    }
    /// Reads a pointer in DWARF EH encoding `enc`; `datarel` is the base for 0x30.
    fn encoded(&mut self, enc: u8, datarel: u64) -> Option<u64> {
        if enc == DW_EH_PE_OMIT {
            return None;
        }
        let field = self.at;
        let raw = match enc & 0x0f {
            0x00 => self.u64(),
            0x01 => self.uleb(),
            0x02 => u64::from(self.u16()),
            0x03 => u64::from(self.u32()),
            0x04 => self.u64(),
            0x09 => self.sleb() as u64,
            0x0a => self.u16() as i16 as i64 as u64,
            0x0b => self.u32() as i32 as i64 as u64,
            0x0c => self.u64(),
            _ => return None,
        };
        let base = match enc & 0x70 {
            0x00 => 0,
            0x10 => field,
            0x30 => datarel,
            _ => return None,
        };
        if enc & 0x80 != 0 {
            return None; // indirect: never used for FDE ranges
        }
        Some(base.wrapping_add(raw))
    }
}

/// Reads the FDE pointer encoding ('R' augmentation) of the CIE at `cie`.
fn cie_fde_encoding(cie: u64) -> Option<u8> {
    let mut c = Cursor { at: cie };
    let len = c.u32();
    if len == 0xffff_ffff {
        c.u64();
    }
    let id = c.u32();
    if id != 0 {
        return None;
    }
    let version = c.u8();
    let (aug_buf, aug_len) = c.cstr_bytes();
    let aug = &aug_buf[..aug_len];
    if aug.windows(2).any(|w| w == b"eh") {
        c.u64();
    }
    c.uleb(); // code alignment
    c.sleb(); // data alignment
    if version == 1 {
        c.u8();
    } else {
        c.uleb();
    }
    let mut enc = 0u8; // absptr by default
    if aug.first() == Some(&b'z') {
        c.uleb(); // augmentation data length
        for &a in &aug[1..] {
            match a {
                b'L' => {
                    c.u8();
                }
                b'P' => {
                    let penc = c.u8();
                    c.encoded(penc & 0x7f, 0)?;
                }
                b'R' => enc = c.u8(),
                b'S' | b'B' => {}
                _ => return None,
            }
        }
    }
    Some(enc)
}

/// Function ranges of the object whose `.eh_frame_hdr` is mapped at `hdr`, sorted by start.
///
/// # Safety
/// `hdr` must point at a mapped `.eh_frame_hdr` of a loaded object.
pub unsafe fn functions(hdr: u64) -> Vec<Range> {
    let mut c = Cursor { at: hdr };
    let version = c.u8();
    let ptr_enc = c.u8();
    let count_enc = c.u8();
    let table_enc = c.u8();
    if version != 1 {
        return Vec::new();
    }
    if c.encoded(ptr_enc, hdr).is_none() {
        return Vec::new();
    }
    let Some(count) = c.encoded(count_enc, hdr) else {
        return Vec::new();
    };
    if count > 10_000_000 || table_enc == DW_EH_PE_OMIT {
        return Vec::new();
    }
    let mut cies: Vec<(u64, u8)> = Vec::new();
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (Some(start), Some(fde)) = (c.encoded(table_enc, hdr), c.encoded(table_enc, hdr))
        else {
            return Vec::new();
        };
        let mut f = Cursor { at: fde };
        let len = f.u32();
        if len == 0xffff_ffff {
            f.u64();
        }
        let cie_field = f.at;
        let cie = cie_field.wrapping_sub(u64::from(f.u32()));
        let enc = match cies.iter().find(|(a, _)| *a == cie) {
            Some(&(_, e)) => e,
            None => {
                let Some(e) = cie_fde_encoding(cie) else {
                    continue;
                };
                cies.push((cie, e));
                e
            }
        };
        let begin = f.encoded(enc, 0);
        let range = f.encoded(enc & 0x0f, 0);
        if let (Some(b), Some(r)) = (begin, range)
            && b == start
            && r > 0
            && r < 1 << 32
        {
            out.push((b, b + r));
        }
    }
    out.sort_unstable();
    out
}

/// The function containing `addr`, looked up in the `.eh_frame_hdr` at `hdr` by binary search,
/// without allocating (for the safety net's signal handler). Only the usual table encoding
/// (`datarel|sdata4`) is read.
///
/// # Safety
/// `hdr` must point at a mapped `.eh_frame_hdr` of a loaded object.
pub unsafe fn function_at(hdr: u64, addr: u64) -> Option<Range> {
    let mut c = Cursor { at: hdr };
    let (version, ptr_enc, count_enc, table_enc) = (c.u8(), c.u8(), c.u8(), c.u8());
    if version != 1 || table_enc != 0x3b {
        return None;
    }
    c.encoded(ptr_enc, hdr)?;
    let count = c.encoded(count_enc, hdr)?;
    let table = c.at;
    let entry = |i: u64| -> (u64, u64) {
        let mut e = Cursor { at: table + i * 8 };
        let start = hdr.wrapping_add(e.u32() as i32 as i64 as u64);
        let fde = hdr.wrapping_add(e.u32() as i32 as i64 as u64);
        (start, fde)
    };
    // Last entry whose start <= addr.
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if entry(mid).0 <= addr {
            lo = mid + 1
        } else {
            hi = mid
        }
    }
    let (start, fde) = entry(lo.checked_sub(1)?);
    let mut f = Cursor { at: fde };
    if f.u32() == 0xffff_ffff {
        f.u64();
    }
    let cie_field = f.at;
    let cie = cie_field.wrapping_sub(u64::from(f.u32()));
    let enc = cie_fde_encoding(cie)?;
    let begin = f.encoded(enc, 0)?;
    let range = f.encoded(enc & 0x0f, 0)?;
    (begin == start && (start..start + range).contains(&addr)).then_some((start, start + range))
}

/// The `.eh_frame_hdr` of the loaded object whose executable segment holds `addr`, asked of the
/// dynamic loader without allocating.
pub fn eh_frame_hdr_of(addr: u64) -> Option<u64> {
    if crate::arch::x86_64::loader_mode() {
        // The launcher's dynamic loader does not know the program's objects.
        return crate::loader::object_of(addr).and_then(|(_, _, hdr)| hdr);
    }
    struct Query {
        addr: u64,
        hdr: Option<u64>,
    }
    unsafe extern "C" fn cb(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our Query through `data`.
        let (info, q) = unsafe { (&*info, &mut *(data as *mut Query)) };
        let (mut inside, mut hdr) = (false, None);
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            let at = info.dlpi_addr.wrapping_add(ph.p_vaddr);
            if ph.p_type == libc::PT_LOAD
                && ph.p_flags & libc::PF_X != 0
                && (at..at + ph.p_memsz).contains(&q.addr)
            {
                inside = true;
            } else if ph.p_type == libc::PT_GNU_EH_FRAME {
                hdr = Some(at);
            }
        }
        if inside {
            q.hdr = hdr;
            return 1;
        }
        0
    }
    let mut q = Query { addr, hdr: None };
    // SAFETY: the callback only touches `q` through the data pointer.
    unsafe { libc::dl_iterate_phdr(Some(cb), &mut q as *mut Query as *mut libc::c_void) };
    q.hdr
}

/// The function containing `addr` in a sorted range list.
pub fn find(ranges: &[Range], addr: u64) -> Option<Range> {
    let i = ranges.partition_point(|&(s, _)| s <= addr);
    let r = *ranges.get(i.checked_sub(1)?)?;
    (addr < r.1).then_some(r)
}

/// One loaded ELF object, as `dl_iterate_phdr` reports it.
#[derive(Debug, Clone)]
pub struct Object {
    /// The object's name (empty for the main program).
    pub name: String,
    /// Executable `PT_LOAD` segments, as address ranges.
    pub exec: Vec<Range>,
    /// Address of `.eh_frame_hdr` (`PT_GNU_EH_FRAME`), if any.
    pub eh_frame_hdr: Option<u64>,
}

/// Every loaded ELF object of the process (main program, libraries, vDSO); in loader mode,
/// the program's objects (its interpreter included) and the launcher's.
pub fn objects() -> Vec<Object> {
    let mut out = host_objects();
    if crate::arch::x86_64::loader_mode() {
        crate::loader::for_each_object(|name, bias, phdrs| {
            let mut obj = Object {
                name: String::from_utf8_lossy(name).into_owned(),
                exec: Vec::new(),
                eh_frame_hdr: None,
            };
            for ph in phdrs {
                let addr = bias.wrapping_add(ph.p_vaddr);
                if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
                    obj.exec.push((addr, addr + ph.p_memsz));
                } else if ph.p_type == libc::PT_GNU_EH_FRAME {
                    obj.eh_frame_hdr = Some(addr);
                }
            }
            out.insert(0, obj);
            false
        });
    }
    out
}

/// The objects the dynamic loader of the runtime's own namespace knows.
fn host_objects() -> Vec<Object> {
    unsafe extern "C" fn cb(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our Vec through `data`.
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<Object>)) };
        let name = if info.dlpi_name.is_null() {
            String::new()
        } else {
            // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
            unsafe { core::ffi::CStr::from_ptr(info.dlpi_name) }
                .to_string_lossy()
                .into_owned()
        };
        let mut obj = Object {
            name,
            exec: Vec::new(),
            eh_frame_hdr: None,
        };
        for i in 0..info.dlpi_phnum as usize {
            // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            let addr = info.dlpi_addr.wrapping_add(ph.p_vaddr);
            if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
                obj.exec.push((addr, addr + ph.p_memsz));
            } else if ph.p_type == libc::PT_GNU_EH_FRAME {
                obj.eh_frame_hdr = Some(addr);
            }
        }
        out.push(obj);
        0
    }
    let mut out: Vec<Object> = Vec::new();
    // SAFETY: the callback only touches `out` through the data pointer.
    unsafe { libc::dl_iterate_phdr(Some(cb), &mut out as *mut Vec<Object> as *mut libc::c_void) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn some_function(x: u64) -> u64 {
        x.wrapping_mul(3) ^ 7
    }

    #[test]
    fn finds_our_own_functions() {
        let here = some_function as *const () as usize as u64;
        let objs = objects();
        let me = objs
            .iter()
            .find(|o| o.exec.iter().any(|&(s, e)| (s..e).contains(&here)))
            .expect("the test binary is a loaded object");
        let hdr = me.eh_frame_hdr.expect("rust binaries carry .eh_frame_hdr");
        // SAFETY: hdr comes from PT_GNU_EH_FRAME of a loaded object.
        let fns = unsafe { functions(hdr) };
        assert!(fns.len() > 100, "{} functions", fns.len());
        let r = find(&fns, here).expect("some_function has an FDE");
        assert_eq!(r.0, here);
        assert_eq!(eh_frame_hdr_of(here), Some(hdr));
        // SAFETY: as above.
        assert_eq!(unsafe { function_at(hdr, here + 1) }, Some(r));
        assert_eq!(eh_frame_hdr_of(0x1000), None);
        assert!(find(&fns, r.1 + 1_000_000_000).is_none());
        assert!(fns.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn libc_and_vdso_have_tables() {
        let objs = objects();
        let libc = objs
            .iter()
            .find(|o| o.name.contains("libc.so"))
            .expect("libc loaded");
        // SAFETY: from PT_GNU_EH_FRAME of a loaded object.
        let fns = unsafe { functions(libc.eh_frame_hdr.unwrap()) };
        assert!(fns.len() > 1000);
        let getpid = libc::getpid as *const () as usize as u64;
        assert!(find(&fns, getpid).is_some());
        assert!(some_function(1) != 0);
    }

    #[test]
    fn find_is_exact_at_edges() {
        let r = [(10, 20), (20, 30), (40, 50)];
        assert_eq!(find(&r, 10), Some((10, 20)));
        assert_eq!(find(&r, 19), Some((10, 20)));
        assert_eq!(find(&r, 20), Some((20, 30)));
        assert_eq!(find(&r, 35), None);
        assert_eq!(find(&r, 5), None);
        assert_eq!(find(&r, 50), None);
    }
}
