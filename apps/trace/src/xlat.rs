//! Names of constants and flags, in the order and spelling strace prints them.

use crate::line::Line;

/// `(value, name)` pairs.
pub type Names = &'static [(u64, &'static str)];

/// Appends the names of the bits of `v` found in `names` (in their order, `|`-separated),
/// then what is left in hexadecimal; `zero` when `v` is 0.
pub fn flags(l: &mut Line, v: u64, names: Names, zero: &str) {
    if v == 0 {
        l.s(zero);
        return;
    }
    let mut left = v;
    let mut first = true;
    for &(bit, name) in names {
        if bit != 0 && left & bit == bit {
            if !first {
                l.s("|");
            }
            l.s(name);
            left &= !bit;
            first = false;
        }
    }
    if left != 0 {
        if !first {
            l.s("|");
        }
        l.hex(left);
    }
}

/// The name of `v` in `names`.
pub fn name_of(v: u64, names: Names) -> Option<&'static str> {
    names.iter().find(|&&(n, _)| n == v).map(|&(_, s)| s)
}

/// Appends the name of `v`, or `0x.. /* unknown */` (`unknown` like `SEEK_???`; C's `%#x`:
/// `0 /* IP_??? */` for zero).
pub fn value(l: &mut Line, v: u64, names: Names, unknown: &str) {
    match name_of(v, names) {
        Some(n) => l.s(n),
        None => {
            l.xhex(v);
            l.s(" /* ");
            l.s(unknown);
            l.s(" */");
        }
    }
}

/// Like [`flags`], but a value none of whose bits has a name is shown as `0x8 /* unknown */`
/// (`unknown` like `SS_???`).
pub fn flags_or(l: &mut Line, v: u64, names: Names, zero: &str, unknown: &str) {
    if v != 0 && names.iter().all(|&(bit, _)| bit == 0 || v & bit != bit) {
        l.hex(v);
        l.s(" /* ");
        l.s(unknown);
        l.s(" */");
    } else {
        flags(l, v, names, zero);
    }
}

/// `open` flags besides the access mode.
pub const OPEN: Names = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
    (0o20200000, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o20000, "FASYNC"),
];

/// Appends `open` flags: the access mode, then the others.
pub fn open_flags(l: &mut Line, v: u64) {
    let v = v & 0xffff_ffff;
    l.s(match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    if v & !3 != 0 {
        l.s("|");
        flags(l, v & !3, OPEN, "");
    }
}

/// Whether `open` flags take a mode (`O_CREAT`, `O_TMPFILE`).
pub fn open_has_mode(v: u64) -> bool {
    v & 0o100 != 0 || v & 0o20200000 == 0o20200000
}

/// Flags of `*at` calls that follow links or take an empty path (`newfstatat`, `fchownat`).
pub const AT_STAT: Names = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
];
/// `unlinkat` flags.
pub const AT_UNLINK: Names = &[(0x200, "AT_REMOVEDIR")];
/// `faccessat2` flags.
pub const AT_ACCESS: Names = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_EACCESS"),
    (0x1000, "AT_EMPTY_PATH"),
];
/// `linkat` flags.
pub const AT_LINK: Names = &[(0x400, "AT_SYMLINK_FOLLOW"), (0x1000, "AT_EMPTY_PATH")];
/// `statx` flags besides the sync type.
pub const AT_STATX: Names = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
];

/// Appends `statx` flags: the sync type first.
pub fn statx_flags(l: &mut Line, v: u64) {
    let v = v & 0xffff_ffff;
    l.s(match v & 0x6000 {
        0 => "AT_STATX_SYNC_AS_STAT",
        0x2000 => "AT_STATX_FORCE_SYNC",
        0x4000 => "AT_STATX_DONT_SYNC",
        _ => "AT_STATX_SYNC_TYPE",
    });
    if v & !0x6000 != 0 {
        l.s("|");
        flags(l, v & !0x6000, AT_STATX, "");
    }
}

/// `statx` mask bits, after the two sets.
const STATX: Names = &[
    (0x1, "STATX_TYPE"),
    (0x2, "STATX_MODE"),
    (0x4, "STATX_NLINK"),
    (0x8, "STATX_UID"),
    (0x10, "STATX_GID"),
    (0x20, "STATX_ATIME"),
    (0x40, "STATX_MTIME"),
    (0x80, "STATX_CTIME"),
    (0x100, "STATX_INO"),
    (0x200, "STATX_SIZE"),
    (0x400, "STATX_BLOCKS"),
    (0x800, "STATX_BTIME"),
    (0x1000, "STATX_MNT_ID"),
    (0x2000, "STATX_DIOALIGN"),
];

/// Appends a `statx` mask: `STATX_ALL` or `STATX_BASIC_STATS` for the sets, then the bits.
pub fn statx_mask(l: &mut Line, v: u64) {
    let v = v & 0xffff_ffff;
    let (set, rest) = if v & 0xfff == 0xfff {
        (Some("STATX_ALL"), v & !0xfff)
    } else if v & 0x7ff == 0x7ff {
        (Some("STATX_BASIC_STATS"), v & !0x7ff)
    } else {
        (None, v)
    };
    if let Some(s) = set {
        l.s(s);
        if rest != 0 {
            l.s("|");
            flags(l, rest, STATX, "");
        }
    } else {
        flags(l, rest, STATX, "0");
    }
}

/// `statx` attributes.
pub const STATX_ATTR: Names = &[
    (0x4, "STATX_ATTR_COMPRESSED"),
    (0x10, "STATX_ATTR_IMMUTABLE"),
    (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"),
    (0x800, "STATX_ATTR_ENCRYPTED"),
    (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"),
    (0x100000, "STATX_ATTR_VERITY"),
    (0x200000, "STATX_ATTR_DAX"),
];

/// `mmap` protection.
pub const PROT: Names = &[
    (1, "PROT_READ"),
    (2, "PROT_WRITE"),
    (4, "PROT_EXEC"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

/// `access` modes.
pub const ACCESS: Names = &[(4, "R_OK"), (2, "W_OK"), (1, "X_OK")];

/// Appends an `access` mode (`F_OK`, `R_OK|X_OK`, `0x8 /* ?_OK */`).
pub fn access_mode(l: &mut Line, v: u64) {
    let v = v & 0xffff_ffff;
    if v & !7 != 0 && v & 7 == 0 {
        l.hex(v);
        l.s(" /* ?_OK */");
    } else {
        flags(l, v, ACCESS, "F_OK");
    }
}

/// `lseek` origins.
pub const SEEK: Names = &[
    (0, "SEEK_SET"),
    (1, "SEEK_CUR"),
    (2, "SEEK_END"),
    (3, "SEEK_DATA"),
    (4, "SEEK_HOLE"),
];

/// `madvise` advice.
pub const MADV: Names = &[
    (0, "MADV_NORMAL"),
    (1, "MADV_RANDOM"),
    (2, "MADV_SEQUENTIAL"),
    (3, "MADV_WILLNEED"),
    (4, "MADV_DONTNEED"),
    (8, "MADV_FREE"),
    (9, "MADV_REMOVE"),
    (10, "MADV_DONTFORK"),
    (11, "MADV_DOFORK"),
    (12, "MADV_MERGEABLE"),
    (13, "MADV_UNMERGEABLE"),
    (14, "MADV_HUGEPAGE"),
    (15, "MADV_NOHUGEPAGE"),
    (16, "MADV_DONTDUMP"),
    (17, "MADV_DODUMP"),
    (18, "MADV_WIPEONFORK"),
    (19, "MADV_KEEPONFORK"),
    (20, "MADV_COLD"),
    (21, "MADV_PAGEOUT"),
    (22, "MADV_POPULATE_READ"),
    (23, "MADV_POPULATE_WRITE"),
    (100, "MADV_HWPOISON"),
    (101, "MADV_SOFT_OFFLINE"),
];

/// `posix_fadvise` advice.
pub const FADV: Names = &[
    (0, "POSIX_FADV_NORMAL"),
    (1, "POSIX_FADV_RANDOM"),
    (2, "POSIX_FADV_SEQUENTIAL"),
    (3, "POSIX_FADV_WILLNEED"),
    (4, "POSIX_FADV_DONTNEED"),
    (5, "POSIX_FADV_NOREUSE"),
];

/// `mremap` flags.
pub const MREMAP: Names = &[
    (1, "MREMAP_MAYMOVE"),
    (2, "MREMAP_FIXED"),
    (4, "MREMAP_DONTUNMAP"),
];

/// `rt_sigprocmask` operations.
pub const SIG_HOW: Names = &[(0, "SIG_BLOCK"), (1, "SIG_UNBLOCK"), (2, "SIG_SETMASK")];

/// `sigaction` flags.
pub const SA: Names = &[
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
    (4, "SA_SIGINFO"),
    (1, "SA_NOCLDSTOP"),
    (2, "SA_NOCLDWAIT"),
];

/// `arch_prctl` codes.
pub const ARCH: Names = &[
    (0x1001, "ARCH_SET_GS"),
    (0x1002, "ARCH_SET_FS"),
    (0x1003, "ARCH_GET_FS"),
    (0x1004, "ARCH_GET_GS"),
    (0x1011, "ARCH_GET_CPUID"),
    (0x1012, "ARCH_SET_CPUID"),
    (0x1021, "ARCH_GET_XCOMP_SUPP"),
    (0x1022, "ARCH_GET_XCOMP_PERM"),
    (0x1023, "ARCH_REQ_XCOMP_PERM"),
    (0x1024, "ARCH_GET_XCOMP_GUEST_PERM"),
    (0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"),
    (0x2001, "ARCH_MAP_VDSO_X32"),
    (0x2002, "ARCH_MAP_VDSO_32"),
    (0x2003, "ARCH_MAP_VDSO_64"),
];

/// Resource limits.
pub const RLIMIT: Names = &[
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (2, "RLIMIT_DATA"),
    (3, "RLIMIT_STACK"),
    (4, "RLIMIT_CORE"),
    (5, "RLIMIT_RSS"),
    (6, "RLIMIT_NPROC"),
    (7, "RLIMIT_NOFILE"),
    (8, "RLIMIT_MEMLOCK"),
    (9, "RLIMIT_AS"),
    (10, "RLIMIT_LOCKS"),
    (11, "RLIMIT_SIGPENDING"),
    (12, "RLIMIT_MSGQUEUE"),
    (13, "RLIMIT_NICE"),
    (14, "RLIMIT_RTPRIO"),
    (15, "RLIMIT_RTTIME"),
];

/// `getrandom` flags.
pub const GRND: Names = &[
    (1, "GRND_NONBLOCK"),
    (2, "GRND_RANDOM"),
    (4, "GRND_INSECURE"),
];

/// `fcntl` commands.
pub const FCNTL: Names = &[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (10, "F_SETSIG"),
    (11, "F_GETSIG"),
    (15, "F_SETOWN_EX"),
    (16, "F_GETOWN_EX"),
    (36, "F_OFD_GETLK"),
    (37, "F_OFD_SETLK"),
    (38, "F_OFD_SETLKW"),
    (1024, "F_SETLEASE"),
    (1025, "F_GETLEASE"),
    (1026, "F_NOTIFY"),
    (1030, "F_DUPFD_CLOEXEC"),
    (1031, "F_SETPIPE_SZ"),
    (1032, "F_GETPIPE_SZ"),
    (1033, "F_ADD_SEALS"),
    (1034, "F_GET_SEALS"),
];

/// Descriptor flags (`F_GETFD`, `F_SETFD`).
pub const FD_FLAGS: Names = &[(1, "FD_CLOEXEC")];

/// File seals.
pub const SEALS: Names = &[
    (1, "F_SEAL_SEAL"),
    (2, "F_SEAL_SHRINK"),
    (4, "F_SEAL_GROW"),
    (8, "F_SEAL_WRITE"),
    (0x10, "F_SEAL_FUTURE_WRITE"),
];

/// `wait4` options.
pub const WAIT: Names = &[
    (1, "WNOHANG"),
    (2, "WSTOPPED"),
    (4, "WEXITED"),
    (8, "WCONTINUED"),
    (0x0100_0000, "WNOWAIT"),
    (0x2000_0000, "__WNOTHREAD"),
    (0x4000_0000, "__WALL"),
    (0x8000_0000, "__WCLONE"),
];

/// Address families.
pub const AF: Names = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (27, "AF_IB"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

/// Socket types.
pub const SOCK_TYPE: Names = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];

/// Socket type flags.
pub const SOCK_FLAGS: Names = &[(0o2000000, "SOCK_CLOEXEC"), (0o4000, "SOCK_NONBLOCK")];

/// Appends a socket type with its flags (`SOCK_STREAM|SOCK_CLOEXEC`).
pub fn sock_type(l: &mut Line, v: u64) {
    let v = v & 0xffff_ffff;
    if name_of(v & 0xf, SOCK_TYPE).is_none() {
        return value(l, v, SOCK_TYPE, "SOCK_???");
    }
    value(l, v & 0xf, SOCK_TYPE, "SOCK_???");
    let rest = v & !0xf;
    if rest != 0 {
        l.s("|");
        flags(l, rest, SOCK_FLAGS, "");
    }
}

/// IP protocols.
pub const IPPROTO: Names = &[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (2, "IPPROTO_IGMP"),
    (4, "IPPROTO_IPIP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (41, "IPPROTO_IPV6"),
    (47, "IPPROTO_GRE"),
    (50, "IPPROTO_ESP"),
    (51, "IPPROTO_AH"),
    (58, "IPPROTO_ICMPV6"),
    (132, "IPPROTO_SCTP"),
    (136, "IPPROTO_UDPLITE"),
    (255, "IPPROTO_RAW"),
    (262, "IPPROTO_MPTCP"),
];

/// Netlink protocols.
pub const NETLINK: Names = &[
    (0, "NETLINK_ROUTE"),
    (1, "NETLINK_UNUSED"),
    (2, "NETLINK_USERSOCK"),
    (3, "NETLINK_FIREWALL"),
    (4, "NETLINK_SOCK_DIAG"),
    (5, "NETLINK_NFLOG"),
    (6, "NETLINK_XFRM"),
    (7, "NETLINK_SELINUX"),
    (8, "NETLINK_ISCSI"),
    (9, "NETLINK_AUDIT"),
    (10, "NETLINK_FIB_LOOKUP"),
    (11, "NETLINK_CONNECTOR"),
    (12, "NETLINK_NETFILTER"),
    (13, "NETLINK_IP6_FW"),
    (14, "NETLINK_DNRTMSG"),
    (15, "NETLINK_KOBJECT_UEVENT"),
    (16, "NETLINK_GENERIC"),
    (18, "NETLINK_SCSITRANSPORT"),
    (19, "NETLINK_ECRYPTFS"),
    (20, "NETLINK_RDMA"),
    (21, "NETLINK_CRYPTO"),
    (22, "NETLINK_SMC"),
];

/// Ethernet protocols (`AF_PACKET` sockets), in host order.
pub const ETH_P: Names = &[
    (0x0003, "ETH_P_ALL"),
    (0x0800, "ETH_P_IP"),
    (0x0806, "ETH_P_ARP"),
    (0x8100, "ETH_P_8021Q"),
    (0x86dd, "ETH_P_IPV6"),
];

/// `send`/`recv` flags.
pub const MSG: Names = &[
    (0x1, "MSG_OOB"),
    (0x2, "MSG_PEEK"),
    (0x4, "MSG_DONTROUTE"),
    (0x8, "MSG_CTRUNC"),
    (0x10, "MSG_PROXY"),
    (0x20, "MSG_TRUNC"),
    (0x40, "MSG_DONTWAIT"),
    (0x80, "MSG_EOR"),
    (0x100, "MSG_WAITALL"),
    (0x200, "MSG_FIN"),
    (0x400, "MSG_SYN"),
    (0x800, "MSG_CONFIRM"),
    (0x1000, "MSG_RST"),
    (0x2000, "MSG_ERRQUEUE"),
    (0x4000, "MSG_NOSIGNAL"),
    (0x8000, "MSG_MORE"),
    (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"),
    (0x4000000, "MSG_ZEROCOPY"),
    (0x20000000, "MSG_FASTOPEN"),
    (0x40000000, "MSG_CMSG_CLOEXEC"),
];

/// `shutdown` directions.
pub const SHUT: Names = &[(0, "SHUT_RD"), (1, "SHUT_WR"), (2, "SHUT_RDWR")];

/// Clocks.
pub const CLOCK: Names = &[
    (0, "CLOCK_REALTIME"),
    (1, "CLOCK_MONOTONIC"),
    (2, "CLOCK_PROCESS_CPUTIME_ID"),
    (3, "CLOCK_THREAD_CPUTIME_ID"),
    (4, "CLOCK_MONOTONIC_RAW"),
    (5, "CLOCK_REALTIME_COARSE"),
    (6, "CLOCK_MONOTONIC_COARSE"),
    (7, "CLOCK_BOOTTIME"),
    (8, "CLOCK_REALTIME_ALARM"),
    (9, "CLOCK_BOOTTIME_ALARM"),
    (11, "CLOCK_TAI"),
];

/// `clock_nanosleep` flags.
pub const TIMER: Names = &[(1, "TIMER_ABSTIME")];

/// `poll` events.
pub const POLL: Names = &[
    (0x1, "POLLIN"),
    (0x2, "POLLPRI"),
    (0x4, "POLLOUT"),
    (0x8, "POLLERR"),
    (0x10, "POLLHUP"),
    (0x20, "POLLNVAL"),
    (0x40, "POLLRDNORM"),
    (0x80, "POLLRDBAND"),
    (0x100, "POLLWRNORM"),
    (0x200, "POLLWRBAND"),
    (0x400, "POLLMSG"),
    (0x2000, "POLLRDHUP"),
];

/// `renameat2` flags.
pub const RENAME: Names = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];

/// `eventfd2` flags.
pub const EFD: Names = &[
    (0o2000000, "EFD_CLOEXEC"),
    (0o4000, "EFD_NONBLOCK"),
    (1, "EFD_SEMAPHORE"),
];

/// `epoll_create1` flags.
pub const EPOLL_CREATE: Names = &[(0o2000000, "EPOLL_CLOEXEC")];

/// `epoll_ctl` operations.
pub const EPOLL_CTL: Names = &[
    (1, "EPOLL_CTL_ADD"),
    (2, "EPOLL_CTL_DEL"),
    (3, "EPOLL_CTL_MOD"),
];

/// `prctl` options (the common ones).
pub const PR: Names = &[
    (1, "PR_SET_PDEATHSIG"),
    (2, "PR_GET_PDEATHSIG"),
    (3, "PR_GET_DUMPABLE"),
    (4, "PR_SET_DUMPABLE"),
    (15, "PR_SET_NAME"),
    (16, "PR_GET_NAME"),
    (22, "PR_SET_SECCOMP"),
    (23, "PR_CAPBSET_READ"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (37, "PR_GET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (39, "PR_GET_NO_NEW_PRIVS"),
    (0x5356_4d41, "PR_SET_VMA"),
];

/// `futex` operations (without the private and clock flags).
pub const FUTEX: Names = &[
    (0, "FUTEX_WAIT"),
    (1, "FUTEX_WAKE"),
    (2, "FUTEX_FD"),
    (3, "FUTEX_REQUEUE"),
    (4, "FUTEX_CMP_REQUEUE"),
    (5, "FUTEX_WAKE_OP"),
    (6, "FUTEX_LOCK_PI"),
    (7, "FUTEX_UNLOCK_PI"),
    (8, "FUTEX_TRYLOCK_PI"),
    (9, "FUTEX_WAIT_BITSET"),
    (10, "FUTEX_WAKE_BITSET"),
    (11, "FUTEX_WAIT_REQUEUE_PI"),
    (12, "FUTEX_CMP_REQUEUE_PI"),
    (13, "FUTEX_LOCK_PI2"),
];

/// `ioctl` requests shown by name, and how their argument is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IoctlArg {
    /// No argument.
    None,
    /// A number, in hexadecimal.
    Hex,
    /// A `struct termios` read by the kernel.
    TermiosIn,
    /// A `struct termios` written by the kernel.
    TermiosOut,
    /// A `struct winsize` read by the kernel.
    WinsizeIn,
    /// A `struct winsize` written by the kernel.
    WinsizeOut,
    /// An `int` read by the kernel (`[1]`).
    IntIn,
    /// An `int` written by the kernel.
    IntOut,
    /// The queue selector of `TCFLSH`.
    Flush,
}

/// Terminal and file `ioctl` requests.
pub const IOCTL: &[(u64, &str, IoctlArg)] = &[
    (0x5401, "TCGETS", IoctlArg::TermiosOut),
    (0x5402, "SNDCTL_TMR_START or TCSETS", IoctlArg::TermiosIn),
    (0x5403, "SNDCTL_TMR_STOP or TCSETSW", IoctlArg::TermiosIn),
    (
        0x5404,
        "SNDCTL_TMR_CONTINUE or TCSETSF",
        IoctlArg::TermiosIn,
    ),
    (0x5409, "TCSBRK", IoctlArg::Hex),
    (0x540a, "TCXONC", IoctlArg::Hex),
    (0x540b, "TCFLSH", IoctlArg::Flush),
    (0x540c, "TIOCEXCL", IoctlArg::None),
    (0x540d, "TIOCNXCL", IoctlArg::None),
    (0x540e, "TIOCSCTTY", IoctlArg::Hex),
    (0x540f, "TIOCGPGRP", IoctlArg::IntOut),
    (0x5410, "TIOCSPGRP", IoctlArg::IntIn),
    (0x5411, "TIOCOUTQ", IoctlArg::IntOut),
    (0x5413, "TIOCGWINSZ", IoctlArg::WinsizeOut),
    (0x5414, "TIOCSWINSZ", IoctlArg::WinsizeIn),
    (0x541b, "FIONREAD", IoctlArg::IntOut),
    (0x5421, "FIONBIO", IoctlArg::IntIn),
    (0x5422, "TIOCNOTTY", IoctlArg::None),
    (0x5429, "TIOCGSID", IoctlArg::IntOut),
    (0x5441, "TIOCGPTPEER", IoctlArg::Hex),
    (0x5450, "FIONCLEX", IoctlArg::None),
    (0x5451, "FIOCLEX", IoctlArg::None),
    (0x5452, "FIOASYNC", IoctlArg::IntIn),
    (0x8004_5430, "TIOCGPTN", IoctlArg::IntOut),
    (0x4004_5431, "TIOCSPTLCK", IoctlArg::IntIn),
];

/// `TCFLSH` queues.
pub const TCFLSH: Names = &[(0, "TCIFLUSH"), (1, "TCOFLUSH"), (2, "TCIOFLUSH")];

/// How the argument of `ioctl` request `req` is shown.
pub fn ioctl_arg(req: u64) -> IoctlArg {
    let req = req & 0xffff_ffff;
    IOCTL
        .iter()
        .find(|e| e.0 == req)
        .map_or(IoctlArg::Hex, |e| e.2)
}

/// Appends an `ioctl` request: its name, or `_IOC(dir, type, nr, size)`.
pub fn ioctl_request(l: &mut Line, req: u64) -> IoctlArg {
    let req = req & 0xffff_ffff;
    if let Some(&(_, name, arg)) = IOCTL.iter().find(|e| e.0 == req) {
        l.s(name);
        return arg;
    }
    l.s("_IOC(");
    l.s(match req >> 30 {
        0 => "_IOC_NONE",
        1 => "_IOC_WRITE",
        2 => "_IOC_READ",
        _ => "_IOC_READ|_IOC_WRITE",
    });
    l.s(", ");
    l.xhex((req >> 8) & 0xff);
    l.s(", ");
    l.xhex(req & 0xff);
    l.s(", ");
    l.xhex((req >> 16) & 0x3fff);
    l.s(")");
    IoctlArg::Hex
}

/// Appends a signal: `SIGINT`, `SIGRTMIN`, `SIGRT_5` (strace counts real-time signals from the
/// kernel's first, 32), or the number.
pub fn signal(l: &mut Line, sig: i64) {
    match sig {
        1..=31 => l.s(hook_sdk::args::Signal(sig as i32).name().unwrap_or("?")),
        32 => l.s("SIGRTMIN"),
        33..=64 => {
            l.s("SIGRT_");
            l.int(sig - 32);
        }
        _ => l.int(sig),
    }
}

/// Appends a signal without its `SIG` prefix, as in a signal set (`INT`, `RTMIN`, `RT_1`).
fn signal_short(l: &mut Line, sig: u32) {
    match sig {
        1..=31 => l.s(hook_sdk::args::Signal(sig as i32)
            .name()
            .map_or("?", |n| &n[3..])),
        32 => l.s("RTMIN"),
        _ => {
            l.s("RT_");
            l.uint(u64::from(sig) - 32);
        }
    }
}

/// Appends a 64-signal set: `[INT TERM]`, or, when most signals are in it, the ones that are
/// not: `~[RTMIN RT_1]` (strace switches at 42 of 64).
pub fn sigset(l: &mut Line, set: u64) {
    let (shown, inverted) = if set.count_ones() >= 42 {
        (!set, true)
    } else {
        (set, false)
    };
    if inverted {
        l.s("~");
    }
    l.s("[");
    let mut first = true;
    for sig in 1..=64u32 {
        if shown & (1u64 << (sig - 1)) != 0 {
            if !first {
                l.s(" ");
            }
            signal_short(l, sig);
            first = false;
        }
    }
    l.s("]");
}

/// `epoll` events.
pub const EPOLL_EVENTS: Names = &[
    (0x1, "EPOLLIN"),
    (0x2, "EPOLLPRI"),
    (0x4, "EPOLLOUT"),
    (0x8, "EPOLLERR"),
    (0x10, "EPOLLHUP"),
    (0x20, "EPOLLNVAL"),
    (0x40, "EPOLLRDNORM"),
    (0x80, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 28, "EPOLLEXCLUSIVE"),
    (1 << 29, "EPOLLWAKEUP"),
    (1 << 30, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
];

/// `sigaltstack` flags.
pub const SS: Names = &[
    (1, "SS_ONSTACK"),
    (2, "SS_DISABLE"),
    (1 << 31, "SS_AUTODISARM"),
];

/// `statfs` mount flags (`f_flags`, shown when `ST_VALID` is set; it comes first).
pub const ST_FLAGS: Names = &[
    (0x20, "ST_VALID"),
    (0x1, "ST_RDONLY"),
    (0x2, "ST_NOSUID"),
    (0x4, "ST_NODEV"),
    (0x8, "ST_NOEXEC"),
    (0x10, "ST_SYNCHRONOUS"),
    (0x40, "ST_MANDLOCK"),
    (0x400, "ST_NOATIME"),
    (0x800, "ST_NODIRATIME"),
    (0x1000, "ST_RELATIME"),
    (0x2000, "ST_NOSYMFOLLOW"),
];

/// File system types (`statfs`'s `f_type`), the names strace gives them.
pub const FS_MAGIC: Names = &[
    (0x002f, "QNX4_SUPER_MAGIC"),
    (0x0187, "AUTOFS_SUPER_MAGIC"),
    (0x137d, "EXT_SUPER_MAGIC"),
    (0x137f, "MINIX_SUPER_MAGIC"),
    (0x1373, "DEVFS_SUPER_MAGIC"),
    (0x138f, "MINIX_SUPER_MAGIC2"),
    (0x1cd1, "DEVPTS_SUPER_MAGIC"),
    (0x2468, "MINIX2_SUPER_MAGIC"),
    (0x2478, "MINIX2_SUPER_MAGIC2"),
    (0x3434, "NILFS_SUPER_MAGIC"),
    (0x4244, "HFS_SUPER_MAGIC"),
    (0x482b, "HFSPLUS_SUPER_MAGIC"),
    (0x4d44, "MSDOS_SUPER_MAGIC"),
    (0x4d5a, "MINIX3_SUPER_MAGIC"),
    (0x517b, "SMB_SUPER_MAGIC"),
    (0x564c, "NCP_SUPER_MAGIC"),
    (0x6969, "NFS_SUPER_MAGIC"),
    (0x7275, "ROMFS_MAGIC"),
    (0x72b6, "JFFS2_SUPER_MAGIC"),
    (0x9660, "ISOFS_SUPER_MAGIC"),
    (0x9fa0, "PROC_SUPER_MAGIC"),
    (0x9fa1, "OPENPROM_SUPER_MAGIC"),
    (0x9fa2, "USBDEVICE_SUPER_MAGIC"),
    (0xadf5, "ADFS_SUPER_MAGIC"),
    (0xadff, "AFFS_SUPER_MAGIC"),
    (0xef51, "EXT2_OLD_SUPER_MAGIC"),
    (0xef53, "EXT2_SUPER_MAGIC"),
    (0xf15f, "ECRYPTFS_SUPER_MAGIC"),
    (0x0001_1954, "UFS_MAGIC"),
    (0x0027_e0eb, "CGROUP_SUPER_MAGIC"),
    (0x0041_4a53, "EFS_SUPER_MAGIC"),
    (0x00c0_ffee, "HOSTFS_SUPER_MAGIC"),
    (0x00c3_6400, "CEPH_SUPER_MAGIC"),
    (0x0102_1994, "TMPFS_MAGIC"),
    (0x0102_1997, "V9FS_MAGIC"),
    (0x0116_1970, "GFS2_MAGIC"),
    (0x012f_d16d, "XIAFS_SUPER_MAGIC"),
    (0x012f_f7b4, "XENIX_SUPER_MAGIC"),
    (0x012f_f7b5, "SYSV4_SUPER_MAGIC"),
    (0x012f_f7b6, "SYSV2_SUPER_MAGIC"),
    (0x012f_f7b7, "COH_SUPER_MAGIC"),
    (0x0904_1934, "ANON_INODE_FS_MAGIC"),
    (0x0bad_1dea, "FUTEXFS_SUPER_MAGIC"),
    (0x1130_7854, "MTD_INODE_FS_MAGIC"),
    (0x1501_3346, "UDF_SUPER_MAGIC"),
    (0x1bad_face, "BFS_MAGIC"),
    (0x2011_bab0, "EXFAT_SUPER_MAGIC"),
    (0x28cd_3d45, "CRAMFS_MAGIC"),
    (0x2fc1_2fc1, "ZFS_SUPER_MAGIC"),
    (0x3153_464a, "JFS_SUPER_MAGIC"),
    (0x4246_5331, "BEFS_SUPER_MAGIC"),
    (0x4249_4e4d, "BINFMTFS_MAGIC"),
    (0x4341_5d53, "SMACK_MAGIC"),
    (0x444d_4142, "DMA_BUF_MAGIC"),
    (0x453d_cd28, "CRAMFS_MAGIC_WEND"),
    (0x454d_444d, "DEVMEM_MAGIC"),
    (0x4750_4653, "GPFS_SUPER_MAGIC"),
    (0x5049_5045, "PIPEFS_MAGIC"),
    (0x5265_4973, "REISERFS_SUPER_MAGIC"),
    (0x5345_434d, "SECRETMEM_MAGIC"),
    (0x5346_414f, "AFS_SUPER_MAGIC"),
    (0x5346_544e, "NTFS_SB_MAGIC"),
    (0x534f_434b, "SOCKFS_MAGIC"),
    (0x57ac_6e9d, "STACK_END_MAGIC"),
    (0x5829_5829, "ZSMALLOC_MAGIC"),
    (0x5846_5342, "XFS_SUPER_MAGIC"),
    (0x5a3c_69f0, "AAFS_MAGIC"),
    (0x5a4f_4653, "ZONEFS_MAGIC"),
    (0x6165_676c, "PSTOREFS_MAGIC"),
    (0x6264_6576, "BDEVFS_MAGIC"),
    (0x6265_6570, "CONFIGFS_MAGIC"),
    (0x6265_6572, "SYSFS_MAGIC"),
    (0x6367_7270, "CGROUP2_SUPER_MAGIC"),
    (0x6462_6720, "DEBUGFS_MAGIC"),
    (0x6464_6178, "DAXFS_MAGIC"),
    (0x6573_5543, "FUSE_CTL_SUPER_MAGIC"),
    (0x6573_5546, "FUSE_SUPER_MAGIC"),
    (0x6819_1122, "QNX6_SUPER_MAGIC"),
    (0x6b41_4653, "AFS_FS_MAGIC"),
    (0x6c6f_6f70, "BINDERFS_SUPER_MAGIC"),
    (0x6e73_6673, "NSFS_MAGIC"),
    (0x7363_6673, "SECURITYFS_MAGIC"),
    (0x7371_7368, "SQUASHFS_MAGIC"),
    (0x7372_7279, "BTRFS_TEST_MAGIC"),
    (0x7375_7245, "CODA_SUPER_MAGIC"),
    (0x7461_636f, "OCFS2_SUPER_MAGIC"),
    (0x7472_6163, "TRACEFS_MAGIC"),
    (0x794c_7630, "OVERLAYFS_SUPER_MAGIC"),
    (0x8584_58f6, "RAMFS_MAGIC"),
    (0x9123_683e, "BTRFS_SUPER_MAGIC"),
    (0x9584_58f6, "HUGETLBFS_MAGIC"),
    (0xa501_fcf5, "VXFS_SUPER_MAGIC"),
    (0xabba_1974, "XENFS_SUPER_MAGIC"),
    (0xc97e_8168, "LOGFS_MAGIC"),
    (0xcafe_4a11, "BPF_FS_MAGIC"),
    (0xde5e_81e4, "EFIVARFS_MAGIC"),
    (0xe0f5_e1e2, "EROFS_SUPER_MAGIC_V1"),
    (0xf2f5_2010, "F2FS_SUPER_MAGIC"),
    (0xf97c_ff8c, "SELINUX_MAGIC"),
    (0xf995_e849, "HPFS_SUPER_MAGIC"),
    (0xfe53_4d42, "SMB2_SUPER_MAGIC"),
    (0xff53_4d42, "CIFS_SUPER_MAGIC"),
];

/// Appends `getrusage`'s `who` (`RUSAGE_SELF`, `RUSAGE_CHILDREN`, ...).
pub fn rusage_who(l: &mut Line, v: u64) {
    match v as i32 {
        0 => l.s("RUSAGE_SELF"),
        -1 => l.s("RUSAGE_CHILDREN"),
        -2 => l.s("RUSAGE_BOTH"),
        1 => l.s("RUSAGE_THREAD"),
        w => {
            l.xhex(u64::from(w as u32));
            l.s(" /* RUSAGE_??? */");
        }
    }
}

/// Socket option levels (and control message levels).
pub const SOL: Names = &[
    (0, "SOL_IP"),
    (1, "SOL_SOCKET"),
    (6, "SOL_TCP"),
    (17, "SOL_UDP"),
    (40, "AF_VSOCK"),
    (41, "SOL_IPV6"),
    (58, "SOL_ICMPV6"),
    (100, "SOL_CAN_BASE"),
    (101, "SOL_CAN_RAW"),
    (132, "SOL_SCTP"),
    (136, "SOL_UDPLITE"),
    (255, "SOL_RAW"),
    (256, "SOL_IPX"),
    (257, "SOL_AX25"),
    (258, "SOL_ATALK"),
    (259, "SOL_NETROM"),
    (260, "SOL_ROSE"),
    (261, "SOL_DECNET"),
    (262, "SOL_X25"),
    (263, "SOL_PACKET"),
    (264, "SOL_ATM"),
    (265, "SOL_AAL"),
    (266, "SOL_IRDA"),
    (267, "SOL_NETBEUI"),
    (268, "SOL_LLC"),
    (269, "SOL_DCCP"),
    (270, "SOL_NETLINK"),
    (271, "SOL_TIPC"),
    (272, "SOL_RXRPC"),
    (273, "SOL_PPPOL2TP"),
    (274, "SOL_BLUETOOTH"),
    (275, "SOL_PNPIPE"),
    (276, "SOL_RDS"),
    (277, "SOL_IUCV"),
    (278, "SOL_CAIF"),
    (279, "SOL_ALG"),
    (280, "SOL_NFC"),
    (281, "SOL_KCM"),
    (282, "SOL_TLS"),
    (283, "SOL_XDP"),
];

/// `SOL_SOCKET` options.
pub const SO: Names = &[
    (1, "SO_DEBUG"),
    (2, "SO_REUSEADDR"),
    (3, "SO_TYPE"),
    (4, "SO_ERROR"),
    (5, "SO_DONTROUTE"),
    (6, "SO_BROADCAST"),
    (7, "SO_SNDBUF"),
    (8, "SO_RCVBUF"),
    (9, "SO_KEEPALIVE"),
    (10, "SO_OOBINLINE"),
    (11, "SO_NO_CHECK"),
    (12, "SO_PRIORITY"),
    (13, "SO_LINGER"),
    (14, "SO_BSDCOMPAT"),
    (15, "SO_REUSEPORT"),
    (16, "SO_PASSCRED"),
    (17, "SO_PEERCRED"),
    (18, "SO_RCVLOWAT"),
    (19, "SO_SNDLOWAT"),
    (20, "SO_RCVTIMEO_OLD"),
    (21, "SO_SNDTIMEO_OLD"),
    (22, "SO_SECURITY_AUTHENTICATION"),
    (23, "SO_SECURITY_ENCRYPTION_TRANSPORT"),
    (24, "SO_SECURITY_ENCRYPTION_NETWORK"),
    (25, "SO_BINDTODEVICE"),
    (26, "SO_ATTACH_FILTER"),
    (27, "SO_DETACH_FILTER"),
    (28, "SO_PEERNAME"),
    (29, "SO_TIMESTAMP_OLD"),
    (30, "SO_ACCEPTCONN"),
    (31, "SO_PEERSEC"),
    (32, "SO_SNDBUFFORCE"),
    (33, "SO_RCVBUFFORCE"),
    (34, "SO_PASSSEC"),
    (35, "SO_TIMESTAMPNS_OLD"),
    (36, "SO_MARK"),
    (37, "SO_TIMESTAMPING_OLD"),
    (38, "SO_PROTOCOL"),
    (39, "SO_DOMAIN"),
    (40, "SO_RXQ_OVFL"),
    (41, "SO_WIFI_STATUS"),
    (42, "SO_PEEK_OFF"),
    (43, "SO_NOFCS"),
    (44, "SO_LOCK_FILTER"),
    (45, "SO_SELECT_ERR_QUEUE"),
    (46, "SO_BUSY_POLL"),
    (47, "SO_MAX_PACING_RATE"),
    (48, "SO_BPF_EXTENSIONS"),
    (49, "SO_INCOMING_CPU"),
    (50, "SO_ATTACH_BPF"),
    (51, "SO_ATTACH_REUSEPORT_CBPF"),
    (52, "SO_ATTACH_REUSEPORT_EBPF"),
    (53, "SO_CNX_ADVICE"),
    (55, "SO_MEMINFO"),
    (56, "SO_INCOMING_NAPI_ID"),
    (57, "SO_COOKIE"),
    (59, "SO_PEERGROUPS"),
    (60, "SO_ZEROCOPY"),
    (61, "SO_TXTIME"),
    (62, "SO_BINDTOIFINDEX"),
    (63, "SO_TIMESTAMP_NEW"),
    (64, "SO_TIMESTAMPNS_NEW"),
    (65, "SO_TIMESTAMPING_NEW"),
    (66, "SO_RCVTIMEO_NEW"),
    (67, "SO_SNDTIMEO_NEW"),
    (68, "SO_DETACH_REUSEPORT_BPF"),
    (69, "SO_PREFER_BUSY_POLL"),
    (70, "SO_BUSY_POLL_BUDGET"),
    (71, "SO_NETNS_COOKIE"),
    (72, "SO_BUF_LOCK"),
    (73, "SO_RESERVE_MEM"),
    (74, "SO_TXREHASH"),
    (75, "SO_RCVMARK"),
];

/// The `SOL_SOCKET` options whose value `setsockopt` shows as an `int` (`[1]`), or as its
/// address when shorter than one.
pub const SO_INT: &[u32] = &[
    1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 19, 27, 29, 30, 32, 33, 34, 35, 36, 37, 40,
    41, 42, 43, 44, 45, 46, 49, 53, 56, 60, 63, 64, 65, 68, 69, 70, 73, 74, 75,
];

/// `SOL_IP` options.
pub const IP: Names = &[
    (1, "IP_TOS"),
    (2, "IP_TTL"),
    (3, "IP_HDRINCL"),
    (4, "IP_OPTIONS"),
    (5, "IP_ROUTER_ALERT"),
    (6, "IP_RECVOPTS"),
    (7, "IP_RETOPTS"),
    (8, "IP_PKTINFO"),
    (9, "IP_PKTOPTIONS"),
    (10, "IP_MTU_DISCOVER"),
    (11, "IP_RECVERR"),
    (12, "IP_RECVTTL"),
    (13, "IP_RECVTOS"),
    (14, "IP_MTU"),
    (15, "IP_FREEBIND"),
    (16, "IP_IPSEC_POLICY"),
    (17, "IP_XFRM_POLICY"),
    (18, "IP_PASSSEC"),
    (19, "IP_TRANSPARENT"),
    (20, "IP_ORIGDSTADDR"),
    (21, "IP_MINTTL"),
    (22, "IP_NODEFRAG"),
    (23, "IP_CHECKSUM"),
    (24, "IP_BIND_ADDRESS_NO_PORT"),
    (25, "IP_RECVFRAGSIZE"),
    (26, "IP_RECVERR_RFC4884"),
    (32, "IP_MULTICAST_IF"),
    (33, "IP_MULTICAST_TTL"),
    (34, "IP_MULTICAST_LOOP"),
    (35, "IP_ADD_MEMBERSHIP"),
    (36, "IP_DROP_MEMBERSHIP"),
    (37, "IP_UNBLOCK_SOURCE"),
    (38, "IP_BLOCK_SOURCE"),
    (39, "IP_ADD_SOURCE_MEMBERSHIP"),
    (40, "IP_DROP_SOURCE_MEMBERSHIP"),
    (41, "IP_MSFILTER"),
    (42, "MCAST_JOIN_GROUP"),
    (43, "MCAST_BLOCK_SOURCE"),
    (44, "MCAST_UNBLOCK_SOURCE"),
    (45, "MCAST_LEAVE_GROUP"),
    (46, "MCAST_JOIN_SOURCE_GROUP"),
    (47, "MCAST_LEAVE_SOURCE_GROUP"),
    (48, "MCAST_MSFILTER"),
    (49, "IP_MULTICAST_ALL"),
    (50, "IP_UNICAST_IF"),
    (64, "IPT_SO_SET_REPLACE"),
    (65, "IPT_SO_SET_ADD_COUNTERS"),
    (96, "ARPT_SO_SET_REPLACE"),
    (97, "ARPT_SO_SET_ADD_COUNTERS"),
];

/// `SOL_TCP` options.
pub const TCP: Names = &[
    (1, "TCP_NODELAY"),
    (2, "TCP_MAXSEG"),
    (3, "TCP_CORK"),
    (4, "TCP_KEEPIDLE"),
    (5, "TCP_KEEPINTVL"),
    (6, "TCP_KEEPCNT"),
    (7, "TCP_SYNCNT"),
    (8, "TCP_LINGER2"),
    (9, "TCP_DEFER_ACCEPT"),
    (10, "TCP_WINDOW_CLAMP"),
    (11, "TCP_INFO"),
    (12, "TCP_QUICKACK"),
    (13, "TCP_CONGESTION"),
    (14, "TCP_MD5SIG"),
    (15, "TCP_COOKIE_TRANSACTIONS"),
    (16, "TCP_THIN_LINEAR_TIMEOUTS"),
    (17, "TCP_THIN_DUPACK"),
    (18, "TCP_USER_TIMEOUT"),
    (19, "TCP_REPAIR"),
    (20, "TCP_REPAIR_QUEUE"),
    (21, "TCP_QUEUE_SEQ"),
    (22, "TCP_REPAIR_OPTIONS"),
    (23, "TCP_FASTOPEN"),
    (24, "TCP_TIMESTAMP"),
    (25, "TCP_NOTSENT_LOWAT"),
    (26, "TCP_CC_INFO"),
    (27, "TCP_SAVE_SYN"),
    (28, "TCP_SAVED_SYN"),
    (29, "TCP_REPAIR_WINDOW"),
    (30, "TCP_FASTOPEN_CONNECT"),
    (31, "TCP_ULP"),
    (32, "TCP_MD5SIG_EXT"),
    (33, "TCP_FASTOPEN_KEY"),
    (34, "TCP_FASTOPEN_NO_COOKIE"),
    (35, "TCP_ZEROCOPY_RECEIVE"),
    (36, "TCP_INQ"),
    (37, "TCP_TX_DELAY"),
];

/// `SOL_UDP` options.
pub const UDP: Names = &[
    (1, "UDP_CORK"),
    (100, "UDP_ENCAP"),
    (101, "UDP_NO_CHECK6_TX"),
    (102, "UDP_NO_CHECK6_RX"),
    (103, "UDP_SEGMENT"),
    (104, "UDP_GRO"),
];

/// `SOL_IPV6` options.
pub const IPV6: Names = &[
    (1, "IPV6_ADDRFORM"),
    (2, "IPV6_2292PKTINFO"),
    (3, "IPV6_2292HOPOPTS"),
    (4, "IPV6_2292DSTOPTS"),
    (5, "IPV6_2292RTHDR"),
    (6, "IPV6_2292PKTOPTIONS"),
    (7, "IPV6_CHECKSUM"),
    (8, "IPV6_2292HOPLIMIT"),
    (9, "IPV6_NEXTHOP"),
    (10, "IPV6_AUTHHDR"),
    (11, "IPV6_FLOWINFO"),
    (16, "IPV6_UNICAST_HOPS"),
    (17, "IPV6_MULTICAST_IF"),
    (18, "IPV6_MULTICAST_HOPS"),
    (19, "IPV6_MULTICAST_LOOP"),
    (20, "IPV6_ADD_MEMBERSHIP"),
    (21, "IPV6_DROP_MEMBERSHIP"),
    (22, "IPV6_ROUTER_ALERT"),
    (23, "IPV6_MTU_DISCOVER"),
    (24, "IPV6_MTU"),
    (25, "IPV6_RECVERR"),
    (26, "IPV6_V6ONLY"),
    (27, "IPV6_JOIN_ANYCAST"),
    (28, "IPV6_LEAVE_ANYCAST"),
    (29, "IPV6_MULTICAST_ALL"),
    (30, "IPV6_ROUTER_ALERT_ISOLATE"),
    (31, "IPV6_RECVERR_RFC4884"),
    (32, "IPV6_FLOWLABEL_MGR"),
    (33, "IPV6_FLOWINFO_SEND"),
    (34, "IPV6_IPSEC_POLICY"),
    (35, "IPV6_XFRM_POLICY"),
    (36, "IPV6_HDRINCL"),
    (42, "MCAST_JOIN_GROUP"),
    (43, "MCAST_BLOCK_SOURCE"),
    (44, "MCAST_UNBLOCK_SOURCE"),
    (45, "MCAST_LEAVE_GROUP"),
    (46, "MCAST_JOIN_SOURCE_GROUP"),
    (47, "MCAST_LEAVE_SOURCE_GROUP"),
    (48, "MCAST_MSFILTER"),
    (49, "IPV6_RECVPKTINFO"),
    (50, "IPV6_PKTINFO"),
    (51, "IPV6_RECVHOPLIMIT"),
    (52, "IPV6_HOPLIMIT"),
    (53, "IPV6_RECVHOPOPTS"),
    (54, "IPV6_HOPOPTS"),
    (55, "IPV6_RTHDRDSTOPTS"),
    (56, "IPV6_RECVRTHDR"),
    (57, "IPV6_RTHDR"),
    (58, "IPV6_RECVDSTOPTS"),
    (59, "IPV6_DSTOPTS"),
    (60, "IPV6_RECVPATHMTU"),
    (61, "IPV6_PATHMTU"),
    (62, "IPV6_DONTFRAG"),
    (63, "IPV6_USE_MIN_MTU"),
    (64, "IP6T_SO_SET_REPLACE"),
    (65, "IP6T_SO_SET_ADD_COUNTERS"),
    (66, "IPV6_RECVTCLASS"),
    (67, "IPV6_TCLASS"),
    (70, "IPV6_AUTOFLOWLABEL"),
    (72, "IPV6_ADDR_PREFERENCES"),
    (73, "IPV6_MINHOPCOUNT"),
    (74, "IPV6_ORIGDSTADDR"),
    (75, "IPV6_TRANSPARENT"),
    (76, "IPV6_UNICAST_IF"),
    (77, "IPV6_RECVFRAGSIZE"),
    (78, "IPV6_FREEBIND"),
];

/// `SOL_PACKET` options.
pub const PACKET: Names = &[
    (1, "PACKET_ADD_MEMBERSHIP"),
    (2, "PACKET_DROP_MEMBERSHIP"),
    (3, "PACKET_RECV_OUTPUT"),
    (5, "PACKET_RX_RING"),
    (6, "PACKET_STATISTICS"),
    (7, "PACKET_COPY_THRESH"),
    (8, "PACKET_AUXDATA"),
    (9, "PACKET_ORIGDEV"),
    (10, "PACKET_VERSION"),
    (11, "PACKET_HDRLEN"),
    (12, "PACKET_RESERVE"),
    (13, "PACKET_TX_RING"),
    (14, "PACKET_LOSS"),
    (15, "PACKET_VNET_HDR"),
    (16, "PACKET_TX_TIMESTAMP"),
    (17, "PACKET_TIMESTAMP"),
    (18, "PACKET_FANOUT"),
    (19, "PACKET_TX_HAS_OFF"),
    (20, "PACKET_QDISC_BYPASS"),
    (21, "PACKET_ROLLOVER_STATS"),
    (22, "PACKET_FANOUT_DATA"),
    (23, "PACKET_IGNORE_OUTGOING"),
];

/// `SOL_NETLINK` options.
pub const NETLINK_OPT: Names = &[
    (1, "NETLINK_ADD_MEMBERSHIP"),
    (2, "NETLINK_DROP_MEMBERSHIP"),
    (3, "NETLINK_PKTINFO"),
    (4, "NETLINK_BROADCAST_ERROR"),
    (5, "NETLINK_NO_ENOBUFS"),
    (6, "NETLINK_RX_RING"),
    (7, "NETLINK_TX_RING"),
    (8, "NETLINK_LISTEN_ALL_NSID"),
    (9, "NETLINK_LIST_MEMBERSHIPS"),
    (10, "NETLINK_CAP_ACK"),
    (11, "NETLINK_EXT_ACK"),
    (12, "NETLINK_GET_STRICT_CHK"),
];

/// `SOL_RAW` options.
pub const RAW: Names = &[(1, "ICMP_FILTER")];

/// The option names of a socket option level, and the prefix of its unknown ones.
fn sockopt_names(level: u32) -> Option<(Names, &'static str)> {
    Some(match level {
        0 => (IP, "IP_???"),
        1 => (SO, "SO_???"),
        6 => (TCP, "TCP_???"),
        17 => (UDP, "UDP_???"),
        41 => (IPV6, "IPV6_???"),
        255 => (RAW, "RAW_???"),
        263 => (PACKET, "PACKET_???"),
        270 => (NETLINK_OPT, "NETLINK_???"),
        _ => return None,
    })
}

/// Appends a socket option level (`SOL_SOCKET`, `SOL_TCP`, `0x4d /* SOL_?? */`).
pub fn sockopt_level(l: &mut Line, level: u32) {
    value(l, u64::from(level), SOL, "SOL_??");
}

/// Appends a socket option's name (`SO_REUSEADDR`, `0x3e7 /* TCP_??? */`; a number for the
/// levels without names here).
pub fn sockopt_name(l: &mut Line, level: u32, name: u32) {
    match sockopt_names(level) {
        Some((names, unknown)) => value(l, u64::from(name), names, unknown),
        None => l.uint(u64::from(name)),
    }
}

/// `SOL_SOCKET` control message types.
pub const SCM: Names = &[
    (1, "SCM_RIGHTS"),
    (2, "SCM_CREDENTIALS"),
    (3, "SCM_SECURITY"),
    (29, "SO_TIMESTAMP_OLD"),
    (35, "SO_TIMESTAMPNS_OLD"),
    (37, "SO_TIMESTAMPING_OLD"),
    (41, "SO_WIFI_STATUS"),
    (54, "SCM_TIMESTAMPING_OPT_STATS"),
    (58, "SCM_TIMESTAMPING_PKTINFO"),
    (61, "SO_TXTIME"),
    (63, "SO_TIMESTAMP_NEW"),
    (64, "SO_TIMESTAMPNS_NEW"),
    (65, "SO_TIMESTAMPING_NEW"),
];

/// `SOL_IP` control message types.
pub const IP_CMSG: Names = &[
    (1, "IP_TOS"),
    (2, "IP_TTL"),
    (3, "SCM_SECURITY"),
    (6, "IP_RECVOPTS"),
    (7, "IP_RETOPTS"),
    (8, "IP_PKTINFO"),
    (11, "IP_RECVERR"),
    (20, "IP_ORIGDSTADDR"),
    (23, "IP_CHECKSUM"),
];

/// Appends a control message's level (`SOL_SOCKET`, `0x63 /* SOL_??? */`).
pub fn cmsg_level(l: &mut Line, level: u32) {
    value(l, u64::from(level), SOL, "SOL_???");
}

/// Appends a control message's type (`SCM_RIGHTS`, `IP_TTL`, or in hexadecimal).
pub fn cmsg_type(l: &mut Line, level: u32, ty: u32) {
    match level {
        1 => value(l, u64::from(ty), SCM, "SCM_???"),
        0 => value(l, u64::from(ty), IP_CMSG, "IP_???"),
        _ => l.xhex(u64::from(ty)),
    }
}

/// `errno` names and glibc's (English) descriptions, 0 to 133, as strace prints them.
const ERRNO: [(&str, &str); 134] = [
    ("", "Success"),
    ("EPERM", "Operation not permitted"),
    ("ENOENT", "No such file or directory"),
    ("ESRCH", "No such process"),
    ("EINTR", "Interrupted system call"),
    ("EIO", "Input/output error"),
    ("ENXIO", "No such device or address"),
    ("E2BIG", "Argument list too long"),
    ("ENOEXEC", "Exec format error"),
    ("EBADF", "Bad file descriptor"),
    ("ECHILD", "No child processes"),
    ("EAGAIN", "Resource temporarily unavailable"),
    ("ENOMEM", "Cannot allocate memory"),
    ("EACCES", "Permission denied"),
    ("EFAULT", "Bad address"),
    ("ENOTBLK", "Block device required"),
    ("EBUSY", "Device or resource busy"),
    ("EEXIST", "File exists"),
    ("EXDEV", "Invalid cross-device link"),
    ("ENODEV", "No such device"),
    ("ENOTDIR", "Not a directory"),
    ("EISDIR", "Is a directory"),
    ("EINVAL", "Invalid argument"),
    ("ENFILE", "Too many open files in system"),
    ("EMFILE", "Too many open files"),
    ("ENOTTY", "Inappropriate ioctl for device"),
    ("ETXTBSY", "Text file busy"),
    ("EFBIG", "File too large"),
    ("ENOSPC", "No space left on device"),
    ("ESPIPE", "Illegal seek"),
    ("EROFS", "Read-only file system"),
    ("EMLINK", "Too many links"),
    ("EPIPE", "Broken pipe"),
    ("EDOM", "Numerical argument out of domain"),
    ("ERANGE", "Numerical result out of range"),
    ("EDEADLK", "Resource deadlock avoided"),
    ("ENAMETOOLONG", "File name too long"),
    ("ENOLCK", "No locks available"),
    ("ENOSYS", "Function not implemented"),
    ("ENOTEMPTY", "Directory not empty"),
    ("ELOOP", "Too many levels of symbolic links"),
    ("", "Unknown error 41"),
    ("ENOMSG", "No message of desired type"),
    ("EIDRM", "Identifier removed"),
    ("ECHRNG", "Channel number out of range"),
    ("EL2NSYNC", "Level 2 not synchronized"),
    ("EL3HLT", "Level 3 halted"),
    ("EL3RST", "Level 3 reset"),
    ("ELNRNG", "Link number out of range"),
    ("EUNATCH", "Protocol driver not attached"),
    ("ENOCSI", "No CSI structure available"),
    ("EL2HLT", "Level 2 halted"),
    ("EBADE", "Invalid exchange"),
    ("EBADR", "Invalid request descriptor"),
    ("EXFULL", "Exchange full"),
    ("ENOANO", "No anode"),
    ("EBADRQC", "Invalid request code"),
    ("EBADSLT", "Invalid slot"),
    ("", "Unknown error 58"),
    ("EBFONT", "Bad font file format"),
    ("ENOSTR", "Device not a stream"),
    ("ENODATA", "No data available"),
    ("ETIME", "Timer expired"),
    ("ENOSR", "Out of streams resources"),
    ("ENONET", "Machine is not on the network"),
    ("ENOPKG", "Package not installed"),
    ("EREMOTE", "Object is remote"),
    ("ENOLINK", "Link has been severed"),
    ("EADV", "Advertise error"),
    ("ESRMNT", "Srmount error"),
    ("ECOMM", "Communication error on send"),
    ("EPROTO", "Protocol error"),
    ("EMULTIHOP", "Multihop attempted"),
    ("EDOTDOT", "RFS specific error"),
    ("EBADMSG", "Bad message"),
    ("EOVERFLOW", "Value too large for defined data type"),
    ("ENOTUNIQ", "Name not unique on network"),
    ("EBADFD", "File descriptor in bad state"),
    ("EREMCHG", "Remote address changed"),
    ("ELIBACC", "Can not access a needed shared library"),
    ("ELIBBAD", "Accessing a corrupted shared library"),
    ("ELIBSCN", ".lib section in a.out corrupted"),
    ("ELIBMAX", "Attempting to link in too many shared libraries"),
    ("ELIBEXEC", "Cannot exec a shared library directly"),
    (
        "EILSEQ",
        "Invalid or incomplete multibyte or wide character",
    ),
    ("ERESTART", "Interrupted system call should be restarted"),
    ("ESTRPIPE", "Streams pipe error"),
    ("EUSERS", "Too many users"),
    ("ENOTSOCK", "Socket operation on non-socket"),
    ("EDESTADDRREQ", "Destination address required"),
    ("EMSGSIZE", "Message too long"),
    ("EPROTOTYPE", "Protocol wrong type for socket"),
    ("ENOPROTOOPT", "Protocol not available"),
    ("EPROTONOSUPPORT", "Protocol not supported"),
    ("ESOCKTNOSUPPORT", "Socket type not supported"),
    ("EOPNOTSUPP", "Operation not supported"),
    ("EPFNOSUPPORT", "Protocol family not supported"),
    ("EAFNOSUPPORT", "Address family not supported by protocol"),
    ("EADDRINUSE", "Address already in use"),
    ("EADDRNOTAVAIL", "Cannot assign requested address"),
    ("ENETDOWN", "Network is down"),
    ("ENETUNREACH", "Network is unreachable"),
    ("ENETRESET", "Network dropped connection on reset"),
    ("ECONNABORTED", "Software caused connection abort"),
    ("ECONNRESET", "Connection reset by peer"),
    ("ENOBUFS", "No buffer space available"),
    ("EISCONN", "Transport endpoint is already connected"),
    ("ENOTCONN", "Transport endpoint is not connected"),
    ("ESHUTDOWN", "Cannot send after transport endpoint shutdown"),
    ("ETOOMANYREFS", "Too many references: cannot splice"),
    ("ETIMEDOUT", "Connection timed out"),
    ("ECONNREFUSED", "Connection refused"),
    ("EHOSTDOWN", "Host is down"),
    ("EHOSTUNREACH", "No route to host"),
    ("EALREADY", "Operation already in progress"),
    ("EINPROGRESS", "Operation now in progress"),
    ("ESTALE", "Stale file handle"),
    ("EUCLEAN", "Structure needs cleaning"),
    ("ENOTNAM", "Not a XENIX named type file"),
    ("ENAVAIL", "No XENIX semaphores available"),
    ("EISNAM", "Is a named type file"),
    ("EREMOTEIO", "Remote I/O error"),
    ("EDQUOT", "Disk quota exceeded"),
    ("ENOMEDIUM", "No medium found"),
    ("EMEDIUMTYPE", "Wrong medium type"),
    ("ECANCELED", "Operation canceled"),
    ("ENOKEY", "Required key not available"),
    ("EKEYEXPIRED", "Key has expired"),
    ("EKEYREVOKED", "Key has been revoked"),
    ("EKEYREJECTED", "Key was rejected by service"),
    ("EOWNERDEAD", "Owner died"),
    ("ENOTRECOVERABLE", "State not recoverable"),
    ("ERFKILL", "Operation not possible due to RF-kill"),
    ("EHWPOISON", "Memory page has hardware error"),
];

/// The name of error `errno` (`ENOENT`), for the errors strace names.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    usize::try_from(errno)
        .ok()
        .and_then(|n| ERRNO.get(n))
        .map(|&(name, _)| name)
        .filter(|name| !name.is_empty())
}

/// Appends an error result: `-1 ENOENT (No such file or directory)`.
pub fn error(l: &mut Line, errno: i64) {
    l.s("-1 ");
    match usize::try_from(errno).ok().and_then(|n| ERRNO.get(n)) {
        Some(&(name, desc)) if !name.is_empty() => {
            l.s(name);
            l.s(" (");
            l.s(desc);
            l.s(")");
        }
        _ => {
            // The kernel's own codes (ERESTARTSYS...), named by the syscalls crate.
            match hook_sdk::Errno::new(errno as i32).name() {
                Some(n) => l.s(n),
                None => {
                    l.s("ERRNO_");
                    l.int(errno);
                }
            }
            l.s(" (Unknown error ");
            l.int(errno);
            l.s(")");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::line::text;

    #[test]
    fn open_flags_in_strace_order() {
        assert_eq!(
            text(|l| open_flags(l, 0o2204000)),
            "O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY"
        );
        assert_eq!(
            text(|l| open_flags(l, 0o22200002 | 0o200)),
            "O_RDWR|O_EXCL|O_CLOEXEC|O_TMPFILE"
        );
        assert_eq!(text(|l| open_flags(l, 3)), "O_ACCMODE");
        assert_eq!(text(|l| open_flags(l, 0o4010000)), "O_RDONLY|O_SYNC");
        assert!(open_has_mode(0o20200000));
        assert!(!open_has_mode(0o200000));
    }

    #[test]
    fn signal_sets() {
        assert_eq!(text(|l| sigset(l, 0)), "[]");
        assert_eq!(text(|l| sigset(l, !0)), "~[]");
        assert_eq!(text(|l| sigset(l, !(3u64 << 31))), "~[RTMIN RT_1]");
        assert_eq!(
            text(|l| sigset(l, (1 << 1) | (1 << 14) | (1 << 33))),
            "[INT TERM RT_2]"
        );
        assert_eq!(text(|l| signal(l, 40)), "SIGRT_8");
        assert_eq!(text(|l| signal(l, 32)), "SIGRTMIN");
        assert_eq!(text(|l| signal(l, 65)), "65");
    }

    #[test]
    fn unknown_values() {
        assert_eq!(
            text(|l| value(l, 9, SEEK, "SEEK_???")),
            "0x9 /* SEEK_??? */"
        );
        assert_eq!(text(|l| access_mode(l, 8)), "0x8 /* ?_OK */");
        assert_eq!(text(|l| access_mode(l, 6)), "R_OK|W_OK");
        assert_eq!(
            text(|l| {
                ioctl_request(l, 0x8004_5499);
            }),
            "_IOC(_IOC_READ, 0x54, 0x99, 0x4)"
        );
        assert_eq!(
            text(|l| {
                ioctl_request(l, 0x1234);
            }),
            "_IOC(_IOC_NONE, 0x12, 0x34, 0)"
        );
        assert_eq!(
            text(|l| statx_mask(l, 0x7fff)),
            "STATX_ALL|STATX_MNT_ID|STATX_DIOALIGN|0x4000"
        );
        assert_eq!(
            text(|l| statx_mask(l, 0x17ff)),
            "STATX_BASIC_STATS|STATX_MNT_ID"
        );
        assert_eq!(
            text(|l| statx_flags(l, 0x900)),
            "AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW|AT_NO_AUTOMOUNT"
        );
        assert_eq!(
            text(|l| sock_type(l, 0o2004001)),
            "SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK"
        );
    }
}
