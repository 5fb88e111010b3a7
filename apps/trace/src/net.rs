//! Socket structures as strace shows them by default: the `struct msghdr` of
//! `sendmsg`/`recvmsg` with its control messages, and the values of socket options. Like
//! [`crate::structs`], everything is read from the program's memory with [`hook_sdk::mem`]
//! and shown as its address when it cannot be read.

use hook_sdk::mem;

use crate::line::{self, Line};
use crate::structs::{self as st, ARRAY_MAX};
use crate::xlat::{self, MSG, flags};

/// Reads `N` bytes at `addr`, all of them or nothing.
fn read<const N: usize>(addr: u64) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    (addr != 0 && mem::read(addr, &mut b)? == N).then_some(b)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The size of `struct msghdr`.
const MSGHDR: usize = 56;
/// The size of `struct cmsghdr` (`cmsg_len`, `cmsg_level`, `cmsg_type`).
const CMSGHDR: u64 = 16;
/// The largest socket address shown (`struct sockaddr_storage`).
const SOCKADDR_MAX: u64 = 128;

/// A `struct msghdr` as read from the program.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: u32,
}

impl MsgHdr {
    fn read(addr: u64) -> Option<MsgHdr> {
        let b = read::<MSGHDR>(addr)?;
        Some(MsgHdr {
            name: u64_at(&b, 0),
            namelen: u32_at(&b, 8),
            iov: u64_at(&b, 16),
            iovlen: u64_at(&b, 24),
            control: u64_at(&b, 32),
            controllen: u64_at(&b, 40),
            flags: u32_at(&b, 48),
        })
    }
}

/// Appends `msg_name=` with the address of `len` bytes (its pointer when empty or unreadable).
fn msg_name(l: &mut Line, addr: u64, len: u64) {
    l.s("msg_name=");
    if addr != 0 && len > 0 {
        st::sockaddr(l, addr, len.min(SOCKADDR_MAX));
    } else {
        l.ptr(addr);
    }
}

/// Appends the fields after `msg_namelen`: the iovecs (their buffers up to `limit` bytes in
/// all), the control messages (when there are any), the flags.
fn msg_rest(l: &mut Line, m: &MsgHdr, limit: Option<u64>) {
    l.s(", msg_iov=");
    st::iovecs(l, m.iov, m.iovlen, limit);
    l.s(", msg_iovlen=");
    l.uint(m.iovlen);
    if m.controllen != 0 {
        l.s(", msg_control=");
        cmsgs(l, m.control, m.controllen);
    }
    l.s(", msg_controllen=");
    l.uint(m.controllen);
    l.s(", msg_flags=");
    flags(l, u64::from(m.flags), MSG, "0");
    l.s("}");
}

/// Appends the `struct msghdr` `sendmsg` sends: `{msg_name=NULL, msg_namelen=0,
/// msg_iov=[{iov_base="hello", iov_len=5}], msg_iovlen=1, msg_controllen=0, msg_flags=0}`.
pub fn msghdr_out(l: &mut Line, addr: u64) {
    let Some(m) = MsgHdr::read(addr) else {
        return l.ptr(addr);
    };
    l.s("{");
    msg_name(l, m.name, u64::from(m.namelen));
    l.s(", msg_namelen=");
    l.uint(u64::from(m.namelen));
    msg_rest(l, &m, None);
}

/// What `recvmsg` saves before the call: the name length the program offers (its address
/// space is read again after the call), with bit 32 telling that the header could be read.
pub fn msghdr_in_saved(addr: u64) -> u64 {
    MsgHdr::read(addr).map_or(0, |m| (1 << 32) | u64::from(m.namelen))
}

/// Appends the `struct msghdr` `recvmsg` filled with `r` bytes (`saved` from
/// [`msghdr_in_saved`]): the name length as `110 => 16` when the kernel changed it, the
/// buffers up to `r` bytes; after a failure only `{msg_namelen=16}`.
pub fn msghdr_in(l: &mut Line, addr: u64, saved: u64, r: Option<u64>) {
    let readable = saved >> 32 != 0;
    let before = saved & 0xffff_ffff;
    if r.is_none() {
        if readable {
            l.s("{msg_namelen=");
            l.uint(before);
            l.s("}");
        } else {
            l.ptr(addr);
        }
        return;
    }
    let Some(m) = MsgHdr::read(addr) else {
        return l.ptr(addr);
    };
    let after = u64::from(m.namelen);
    let before = if readable { before } else { after };
    l.s("{");
    msg_name(l, m.name, after.min(before));
    l.s(", msg_namelen=");
    l.uint(before);
    if after != before {
        l.s(" => ");
        l.uint(after);
    }
    msg_rest(l, &m, r);
}

/// Appends the `n` `int`s at `addr` (`[0, 1, 2]`), at most [`ARRAY_MAX`].
fn ints(l: &mut Line, addr: u64, n: u64) {
    let mut b = [0u8; 4 * ARRAY_MAX as usize];
    let want = 4 * n.min(ARRAY_MAX) as usize;
    if mem::read(addr, &mut b[..want]) != Some(want) {
        return l.hex(addr);
    }
    l.s("[");
    for (i, v) in b[..want].chunks_exact(4).enumerate() {
        if i > 0 {
            l.s(", ");
        }
        l.int(i64::from(u32_at(v, 0) as i32));
    }
    if n > ARRAY_MAX {
        l.s(", ...");
    }
    l.s("]");
}

/// Appends the `n` bytes at `addr` as hexadecimal numbers (`[0x3, 0x4]`), at most
/// [`ARRAY_MAX`].
fn bytes_hex(l: &mut Line, addr: u64, n: u64) {
    let mut b = [0u8; ARRAY_MAX as usize];
    let want = n.min(ARRAY_MAX) as usize;
    if mem::read(addr, &mut b[..want]) != Some(want) {
        return l.hex(addr);
    }
    l.s("[");
    for (i, &v) in b[..want].iter().enumerate() {
        if i > 0 {
            l.s(", ");
        }
        l.xhex(u64::from(v));
    }
    if n > ARRAY_MAX {
        l.s(", ...");
    }
    l.s("]");
}

/// Appends an IPv4 address in network order (`inet_addr("127.0.0.1")`).
fn inet_addr(l: &mut Line, b: [u8; 4]) {
    l.s("inet_addr(\"");
    for (i, v) in b.iter().enumerate() {
        if i > 0 {
            l.s(".");
        }
        l.uint(u64::from(*v));
    }
    l.s("\")");
}

/// Appends a control message's data, for the types strace decodes (`, cmsg_data=[3]`);
/// nothing for the others, or when there is too little of it.
fn cmsg_data(l: &mut Line, level: u32, ty: u32, addr: u64, len: u64) {
    match (level, ty) {
        // SCM_RIGHTS, IP_TTL, IP_CHECKSUM: ints.
        (1, 1) | (0, 2) | (0, 23) if len >= 4 => {
            l.s(", cmsg_data=");
            ints(l, addr, len / 4);
        }
        // SCM_CREDENTIALS.
        (1, 2) if len >= 12 => {
            let Some(b) = read::<12>(addr) else { return };
            l.s(", cmsg_data={pid=");
            l.int(i64::from(u32_at(&b, 0) as i32));
            l.s(", uid=");
            l.uint(u64::from(u32_at(&b, 4)));
            l.s(", gid=");
            l.uint(u64::from(u32_at(&b, 8)));
            l.s("}");
        }
        // SCM_SECURITY: a string.
        (1 | 0, 3) if len > 0 => {
            l.s(", cmsg_data=");
            line::buffer(l, addr, len, false);
        }
        // SO_TIMESTAMP_OLD/NEW, SO_TIMESTAMPNS_OLD/NEW.
        (1, 29 | 35 | 63 | 64) if len >= 16 => {
            let Some(b) = read::<16>(addr) else { return };
            l.s(", cmsg_data={tv_sec=");
            l.int(u64_at(&b, 0) as i64);
            l.s(if matches!(ty, 29 | 63) {
                ", tv_usec="
            } else {
                ", tv_nsec="
            });
            l.int(u64_at(&b, 8) as i64);
            l.s("}");
        }
        // IP_TOS, IP_RECVOPTS, IP_RETOPTS: bytes.
        (0, 1 | 6 | 7) if len > 0 => {
            l.s(", cmsg_data=");
            bytes_hex(l, addr, len);
        }
        // IP_PKTINFO.
        (0, 8) if len >= 12 => {
            let Some(b) = read::<12>(addr) else { return };
            l.s(", cmsg_data={ipi_ifindex=");
            l.uint(u64::from(u32_at(&b, 0)));
            l.s(", ipi_spec_dst=");
            inet_addr(l, [b[4], b[5], b[6], b[7]]);
            l.s(", ipi_addr=");
            inet_addr(l, [b[8], b[9], b[10], b[11]]);
            l.s("}");
        }
        // IP_ORIGDSTADDR: a socket address.
        (0, 20) if len >= 2 => {
            l.s(", cmsg_data=");
            st::sockaddr(l, addr, len.min(SOCKADDR_MAX));
        }
        _ => {}
    }
}

/// Appends the control messages of `len` bytes at `addr`: `[{cmsg_len=20,
/// cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[3]}]`, `... /* 0x... */` for
/// bytes left that do not hold a header.
pub fn cmsgs(l: &mut Line, addr: u64, len: u64) {
    if addr == 0 || len < CMSGHDR {
        return l.ptr(addr);
    }
    if read::<16>(addr).is_none() {
        return l.hex(addr);
    }
    l.s("[");
    let mut off = 0u64;
    let mut count = 0u64;
    loop {
        let at = addr.wrapping_add(off);
        if len - off < CMSGHDR {
            l.s(", ... /* ");
            l.hex(at);
            l.s(" */");
            break;
        }
        if count == ARRAY_MAX {
            l.s(", ...");
            break;
        }
        let Some(h) = read::<16>(at) else {
            break;
        };
        let (clen, level, ty) = (u64_at(&h, 0), u32_at(&h, 8), u32_at(&h, 12));
        if count > 0 {
            l.s(", ");
        }
        count += 1;
        l.s("{cmsg_len=");
        l.uint(clen);
        l.s(", cmsg_level=");
        xlat::cmsg_level(l, level);
        l.s(", cmsg_type=");
        xlat::cmsg_type(l, level, ty);
        if clen > CMSGHDR {
            let data = clen.min(len - off) - CMSGHDR;
            cmsg_data(l, level, ty, at.wrapping_add(CMSGHDR), data);
        }
        l.s("}");
        if l.full() {
            break;
        }
        // The next header starts at the next 8-byte boundary; a length shorter than a header
        // ends the list.
        let step = if clen < CMSGHDR {
            CMSGHDR
        } else {
            match clen.checked_add(7) {
                Some(s) => s & !7,
                None => break,
            }
        };
        match off.checked_add(step) {
            Some(next) if next < len => off = next,
            _ => break,
        }
        if clen < CMSGHDR {
            l.s(", ... /* ");
            l.hex(addr.wrapping_add(off));
            l.s(" */");
            break;
        }
    }
    l.s("]");
}

/// Whether `setsockopt` shows the option's value as an `int`, or as its address when shorter
/// than one (`Some(true)`), or as its address whatever its length (`Some(false)`: structures
/// strace decodes and this trace does not); `None` for the others (an `int` when the length
/// is 4, else the bytes).
fn sockopt_kind(level: u32, name: u32) -> Option<bool> {
    match (level, name) {
        (1, n) if xlat::SO_INT.contains(&n) => Some(true),
        // SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF.
        (1, 26 | 51) => Some(false),
        // NETLINK_RX_RING, NETLINK_TX_RING.
        (270, 6 | 7) => Some(false),
        (270, _) => Some(true),
        // Group memberships, ICMP_FILTER, packet rings.
        (0, 35 | 36 | 42 | 45)
        | (41, 20 | 21 | 27 | 28 | 42 | 45)
        | (255, 1)
        | (263, 1 | 2 | 5 | 13) => Some(false),
        _ => None,
    }
}

/// Appends `[n]`, the `int` at `addr`, or its address.
fn int_value(l: &mut Line, addr: u64) {
    st::int_in_brackets(l, addr);
}

/// Appends the value `setsockopt` passes (`len` bytes at `addr`): `[1]`, `{l_onoff=1,
/// l_linger=5}`, `"cubic"`.
pub fn sockopt_in(l: &mut Line, level: u32, name: u32, addr: u64, len: i32) {
    if addr == 0 {
        return l.s("NULL");
    }
    match sockopt_kind(level, name) {
        Some(false) => l.hex(addr),
        Some(true) if len < 4 => l.hex(addr),
        Some(true) => int_value(l, addr),
        // SO_LINGER.
        None if level == 1 && name == 13 => match read::<8>(addr).filter(|_| len >= 8) {
            Some(b) => {
                l.s("{l_onoff=");
                l.int(i64::from(u32_at(&b, 0) as i32));
                l.s(", l_linger=");
                l.int(i64::from(u32_at(&b, 4) as i32));
                l.s("}");
            }
            None => l.hex(addr),
        },
        None if len == 4 => int_value(l, addr),
        None => line::buffer(l, addr, u64::from(len as u32), false),
    }
}

/// Appends the fields of a structure of `int`s of which the kernel wrote `len` bytes: a field
/// it wrote in part shows those bytes in hexadecimal (`{pid=5486, uid="\x00\x00"}`).
fn int_fields(l: &mut Line, addr: u64, len: u64, names: &[&str], unsigned: bool) {
    let mut b = [0u8; 16];
    let n = (len as usize).min(4 * names.len());
    if mem::read(addr, &mut b[..n]) != Some(n) {
        return l.hex(addr);
    }
    l.s("{");
    for (i, name) in names.iter().enumerate() {
        let at = 4 * i;
        if n <= at {
            break;
        }
        if i > 0 {
            l.s(", ");
        }
        l.s(name);
        l.s("=");
        if n < at + 4 {
            line::quoted(l, &b[at..n], true);
            break;
        }
        let v = u32_at(&b, at);
        if !unsigned || i == 0 {
            l.int(i64::from(v as i32));
        } else if v == u32::MAX {
            l.s("-1");
        } else {
            l.uint(u64::from(v));
        }
    }
    l.s("}");
}

/// Appends the value `getsockopt` got (`len` bytes, as the kernel wrote back): `[0]`,
/// `[ECONNREFUSED]` (`SO_ERROR`), `{pid=1, uid=0, gid=0}` (`SO_PEERCRED`), or the bytes.
pub fn sockopt_out(l: &mut Line, level: u32, name: u32, addr: u64, len: u64) {
    if addr == 0 || len == 0 {
        return l.ptr(addr);
    }
    match (level, name) {
        // SO_PEERCRED.
        (1, 17) => int_fields(l, addr, len, &["pid", "uid", "gid"], true),
        // SO_LINGER.
        (1, 13) => int_fields(l, addr, len, &["l_onoff", "l_linger"], false),
        // SO_ERROR: an error number.
        (1, 4) => {
            let mut b = [0u8; 4];
            let n = (len as usize).min(4);
            if mem::read(addr, &mut b[..n]) != Some(n) {
                return l.hex(addr);
            }
            if n < 4 {
                return line::quoted(l, &b[..n], true);
            }
            let e = i32::from_ne_bytes(b);
            l.s("[");
            match xlat::errno_name(i64::from(e)) {
                Some(name) => l.s(name),
                None => l.int(i64::from(e)),
            }
            l.s("]");
        }
        _ if len == 4 => int_value(l, addr),
        _ => line::buffer(l, addr, len, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::line::text;

    #[test]
    fn control_messages_like_strace() {
        // Two SCM_RIGHTS messages (28 and 20 bytes, the first padded to 32).
        let mut c = [0u64; 7];
        c[0] = 28;
        c[1] = 1 | (1 << 32);
        c[2] = 1 << 32;
        c[3] = 2;
        c[4] = 20;
        c[5] = 1 | (1 << 32);
        c[6] = 2;
        let p = c.as_ptr() as u64;
        assert_eq!(
            text(|l| cmsgs(l, p, 56)),
            "[{cmsg_len=28, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[0, 1, 2]}, \
             {cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[2]}]"
        );
        // A length shorter than a header ends the list, with the rest's address.
        c[0] = 10;
        std::hint::black_box(&c);
        assert_eq!(
            text(|l| cmsgs(l, p, 40)),
            format!(
                "[{{cmsg_len=10, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS}}, ... /* {:#x} */]",
                p + 16
            )
        );
        // Unknown level and type; too short for a header.
        c[0] = 21;
        c[1] = 0x63 | (7 << 32);
        std::hint::black_box(&c);
        assert_eq!(
            text(|l| cmsgs(l, p, 24)),
            "[{cmsg_len=21, cmsg_level=0x63 /* SOL_??? */, cmsg_type=0x7}]"
        );
        assert_eq!(text(|l| cmsgs(l, p, 4)), format!("{p:#x}"));
        assert_eq!(text(|l| cmsgs(l, 0, 10)), "NULL");
        // SCM_CREDENTIALS.
        let cred: [u32; 7] = [28, 0, 1, 2, 5287, 0, 0];
        assert_eq!(
            text(|l| cmsgs(l, cred.as_ptr() as u64, 28)),
            "[{cmsg_len=28, cmsg_level=SOL_SOCKET, cmsg_type=SCM_CREDENTIALS, \
             cmsg_data={pid=5287, uid=0, gid=0}}]"
        );
    }

    #[test]
    fn socket_options_like_strace() {
        let one: i32 = 1;
        let p = &one as *const i32 as u64;
        assert_eq!(text(|l| sockopt_in(l, 1, 2, p, 4)), "[1]");
        assert_eq!(text(|l| sockopt_in(l, 1, 2, p, 2)), format!("{p:#x}"));
        assert_eq!(text(|l| sockopt_in(l, 6, 1, p, 2)), "\"\\1\\0\"");
        assert_eq!(text(|l| sockopt_in(l, 6, 999, 0, 4)), "NULL");
        let lg: [i32; 2] = [1, 5];
        let pl = lg.as_ptr() as u64;
        assert_eq!(
            text(|l| sockopt_in(l, 1, 13, pl, 8)),
            "{l_onoff=1, l_linger=5}"
        );
        assert_eq!(text(|l| sockopt_out(l, 1, 13, pl, 4)), "{l_onoff=1}");
        assert_eq!(
            text(|l| sockopt_out(l, 1, 13, pl, 6)),
            "{l_onoff=1, l_linger=\"\\x05\\x00\"}"
        );
        let cred: [u32; 3] = [5486, 0, u32::MAX];
        let pc = cred.as_ptr() as u64;
        assert_eq!(
            text(|l| sockopt_out(l, 1, 17, pc, 12)),
            "{pid=5486, uid=0, gid=-1}"
        );
        assert_eq!(
            text(|l| sockopt_out(l, 1, 17, pc, 3)),
            "{pid=\"\\x6e\\x15\\x00\"}"
        );
        let err: i32 = 111;
        let pe = &err as *const i32 as u64;
        assert_eq!(text(|l| sockopt_out(l, 1, 4, pe, 4)), "[ECONNREFUSED]");
        assert_eq!(text(|l| sockopt_out(l, 1, 4, pe, 1)), "\"\\x6f\"");
        let cc = *b"cubic\0\0\0";
        assert_eq!(
            text(|l| sockopt_out(l, 6, 13, cc.as_ptr() as u64, 8)),
            "\"cubic\\0\\0\\0\""
        );
        assert_eq!(text(|l| sockopt_out(l, 1, 3, pe, 0)), format!("{pe:#x}"));
    }
}
