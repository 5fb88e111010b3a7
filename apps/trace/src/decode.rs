//! The arguments and results of system calls, as strace prints them.
//!
//! As in strace, a call is printed in two steps: [`enter`], before the call, prints the
//! arguments the kernel reads (a `write`'s buffer as it is before the call) up to the first one
//! it writes; [`exit`], after the call, prints the rest from what the kernel wrote (a `read`'s
//! buffer, only as many bytes as it returned; a `stat` structure; the old action of
//! `rt_sigaction`). Where the kernel wrote nothing (an error), the pointer is printed.

use core::fmt::Write as _;

use hook_sdk::args::{CloneFlags, MapFlags};
use hook_sdk::{Syscall, libc, mem};

use crate::line::{self, Line, PATH_MAX, STRLEN};
use crate::net;
use crate::structs as st;
use crate::xlat::{self, IoctlArg, flags, value};

/// What [`enter`] leaves for [`exit`].
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Whether arguments remain to be printed after the call.
    pub more: bool,
    /// A value read before the call (an in-out length).
    pub saved: u64,
}

/// `enter`'s answer when all arguments are printed.
const DONE: Pending = Pending {
    more: false,
    saved: 0,
};
/// `enter`'s answer when arguments remain for after the call.
const MORE: Pending = Pending {
    more: true,
    saved: 0,
};

/// Whether `r` is a success (not in the kernel's error range).
fn ok(r: i64) -> bool {
    !(-4095..0).contains(&r)
}

/// An `int` argument (a descriptor, a pid, a signed count): the register's low 32 bits.
fn int(l: &mut Line, v: u64) {
    l.int(i64::from(v as i32));
}

/// A directory descriptor of the `*at` calls.
fn dirfd(l: &mut Line, v: u64) {
    if v as i32 == libc::AT_FDCWD {
        l.s("AT_FDCWD");
    } else {
        int(l, v);
    }
}

fn sep(l: &mut Line) {
    l.s(", ");
}

/// A buffer the kernel filled with `r` bytes, or its address when the call failed.
fn out_buf(l: &mut Line, addr: u64, r: i64) {
    if ok(r) {
        line::buffer(l, addr, r as u64, false);
    } else {
        l.ptr(addr);
    }
}

/// A structure the kernel wrote, printed by `f` when the call succeeded, else its address.
fn out(l: &mut Line, addr: u64, r: i64, f: fn(&mut Line, u64)) {
    if ok(r) {
        f(l, addr);
    } else {
        l.ptr(addr);
    }
}

/// A file mode argument (`0644`).
fn mode(l: &mut Line, v: u64) {
    l.mode(v & 0xffff_ffff);
}

/// A socket protocol, named for the families strace names them for.
fn protocol(l: &mut Line, family: u64, proto: u64) {
    let proto = proto & 0xffff_ffff;
    match family as i32 {
        libc::AF_INET | libc::AF_INET6 => value(l, proto, xlat::IPPROTO, "IPPROTO_???"),
        libc::AF_NETLINK => value(l, proto, xlat::NETLINK, "NETLINK_???"),
        libc::AF_PACKET => {
            // In network order.
            let p = u64::from((proto as u16).swap_bytes());
            l.s("htons(");
            match xlat::name_of(p, xlat::ETH_P) {
                Some(n) => l.s(n),
                None => {
                    l.xhex(p);
                    l.s(" /* ETH_P_??? */");
                }
            }
            l.s(")");
        }
        _ => l.int(i64::from(proto as i32)),
    }
}

/// A socket address length pointer after the call: `[110 => 17]`, `[16]`, or `NULL`.
fn len_in_out(l: &mut Line, addr: u64, before: u64, r: i64) {
    if addr == 0 {
        return l.s("NULL");
    }
    let after = if ok(r) {
        mem::read_value::<u32>(addr)
    } else {
        None
    };
    l.s("[");
    l.uint(before);
    if let Some(a) = after.filter(|&a| u64::from(a) != before) {
        l.s(" => ");
        l.uint(u64::from(a));
    }
    l.s("]");
}

/// A socket address the kernel wrote (`accept`, `getsockname`, `recvfrom`), of the length it
/// wrote back.
fn sockaddr_out(l: &mut Line, addr: u64, lenp: u64, before: u64, r: i64) {
    let after = if ok(r) && lenp != 0 {
        mem::read_value::<u32>(lenp).map(u64::from)
    } else {
        None
    };
    match after {
        Some(n) if addr != 0 && n > 0 => st::sockaddr(l, addr, n.min(before)),
        _ => l.ptr(addr),
    }
}

/// A signal argument (an `int`).
fn signal(l: &mut Line, v: u64) {
    xlat::signal(l, i64::from(v as i32));
}

/// `clone` flags with their exit signal (`CLONE_VM|CLONE_VFORK|SIGCHLD`).
fn clone_flags(l: &mut Line, v: u64) {
    let bits = v & !0xff;
    let sig = v & 0xff;
    if bits != 0 {
        let _ = write!(l, "{}", CloneFlags(bits));
        if sig != 0 {
            l.s("|");
        }
    }
    if sig != 0 || bits == 0 {
        xlat::signal(l, sig as i64);
    }
}

/// The futex operation's name (`FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME`).
fn futex_op(l: &mut Line, op: u64) {
    let cmd = op & 0x7f;
    match xlat::name_of(cmd, xlat::FUTEX) {
        Some(n) => {
            l.s(n);
            if op & 128 != 0 {
                l.s("_PRIVATE");
            }
            if op & 256 != 0 {
                l.s("|FUTEX_CLOCK_REALTIME");
            }
            let rest = op & 0xffff_ffff & !0x1ff;
            if rest != 0 {
                l.s("|");
                l.hex(rest);
            }
        }
        None => {
            l.hex(op & 0xffff_ffff);
            l.s(" /* FUTEX_??? */");
        }
    }
}

/// The `FUTEX_BITSET_MATCH_ANY` bitset, or its value.
fn futex_bitset(l: &mut Line, v: u64) {
    if v as u32 == u32::MAX {
        l.s("FUTEX_BITSET_MATCH_ANY");
    } else {
        l.xhex(v & 0xffff_ffff);
    }
}

fn futex(l: &mut Line, a: &[u64; 6]) {
    l.ptr(a[0]);
    sep(l);
    futex_op(l, a[1]);
    let val = |l: &mut Line| {
        sep(l);
        int(l, a[2]);
    };
    match a[1] & 0x7f {
        0 => {
            val(l);
            sep(l);
            st::timespec(l, a[3]);
        }
        1 | 2 => val(l),
        3 => {
            val(l);
            sep(l);
            int(l, a[3]);
            sep(l);
            l.ptr(a[4]);
        }
        4 | 12 => {
            val(l);
            sep(l);
            int(l, a[3]);
            sep(l);
            l.ptr(a[4]);
            sep(l);
            int(l, a[5]);
        }
        6 | 13 => {
            sep(l);
            st::timespec(l, a[3]);
        }
        7 | 8 => {}
        9 => {
            val(l);
            sep(l);
            st::timespec(l, a[3]);
            sep(l);
            futex_bitset(l, a[5]);
        }
        10 => {
            val(l);
            sep(l);
            futex_bitset(l, a[5]);
        }
        11 => {
            val(l);
            sep(l);
            st::timespec(l, a[3]);
            sep(l);
            l.ptr(a[4]);
        }
        _ => {
            for &v in &a[2..] {
                sep(l);
                l.xhex(v);
            }
        }
    }
}

/// `fcntl(fd, cmd, ...)`: the argument as the command takes it.
fn fcntl(l: &mut Line, a: &[u64; 6]) {
    int(l, a[0]);
    sep(l);
    let cmd = a[1] & 0xffff_ffff;
    value(l, cmd, xlat::FCNTL, "F_???");
    match cmd {
        // F_GETFD, F_GETFL, F_GETOWN, F_GETSIG, F_GETLEASE, F_GETPIPE_SZ, F_GET_SEALS.
        1 | 3 | 9 | 11 | 1025 | 1032 | 1034 => {}
        2 => {
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::FD_FLAGS, "0");
        }
        4 => {
            sep(l);
            xlat::open_flags(l, a[2]);
        }
        0 | 8 | 10 | 1024 | 1026 | 1030 | 1031 => {
            sep(l);
            int(l, a[2]);
        }
        1033 => {
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::SEALS, "0");
        }
        5..=7 | 15 | 16 | 36..=38 => {
            sep(l);
            l.ptr(a[2]);
        }
        _ => {
            sep(l);
            l.xhex(a[2]);
        }
    }
}

/// `ioctl`'s argument, for the requests whose argument the kernel reads.
fn ioctl_in(l: &mut Line, kind: IoctlArg, arg: u64) {
    match kind {
        IoctlArg::None => {}
        IoctlArg::Hex => {
            sep(l);
            l.xhex(arg);
        }
        IoctlArg::TermiosIn => {
            sep(l);
            st::termios(l, arg);
        }
        IoctlArg::WinsizeIn => {
            sep(l);
            st::winsize(l, arg);
        }
        IoctlArg::IntIn => {
            sep(l);
            st::int_in_brackets(l, arg);
        }
        IoctlArg::Flush => {
            sep(l);
            value(l, arg & 0xffff_ffff, xlat::TCFLSH, "TC???");
        }
        IoctlArg::TermiosOut | IoctlArg::WinsizeOut | IoctlArg::IntOut => {}
    }
}

/// `ioctl`'s argument, for the requests whose argument the kernel writes.
fn ioctl_out(l: &mut Line, kind: IoctlArg, arg: u64, r: i64) {
    sep(l);
    let f: fn(&mut Line, u64) = match kind {
        IoctlArg::TermiosOut => st::termios,
        IoctlArg::WinsizeOut => st::winsize,
        _ => st::int_in_brackets,
    };
    out(l, arg, r, f);
}

/// `prctl(option, ...)` for the common options; others with their four arguments.
fn prctl_enter(l: &mut Line, a: &[u64; 6]) -> Pending {
    let op = a[0] & 0xffff_ffff;
    value(l, op, xlat::PR, "PR_???");
    match op {
        1 => {
            sep(l);
            signal(l, a[1]);
        }
        2 | 16 => return MORE,
        15 => {
            sep(l);
            line::cstr(l, a[1], 16);
        }
        3 | 37 | 39 => {}
        38 => {
            for &v in &a[1..5] {
                sep(l);
                l.uint(v);
            }
        }
        _ => {
            for &v in &a[1..5] {
                sep(l);
                l.xhex(v);
            }
        }
    }
    DONE
}

/// `arch_prctl(code, addr)`.
fn arch_prctl_enter(l: &mut Line, a: &[u64; 6]) -> Pending {
    let code = a[0] & 0xffff_ffff;
    value(l, code, xlat::ARCH, "ARCH_???");
    match code {
        // The getters write through the pointer.
        0x1003 | 0x1004 | 0x1021 | 0x1022 | 0x1024 => return MORE,
        0x1011 => {}
        0x1012 | 0x1023 | 0x1025 => {
            sep(l);
            l.uint(a[1]);
        }
        _ => {
            sep(l);
            l.xhex(a[1]);
        }
    }
    DONE
}

/// `openat`/`open` flags and, when they create, the mode.
fn open_tail(l: &mut Line, fl: u64, m: u64) {
    xlat::open_flags(l, fl);
    if xlat::open_has_mode(fl) {
        sep(l);
        mode(l, m);
    }
}

/// Appends the call's name: `openat`, or `syscall_0x1f4` for a number without one.
pub fn name(l: &mut Line, c: &Syscall) {
    match c.name() {
        Some(n) => l.s(n),
        None => {
            l.s("syscall_");
            l.hex(c.nr as u64);
        }
    }
}

/// Calls that may not return: printed before they are made, with ` = ?`.
pub fn may_not_return(nr: i64) -> bool {
    matches!(
        nr,
        libc::SYS_rt_sigreturn
            | libc::SYS_execve
            | libc::SYS_exit
            | libc::SYS_exit_group
            | libc::SYS_execveat
    )
}

/// Calls whose child returns through the hook with result 0 (`fork`, `clone` without a new
/// stack): strace shows them once, in the parent.
pub fn forks(nr: i64) -> bool {
    matches!(
        nr,
        libc::SYS_fork | libc::SYS_vfork | libc::SYS_clone | libc::SYS_clone3
    )
}

/// Appends the arguments the kernel reads, before the call.
pub fn enter(l: &mut Line, c: &Syscall) -> Pending {
    let a = c.args.map(|v| v as u64);
    match c.nr {
        libc::SYS_read
        | libc::SYS_pread64
        | libc::SYS_readv
        | libc::SYS_fstat
        | libc::SYS_getdents64
        | libc::SYS_getdents => {
            int(l, a[0]);
            return MORE;
        }
        libc::SYS_write | libc::SYS_pwrite64 => {
            int(l, a[0]);
            sep(l);
            line::buffer(l, a[1], a[2], false);
            sep(l);
            l.uint(a[2]);
            if c.nr == libc::SYS_pwrite64 {
                sep(l);
                l.int(a[3] as i64);
            }
        }
        libc::SYS_writev => {
            int(l, a[0]);
            sep(l);
            st::iovecs(l, a[1], a[2] & 0xffff_ffff, None);
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_open => {
            st::path(l, a[0]);
            sep(l);
            open_tail(l, a[1], a[2]);
        }
        libc::SYS_openat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            open_tail(l, a[2], a[3]);
        }
        libc::SYS_creat | libc::SYS_mkdir | libc::SYS_chmod => {
            st::path(l, a[0]);
            sep(l);
            mode(l, a[1]);
        }
        libc::SYS_mkdirat | libc::SYS_fchmodat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            mode(l, a[2]);
        }
        libc::SYS_fchmod => {
            int(l, a[0]);
            sep(l);
            mode(l, a[1]);
        }
        libc::SYS_umask => mode(l, a[0]),
        libc::SYS_close
        | libc::SYS_dup
        | libc::SYS_fchdir
        | libc::SYS_fsync
        | libc::SYS_fdatasync
        | libc::SYS_exit
        | libc::SYS_exit_group
        | libc::SYS_setuid
        | libc::SYS_setgid
        | libc::SYS_getpgid
        | libc::SYS_getsid => int(l, a[0]),
        libc::SYS_dup2 | libc::SYS_setpgid | libc::SYS_setreuid | libc::SYS_setregid => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
        }
        libc::SYS_listen => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
        }
        libc::SYS_setresuid | libc::SYS_setresgid => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_dup3 => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, &[(0o2000000, "O_CLOEXEC")], "0");
        }
        libc::SYS_stat
        | libc::SYS_lstat
        | libc::SYS_statfs
        | libc::SYS_readlink
        | libc::SYS_listxattr
        | libc::SYS_llistxattr => {
            st::path(l, a[0]);
            return MORE;
        }
        libc::SYS_fstatfs => {
            int(l, a[0]);
            return MORE;
        }
        libc::SYS_newfstatat | libc::SYS_readlinkat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            return MORE;
        }
        libc::SYS_statx => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            xlat::statx_flags(l, a[2]);
            sep(l);
            xlat::statx_mask(l, a[3]);
            return MORE;
        }
        libc::SYS_getxattr | libc::SYS_lgetxattr => {
            st::path(l, a[0]);
            sep(l);
            line::cstr(l, a[1], STRLEN);
            return MORE;
        }
        libc::SYS_fgetxattr => {
            int(l, a[0]);
            sep(l);
            line::cstr(l, a[1], STRLEN);
            return MORE;
        }
        libc::SYS_poll => {
            st::pollfds(l, a[0], a[1] & 0xffff_ffff, false);
            sep(l);
            l.uint(a[1] & 0xffff_ffff);
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_ppoll => {
            st::pollfds(l, a[0], a[1] & 0xffff_ffff, false);
            sep(l);
            l.uint(a[1] & 0xffff_ffff);
            sep(l);
            st::timespec(l, a[2]);
            sep(l);
            st::sigset(l, a[3], a[4]);
            sep(l);
            l.uint(a[4]);
        }
        libc::SYS_lseek => {
            int(l, a[0]);
            sep(l);
            l.int(a[1] as i64);
            sep(l);
            value(l, a[2] & 0xffff_ffff, xlat::SEEK, "SEEK_???");
        }
        libc::SYS_mmap => {
            l.ptr(a[0]);
            sep(l);
            l.uint(a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::PROT, "PROT_NONE");
            sep(l);
            let _ = write!(l, "{}", MapFlags(a[3] as i32));
            sep(l);
            int(l, a[4]);
            sep(l);
            l.xhex(a[5]);
        }
        libc::SYS_mprotect => {
            l.ptr(a[0]);
            sep(l);
            l.uint(a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::PROT, "PROT_NONE");
        }
        libc::SYS_munmap | libc::SYS_set_robust_list => {
            l.ptr(a[0]);
            sep(l);
            l.uint(a[1]);
        }
        libc::SYS_mremap => {
            l.ptr(a[0]);
            sep(l);
            l.uint(a[1]);
            sep(l);
            l.uint(a[2]);
            sep(l);
            flags(l, a[3] & 0xffff_ffff, xlat::MREMAP, "0");
            if a[3] & 2 != 0 {
                sep(l);
                l.ptr(a[4]);
            }
        }
        libc::SYS_madvise => {
            l.ptr(a[0]);
            sep(l);
            l.uint(a[1]);
            sep(l);
            value(l, a[2] & 0xffff_ffff, xlat::MADV, "MADV_???");
        }
        libc::SYS_brk => l.ptr(a[0]),
        libc::SYS_rt_sigaction => {
            signal(l, a[0]);
            sep(l);
            st::sigaction(l, a[1], a[3]);
            return MORE;
        }
        libc::SYS_rt_sigprocmask => {
            value(l, a[0] & 0xffff_ffff, xlat::SIG_HOW, "SIG_???");
            sep(l);
            st::sigset(l, a[1], a[3]);
            return MORE;
        }
        libc::SYS_ioctl => {
            int(l, a[0]);
            sep(l);
            let kind = xlat::ioctl_request(l, a[1]);
            if matches!(
                kind,
                IoctlArg::TermiosOut | IoctlArg::WinsizeOut | IoctlArg::IntOut
            ) {
                return MORE;
            }
            ioctl_in(l, kind, a[2]);
        }
        libc::SYS_access => {
            st::path(l, a[0]);
            sep(l);
            xlat::access_mode(l, a[1]);
        }
        libc::SYS_faccessat | libc::SYS_faccessat2 => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            xlat::access_mode(l, a[2]);
            if c.nr == libc::SYS_faccessat2 {
                sep(l);
                flags(l, a[3] & 0xffff_ffff, xlat::AT_ACCESS, "0");
            }
        }
        libc::SYS_pipe | libc::SYS_pipe2 | libc::SYS_uname | libc::SYS_getcwd => return MORE,
        libc::SYS_sysinfo => return MORE,
        libc::SYS_nanosleep => {
            st::timespec(l, a[0]);
            return MORE;
        }
        libc::SYS_clock_nanosleep => {
            value(l, a[0] & 0xffff_ffff, xlat::CLOCK, "CLOCK_???");
            sep(l);
            flags(l, a[1] & 0xffff_ffff, xlat::TIMER, "0");
            sep(l);
            st::timespec(l, a[2]);
            return MORE;
        }
        libc::SYS_clock_gettime | libc::SYS_clock_getres => {
            value(l, a[0] & 0xffff_ffff, xlat::CLOCK, "CLOCK_???");
            return MORE;
        }
        libc::SYS_socket => {
            value(l, a[0] & 0xffff_ffff, xlat::AF, "AF_???");
            sep(l);
            xlat::sock_type(l, a[1]);
            sep(l);
            protocol(l, a[0], a[2]);
        }
        libc::SYS_socketpair => {
            value(l, a[0] & 0xffff_ffff, xlat::AF, "AF_???");
            sep(l);
            xlat::sock_type(l, a[1]);
            sep(l);
            protocol(l, a[0], a[2]);
            return MORE;
        }
        libc::SYS_connect | libc::SYS_bind => {
            int(l, a[0]);
            sep(l);
            st::sockaddr(l, a[1], a[2] & 0xffff_ffff);
            sep(l);
            l.uint(a[2] & 0xffff_ffff);
        }
        libc::SYS_accept | libc::SYS_accept4 | libc::SYS_getsockname | libc::SYS_getpeername => {
            int(l, a[0]);
            let saved = if a[2] != 0 {
                mem::read_value::<u32>(a[2]).map_or(0, u64::from)
            } else {
                0
            };
            return Pending { more: true, saved };
        }
        libc::SYS_sendto => {
            int(l, a[0]);
            sep(l);
            line::buffer(l, a[1], a[2], false);
            sep(l);
            l.uint(a[2]);
            sep(l);
            flags(l, a[3] & 0xffff_ffff, xlat::MSG, "0");
            sep(l);
            st::sockaddr(l, a[4], a[5] & 0xffff_ffff);
            sep(l);
            l.uint(a[5] & 0xffff_ffff);
        }
        libc::SYS_recvfrom => {
            int(l, a[0]);
            let saved = if a[5] != 0 {
                mem::read_value::<u32>(a[5]).map_or(0, u64::from)
            } else {
                0
            };
            return Pending { more: true, saved };
        }
        libc::SYS_shutdown => {
            int(l, a[0]);
            sep(l);
            value(l, a[1] & 0xffff_ffff, xlat::SHUT, "SHUT_???");
        }
        libc::SYS_clone => {
            l.s("child_stack=");
            l.ptr(a[1]);
            l.s(", flags=");
            clone_flags(l, a[0]);
            return MORE;
        }
        libc::SYS_clone3 => {
            st::clone_args(l, a[0], a[1]);
            return MORE;
        }
        libc::SYS_execve => {
            st::path(l, a[0]);
            sep(l);
            st::str_array(l, a[1]);
            sep(l);
            st::env_array(l, a[2]);
        }
        libc::SYS_execveat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            st::str_array(l, a[2]);
            sep(l);
            st::env_array(l, a[3]);
            sep(l);
            flags(l, a[4] & 0xffff_ffff, xlat::AT_STAT, "0");
        }
        libc::SYS_wait4 => {
            int(l, a[0]);
            return MORE;
        }
        libc::SYS_kill | libc::SYS_tkill => {
            int(l, a[0]);
            sep(l);
            signal(l, a[1]);
        }
        libc::SYS_tgkill => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
            sep(l);
            signal(l, a[2]);
        }
        libc::SYS_fcntl => fcntl(l, &a),
        libc::SYS_flock => {
            int(l, a[0]);
            sep(l);
            let op = a[1] & 0xffff_ffff;
            value(
                l,
                op & !4,
                &[(1, "LOCK_SH"), (2, "LOCK_EX"), (8, "LOCK_UN")],
                "LOCK_???",
            );
            if op & 4 != 0 {
                l.s("|LOCK_NB");
            }
        }
        libc::SYS_truncate => {
            st::path(l, a[0]);
            sep(l);
            l.int(a[1] as i64);
        }
        libc::SYS_ftruncate => {
            int(l, a[0]);
            sep(l);
            l.int(a[1] as i64);
        }
        libc::SYS_chdir | libc::SYS_rmdir | libc::SYS_unlink | libc::SYS_chroot => {
            st::path(l, a[0]);
        }
        libc::SYS_rename | libc::SYS_link | libc::SYS_symlink => {
            st::path(l, a[0]);
            sep(l);
            st::path(l, a[1]);
        }
        libc::SYS_renameat | libc::SYS_renameat2 | libc::SYS_linkat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            dirfd(l, a[2]);
            sep(l);
            st::path(l, a[3]);
            if c.nr == libc::SYS_renameat2 {
                sep(l);
                flags(l, a[4] & 0xffff_ffff, xlat::RENAME, "0");
            } else if c.nr == libc::SYS_linkat {
                sep(l);
                flags(l, a[4] & 0xffff_ffff, xlat::AT_LINK, "0");
            }
        }
        libc::SYS_symlinkat => {
            st::path(l, a[0]);
            sep(l);
            dirfd(l, a[1]);
            sep(l);
            st::path(l, a[2]);
        }
        libc::SYS_unlinkat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::AT_UNLINK, "0");
        }
        libc::SYS_chown | libc::SYS_lchown => {
            st::path(l, a[0]);
            sep(l);
            int(l, a[1]);
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_fchown => {
            int(l, a[0]);
            sep(l);
            int(l, a[1]);
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_fchownat => {
            dirfd(l, a[0]);
            sep(l);
            st::path(l, a[1]);
            sep(l);
            int(l, a[2]);
            sep(l);
            int(l, a[3]);
            sep(l);
            flags(l, a[4] & 0xffff_ffff, xlat::AT_STAT, "0");
        }
        libc::SYS_getrlimit => {
            value(l, a[0] & 0xffff_ffff, xlat::RLIMIT, "RLIMIT_???");
            return MORE;
        }
        libc::SYS_getrusage => {
            xlat::rusage_who(l, a[0]);
            return MORE;
        }
        libc::SYS_sigaltstack => {
            st::stack(l, a[0]);
            return MORE;
        }
        libc::SYS_epoll_ctl => {
            int(l, a[0]);
            sep(l);
            value(l, a[1] & 0xffff_ffff, xlat::EPOLL_CTL, "EPOLL_CTL_???");
            sep(l);
            int(l, a[2]);
            sep(l);
            // EPOLL_CTL_DEL reads no event.
            if a[1] & 0xffff_ffff == 2 {
                l.ptr(a[3]);
            } else {
                st::epoll_event(l, a[3]);
            }
        }
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => {
            int(l, a[0]);
            return MORE;
        }
        libc::SYS_sendmsg => {
            int(l, a[0]);
            sep(l);
            net::msghdr_out(l, a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::MSG, "0");
        }
        libc::SYS_recvmsg => {
            int(l, a[0]);
            return Pending {
                more: true,
                saved: net::msghdr_in_saved(a[1]),
            };
        }
        libc::SYS_setsockopt => {
            int(l, a[0]);
            sep(l);
            xlat::sockopt_level(l, a[1] as u32);
            sep(l);
            xlat::sockopt_name(l, a[1] as u32, a[2] as u32);
            sep(l);
            net::sockopt_in(l, a[1] as u32, a[2] as u32, a[3], a[4] as i32);
            sep(l);
            int(l, a[4]);
        }
        libc::SYS_getsockopt => {
            int(l, a[0]);
            sep(l);
            xlat::sockopt_level(l, a[1] as u32);
            sep(l);
            xlat::sockopt_name(l, a[1] as u32, a[2] as u32);
            let saved = if a[4] != 0 {
                mem::read_value::<u32>(a[4]).map_or(0, u64::from)
            } else {
                0
            };
            return Pending { more: true, saved };
        }
        libc::SYS_setrlimit => {
            value(l, a[0] & 0xffff_ffff, xlat::RLIMIT, "RLIMIT_???");
            sep(l);
            st::rlimit(l, a[1]);
        }
        libc::SYS_prlimit64 => {
            int(l, a[0]);
            sep(l);
            value(l, a[1] & 0xffff_ffff, xlat::RLIMIT, "RLIMIT_???");
            sep(l);
            st::rlimit(l, a[2]);
            return MORE;
        }
        libc::SYS_prctl => return prctl_enter(l, &a),
        libc::SYS_arch_prctl => return arch_prctl_enter(l, &a),
        libc::SYS_set_tid_address => l.xhex(a[0]),
        libc::SYS_rseq => {
            l.ptr(a[0]);
            sep(l);
            l.xhex(a[1] & 0xffff_ffff);
            sep(l);
            int(l, a[2]);
            sep(l);
            l.xhex(a[3] & 0xffff_ffff);
        }
        libc::SYS_futex => futex(l, &a),
        libc::SYS_getrandom => return MORE,
        libc::SYS_fadvise64 => {
            int(l, a[0]);
            sep(l);
            l.int(a[1] as i64);
            sep(l);
            l.int(a[2] as i64);
            sep(l);
            value(l, a[3] & 0xffff_ffff, xlat::FADV, "POSIX_FADV_???");
        }
        libc::SYS_eventfd2 => {
            l.uint(a[0] & 0xffff_ffff);
            sep(l);
            flags(l, a[1] & 0xffff_ffff, xlat::EFD, "0");
        }
        libc::SYS_epoll_create1 => flags(l, a[0] & 0xffff_ffff, xlat::EPOLL_CREATE, "0"),
        libc::SYS_close_range => {
            l.uint(a[0] & 0xffff_ffff);
            sep(l);
            l.uint(a[1] & 0xffff_ffff);
            sep(l);
            flags(
                l,
                a[2] & 0xffff_ffff,
                &[(2, "CLOSE_RANGE_UNSHARE"), (4, "CLOSE_RANGE_CLOEXEC")],
                "0",
            );
        }
        libc::SYS_memfd_create => {
            line::cstr(l, a[0], STRLEN);
            sep(l);
            flags(
                l,
                a[1] & 0xffff_ffff,
                &[
                    (1, "MFD_CLOEXEC"),
                    (2, "MFD_ALLOW_SEALING"),
                    (4, "MFD_HUGETLB"),
                ],
                "0",
            );
        }
        // No arguments.
        libc::SYS_getpid
        | libc::SYS_getppid
        | libc::SYS_gettid
        | libc::SYS_getuid
        | libc::SYS_geteuid
        | libc::SYS_getgid
        | libc::SYS_getegid
        | libc::SYS_getpgrp
        | libc::SYS_setsid
        | libc::SYS_sched_yield
        | libc::SYS_fork
        | libc::SYS_vfork
        | libc::SYS_pause
        | libc::SYS_sync
        | libc::SYS_inotify_init
        | libc::SYS_munlockall
        | libc::SYS_vhangup => {}
        _ => generic(l, c),
    }
    DONE
}

/// A call without a decoder: its arguments in hexadecimal, up to the last non-zero one.
fn generic(l: &mut Line, c: &Syscall) {
    let n = c.args.iter().rposition(|&v| v != 0).map_or(0, |i| i + 1);
    for (i, &v) in c.args[..n].iter().enumerate() {
        if i > 0 {
            sep(l);
        }
        l.xhex(v as u64);
    }
}

/// Appends the arguments the kernel wrote, after the call that returned `r`.
pub fn exit(l: &mut Line, c: &Syscall, r: i64, p: Pending) {
    let a = c.args.map(|v| v as u64);
    match c.nr {
        libc::SYS_read => {
            sep(l);
            out_buf(l, a[1], r);
            sep(l);
            l.uint(a[2]);
        }
        libc::SYS_pread64 => {
            sep(l);
            out_buf(l, a[1], r);
            sep(l);
            l.uint(a[2]);
            sep(l);
            l.int(a[3] as i64);
        }
        libc::SYS_readv => {
            sep(l);
            if ok(r) {
                st::iovecs(l, a[1], a[2] & 0xffff_ffff, Some(r as u64));
            } else {
                l.ptr(a[1]);
            }
            sep(l);
            int(l, a[2]);
        }
        libc::SYS_fstat | libc::SYS_stat | libc::SYS_lstat => {
            sep(l);
            out(l, a[1], r, st::stat);
        }
        libc::SYS_newfstatat => {
            sep(l);
            out(l, a[2], r, st::stat);
            sep(l);
            flags(l, a[3] & 0xffff_ffff, xlat::AT_STAT, "0");
        }
        libc::SYS_statx => {
            sep(l);
            out(l, a[4], r, st::statx);
        }
        libc::SYS_statfs | libc::SYS_fstatfs => {
            sep(l);
            out(l, a[1], r, st::statfs);
        }
        libc::SYS_getrusage => {
            sep(l);
            out(l, a[1], r, st::rusage);
        }
        libc::SYS_sigaltstack => {
            sep(l);
            out(l, a[1], r, st::stack);
        }
        libc::SYS_epoll_wait | libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => {
            sep(l);
            if ok(r) {
                st::epoll_events(l, a[1], r as u64);
            } else {
                l.ptr(a[1]);
            }
            sep(l);
            int(l, a[2]);
            sep(l);
            if c.nr == libc::SYS_epoll_pwait2 {
                st::timespec(l, a[3]);
            } else {
                int(l, a[3]);
            }
            if c.nr != libc::SYS_epoll_wait {
                sep(l);
                st::sigset(l, a[4], a[5]);
                sep(l);
                l.uint(a[5]);
            }
        }
        libc::SYS_recvmsg => {
            sep(l);
            net::msghdr_in(l, a[1], p.saved, ok(r).then_some(r as u64));
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::MSG, "0");
        }
        libc::SYS_getsockopt => {
            sep(l);
            let len = if ok(r) && a[4] != 0 {
                mem::read_value::<u32>(a[4]).map(u64::from)
            } else {
                None
            };
            match len {
                Some(n) => net::sockopt_out(l, a[1] as u32, a[2] as u32, a[3], n),
                None => l.ptr(a[3]),
            }
            sep(l);
            len_in_out(l, a[4], p.saved, r);
        }
        libc::SYS_getdents64 | libc::SYS_getdents => {
            sep(l);
            l.ptr(a[1]);
            if ok(r)
                && c.nr == libc::SYS_getdents64
                && let Some(n) = st::dirents(a[1], r as u64)
            {
                l.s(" /* ");
                l.uint(n);
                l.s(if n == 1 { " entry */" } else { " entries */" });
            }
            sep(l);
            l.uint(a[2] & 0xffff_ffff);
        }
        libc::SYS_readlink | libc::SYS_readlinkat => {
            let (buf, size) = if c.nr == libc::SYS_readlink {
                (a[1], a[2])
            } else {
                (a[2], a[3])
            };
            sep(l);
            out_buf(l, buf, r);
            sep(l);
            l.uint(size);
        }
        libc::SYS_getxattr | libc::SYS_lgetxattr | libc::SYS_fgetxattr => {
            sep(l);
            if ok(r) && a[2] != 0 {
                line::buffer(l, a[2], r as u64, false);
            } else {
                l.ptr(a[2]);
            }
            sep(l);
            l.uint(a[3]);
        }
        libc::SYS_listxattr | libc::SYS_llistxattr => {
            sep(l);
            if ok(r) && a[1] != 0 {
                line::buffer(l, a[1], r as u64, false);
            } else {
                l.ptr(a[1]);
            }
            sep(l);
            l.uint(a[2]);
        }
        libc::SYS_rt_sigaction => {
            sep(l);
            if ok(r) {
                st::sigaction(l, a[2], a[3]);
            } else {
                l.ptr(a[2]);
            }
            sep(l);
            l.uint(a[3]);
        }
        libc::SYS_rt_sigprocmask => {
            sep(l);
            if ok(r) {
                st::sigset(l, a[2], a[3]);
            } else {
                l.ptr(a[2]);
            }
            sep(l);
            l.uint(a[3]);
        }
        libc::SYS_ioctl => {
            let kind = xlat::ioctl_arg(a[1]);
            ioctl_out(l, kind, a[2], r);
        }
        libc::SYS_pipe => out(l, a[0], r, st::fd_pair),
        libc::SYS_pipe2 => {
            out(l, a[0], r, st::fd_pair);
            sep(l);
            flags(l, a[1] & 0xffff_ffff, xlat::OPEN, "0");
        }
        libc::SYS_socketpair => {
            sep(l);
            out(l, a[3], r, st::fd_pair);
        }
        libc::SYS_uname => out(l, a[0], r, st::utsname),
        libc::SYS_sysinfo => out(l, a[0], r, st::sysinfo),
        libc::SYS_getcwd => {
            if ok(r) {
                line::cstr(l, a[0], PATH_MAX);
            } else {
                l.ptr(a[0]);
            }
            sep(l);
            l.uint(a[1]);
        }
        libc::SYS_nanosleep => {
            sep(l);
            if r == -i64::from(libc::EINTR) {
                st::timespec(l, a[1]);
            } else {
                l.ptr(a[1]);
            }
        }
        libc::SYS_clock_nanosleep => {
            sep(l);
            if r == -i64::from(libc::EINTR) {
                st::timespec(l, a[3]);
            } else {
                l.ptr(a[3]);
            }
        }
        libc::SYS_clock_gettime | libc::SYS_clock_getres => {
            sep(l);
            out(l, a[1], r, st::timespec);
        }
        libc::SYS_accept | libc::SYS_accept4 | libc::SYS_getsockname | libc::SYS_getpeername => {
            sep(l);
            sockaddr_out(l, a[1], a[2], p.saved, r);
            sep(l);
            len_in_out(l, a[2], p.saved, r);
            if c.nr == libc::SYS_accept4 {
                sep(l);
                flags(l, a[3] & 0xffff_ffff, xlat::SOCK_FLAGS, "0");
            }
        }
        libc::SYS_recvfrom => {
            sep(l);
            out_buf(l, a[1], r);
            sep(l);
            l.uint(a[2]);
            sep(l);
            flags(l, a[3] & 0xffff_ffff, xlat::MSG, "0");
            sep(l);
            sockaddr_out(l, a[4], a[5], p.saved, r);
            sep(l);
            len_in_out(l, a[5], p.saved, r);
        }
        libc::SYS_clone => {
            let f = a[0];
            if f & 0x10_1000 != 0 {
                l.s(", parent_tid=");
                if ok(r) && a[2] != 0 {
                    st::int_in_brackets(l, a[2]);
                } else {
                    l.ptr(a[2]);
                }
            }
            if f & 0x8_0000 != 0 {
                l.s(", tls=");
                l.ptr(a[4]);
            }
            if f & 0x120_0000 != 0 {
                l.s(", child_tidptr=");
                l.ptr(a[3]);
            }
        }
        libc::SYS_clone3 => {
            let fl = mem::read_value::<u64>(a[0]).unwrap_or(0);
            let ptid = mem::read_value::<u64>(a[0].wrapping_add(24)).unwrap_or(0);
            if ok(r) && fl & 0x10_0000 != 0 && ptid != 0 {
                l.s(" => {parent_tid=");
                st::int_in_brackets(l, ptid);
                l.s("}");
            }
            sep(l);
            l.uint(a[1]);
        }
        libc::SYS_wait4 => {
            sep(l);
            if ok(r) && r > 0 {
                st::wait_status(l, a[1]);
            } else {
                l.ptr(a[1]);
            }
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::WAIT, "0");
            sep(l);
            if ok(r) && r > 0 {
                st::rusage(l, a[3]);
            } else {
                l.ptr(a[3]);
            }
        }
        libc::SYS_getrlimit => {
            sep(l);
            out(l, a[1], r, st::rlimit);
        }
        libc::SYS_prlimit64 => {
            sep(l);
            out(l, a[3], r, st::rlimit);
        }
        libc::SYS_prctl => {
            sep(l);
            if a[0] & 0xffff_ffff == 16 {
                if ok(r) {
                    line::cstr(l, a[1], 16);
                } else {
                    l.ptr(a[1]);
                }
            } else {
                out(l, a[1], r, st::int_in_brackets);
            }
        }
        libc::SYS_arch_prctl => {
            sep(l);
            out(l, a[1], r, st::u64_in_brackets);
        }
        libc::SYS_getrandom => {
            if ok(r) {
                line::buffer(l, a[0], r as u64, true);
            } else {
                l.ptr(a[0]);
            }
            sep(l);
            l.uint(a[1]);
            sep(l);
            flags(l, a[2] & 0xffff_ffff, xlat::GRND, "0");
        }
        _ => {}
    }
}

/// Appends ` = result` and the newline: `-1 ENOENT (No such file or directory)` for an
/// error, addresses in hexadecimal, the flags `fcntl` returns, `poll`'s ready descriptors.
pub fn result(l: &mut Line, c: &Syscall, r: i64) {
    l.s(" = ");
    if !ok(r) {
        xlat::error(l, -r);
        l.newline();
        return;
    }
    let a = c.args.map(|v| v as u64);
    match c.nr {
        libc::SYS_mmap | libc::SYS_mremap | libc::SYS_brk | libc::SYS_shmat => l.hex(r as u64),
        libc::SYS_umask => l.mode(r as u64),
        // F_GETFL, and F_GETFD when a flag is set.
        libc::SYS_fcntl if a[1] & 0xffff_ffff == 3 || (a[1] & 0xffff_ffff == 1 && r != 0) => {
            l.xhex(r as u64);
            l.s(" (flags ");
            if a[1] & 0xffff_ffff == 1 {
                flags(l, r as u64, xlat::FD_FLAGS, "0");
            } else {
                xlat::open_flags(l, r as u64);
            }
            l.s(")");
        }
        libc::SYS_poll | libc::SYS_ppoll => {
            l.int(r);
            if r == 0 {
                l.s(" (Timeout)");
            } else {
                l.s(" (");
                st::pollfds(l, a[0], a[1] & 0xffff_ffff, true);
                if c.nr == libc::SYS_ppoll && a[2] != 0 {
                    l.s(", left ");
                    st::timespec(l, a[2]);
                }
                l.s(")");
            }
        }
        _ => l.int(r),
    }
    l.newline();
}
