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

/// Appends the name of `v`, or `0x.. /* unknown */` (`unknown` like `SEEK_???`).
pub fn value(l: &mut Line, v: u64, names: Names, unknown: &str) {
    match name_of(v, names) {
        Some(n) => l.s(n),
        None => {
            l.hex(v);
            l.s(" /* ");
            l.s(unknown);
            l.s(" */");
        }
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

/// Signal names, 1 to 31.
const SIGNALS: [&str; 32] = [
    "",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// Appends a signal: `SIGINT`, `SIGRTMIN`, `SIGRT_5` (strace counts real-time signals from the
/// kernel's first, 32), or the number.
pub fn signal(l: &mut Line, sig: i64) {
    match sig {
        1..=31 => l.s(SIGNALS[sig as usize]),
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
        1..=31 => l.s(&SIGNALS[sig as usize][3..]),
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

    fn text(f: impl FnOnce(&mut Line)) -> String {
        let mut l = Line::default();
        f(&mut l);
        String::from_utf8(l.bytes().to_vec()).unwrap()
    }

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
