//! Finding the `syscall` (0f 05) and `sysenter` (0f 34) instructions of a code region, at real
//! instruction boundaries, and judging whether `callq *%rax` may replace each of them.
//!
//! A fast SIMD search finds the byte pairs; only the functions that contain one are decoded,
//! from their first byte as given by the unwind tables ([`crate::ehframe`]), so a pair inside
//! another instruction (an immediate, a displacement) is never mistaken for a system call.
//! Code outside any function record is decoded by a linear sweep of the gap it lies in.

use iced_x86::{Code, Decoder, DecoderOptions, Instruction, Mnemonic, OpKind, Register};

use crate::ehframe::{self, Range};

/// Why a site is left to another mechanism instead of being rewritten to `callq *%rax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// The function keeps data below the stack pointer (the red zone), which the return
    /// address pushed by `callq` would overwrite.
    RedZone,
}

/// A system call instruction found in a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Site {
    /// Address of the `0f 05` / `0f 34`.
    pub addr: u64,
    /// `None` when `callq *%rax` may replace it.
    pub unsafe_reason: Option<Unsafe>,
    /// For an unsafe site: the first of the instructions just before it that may be moved to a
    /// stub together with it, so that a 5-byte `jmp rel32` (which writes no stack) replaces
    /// `[takeover, addr + 2)`. `None` when no such run exists.
    pub takeover: Option<u64>,
}

impl Site {
    /// A site `callq *%rax` may replace.
    pub fn safe(addr: u64) -> Site {
        Site {
            addr,
            unsafe_reason: None,
            takeover: None,
        }
    }
}

/// Whether an instruction can run unchanged at another address: no RIP-relative operand, no
/// control transfer, no stack-pointer-relative operand (the stub moves the stack pointer after
/// it, but it runs before: still, keep the rule simple and strict).
fn relocatable(ins: &Instruction) -> bool {
    !ins.is_ip_rel_memory_operand()
        && !matches!(
            ins.op0_kind(),
            OpKind::NearBranch16
                | OpKind::NearBranch32
                | OpKind::NearBranch64
                | OpKind::FarBranch16
                | OpKind::FarBranch32
        )
        && !matches!(
            ins.mnemonic(),
            Mnemonic::Ret
                | Mnemonic::Retf
                | Mnemonic::Call
                | Mnemonic::Jmp
                | Mnemonic::Iret
                | Mnemonic::Iretd
                | Mnemonic::Iretq
                | Mnemonic::Int
                | Mnemonic::Int1
                | Mnemonic::Int3
                | Mnemonic::Into
                | Mnemonic::Ud0
                | Mnemonic::Ud1
                | Mnemonic::Ud2
                | Mnemonic::Hlt
                | Mnemonic::Syscall
                | Mnemonic::Sysenter
                | Mnemonic::INVALID
        )
        && ins.len() > 0
}

/// Finds the run of instructions before `instrs[i]` (a system call) to move to a stub: the
/// shortest run of relocatable instructions, immediately before it, of at least 3 bytes, such
/// that no branch in `instrs` lands strictly inside `[run start, site + 2)`.
fn takeover(instrs: &[Instruction], i: usize) -> Option<u64> {
    let site = instrs[i].ip();
    let mut j = i;
    let mut start = site;
    while site - start < 3 {
        j = j.checked_sub(1)?;
        let prev = &instrs[j];
        if !relocatable(prev) || prev.next_ip() != start {
            return None;
        }
        start = prev.ip();
    }
    let lands_inside = instrs.iter().any(|b| {
        matches!(
            b.op0_kind(),
            OpKind::NearBranch64 | OpKind::NearBranch32 | OpKind::NearBranch16
        ) && (start + 1..site + 2).contains(&b.near_branch_target())
    });
    (!lands_inside).then_some(start)
}

/// Offsets of every `0f 05` and `0f 34` byte pair in `bytes` (candidates, not yet instructions).
pub fn candidates(bytes: &[u8]) -> Vec<usize> {
    let mut v: Vec<usize> = memchr::memmem::find_iter(bytes, b"\x0f\x05").collect();
    v.extend(memchr::memmem::find_iter(bytes, b"\x0f\x34"));
    v.sort_unstable();
    v
}

fn decode_into(bytes: &[u8], ip: u64, out: &mut Vec<Instruction>) {
    let mut d = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    out.clear();
    out.reserve(bytes.len() / 4 + 1);
    let mut ins = Instruction::default();
    while d.can_decode() {
        d.decode_out(&mut ins);
        out.push(ins);
    }
}

#[cfg(test)]
fn decode_all(bytes: &[u8], ip: u64) -> Vec<Instruction> {
    let mut v = Vec::new();
    decode_into(bytes, ip, &mut v);
    v
}

fn is_syscall(ins: &Instruction) -> bool {
    matches!(ins.code(), Code::Syscall | Code::Sysenter)
}

/// Whether the instructions of one function may keep live data in the red zone.
///
/// Conservative rules (any match marks the function unsafe):
/// * an explicit memory operand `disp(%rsp)` with a negative displacement (a read, a write or a
///   `lea` that takes its address, e.g. a buffer handed to the kernel);
/// * a frame-pointer function (`mov %rsp,%rbp`) that never moves `%rsp` down explicitly
///   (no `sub`/`and`/`lea` into `%rsp`) and addresses `disp(%rbp)` with a negative
///   displacement: its locals live below the stack pointer (typical of `-O0` leaf functions).
pub fn uses_red_zone(instrs: impl IntoIterator<Item = Instruction>) -> bool {
    let mut frame_pointer = false;
    let mut allocates = false;
    let mut rbp_negative = false;
    for ins in instrs {
        let ins = &ins;
        // An instruction has at most one explicit memory operand; its base is None otherwise.
        let base = ins.memory_base();
        if base != Register::None && (ins.memory_displacement64() as i64) < 0 {
            match base {
                Register::RSP | Register::ESP => return true,
                Register::RBP | Register::EBP => rbp_negative = true,
                _ => {}
            }
        }
        if ins.op_count() == 0 || ins.op0_kind() != OpKind::Register {
            continue;
        }
        if ins.op0_register() == Register::RSP {
            match ins.mnemonic() {
                Mnemonic::Sub | Mnemonic::And | Mnemonic::Lea => allocates = true,
                Mnemonic::Add
                    if ins.op_count() == 2
                        && ins.op_kind(1) != OpKind::Register
                        && (ins.immediate(1) as i64) < 0 =>
                {
                    allocates = true;
                }
                Mnemonic::Mov
                    if ins.op_count() == 2
                        && ins.op_kind(1) == OpKind::Register
                        && ins.op1_register() != Register::RBP =>
                {
                    allocates = true
                }
                _ => {}
            }
        }
        if ins.op0_register() == Register::RBP
            && ins.op_count() == 2
            && ins.op_kind(1) == OpKind::Register
            && ins.op1_register() == Register::RSP
            && ins.mnemonic() == Mnemonic::Mov
        {
            frame_pointer = true;
        }
    }
    frame_pointer && !allocates && rbp_negative
}

/// Whether the system call instruction at `site`, inside the function whose bytes are `bytes`
/// (mapped at `start`), may become `callq *%rax`: it is a real instruction and the function
/// keeps nothing in the red zone. Decodes twice instead of keeping the instructions, so it
/// allocates nothing (the safety net's signal handler uses it).
pub fn callable_site(bytes: &[u8], start: u64, site: u64) -> bool {
    let mut d = Decoder::with_ip(64, bytes, start, DecoderOptions::NONE);
    let mut ins = Instruction::default();
    let mut found = false;
    while d.can_decode() {
        d.decode_out(&mut ins);
        found |= ins.ip() == site && is_syscall(&ins);
    }
    found && !uses_red_zone(Decoder::with_ip(64, bytes, start, DecoderOptions::NONE))
}

/// Ends a straight-line window around a site in code without unwind information.
fn is_barrier(ins: &Instruction) -> bool {
    matches!(
        ins.mnemonic(),
        Mnemonic::Ret
            | Mnemonic::Jmp
            | Mnemonic::Int3
            | Mnemonic::Hlt
            | Mnemonic::Ud2
            | Mnemonic::INVALID
    )
}

/// Judges the sites among `instrs` (one function, or one gap without unwind information).
fn judge(instrs: &[Instruction], whole_function: bool, out: &mut Vec<Site>) {
    let fn_verdict = whole_function.then(|| uses_red_zone(instrs.iter().copied()));
    for (i, ins) in instrs.iter().enumerate() {
        if !is_syscall(ins) {
            continue;
        }
        let red = match fn_verdict {
            Some(v) => v,
            None => {
                // Without function bounds: the straight-line code around the site.
                let lo = instrs[..i]
                    .iter()
                    .rposition(is_barrier)
                    .map_or(0, |p| p + 1);
                let hi = instrs[i..]
                    .iter()
                    .position(is_barrier)
                    .map_or(instrs.len(), |p| i + p + 1);
                uses_red_zone(
                    instrs[lo.max(i.saturating_sub(64))..hi.min(i + 64)]
                        .iter()
                        .copied(),
                )
            }
        };
        out.push(Site {
            addr: ins.ip(),
            unsafe_reason: red.then_some(Unsafe::RedZone),
            takeover: if red { takeover(instrs, i) } else { None },
        });
    }
}

/// Finds the system call sites of the code `bytes`, mapped at `base`, given the sorted function
/// ranges `fns` of the object it belongs to (may be empty).
pub fn scan(bytes: &[u8], base: u64, fns: &[Range]) -> Vec<Site> {
    scan_in(bytes, base, fns, None)
}

/// [`scan`], sweeping code outside any function record only inside `code` (the executable
/// sections of the file, when its section headers are known): an executable segment may also
/// hold read-only data (`-z noseparate-code`: `.rodata`, `.rela.dyn`, symbol tables), whose
/// `0f 05` bytes are not instructions.
pub fn scan_in(bytes: &[u8], base: u64, fns: &[Range], code: Option<&[Range]>) -> Vec<Site> {
    let end = base + bytes.len() as u64;
    let cands = candidates(bytes);
    let mut out = Vec::new();
    let mut instrs = Vec::new();
    let mut done_until = base; // everything below this address has been decoded
    for off in cands {
        let addr = base + off as u64;
        if addr < done_until {
            continue;
        }
        // The unit to decode: the function containing the candidate, or the gap between
        // functions that contains it.
        let (lo, hi, whole) = match ehframe::find(fns, addr) {
            Some((s, e)) => (s.max(base), e.min(end), true),
            None => {
                let i = fns.partition_point(|&(s, _)| s <= addr);
                let mut prev_end = i.checked_sub(1).map_or(base, |j| fns[j].1).max(base);
                let mut next_start = fns.get(i).map_or(end, |r| r.0).min(end);
                if let Some(code) = code {
                    // Only inside the executable section that holds the candidate.
                    let Some(&(cs, ce)) = code.iter().find(|&&(s, e)| (s..e).contains(&addr))
                    else {
                        continue;
                    };
                    prev_end = prev_end.max(cs);
                    next_start = next_start.min(ce);
                }
                (prev_end.max(done_until), next_start, false)
            }
        };
        let slice = &bytes[(lo - base) as usize..(hi - base) as usize];
        decode_into(slice, lo, &mut instrs);
        judge(&instrs, whole, &mut out);
        done_until = hi;
    }
    out.sort_unstable_by_key(|s| s.addr);
    out.dedup_by_key(|s| s.addr);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<Instruction> {
        decode_all(bytes, 0x1000)
    }

    #[test]
    fn finds_only_real_instructions() {
        // mov $0x050f, %eax (the pair is an immediate); syscall; ret
        let code = [0xb8, 0x0f, 0x05, 0x00, 0x00, 0x0f, 0x05, 0xc3];
        let sites = scan(&code, 0x1000, &[(0x1000, 0x1008)]);
        assert_eq!(sites, vec![Site::safe(0x1005)]);
        assert_eq!(candidates(&code), vec![1, 5]);
    }

    #[test]
    fn data_outside_executable_sections_is_not_swept() {
        // no unwind info; an executable section [0x2000, 0x2004) then read-only data holding
        // the bytes of a syscall
        let code = [0x90, 0x0f, 0x05, 0xc3, 0x0f, 0x05, 0x0f, 0x34];
        let sites = scan_in(&code, 0x2000, &[], Some(&[(0x2000, 0x2004)]));
        assert_eq!(sites, vec![Site::safe(0x2001)]);
        assert_eq!(scan(&code, 0x2000, &[]).len(), 3);
    }

    #[test]
    fn sysenter_counts_and_gaps_are_swept() {
        // no unwind info: nop; sysenter; ret
        let code = [0x90, 0x0f, 0x34, 0xc3];
        let sites = scan(&code, 0x2000, &[]);
        assert_eq!(sites, vec![Site::safe(0x2001)]);
    }

    #[test]
    fn red_zone_below_rsp_is_detected() {
        // mov %rdi,-0x8(%rsp); syscall; mov -0x8(%rsp),%rax; ret
        let code = [
            0x48, 0x89, 0x7c, 0x24, 0xf8, 0x0f, 0x05, 0x48, 0x8b, 0x44, 0x24, 0xf8, 0xc3,
        ];
        assert!(uses_red_zone(decode(&code)));
        let sites = scan(&code, 0x1000, &[(0x1000, 0x100d)]);
        assert_eq!(sites[0].unsafe_reason, Some(Unsafe::RedZone));
        // the store before it (5 bytes) can move to a stub with it
        assert_eq!(sites[0].takeover, Some(0x1000));
        // lea -0x38(%rsp),%rdx hands a red-zone buffer to the kernel
        let lea = [0x48, 0x8d, 0x54, 0x24, 0xc8, 0x0f, 0x05, 0xc3];
        assert!(uses_red_zone(decode(&lea)));
    }

    #[test]
    fn takeover_refuses_branch_targets_and_rip_relative_code() {
        // mov %rdi,-0x8(%rsp); mov $0x27,%eax; syscall; jmp back to the mov $0x27 (a target
        // inside the run would be fine only at its first byte: here the run is just that mov)
        let code = [
            0x48, 0x89, 0x7c, 0x24, 0xf8, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7, 0xc3,
        ];
        let s = scan(&code, 0x1000, &[(0x1000, 0x100f)]);
        assert_eq!(s[0].takeover, Some(0x1005));
        // a jump to the syscall itself forbids taking over the instruction before it
        let code = [
            0x48, 0x89, 0x7c, 0x24, 0xf8, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xfc, 0xc3,
        ];
        let s = scan(&code, 0x1000, &[(0x1000, 0x100f)]);
        assert_eq!(s[0].takeover, None);
        // rip-relative load before the syscall cannot move: lea 0(%rip),%rsi; mov %rdi,-8(%rsp)
        let code = [
            0x48, 0x8d, 0x35, 0, 0, 0, 0, 0x48, 0x89, 0x7c, 0x24, 0xf8, 0x90, 0x0f, 0x05, 0xc3,
        ];
        let s = scan(&code, 0x1000, &[(0x1000, 0x1010)]);
        assert_eq!(s[0].takeover, Some(0x1007));
        let code = [
            0x48, 0x89, 0x7c, 0x24, 0xf8, 0x48, 0x8d, 0x35, 0, 0, 0, 0, 0x0f, 0x05, 0xc3,
        ];
        let s = scan(&code, 0x1000, &[(0x1000, 0x100f)]);
        assert_eq!(s[0].takeover, None);
    }

    #[test]
    fn frame_pointer_leaf_is_detected_and_allocating_one_is_not() {
        // push %rbp; mov %rsp,%rbp; mov %edi,-0x14(%rbp); syscall; pop %rbp; ret
        let leaf = [
            0x55, 0x48, 0x89, 0xe5, 0x89, 0x7d, 0xec, 0x0f, 0x05, 0x5d, 0xc3,
        ];
        assert!(uses_red_zone(decode(&leaf)));
        // same with sub $0x20,%rsp after the prologue
        let framed = [
            0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20, 0x89, 0x7d, 0xec, 0x0f, 0x05, 0xc9,
            0xc3,
        ];
        assert!(!uses_red_zone(decode(&framed)));
    }

    #[test]
    fn ordinary_wrappers_are_safe() {
        // mov $0x27,%eax; syscall; cmp $-4095,%rax; jae +0; ret
        let code = [
            0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0x73, 0x00, 0xc3,
        ];
        assert!(!uses_red_zone(decode(&code)));
        // positive rsp offsets are the caller's frame, not the red zone
        let pos = [0x48, 0x8b, 0x44, 0x24, 0x08, 0x0f, 0x05, 0xc3];
        assert!(!uses_red_zone(decode(&pos)));
    }

    #[test]
    fn libc_sites_are_found() {
        let objs = ehframe::objects();
        let libc = objs.iter().find(|o| o.name.contains("libc.so")).unwrap();
        // SAFETY: from PT_GNU_EH_FRAME of a loaded object.
        let fns = unsafe { ehframe::functions(libc.eh_frame_hdr.unwrap()) };
        let mut total = 0;
        let mut red = 0;
        for &(s, e) in &libc.exec {
            // SAFETY: an executable PT_LOAD segment of a loaded object is mapped and readable.
            let bytes = unsafe { core::slice::from_raw_parts(s as *const u8, (e - s) as usize) };
            let sites = scan(bytes, s, &fns);
            total += sites.len();
            red += sites.iter().filter(|s| s.unsafe_reason.is_some()).count();
        }
        assert!(total > 300, "{total} sites in libc");
        assert!(red * 10 < total, "{red} of {total} sites judged unsafe");
    }
}
