//! The trampoline at virtual address 0.
//!
//! A rewritten site executes `callq *%rax` with the system call number in `%rax`, so it lands at
//! address `nr`. Page 0 is laid out so that every entry offset reaches the dispatcher quickly
//! and without changing any register or flag:
//!
//! ```text
//! 0x000 +-----------------------------------------------+
//!       | eb d0 eb d1 eb d2 ... (a "funnel" of jmp rel8) |  entry at even offset: jmp +d
//!       |                                               |  entry at odd offset: the byte d is a
//!       |                                               |  harmless prefix (26 2e 36 3e 40-4f
//!       |                                               |  64 65) of the next jmp
//! 0x1da +-----------------------------------------------+
//!       | 90 90 ... (38 nops)                           |  where the last hops land
//! 0x200 +-----------------------------------------------+
//!       | ff 25 00 00 00 00 <&zp_entry>  jmp *0(%rip)   |  the one way out
//! 0x20e +-----------------------------------------------+
//!       | f4 f4 f4 ... (hlt)                            |  numbers 526..4095: hlt faults in
//!       |                                               |  user mode; the fault handler sends
//!       |                                               |  them to the dispatcher (slow, rare)
//! 0x1000+-----------------------------------------------+
//! ```
//!
//! The displacements are chosen by dynamic programming to minimise the work from every entry
//! (a taken jump costs about four nops): getpid (39) reaches the stub in five jumps instead of
//! walking 470 nops. Numbers 0x201..0x20d land inside the stub's own bytes; they are not system
//! calls (the kernel answers ENOSYS) and are the one documented hole. Any other number outside
//! the page faults and is sent to the dispatcher by [`crate::signals`].

use crate::sys;

/// Size of the trampoline mapping.
pub const PAGE: usize = 4096;
/// Offset of the jump to the dispatcher.
pub const STUB_AT: usize = 0x200;
/// Length of the stub: `ff 25 00000000` + 8-byte address.
pub const STUB_LEN: usize = 14;
/// Minimum displacement, and so the length of the nop zone before the stub.
const MIN_DISP: usize = 0x26;
/// Start of the nop zone (end of the funnel), even.
pub const FUNNEL_END: usize = STUB_AT - MIN_DISP;

/// Bytes that are both a forward `jmp rel8` displacement and a prefix without effect on the
/// `jmp` that follows them: segment overrides and REX.
const DISPS: [u8; 22] = [
    0x26, 0x2e, 0x36, 0x3e, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b,
    0x4c, 0x4d, 0x4e, 0x4f, 0x64, 0x65,
];
/// Before a nop only a segment override is harmless (REX.B + 90 is `xchg %r8,%rax`).
const SEGMENT_PREFIXES: [u8; 6] = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

const HOP_COST: usize = 4;

/// Builds the page: funnel, nop zone, stub jumping to `entry`, hlt fill.
pub fn build(entry: u64) -> Vec<u8> {
    let pairs = FUNNEL_END / 2;
    let mut disp = vec![0u8; pairs];
    let mut cost = vec![0usize; pairs];
    // Cost of continuing at byte T (a jump target).
    let cost_at = |t: usize, cost: &[usize]| -> usize {
        if t >= FUNNEL_END {
            STUB_AT - t
        } else if t.is_multiple_of(2) {
            cost[t / 2]
        } else if t.div_ceil(2) == pairs {
            1 + (STUB_AT - FUNNEL_END)
        } else {
            cost[t.div_ceil(2)]
        }
    };
    for p in (0..pairs).rev() {
        let allowed: &[u8] = if p == pairs - 1 {
            &SEGMENT_PREFIXES
        } else {
            &DISPS
        };
        let mut best: Option<(usize, u8)> = None;
        for &d in allowed {
            let t = 2 * p + 2 + d as usize;
            if t > STUB_AT {
                continue;
            }
            let c = HOP_COST + cost_at(t, &cost);
            if best.is_none_or(|(bc, _)| c < bc) {
                best = Some((c, d));
            }
        }
        let (c, d) = best.expect("every pair reaches the stub");
        cost[p] = c;
        disp[p] = d;
    }
    let mut page = vec![0xf4u8; PAGE];
    for p in 0..pairs {
        page[2 * p] = 0xeb;
        page[2 * p + 1] = disp[p];
    }
    page[FUNNEL_END..STUB_AT].fill(0x90);
    page[STUB_AT..STUB_AT + 6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    page[STUB_AT + 6..STUB_AT + STUB_LEN].copy_from_slice(&entry.to_le_bytes());
    page
}

/// Why the trampoline could not be mapped.
#[derive(Debug)]
pub enum MapError {
    /// The kernel refused address 0 (`vm.mmap_min_addr`); holds the errno.
    Forbidden(i32),
    /// Something already occupies address 0.
    Occupied,
    /// The mapping was placed elsewhere (this address): `MAP_FIXED_NOREPLACE` was not honoured.
    Moved(u64),
    /// Any other failure, with its errno.
    Other(&'static str, i32),
}

/// Maps page 0, fills it and makes it execute-only (readable too on CPUs without protection
/// keys; with PKU, Linux backs a PROT_EXEC-only mapping with an access-disabled key).
pub fn map(entry: u64) -> Result<(), MapError> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;
    match sys::mmap(0, PAGE, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) {
        Ok(0) => {}
        Ok(other) => {
            // MAP_FIXED_NOREPLACE taken as a hint: a kernel older than 4.17, or a program that
            // emulates the kernel (valgrind).
            let _ = sys::munmap(other as u64, PAGE);
            return Err(MapError::Moved(other as u64));
        }
        Err(libc::EEXIST) => return Err(MapError::Occupied),
        Err(e @ (libc::EPERM | libc::EACCES)) => return Err(MapError::Forbidden(e)),
        Err(e) => return Err(MapError::Other("mmap", e)),
    }
    let page = build(entry);
    for (i, b) in page.iter().enumerate() {
        // SAFETY: as above; byte writes through a raw pointer to address i (never null-derefed
        // as a Rust reference).
        unsafe { core::ptr::write_volatile(i as *mut u8, *b) };
    }
    sys::mprotect(0, PAGE, libc::PROT_EXEC).map_err(|e| MapError::Other("mprotect", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions, Instruction, Mnemonic, OpKind};

    /// Follows execution from `entry` through the page; returns the number of jumps taken and
    /// nops executed before the stub, or an error naming the first harmful instruction.
    fn walk(page: &[u8], entry: usize) -> Result<(usize, usize), String> {
        let (mut pos, mut hops, mut nops) = (entry, 0, 0);
        loop {
            if pos == STUB_AT {
                return Ok((hops, nops));
            }
            let mut d = Decoder::with_ip(64, &page[pos..], pos as u64, DecoderOptions::NONE);
            let mut ins = Instruction::default();
            d.decode_out(&mut ins);
            match ins.mnemonic() {
                Mnemonic::Jmp if ins.op0_kind() == OpKind::NearBranch64 => {
                    hops += 1;
                    pos = ins.near_branch_target() as usize;
                }
                Mnemonic::Nop => {
                    nops += 1;
                    pos += ins.len();
                }
                _ => return Err(format!("entry {entry:#x}: {:?} at {pos:#x}", ins.code())),
            }
            if pos > STUB_AT {
                return Err(format!("entry {entry:#x} overshot to {pos:#x}"));
            }
        }
    }

    #[test]
    fn every_entry_reaches_the_stub_without_side_effects() {
        let page = build(0x7f12_3456_7890);
        let mut worst = (0, 0);
        for entry in 0..STUB_AT {
            let (h, n) = walk(&page, entry).unwrap();
            if h * HOP_COST + n > worst.0 * HOP_COST + worst.1 {
                worst = (h, n);
            }
        }
        let (h, n) = walk(&page, 39).unwrap();
        assert!(h <= 6 && n <= 40, "getpid: {h} jumps, {n} nops");
        assert!(worst.0 <= 8 && worst.1 <= MIN_DISP + 2, "worst {worst:?}");
    }

    #[test]
    fn stub_jumps_to_the_entry_and_the_rest_is_hlt() {
        let page = build(0x1122_3344_5566_7788);
        let mut d = Decoder::with_ip(64, &page[STUB_AT..], STUB_AT as u64, DecoderOptions::NONE);
        let ins = d.decode();
        assert_eq!(ins.mnemonic(), Mnemonic::Jmp);
        assert_eq!(ins.memory_displacement64(), (STUB_AT + 6) as u64);
        assert_eq!(
            &page[STUB_AT + 6..STUB_AT + 14],
            &0x1122_3344_5566_7788u64.to_le_bytes()
        );
        assert!(page[STUB_AT + STUB_LEN..].iter().all(|&b| b == 0xf4));
    }
}
