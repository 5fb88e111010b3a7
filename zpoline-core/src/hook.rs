//! Loading the user's hook library (`LIBZPHOOK`) into its own link-map namespace and calling
//! its `__hook_init` with the address of the hook pointer (the zpoline ABI).

use core::ffi::{CStr, c_void};
use core::sync::atomic::Ordering;

use crate::arch::x86_64::zp_next;
use crate::dispatch::HOOK;

/// What went wrong while loading a hook library; each names the cause and the fix.
#[derive(Debug, PartialEq, Eq)]
pub enum HookError {
    /// `dlmopen` failed; holds the loader's message.
    Load(String),
    /// The library does not export `__hook_init`.
    NoInit,
    /// `__hook_init` returned this non-zero value.
    InitFailed(i32),
}

impl HookError {
    /// The one-line explanation printed before exiting.
    pub fn message(&self, path: &str) -> String {
        match self {
            HookError::Load(e) => format!(
                "cannot load hook library LIBZPHOOK={path}: {e}; set LIBZPHOOK to a shared library (.so) built for x86-64 Linux"
            ),
            HookError::NoInit => format!(
                "hook library {path} does not export __hook_init; define `int __hook_init(long placeholder, void *sys_call_hook_ptr)` (C) or use hook_sdk::zpoline_hook! (Rust)"
            ),
            HookError::InitFailed(rc) => format!(
                "__hook_init of hook library {path} returned {rc}: the hook refused to start (a hook says why before this line); it returns 0 when it is ready"
            ),
        }
    }
}

type HookInit = unsafe extern "C" fn(i64, *mut c_void) -> i32;

/// What `__hook_init` returns when it refused to start and has already printed why (a bad
/// configuration file): the runtime exits 127 without a line of its own (`ZPOLINE_HOOK_REFUSED`
/// in zpoline.h).
pub const INIT_REPORTED: i32 = -2;

fn dlerror() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown dynamic loader error".to_string()
    } else {
        // SAFETY: non-null dlerror result is a C string.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// The public head of glibc's `struct link_map`.
#[repr(C)]
struct LinkMap {
    l_addr: u64,
    l_name: *const libc::c_char,
    l_ld: *const c_void,
    l_next: *const LinkMap,
    l_prev: *const LinkMap,
}

const RTLD_DI_LINKMAP: libc::c_int = 2;

/// Executable ranges of every object in the namespace of `handle` (but the dynamic loader,
/// which all namespaces share), read from their program headers in memory: no system call.
fn namespace_code(handle: *mut c_void) -> Vec<(u64, u64)> {
    let mut lm: *const LinkMap = core::ptr::null();
    // SAFETY: dlinfo writes the handle's link_map pointer.
    if unsafe {
        libc::dlinfo(
            handle,
            RTLD_DI_LINKMAP,
            &mut lm as *mut *const LinkMap as *mut c_void,
        )
    } != 0
    {
        return Vec::new();
    }
    // SAFETY: walk to the head of the namespace's list.
    while !lm.is_null() && !unsafe { (*lm).l_prev }.is_null() {
        lm = unsafe { (*lm).l_prev };
    }
    let mut out = Vec::new();
    while !lm.is_null() {
        // SAFETY: a live link_map of a loaded object.
        let m = unsafe { &*lm };
        let name = if m.l_name.is_null() {
            String::new()
        } else {
            // SAFETY: l_name is a C string owned by the loader.
            unsafe { CStr::from_ptr(m.l_name) }
                .to_string_lossy()
                .into_owned()
        };
        if !name.contains("ld-linux") && m.l_addr != 0 {
            // SAFETY: the ELF header and program headers of a loaded object are mapped at its
            // base (first PT_LOAD at virtual address 0, as for every shared library).
            unsafe { push_exec_segments(m.l_addr, &mut out) };
        }
        lm = m.l_next;
    }
    out
}

unsafe fn push_exec_segments(base: u64, out: &mut Vec<(u64, u64)>) {
    // SAFETY: the caller vouches that an ELF header is mapped at base.
    let ehdr = unsafe { &*(base as *const libc::Elf64_Ehdr) };
    if ehdr.e_ident[..4] != *b"\x7fELF"
        || ehdr.e_phentsize as usize != core::mem::size_of::<libc::Elf64_Phdr>()
    {
        return;
    }
    for i in 0..ehdr.e_phnum as u64 {
        // SAFETY: the program headers lie in the first, mapped, segment.
        let ph = unsafe {
            &*((base + ehdr.e_phoff + i * ehdr.e_phentsize as u64) as *const libc::Elf64_Phdr)
        };
        if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
            out.push((base + ph.p_vaddr, base + ph.p_vaddr + ph.p_memsz));
        }
    }
}

/// Loads `path` with `dlmopen(LM_ID_NEWLM, RTLD_NOW|RTLD_LOCAL)` (its own libc, never
/// rewritten) and runs its `__hook_init(0, &HOOK)`. Returns the executable ranges of the new
/// namespace.
pub fn load(path: &CStr) -> Result<Vec<(u64, u64)>, HookError> {
    // The hook's "next" is the default until __hook_init replaces it.
    HOOK.store(zp_next as *const () as usize, Ordering::SeqCst);
    // SAFETY: path is a C string; dlmopen reports failure by returning null.
    let handle = unsafe {
        libc::dlmopen(
            libc::LM_ID_NEWLM,
            path.as_ptr(),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
        )
    };
    if handle.is_null() {
        return Err(HookError::Load(dlerror()));
    }
    // SAFETY: handle is a live dlmopen handle.
    let sym = unsafe { libc::dlsym(handle, c"__hook_init".as_ptr()) };
    if sym.is_null() {
        return Err(HookError::NoInit);
    }
    // SAFETY: __hook_init has the zpoline signature by contract.
    let init: HookInit = unsafe { core::mem::transmute::<*mut c_void, HookInit>(sym) };
    // SAFETY: HOOK is an AtomicUsize, laid out like the function pointer the hook reads/writes.
    let rc = unsafe { init(0, HOOK.as_ptr() as *mut c_void) };
    if rc != 0 {
        HOOK.store(zp_next as *const () as usize, Ordering::SeqCst);
        return Err(HookError::InitFailed(rc));
    }
    Ok(namespace_code(handle))
}

/// Whether the hook library at `path` provably never touches the extended state, so the
/// dispatcher may skip saving it (the largest part of its cost).
///
/// True when (1) no instruction of its executable segments uses an x87, MMX, SSE, AVX,
/// AVX-512 or AMX register, MXCSR or XSAVE, or is VEX/EVEX/XOP encoded, and (2) it imports no
/// function (no undefined global symbol): then whatever its hook calls is its own code or the
/// "next" function the runtime gave it. Weak undefined symbols (the C runtime's optional
/// `__cxa_finalize`, `__gmon_start__`, …) are allowed. Any doubt (a parse error) means false.
pub fn vector_free(path: &std::path::Path) -> bool {
    std::fs::read(path)
        .ok()
        .is_some_and(|elf| elf_vector_free(&elf).unwrap_or(false))
}

fn rd<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off + N)?.try_into().ok()
}
fn u16_at(b: &[u8], off: usize) -> Option<usize> {
    Some(u16::from_le_bytes(rd(b, off)?) as usize)
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(rd(b, off)?))
}
fn u64_at(b: &[u8], off: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(rd(b, off)?)).ok()
}

fn elf_vector_free(elf: &[u8]) -> Option<bool> {
    if elf.get(..4)? != b"\x7fELF" || *elf.get(4)? != 2 {
        return None;
    }
    let (phoff, shoff) = (u64_at(elf, 0x20)?, u64_at(elf, 0x28)?);
    let (phentsize, phnum) = (u16_at(elf, 0x36)?, u16_at(elf, 0x38)?);
    let (shentsize, shnum) = (u16_at(elf, 0x3a)?, u16_at(elf, 0x3c)?);
    // Imports: undefined global symbols of .dynsym.
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        if u32_at(elf, sh + 4)? != 11 {
            continue; // not SHT_DYNSYM
        }
        let (off, size, entsize) = (
            u64_at(elf, sh + 0x18)?,
            u64_at(elf, sh + 0x20)?,
            u64_at(elf, sh + 0x38)?,
        );
        for k in 1..size / entsize.max(1) {
            let sym = off + k * entsize;
            let (info, shndx) = (*elf.get(sym + 4)?, u16_at(elf, sym + 6)?);
            if shndx == 0 && info >> 4 == 1 {
                return Some(false); // STB_GLOBAL and undefined: an import
            }
        }
    }
    // Code: every executable PT_LOAD segment, decoded linearly.
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(elf, ph)? != 1 || u32_at(elf, ph + 4)? & 1 == 0 {
            continue; // not PT_LOAD with PF_X
        }
        let (off, filesz) = (u64_at(elf, ph + 8)?, u64_at(elf, ph + 0x20)?);
        let code = elf.get(off..off.checked_add(filesz)?)?;
        let mut d = iced_x86::Decoder::new(64, code, iced_x86::DecoderOptions::NONE);
        let mut ins = iced_x86::Instruction::default();
        while d.can_decode() {
            d.decode_out(&mut ins);
            if uses_extended_state(&ins) {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// Whether one instruction reads or writes x87/MMX/SSE/AVX/AVX-512/AMX state or MXCSR.
pub fn uses_extended_state(ins: &iced_x86::Instruction) -> bool {
    use iced_x86::Register as R;
    let ranges = [
        (R::XMM0, R::XMM31),
        (R::YMM0, R::YMM31),
        (R::ZMM0, R::ZMM31),
        (R::K0, R::K7),
        (R::ST0, R::ST7),
        (R::MM0, R::MM7),
        (R::TMM0, R::TMM7),
    ];
    let vector_reg = |r: R| ranges.iter().any(|&(a, b)| (a..=b).contains(&r));
    if (0..ins.op_count())
        .any(|i| ins.op_kind(i) == iced_x86::OpKind::Register && vector_reg(ins.op_register(i)))
    {
        return true;
    }
    let name = format!("{:?}", ins.code());
    const PREFIXES: [&str; 12] = [
        "VEX_", "EVEX_", "XOP_", "D3NOW_", "MVEX_", "F", "Ldmxcsr", "Stmxcsr", "Emms", "Xsave",
        "Xrstor", "Vmxoff",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode1(bytes: &[u8]) -> iced_x86::Instruction {
        iced_x86::Decoder::new(64, bytes, iced_x86::DecoderOptions::NONE).decode()
    }

    #[test]
    fn recognises_extended_state_instructions() {
        assert!(uses_extended_state(&decode1(&[0x66, 0x0f, 0xef, 0xc0]))); // pxor xmm0,xmm0
        assert!(uses_extended_state(&decode1(&[0xc5, 0xf8, 0x77]))); // vzeroupper
        assert!(uses_extended_state(&decode1(&[0xd9, 0xe8]))); // fld1
        assert!(uses_extended_state(&decode1(&[
            0x0f, 0xae, 0x5c, 0x24, 0xfc
        ]))); // stmxcsr
        assert!(uses_extended_state(&decode1(&[
            0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x00
        ]))); // vmovdqu64 zmm0
        assert!(!uses_extended_state(&decode1(&[0x48, 0x89, 0xf8]))); // mov rax,rdi
        assert!(!uses_extended_state(&decode1(&[0xf3, 0x0f, 0x1e, 0xfa]))); // endbr64
        assert!(!uses_extended_state(&decode1(&[0x0f, 0xae, 0xe8]))); // lfence
        assert!(!uses_extended_state(&decode1(&[
            0xf0, 0x48, 0x0f, 0xc1, 0x07
        ]))); // lock xadd
    }

    #[test]
    fn libc_is_not_vector_free_and_garbage_is_refused() {
        assert!(!vector_free(std::path::Path::new(
            "/lib/x86_64-linux-gnu/libc.so.6"
        )));
        assert!(!vector_free(std::path::Path::new("/nonexistent")));
        assert_eq!(elf_vector_free(b"not an elf"), None);
    }

    #[test]
    fn missing_file_is_a_load_error() {
        let e = load(c"/nonexistent/libnothing.so").unwrap_err();
        match &e {
            HookError::Load(msg) => assert!(msg.contains("No such file"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let m = e.message("/nonexistent/libnothing.so");
        assert!(m.contains("LIBZPHOOK=/nonexistent/libnothing.so"));
        assert!(!m.contains('\n'));
    }

    #[test]
    fn library_without_init_is_reported() {
        // libm is a real shared library without __hook_init.
        let e = load(c"libm.so.6").unwrap_err();
        assert!(namespace_code(core::ptr::null_mut()).is_empty());
        assert_eq!(e, HookError::NoInit);
        assert!(e.message("libm.so.6").contains("__hook_init"));
    }
}
