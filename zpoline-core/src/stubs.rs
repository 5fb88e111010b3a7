//! Stubs for sites whose function keeps live data in the red zone.
//!
//! `callq *%rax` would push its return address over the red zone, so such a site is not
//! rewritten that way. Instead the instructions just before it (at least 3 bytes, chosen by
//! [`crate::decode`]) and the `syscall` itself are replaced by a 5-byte `jmp rel32` to a stub in
//! a page allocated within ±2 GiB; the stub runs the moved instructions, steps over the whole
//! red zone and calls the dispatcher directly:
//!
//! ```text
//!  site function                         stub page (near the object)
//!  t:   e9 <rel32>  ----------------->   <the moved instructions, byte for byte>
//!       cc cc ...                        48 8d 64 24 80        lea  -0x80(%rsp),%rsp
//!  s+2: <next instruction>  <-----+      ff 15 02 00 00 00     call *2(%rip)    ---> zp_entry
//!                                 |  R:  eb 08                 jmp  over the address
//!                                 |      <8 bytes: zp_entry>
//!                                 |      48 8d a4 24 80 00 00 00  lea 0x80(%rsp),%rsp
//!                                 +----  e9 <rel32>            jmp  s+2
//! ```
//!
//! The dispatcher sees `R - 2` as a site (it is recorded in the site set) and an application
//! stack pointer 128 bytes lower than the real one, so nothing at or below the real one is
//! written. Neither `lea` touches the flags.

use crate::maps::Mapping;
use crate::sys;

const PAGE: u64 = 4096;
/// Largest distance a `rel32` may span, with a margin.
const REACH: u64 = (1 << 31) - 2 * PAGE;

/// Bytes of stub code after the moved instructions.
pub const TAIL: usize = 5 + 6 + 2 + 8 + 8 + 5;

/// Allocates stub space near the code it serves.
#[derive(Default)]
pub struct Stubs {
    /// Pages mapped so far: address and bytes used.
    pages: Vec<(u64, usize)>,
}

fn distance(a: u64, b: u64) -> u64 {
    a.abs_diff(b)
}

impl Stubs {
    /// Address of `len` free bytes reachable by `rel32` from `near` (and from `near + 64`).
    pub fn alloc(&mut self, near: u64, len: usize, maps: &[Mapping]) -> Option<u64> {
        for (base, used) in self.pages.iter_mut() {
            if *used + len <= PAGE as usize && distance(*base, near) < REACH {
                let at = *base + *used as u64;
                *used += len.next_multiple_of(16);
                return Some(at);
            }
        }
        let page = self.map_near(near, maps)?;
        self.pages.push((page, len.next_multiple_of(16)));
        Some(page)
    }

    fn map_near(&self, near: u64, maps: &[Mapping]) -> Option<u64> {
        let mut taken: Vec<(u64, u64)> = maps.iter().map(|m| (m.start, m.end)).collect();
        taken.extend(self.pages.iter().map(|&(b, _)| (b, b + PAGE)));
        taken.sort_unstable();
        let lo = near.saturating_sub(REACH).max(0x10000);
        let hi = (near + REACH).min(0x7fff_ffff_f000);
        // Free gaps between mappings, tried nearest first.
        let mut gaps: Vec<(u64, u64)> = Vec::new();
        let mut prev_end = 0x10000u64;
        for &(s, e) in &taken {
            if s > prev_end {
                gaps.push((prev_end, s));
            }
            prev_end = prev_end.max(e);
        }
        gaps.push((prev_end, 0x7fff_ffff_f000));
        let mut cands: Vec<u64> = gaps
            .iter()
            .filter_map(|&(gs, ge)| {
                let (gs, ge) = (gs.max(lo).next_multiple_of(PAGE), ge.min(hi) & !(PAGE - 1));
                if ge < gs + PAGE {
                    return None;
                }
                let want = (near & !(PAGE - 1)).clamp(gs, ge - PAGE);
                Some(want)
            })
            .collect();
        cands.sort_unstable_by_key(|&c| distance(c, near));
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;
        for c in cands.into_iter().take(16) {
            if let Ok(p) = sys::mmap(
                c,
                PAGE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            ) {
                if p as u64 == c {
                    return Some(c);
                }
                let _ = sys::munmap(p as u64, PAGE as usize);
            }
        }
        None
    }

    /// Makes every stub page read-execute (never writable and executable at once).
    pub fn seal(&self) -> Result<(), i32> {
        for &(b, _) in &self.pages {
            sys::mprotect(b, PAGE as usize, libc::PROT_READ | libc::PROT_EXEC)?;
        }
        Ok(())
    }
}

/// The stub for site `s` whose moved instructions are `moved` (they started at `s - moved.len()`),
/// placed at `at`. Returns the code and the return address the dispatcher will see.
pub fn build(at: u64, moved: &[u8], s: u64, entry: u64) -> (Vec<u8>, u64) {
    let mut c = Vec::with_capacity(moved.len() + TAIL);
    c.extend_from_slice(moved);
    c.extend_from_slice(&[0x48, 0x8d, 0x64, 0x24, 0x80]); // lea -0x80(%rsp),%rsp
    c.extend_from_slice(&[0xff, 0x15, 0x02, 0, 0, 0]); // call *2(%rip)
    let ret = at + c.len() as u64;
    c.extend_from_slice(&[0xeb, 0x08]); // jmp over the address
    c.extend_from_slice(&entry.to_le_bytes());
    c.extend_from_slice(&[0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0]); // lea 0x80(%rsp),%rsp
    let jmp_end = at + c.len() as u64 + 5;
    c.push(0xe9); // jmp s+2
    c.extend_from_slice(&(((s + 2) as i64 - jmp_end as i64) as i32).to_le_bytes());
    (c, ret)
}

/// The bytes replacing `[t, s + 2)`: `jmp rel32` to the stub, then `int3` padding.
pub fn patch_bytes(t: u64, s: u64, stub: u64) -> Vec<u8> {
    let mut p = vec![0xe9];
    p.extend_from_slice(&((stub as i64 - (t + 5) as i64) as i32).to_le_bytes());
    p.resize((s + 2 - t) as usize, 0xcc);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions, Mnemonic};

    #[test]
    fn stub_decodes_as_drawn() {
        let moved = [0xb8, 0x83, 0, 0, 0]; // mov $0x83,%eax
        let (code, ret) = build(0x10000, &moved, 0x20005, 0x7f00_0000_1234);
        let mut d = Decoder::with_ip(64, &code, 0x10000, DecoderOptions::NONE);
        let mn: Vec<Mnemonic> = (0..4).map(|_| d.decode().mnemonic()).collect();
        assert_eq!(
            mn,
            [Mnemonic::Mov, Mnemonic::Lea, Mnemonic::Call, Mnemonic::Jmp]
        );
        assert_eq!(ret, 0x10000 + 5 + 5 + 6);
        let mut d = Decoder::with_ip(
            64,
            &code[(ret - 0x10000) as usize + 10..],
            ret + 10,
            DecoderOptions::NONE,
        );
        assert_eq!(d.decode().mnemonic(), Mnemonic::Lea);
        let j = d.decode();
        assert_eq!(j.near_branch_target(), 0x20007);
        assert_eq!(code.len(), moved.len() + TAIL);
    }

    #[test]
    fn patch_jumps_to_stub() {
        let p = patch_bytes(0x20000, 0x20005, 0x10000);
        assert_eq!(p.len(), 7);
        let mut d = Decoder::with_ip(64, &p, 0x20000, DecoderOptions::NONE);
        assert_eq!(d.decode().near_branch_target(), 0x10000);
        assert_eq!(&p[5..], &[0xcc, 0xcc]);
    }

    #[test]
    fn allocates_within_reach() {
        let maps = crate::maps::read_self().unwrap();
        let near = allocates_within_reach as *const () as u64;
        let mut s = Stubs::default();
        let a = s.alloc(near, 40, &maps).unwrap();
        assert!(distance(a, near) < REACH);
        let b = s.alloc(near, 40, &maps).unwrap();
        assert_eq!(b, a + 48);
        s.seal().unwrap();
    }
}
