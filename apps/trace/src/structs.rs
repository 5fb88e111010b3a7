//! Structures read from the program's memory and shown as strace shows them by default
//! (abbreviated with `...`). Each function prints the address instead when the memory cannot
//! be read, and `NULL` for a null pointer.

use hook_sdk::args::SockAddr;
use hook_sdk::mem;

use crate::line::{self, Line, PATH_MAX, STRLEN};
use crate::xlat::{self, Names, flags};

/// Reads `N` bytes at `addr`, all of them or nothing.
fn read<const N: usize>(addr: u64) -> Option<[u8; N]> {
    let mut b = [0u8; N];
    (addr != 0 && mem::read(addr, &mut b)? == N).then_some(b)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Prints `NULL` or the address, for a pointer whose contents are not shown.
fn unread(l: &mut Line, addr: u64) {
    l.ptr(addr);
}

/// Appends a file mode with its type (`S_IFREG|0644`, `S_IFDIR|S_ISVTX|0777`).
pub fn file_mode(l: &mut Line, m: u32) {
    let ty = match m & 0o170000 {
        0o140000 => "S_IFSOCK|",
        0o120000 => "S_IFLNK|",
        0o100000 => "S_IFREG|",
        0o60000 => "S_IFBLK|",
        0o40000 => "S_IFDIR|",
        0o20000 => "S_IFCHR|",
        0o10000 => "S_IFIFO|",
        _ => "",
    };
    l.s(ty);
    for (bit, name) in [
        (0o4000, "S_ISUID|"),
        (0o2000, "S_ISGID|"),
        (0o1000, "S_ISVTX|"),
    ] {
        if m & bit != 0 {
            l.s(name);
        }
    }
    l.mode(u64::from(m & 0o777));
}

/// Appends a device number as `makedev(0x1, 0x3)`.
fn makedev(l: &mut Line, dev: u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    l.s("makedev(");
    l.xhex(major);
    l.s(", ");
    l.xhex(minor);
    l.s(")");
}

/// Appends a `struct stat`: `{st_mode=S_IFREG|0644, st_size=123, ...}` (`st_rdev` instead of
/// the size for devices).
pub fn stat(l: &mut Line, addr: u64) {
    let Some(st) = (addr != 0)
        .then(|| mem::read_value::<hook_sdk::libc::stat>(addr))
        .flatten()
    else {
        return unread(l, addr);
    };
    l.s("{st_mode=");
    file_mode(l, st.st_mode);
    if matches!(st.st_mode & 0o170000, 0o20000 | 0o60000) {
        l.s(", st_rdev=");
        makedev(l, st.st_rdev);
    } else {
        l.s(", st_size=");
        l.int(st.st_size);
    }
    l.s(", ...}");
}

/// Appends a `struct statx`: `{stx_mask=..., stx_attributes=..., stx_mode=..., stx_size=...,
/// ...}`.
pub fn statx(l: &mut Line, addr: u64) {
    let Some(b) = read::<48>(addr) else {
        return unread(l, addr);
    };
    l.s("{stx_mask=");
    xlat::statx_mask(l, u64::from(u32_at(&b, 0)));
    l.s(", stx_attributes=");
    flags(l, u64_at(&b, 8), xlat::STATX_ATTR, "0");
    l.s(", stx_mode=");
    file_mode(l, u32::from(u16_at(&b, 28)));
    l.s(", stx_size=");
    l.uint(u64_at(&b, 40));
    l.s(", ...}");
}

/// Appends the kernel's `struct sigaction` (`rt_sigaction`, with an 8-byte mask):
/// `{sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER, sa_restorer=0x...}`.
pub fn sigaction(l: &mut Line, addr: u64, setsize: u64) {
    let b = if setsize == 8 { read::<32>(addr) } else { None };
    let Some(b) = b else {
        return unread(l, addr);
    };
    let (handler, fl, restorer, mask) =
        (u64_at(&b, 0), u64_at(&b, 8), u64_at(&b, 16), u64_at(&b, 24));
    l.s("{sa_handler=");
    match handler {
        0 => l.s("SIG_DFL"),
        1 => l.s("SIG_IGN"),
        h => l.hex(h),
    }
    l.s(", sa_mask=");
    xlat::sigset(l, mask);
    l.s(", sa_flags=");
    flags(l, fl, xlat::SA, "0");
    if fl & 0x0400_0000 != 0 {
        l.s(", sa_restorer=");
        l.ptr(restorer);
    }
    l.s("}");
}

/// Appends a signal set of `setsize` bytes (only 8, the kernel's, is decoded).
pub fn sigset(l: &mut Line, addr: u64, setsize: u64) {
    let b = if setsize == 8 { read::<8>(addr) } else { None };
    match b {
        Some(b) => xlat::sigset(l, u64::from_ne_bytes(b)),
        None => unread(l, addr),
    }
}

/// Appends an `int` in brackets (`[3]`).
pub fn int_in_brackets(l: &mut Line, addr: u64) {
    match read::<4>(addr) {
        Some(b) => {
            l.s("[");
            l.int(i64::from(i32::from_ne_bytes(b)));
            l.s("]");
        }
        None => unread(l, addr),
    }
}

/// Appends a 64-bit value in brackets, in hexadecimal (`[0x7f0000]`).
pub fn u64_in_brackets(l: &mut Line, addr: u64) {
    match read::<8>(addr) {
        Some(b) => {
            l.s("[");
            l.hex(u64::from_ne_bytes(b));
            l.s("]");
        }
        None => unread(l, addr),
    }
}

/// Appends the two descriptors of `pipe` (`[3, 4]`).
pub fn fd_pair(l: &mut Line, addr: u64) {
    match read::<8>(addr) {
        Some(b) => {
            l.s("[");
            l.int(i64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])));
            l.s(", ");
            l.int(i64::from(i32::from_ne_bytes([b[4], b[5], b[6], b[7]])));
            l.s("]");
        }
        None => unread(l, addr),
    }
}

/// Appends a `struct timespec` (`{tv_sec=1, tv_nsec=500}`).
pub fn timespec(l: &mut Line, addr: u64) {
    match read::<16>(addr) {
        Some(b) => {
            l.s("{tv_sec=");
            l.int(u64_at(&b, 0) as i64);
            l.s(", tv_nsec=");
            l.int(u64_at(&b, 8) as i64);
            l.s("}");
        }
        None => unread(l, addr),
    }
}

/// Appends one resource limit (`RLIM64_INFINITY`, `8192*1024`, `20000`).
fn rlim(l: &mut Line, v: u64) {
    if v == u64::MAX {
        l.s("RLIM64_INFINITY");
    } else if v > 0 && v.is_multiple_of(1024) {
        l.uint(v / 1024);
        l.s("*1024");
    } else {
        l.uint(v);
    }
}

/// Appends a `struct rlimit` (`{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}`).
pub fn rlimit(l: &mut Line, addr: u64) {
    match read::<16>(addr) {
        Some(b) => {
            l.s("{rlim_cur=");
            rlim(l, u64_at(&b, 0));
            l.s(", rlim_max=");
            rlim(l, u64_at(&b, 8));
            l.s("}");
        }
        None => unread(l, addr),
    }
}

/// Appends a `struct winsize`.
pub fn winsize(l: &mut Line, addr: u64) {
    match read::<8>(addr) {
        Some(b) => {
            for (i, name) in ["{ws_row=", ", ws_col=", ", ws_xpixel=", ", ws_ypixel="]
                .iter()
                .enumerate()
            {
                l.s(name);
                l.uint(u64::from(u16_at(&b, 2 * i)));
            }
            l.s("}");
        }
        None => unread(l, addr),
    }
}

const TC_IFLAG: Names = &[
    (0o1, "IGNBRK"),
    (0o2, "BRKINT"),
    (0o4, "IGNPAR"),
    (0o10, "PARMRK"),
    (0o20, "INPCK"),
    (0o40, "ISTRIP"),
    (0o100, "INLCR"),
    (0o200, "IGNCR"),
    (0o400, "ICRNL"),
    (0o1000, "IUCLC"),
    (0o2000, "IXON"),
    (0o4000, "IXANY"),
    (0o10000, "IXOFF"),
    (0o20000, "IMAXBEL"),
    (0o40000, "IUTF8"),
];
const TC_OFLAG: Names = &[
    (0o1, "OPOST"),
    (0o2, "OLCUC"),
    (0o4, "ONLCR"),
    (0o10, "OCRNL"),
    (0o20, "ONOCR"),
    (0o40, "ONLRET"),
    (0o100, "OFILL"),
    (0o200, "OFDEL"),
];
const TC_CFLAG: Names = &[
    (0o100, "CSTOPB"),
    (0o200, "CREAD"),
    (0o400, "PARENB"),
    (0o1000, "PARODD"),
    (0o2000, "HUPCL"),
    (0o4000, "CLOCAL"),
    (0o10000000000, "CMSPAR"),
    (0o20000000000, "CRTSCTS"),
];
const TC_LFLAG: Names = &[
    (0o1, "ISIG"),
    (0o2, "ICANON"),
    (0o4, "XCASE"),
    (0o10, "ECHO"),
    (0o20, "ECHOE"),
    (0o40, "ECHOK"),
    (0o100, "ECHONL"),
    (0o200, "NOFLSH"),
    (0o100000, "IEXTEN"),
    (0o1000, "ECHOCTL"),
    (0o2000, "ECHOPRT"),
    (0o4000, "ECHOKE"),
    (0o10000, "FLUSHO"),
    (0o40000, "PENDIN"),
    (0o400, "TOSTOP"),
    (0o200000, "EXTPROC"),
];
const BAUD: [&str; 32] = [
    "B0", "B50", "B75", "B110", "B134", "B150", "B200", "B300", "B600", "B1200", "B1800", "B2400",
    "B4800", "B9600", "B19200", "B38400", "BOTHER", "B57600", "B115200", "B230400", "B460800",
    "B500000", "B576000", "B921600", "B1000000", "B1152000", "B1500000", "B2000000", "B2500000",
    "B3000000", "B3500000", "B4000000",
];

fn baud(v: u32) -> &'static str {
    // CBAUD is 0o17 and CBAUDEX 0o10000.
    BAUD[((v & 0o17) | ((v >> 8) & 0o20)) as usize]
}

/// Appends a `struct termios` (`{c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|...|OPOST|ONLCR,
/// c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|..., ...}`).
pub fn termios(l: &mut Line, addr: u64) {
    let Some(b) = read::<16>(addr) else {
        return unread(l, addr);
    };
    let (i, o, c, lf) = (u32_at(&b, 0), u32_at(&b, 4), u32_at(&b, 8), u32_at(&b, 12));
    l.s("{c_iflag=");
    flags(l, u64::from(i), TC_IFLAG, "");
    l.s(", c_oflag=");
    // The delay fields, each by value, then the flags.
    l.s(if o & 0o400 != 0 { "NL1|" } else { "NL0|" });
    l.s(["CR0|", "CR1|", "CR2|", "CR3|"][((o >> 9) & 3) as usize]);
    l.s(["TAB0|", "TAB1|", "TAB2|", "XTABS|"][((o >> 11) & 3) as usize]);
    l.s(if o & 0o20000 != 0 { "BS1|" } else { "BS0|" });
    l.s(if o & 0o40000 != 0 { "VT1|" } else { "VT0|" });
    l.s(if o & 0o100000 != 0 { "FF1|" } else { "FF0|" });
    flags(l, u64::from(o & !0o177400), TC_OFLAG, "");
    l.s(", c_cflag=");
    l.s(baud(c));
    l.s("|");
    let ibaud = c >> 16;
    if ibaud & 0o10017 != 0 {
        l.s(baud(ibaud));
        l.s("<<IBSHIFT|");
    }
    l.s(["CS5|", "CS6|", "CS7|", "CS8|"][((c >> 4) & 3) as usize]);
    flags(
        l,
        u64::from(c & !(0o10017 | (0o10017 << 16) | 0o60)),
        TC_CFLAG,
        "",
    );
    l.s(", c_lflag=");
    flags(l, u64::from(lf), TC_LFLAG, "");
    l.s(", ...}");
}

/// Appends a `wait4` status (`[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]`).
pub fn wait_status(l: &mut Line, addr: u64) {
    let Some(b) = read::<4>(addr) else {
        return unread(l, addr);
    };
    let s = u32::from_ne_bytes(b);
    l.s("[{");
    if s & 0x7f == 0 {
        l.s("WIFEXITED(s) && WEXITSTATUS(s) == ");
        l.uint(u64::from((s >> 8) & 0xff));
    } else if s & 0xff == 0x7f {
        l.s("WIFSTOPPED(s) && WSTOPSIG(s) == ");
        xlat::signal(l, i64::from((s >> 8) & 0xff));
        if s >> 16 != 0 {
            l.s(" && s >> 16 == ");
            l.uint(u64::from(s >> 16));
        }
    } else if s == 0xffff {
        l.s("WIFCONTINUED(s)");
    } else {
        l.s("WIFSIGNALED(s) && WTERMSIG(s) == ");
        xlat::signal(l, i64::from(s & 0x7f));
        if s & 0x80 != 0 {
            l.s(" && WCOREDUMP(s)");
        }
    }
    l.s("}]");
}

/// Appends a socket address of `len` bytes: `{sa_family=AF_UNIX, sun_path="/run/x"}`,
/// `{sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("127.0.0.1")}`, ...
pub fn sockaddr(l: &mut Line, addr: u64, len: u64) {
    let mut raw = [0u8; 128];
    let n = len as usize;
    if addr == 0 || n > raw.len() || n < 2 || mem::read(addr, &mut raw[..n]) != Some(n) {
        return unread(l, addr);
    }
    let family = u16_at(&raw, 0);
    l.s("{sa_family=");
    xlat::value(l, u64::from(family), xlat::AF, "AF_???");
    match i32::from(family) {
        hook_sdk::libc::AF_UNIX => {
            let path = &raw[2..n];
            if !path.is_empty() {
                l.s(", sun_path=");
                if path[0] == 0 {
                    // Abstract: its whole length, after the NUL.
                    l.s("@");
                    line::quoted(l, &path[1..], false);
                } else {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    line::quoted(l, &path[..end], false);
                }
            }
        }
        hook_sdk::libc::AF_INET | hook_sdk::libc::AF_INET6 => {
            // The SDK decodes the address and the port; strace's layout is kept here.
            match SockAddr::read(addr, len as u32) {
                Some(SockAddr::Inet(std::net::SocketAddr::V4(a))) => {
                    l.s(", sin_port=htons(");
                    l.uint(u64::from(a.port()));
                    l.s("), sin_addr=inet_addr(\"");
                    let _ = core::fmt::Write::write_fmt(l, format_args!("{}", a.ip()));
                    l.s("\")");
                }
                Some(SockAddr::Inet(std::net::SocketAddr::V6(a))) => {
                    l.s(", sin6_port=htons(");
                    l.uint(u64::from(a.port()));
                    l.s("), sin6_flowinfo=htonl(");
                    l.uint(u64::from(u32::from_be_bytes([
                        raw[4], raw[5], raw[6], raw[7],
                    ])));
                    l.s("), inet_pton(AF_INET6, \"");
                    let _ = core::fmt::Write::write_fmt(l, format_args!("{}", a.ip()));
                    l.s("\", &sin6_addr)");
                    if n >= 28 {
                        l.s(", sin6_scope_id=");
                        l.uint(u64::from(u32_at(&raw, 24)));
                    }
                }
                _ => {
                    l.s(", sa_data=");
                    line::quoted(l, &raw[2..n], false);
                }
            }
        }
        _ => {
            l.s(", sa_data=");
            line::quoted(l, &raw[2..n], false);
        }
    }
    l.s("}");
}

/// Appends an array of `struct pollfd` (`[{fd=0, events=POLLIN}]`), or, with `revents`,
/// only the entries with events returned (`[{fd=0, revents=POLLIN}]`).
pub fn pollfds(l: &mut Line, addr: u64, n: u64, revents: bool) {
    if addr == 0 {
        return l.s("NULL");
    }
    l.s("[");
    let mut first = true;
    for i in 0..n.min(64) {
        let Some(b) = read::<8>(addr + 8 * i) else {
            break;
        };
        let fd = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let (ev, rev) = (u16_at(&b, 4), u16_at(&b, 6));
        if revents && rev == 0 {
            continue;
        }
        if !first {
            l.s(", ");
        }
        first = false;
        l.s("{fd=");
        l.int(i64::from(fd));
        if revents {
            l.s(", revents=");
            flags(l, u64::from(rev), xlat::POLL, "0");
        } else {
            l.s(", events=");
            flags(l, u64::from(ev), xlat::POLL, "0");
        }
        l.s("}");
    }
    if n > 64 {
        l.s(", ...");
    }
    l.s("]");
}

/// Appends the strings of a NULL-terminated array (`execve`'s `argv`), each cut at
/// [`STRLEN`], at most 32 of them.
pub fn str_array(l: &mut Line, addr: u64) {
    if addr == 0 {
        return l.s("NULL");
    }
    if read::<8>(addr).is_none() {
        return l.hex(addr);
    }
    let mut i = 0u64;
    l.s("[");
    while let Some(p) = read::<8>(addr + 8 * i).map(u64::from_ne_bytes) {
        if p == 0 {
            break;
        }
        if i >= 32 {
            l.s(", ...");
            break;
        }
        if i > 0 {
            l.s(", ");
        }
        line::cstr(l, p, STRLEN);
        i += 1;
        if l.full() {
            break;
        }
    }
    l.s("]");
}

/// Appends an environment pointer as strace does: `0x7ffd... /* 36 vars */`.
pub fn env_array(l: &mut Line, addr: u64) {
    if addr == 0 {
        return l.s("NULL");
    }
    l.hex(addr);
    let mut chunk = [0u8; 512];
    let mut count = 0u64;
    let mut at = addr;
    'outer: loop {
        let Some(got) = mem::read(at, &mut chunk) else {
            return;
        };
        for w in chunk[..got - got % 8].chunks_exact(8) {
            if u64_at(w, 0) == 0 {
                break 'outer;
            }
            count += 1;
        }
        if got < chunk.len() {
            return;
        }
        at += got as u64;
    }
    l.s(" /* ");
    l.uint(count);
    l.s(if count == 1 { " var */" } else { " vars */" });
}

/// Counts the entries of a `getdents64` buffer of `len` bytes.
pub fn dirents(addr: u64, len: u64) -> Option<u64> {
    // The buffer is read a window at a time (not one read per entry).
    let mut win = [0u8; 1024];
    let (mut start, mut got) = (0u64, 0u64);
    let mut count = 0;
    let mut off = 0u64;
    while off < len {
        // d_reclen, after d_ino and d_off.
        let at = off + 16;
        if at < start || at + 2 > start + got {
            start = off;
            let want = (len - off).min(win.len() as u64) as usize;
            got = mem::read(addr + off, &mut win[..want])? as u64;
            if at + 2 > start + got {
                return None;
            }
        }
        let i = (at - start) as usize;
        let reclen = u64::from(u16_at(&win, i));
        if reclen == 0 {
            return None;
        }
        off += reclen;
        count += 1;
    }
    Some(count)
}

/// Appends the fields of `struct utsname` strace shows (`{sysname="Linux", nodename="vm",
/// ...}`).
pub fn utsname(l: &mut Line, addr: u64) {
    let Some(b) = read::<130>(addr) else {
        return unread(l, addr);
    };
    let field = |l: &mut Line, f: &[u8]| {
        let end = f.iter().position(|&c| c == 0).unwrap_or(f.len());
        line::quoted(l, &f[..end], false);
    };
    l.s("{sysname=");
    field(l, &b[..65]);
    l.s(", nodename=");
    field(l, &b[65..130]);
    l.s(", ...}");
}

/// Appends a `struct sysinfo` (`{uptime=17138, loads=[7808, 21184, 49440], totalram=...,
/// mem_unit=1}`).
pub fn sysinfo(l: &mut Line, addr: u64) {
    let Some(b) = read::<112>(addr) else {
        return unread(l, addr);
    };
    l.s("{uptime=");
    l.int(u64_at(&b, 0) as i64);
    l.s(", loads=[");
    for i in 0..3 {
        if i > 0 {
            l.s(", ");
        }
        l.uint(u64_at(&b, 8 + 8 * i));
    }
    l.s("]");
    for (at, name) in [
        (32, ", totalram="),
        (40, ", freeram="),
        (48, ", sharedram="),
        (56, ", bufferram="),
        (64, ", totalswap="),
        (72, ", freeswap="),
    ] {
        l.s(name);
        l.uint(u64_at(&b, at));
    }
    l.s(", procs=");
    l.uint(u64::from(u16_at(&b, 80)));
    l.s(", totalhigh=");
    l.uint(u64_at(&b, 88));
    l.s(", freehigh=");
    l.uint(u64_at(&b, 96));
    l.s(", mem_unit=");
    l.uint(u64::from(u32_at(&b, 104)));
    l.s("}");
}

/// How many elements of an array strace shows (its string limit), before `...`.
pub const ARRAY_MAX: u64 = 32;

/// Appends the `iovec` array of `readv`/`writev`/`sendmsg`/`recvmsg` with their buffers
/// (`limit`: how many bytes the buffers hold in all, for `readv` its result); the address when
/// the first element cannot be read.
pub fn iovecs(l: &mut Line, addr: u64, n: u64, limit: Option<u64>) {
    if addr == 0 {
        return l.s("NULL");
    }
    if n > 0 && read::<16>(addr).is_none() {
        return l.hex(addr);
    }
    let mut left = limit.unwrap_or(u64::MAX);
    l.s("[");
    for i in 0..n.min(ARRAY_MAX) {
        let Some(b) = read::<16>(addr.wrapping_add(16 * i)) else {
            break;
        };
        let (base, len) = (u64_at(&b, 0), u64_at(&b, 8));
        if i > 0 {
            l.s(", ");
        }
        l.s("{iov_base=");
        let shown = len.min(left);
        line::buffer(l, base, shown, false);
        left -= shown;
        l.s(", iov_len=");
        l.uint(len);
        l.s("}");
        if l.full() {
            break;
        }
    }
    if n > ARRAY_MAX {
        l.s(", ...");
    }
    l.s("]");
}

/// Appends the `struct clone_args` of `clone3` (`{flags=..., exit_signal=SIGCHLD, stack=...,
/// stack_size=0x..., ...}`).
pub fn clone_args(l: &mut Line, addr: u64, size: u64) {
    let mut b = [0u8; 88];
    let n = (size as usize).min(b.len());
    if addr == 0 || n < 64 || mem::read(addr, &mut b[..n]) != Some(n) {
        return unread(l, addr);
    }
    let f = u64_at(&b, 0);
    l.s("{flags=");
    let _ = core::fmt::Write::write_fmt(l, format_args!("{}", hook_sdk::args::CloneFlags(f)));
    if f & 0x1000 != 0 {
        l.s(", pidfd=");
        l.ptr(u64_at(&b, 8));
    }
    if f & (0x0100_0000 | 0x20_0000) != 0 {
        l.s(", child_tid=");
        l.ptr(u64_at(&b, 16));
    }
    if f & 0x10_0000 != 0 {
        l.s(", parent_tid=");
        l.ptr(u64_at(&b, 24));
    }
    l.s(", exit_signal=");
    xlat::signal(l, u64_at(&b, 32) as i64);
    l.s(", stack=");
    l.ptr(u64_at(&b, 40));
    l.s(", stack_size=");
    l.xhex(u64_at(&b, 48));
    if f & 0x8_0000 != 0 {
        l.s(", tls=");
        l.ptr(u64_at(&b, 56));
    }
    if n >= 80 && u64_at(&b, 72) != 0 {
        l.s(", set_tid=");
        l.ptr(u64_at(&b, 64));
        l.s(", set_tid_size=");
        l.uint(u64_at(&b, 72));
    }
    if n >= 88 && f & 0x2_0000_0000 != 0 {
        l.s(", cgroup=");
        l.uint(u64_at(&b, 80));
    }
    l.s("}");
}

/// Appends a `struct statfs`: `{f_type=EXT2_SUPER_MAGIC, f_bsize=4096, ..., f_fsid={val=[0x1,
/// 0x2]}, f_namelen=255, f_frsize=4096, f_flags=ST_VALID|ST_RELATIME}` (the flags only when
/// `ST_VALID` says they are set).
pub fn statfs(l: &mut Line, addr: u64) {
    let Some(b) = read::<88>(addr) else {
        return unread(l, addr);
    };
    l.s("{f_type=");
    let ty = u64_at(&b, 0);
    match xlat::name_of(ty, xlat::FS_MAGIC) {
        Some(n) => l.s(n),
        None => l.xhex(ty),
    }
    for (at, name) in [
        (8, ", f_bsize="),
        (16, ", f_blocks="),
        (24, ", f_bfree="),
        (32, ", f_bavail="),
        (40, ", f_files="),
        (48, ", f_ffree="),
    ] {
        l.s(name);
        l.uint(u64_at(&b, at));
    }
    l.s(", f_fsid={val=[");
    l.xhex(u64::from(u32_at(&b, 56)));
    l.s(", ");
    l.xhex(u64::from(u32_at(&b, 60)));
    l.s("]}, f_namelen=");
    l.uint(u64_at(&b, 64));
    l.s(", f_frsize=");
    l.uint(u64_at(&b, 72));
    let fl = u64_at(&b, 80);
    if fl & 0x20 != 0 {
        l.s(", f_flags=");
        flags(l, fl, xlat::ST_FLAGS, "0");
    }
    l.s("}");
}

/// Appends a `struct timeval` from its two words (`{tv_sec=1, tv_usec=500}`).
fn timeval_of(l: &mut Line, sec: u64, usec: u64) {
    l.s("{tv_sec=");
    l.int(sec as i64);
    l.s(", tv_usec=");
    l.int(usec as i64);
    l.s("}");
}

/// Appends a `struct rusage` as strace abbreviates it: `{ru_utime={tv_sec=0, tv_usec=1884},
/// ru_stime={tv_sec=0, tv_usec=0}, ...}`.
pub fn rusage(l: &mut Line, addr: u64) {
    let Some(b) = read::<32>(addr) else {
        return unread(l, addr);
    };
    l.s("{ru_utime=");
    timeval_of(l, u64_at(&b, 0), u64_at(&b, 8));
    l.s(", ru_stime=");
    timeval_of(l, u64_at(&b, 16), u64_at(&b, 24));
    l.s(", ...}");
}

/// Appends a `stack_t` (`sigaltstack`): `{ss_sp=0x..., ss_flags=SS_DISABLE, ss_size=65536}`.
pub fn stack(l: &mut Line, addr: u64) {
    let Some(b) = read::<24>(addr) else {
        return unread(l, addr);
    };
    l.s("{ss_sp=");
    l.ptr(u64_at(&b, 0));
    l.s(", ss_flags=");
    xlat::flags_or(l, u64::from(u32_at(&b, 8)), xlat::SS, "0", "SS_???");
    l.s(", ss_size=");
    l.uint(u64_at(&b, 16));
    l.s("}");
}

/// Appends one `struct epoll_event` (12 bytes, packed): `{events=EPOLLIN, data={u32=4,
/// u64=4}}`.
fn epoll_event_of(l: &mut Line, b: &[u8]) {
    l.s("{events=");
    xlat::flags_or(
        l,
        u64::from(u32_at(b, 0)),
        xlat::EPOLL_EVENTS,
        "0",
        "EPOLL???",
    );
    let data = u64_at(b, 4);
    l.s(", data={u32=");
    l.uint(data & 0xffff_ffff);
    l.s(", u64=");
    l.uint(data);
    l.s("}}");
}

/// Appends the `struct epoll_event` of `epoll_ctl`.
pub fn epoll_event(l: &mut Line, addr: u64) {
    match read::<12>(addr) {
        Some(b) => epoll_event_of(l, &b),
        None => unread(l, addr),
    }
}

/// Appends the `n` events `epoll_wait` returned (`[{events=EPOLLIN, data={u32=4, u64=4}}]`),
/// at most [`ARRAY_MAX`] of them.
pub fn epoll_events(l: &mut Line, addr: u64, n: u64) {
    if n > 0 && read::<12>(addr).is_none() {
        return unread(l, addr);
    }
    l.s("[");
    for i in 0..n.min(ARRAY_MAX) {
        let Some(b) = read::<12>(addr.wrapping_add(12 * i)) else {
            break;
        };
        if i > 0 {
            l.s(", ");
        }
        epoll_event_of(l, &b);
        if l.full() {
            break;
        }
    }
    if n > ARRAY_MAX {
        l.s(", ...");
    }
    l.s("]");
}

/// Appends a path the program passes (see [`line::cstr`]).
pub fn path(l: &mut Line, addr: u64) {
    line::cstr(l, addr, PATH_MAX);
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::line::text;

    #[test]
    fn stat_summary() {
        // SAFETY: all-zero is a valid struct stat.
        let mut st: hook_sdk::libc::stat = unsafe { core::mem::zeroed() };
        st.st_mode = 0o100644;
        st.st_size = 34055;
        let show = |st: &hook_sdk::libc::stat| text(|l| stat(l, st as *const _ as u64));
        assert_eq!(show(&st), "{st_mode=S_IFREG|0644, st_size=34055, ...}");
        st.st_mode = 0o20666;
        st.st_rdev = 0x103;
        assert_eq!(
            show(&st),
            "{st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}"
        );
        st.st_mode = 0o41777;
        assert!(show(&st).starts_with("{st_mode=S_IFDIR|S_ISVTX|0777"));
        assert_eq!(text(|l| stat(l, 0)), "NULL");
        assert_eq!(text(|l| stat(l, 16)), "0x10");
    }

    #[test]
    fn sigaction_like_strace() {
        let act: [u64; 4] = [1, 0x0c00_0000, 0x7f00_1234, 0];
        assert_eq!(
            text(|l| sigaction(l, act.as_ptr() as u64, 8)),
            "{sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER|SA_ONSTACK, sa_restorer=0x7f001234}"
        );
        let act: [u64; 4] = [0, 0, 0, 1 << 16];
        assert_eq!(
            text(|l| sigaction(l, act.as_ptr() as u64, 8)),
            "{sa_handler=SIG_DFL, sa_mask=[CHLD], sa_flags=0}"
        );
    }

    #[test]
    fn termios_like_strace() {
        let t: [u32; 4] = [0o2400, 0o5, 0o277, 0o105073];
        assert_eq!(
            text(|l| termios(l, t.as_ptr() as u64)),
            "{c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, \
             c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE, ...}"
        );
        let z: [u32; 4] = [0; 4];
        assert_eq!(
            text(|l| termios(l, z.as_ptr() as u64)),
            "{c_iflag=, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|, c_cflag=B0|CS5|, c_lflag=, ...}"
        );
    }

    #[test]
    fn sockaddrs() {
        // SAFETY: all-zero is a valid sockaddr_in6.
        let mut s6: hook_sdk::libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
        s6.sin6_family = hook_sdk::libc::AF_INET6 as u16;
        s6.sin6_port = 53u16.to_be();
        s6.sin6_flowinfo = 5u32.to_be();
        s6.sin6_addr.s6_addr[15] = 1;
        s6.sin6_scope_id = 2;
        assert_eq!(
            text(|l| sockaddr(l, &s6 as *const _ as u64, 28)),
            "{sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(5), \
             inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=2}"
        );
        let s4 = hook_sdk::libc::sockaddr_in {
            sin_family: hook_sdk::libc::AF_INET as u16,
            sin_port: 9u16.to_be(),
            sin_addr: hook_sdk::libc::in_addr {
                s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
            },
            sin_zero: [0; 8],
        };
        assert_eq!(
            text(|l| sockaddr(l, &s4 as *const _ as u64, 16)),
            "{sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr(\"127.0.0.1\")}"
        );
        let mut un = [0u8; 110];
        un[0] = 1;
        un[2..12].copy_from_slice(b"\0abstract\0");
        assert_eq!(
            text(|l| sockaddr(l, un.as_ptr() as u64, 11)),
            "{sa_family=AF_UNIX, sun_path=@\"abstract\"}"
        );
        assert_eq!(
            text(|l| sockaddr(l, un.as_ptr() as u64, 2)),
            "{sa_family=AF_UNIX}"
        );
    }

    #[test]
    fn directory_entries() {
        // 100 entries of 24 bytes: several windows.
        let mut buf = vec![0u8; 2400];
        for e in buf.chunks_mut(24) {
            e[16..18].copy_from_slice(&24u16.to_ne_bytes());
        }
        assert_eq!(dirents(buf.as_ptr() as u64, 2400), Some(100));
        assert_eq!(dirents(buf.as_ptr() as u64, 0), Some(0));
        buf[16 + 24 * 50] = 0;
        assert_eq!(dirents(buf.as_ptr() as u64, 2400), None);
    }

    #[test]
    fn arrays() {
        let (a, b) = (c"/bin/true", c"a b");
        let argv = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
        assert_eq!(
            text(|l| str_array(l, argv.as_ptr() as u64)),
            "[\"/bin/true\", \"a b\"]"
        );
        let env = [a.as_ptr() as u64, 0];
        let p = env.as_ptr() as u64;
        assert_eq!(text(|l| env_array(l, p)), format!("{p:#x} /* 1 var */"));
        let st: i32 = 9 | 0x80;
        assert_eq!(
            text(|l| wait_status(l, &st as *const i32 as u64)),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL && WCOREDUMP(s)}]"
        );
        let lim: [u64; 2] = [8192 * 1024, u64::MAX];
        assert_eq!(
            text(|l| rlimit(l, lim.as_ptr() as u64)),
            "{rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}"
        );
    }
}
