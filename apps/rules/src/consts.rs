//! Symbolic constants usable in rule expressions (`flags & O_CREAT`, `signal == SIGKILL`,
//! `ret == -ENOENT`, ...).
//!
//! Values are those of the x86-64 Linux kernel ABI, since rules look at raw system-call
//! arguments. They come from `libc` except where glibc's user-space value differs from what
//! the kernel sees (`O_LARGEFILE`, which glibc defines as 0 on 64-bit targets) or where `libc`
//! only offers a function (`SIGRTMIN`, `SIGRTMAX`).

use hook_sdk::libc;

/// Builds the `(name, value)` table from `libc` constants of any integer type.
macro_rules! table {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), libc::$name as i64)),*]
    };
}

/// Open flags (`open`, `openat`, `openat2`) with their kernel values on x86-64.
const OPEN_FLAGS: &[(&str, i64)] = table![
    O_RDONLY,
    O_WRONLY,
    O_RDWR,
    O_ACCMODE,
    O_CREAT,
    O_EXCL,
    O_NOCTTY,
    O_TRUNC,
    O_APPEND,
    O_NONBLOCK,
    O_DSYNC,
    O_SYNC,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_CLOEXEC,
    O_PATH,
    O_TMPFILE,
    O_DIRECT,
    O_NOATIME,
];

/// Constants whose kernel value `libc` does not provide as a plain constant.
const KERNEL_ONLY: &[(&str, i64)] = &[
    // glibc defines O_LARGEFILE as 0 on x86-64; the kernel's bit is 0o100000.
    ("O_LARGEFILE", 0o100000),
    // `libc::SIGRTMIN()` is a function returning glibc's adjusted value; the kernel's is 32,
    // glibc reserves two, and rules conventionally use 34.
    ("SIGRTMIN", 34),
    ("SIGRTMAX", 64),
];

/// `*at` system-call constants.
const AT: &[(&str, i64)] = table![
    AT_FDCWD,
    AT_REMOVEDIR,
    AT_SYMLINK_NOFOLLOW,
    AT_EMPTY_PATH,
    AT_SYMLINK_FOLLOW,
];

/// `mmap`/`mprotect` protections and flags.
const MMAP: &[(&str, i64)] = table![
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    PROT_EXEC,
    MAP_SHARED,
    MAP_PRIVATE,
    MAP_FIXED,
    MAP_ANONYMOUS,
    MAP_FIXED_NOREPLACE,
    MAP_STACK,
    MAP_NORESERVE,
    MAP_POPULATE,
];

/// Signal numbers.
const SIGNALS: &[(&str, i64)] = table![
    SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGIOT, SIGBUS, SIGFPE, SIGKILL, SIGUSR1,
    SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP,
    SIGTTIN, SIGTTOU, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGIO, SIGPOLL,
    SIGPWR, SIGSYS,
];

/// Error numbers (positive; a failed call returns `-errno`, so write `ret == -ENOENT`).
const ERRNOS: &[(&str, i64)] = table![
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    ENXIO,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    ENOTBLK,
    EBUSY,
    EEXIST,
    EXDEV,
    ENODEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    ENFILE,
    EMFILE,
    ENOTTY,
    ETXTBSY,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EROFS,
    EMLINK,
    EPIPE,
    EDOM,
    ERANGE,
    EDEADLK,
    ENAMETOOLONG,
    ENOLCK,
    ENOSYS,
    ENOTEMPTY,
    ELOOP,
    EWOULDBLOCK,
    ENOMSG,
    EIDRM,
    ECHRNG,
    EL2NSYNC,
    EL3HLT,
    EL3RST,
    ELNRNG,
    EUNATCH,
    ENOCSI,
    EL2HLT,
    EBADE,
    EBADR,
    EXFULL,
    ENOANO,
    EBADRQC,
    EBADSLT,
    EDEADLOCK,
    EBFONT,
    ENOSTR,
    ENODATA,
    ETIME,
    ENOSR,
    ENONET,
    ENOPKG,
    EREMOTE,
    ENOLINK,
    EADV,
    ESRMNT,
    ECOMM,
    EPROTO,
    EMULTIHOP,
    EDOTDOT,
    EBADMSG,
    EOVERFLOW,
    ENOTUNIQ,
    EBADFD,
    EREMCHG,
    ELIBACC,
    ELIBBAD,
    ELIBSCN,
    ELIBMAX,
    ELIBEXEC,
    EILSEQ,
    ERESTART,
    ESTRPIPE,
    EUSERS,
    ENOTSOCK,
    EDESTADDRREQ,
    EMSGSIZE,
    EPROTOTYPE,
    ENOPROTOOPT,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    EOPNOTSUPP,
    ENOTSUP,
    EPFNOSUPPORT,
    EAFNOSUPPORT,
    EADDRINUSE,
    EADDRNOTAVAIL,
    ENETDOWN,
    ENETUNREACH,
    ENETRESET,
    ECONNABORTED,
    ECONNRESET,
    ENOBUFS,
    EISCONN,
    ENOTCONN,
    ESHUTDOWN,
    ETOOMANYREFS,
    ETIMEDOUT,
    ECONNREFUSED,
    EHOSTDOWN,
    EHOSTUNREACH,
    EALREADY,
    EINPROGRESS,
    ESTALE,
    EUCLEAN,
    ENOTNAM,
    ENAVAIL,
    EISNAM,
    EREMOTEIO,
    EDQUOT,
    ENOMEDIUM,
    EMEDIUMTYPE,
    ECANCELED,
    ENOKEY,
    EKEYEXPIRED,
    EKEYREVOKED,
    EKEYREJECTED,
    EOWNERDEAD,
    ENOTRECOVERABLE,
    ERFKILL,
    EHWPOISON,
];

/// Socket domains and types.
const SOCKETS: &[(&str, i64)] = table![
    AF_UNIX,
    AF_LOCAL,
    AF_INET,
    AF_INET6,
    AF_NETLINK,
    AF_PACKET,
    SOCK_STREAM,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_SEQPACKET,
    SOCK_NONBLOCK,
    SOCK_CLOEXEC,
];

/// `clone`/`clone3` flags.
const CLONE: &[(&str, i64)] = table![
    CLONE_VM,
    CLONE_FS,
    CLONE_FILES,
    CLONE_SIGHAND,
    CLONE_VFORK,
    CLONE_PARENT,
    CLONE_THREAD,
    CLONE_NEWNS,
    CLONE_SYSVSEM,
    CLONE_SETTLS,
    CLONE_PARENT_SETTID,
    CLONE_CHILD_CLEARTID,
    CLONE_CHILD_SETTID,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_PIDFD,
];

/// `access` modes, file types and mode bits, `lseek` origins.
const FILES: &[(&str, i64)] = table![
    R_OK, W_OK, X_OK, F_OK, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
    S_ISUID, S_ISGID, SEEK_SET, SEEK_CUR, SEEK_END,
];

/// Every group of constants, in the order [`constant_names`] lists them.
const GROUPS: &[&[(&str, i64)]] = &[
    OPEN_FLAGS,
    KERNEL_ONLY,
    AT,
    MMAP,
    SIGNALS,
    ERRNOS,
    SOCKETS,
    CLONE,
    FILES,
];

/// Iterates over every `(name, value)` pair.
fn entries() -> impl Iterator<Item = &'static (&'static str, i64)> {
    GROUPS.iter().flat_map(|group| group.iter())
}

/// The value of the symbolic constant `name` (case-sensitive), or `None` if there is none.
///
/// ```
/// use zphook_rules::consts::constant;
/// assert_eq!(constant("O_CREAT"), Some(0o100));
/// assert_eq!(constant("SIGKILL"), Some(9));
/// assert_eq!(constant("AT_FDCWD"), Some(-100));
/// assert_eq!(constant("o_creat"), None);
/// ```
pub fn constant(name: &str) -> Option<i64> {
    entries().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The names of every constant [`constant`] knows, grouped by topic (open flags first), for
/// hints in error messages.
pub fn constant_names() -> impl Iterator<Item = &'static str> {
    entries().map(|&(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn open_flags_have_kernel_values() {
        assert_eq!(constant("O_RDONLY"), Some(0));
        assert_eq!(constant("O_WRONLY"), Some(1));
        assert_eq!(constant("O_RDWR"), Some(2));
        assert_eq!(constant("O_ACCMODE"), Some(3));
        assert_eq!(constant("O_CREAT"), Some(0o100));
        assert_eq!(constant("O_EXCL"), Some(0o200));
        assert_eq!(constant("O_TRUNC"), Some(0o1000));
        assert_eq!(constant("O_APPEND"), Some(0o2000));
        assert_eq!(constant("O_NONBLOCK"), Some(0o4000));
        assert_eq!(constant("O_DIRECTORY"), Some(0o200000));
        assert_eq!(constant("O_NOFOLLOW"), Some(0o400000));
        assert_eq!(constant("O_CLOEXEC"), Some(0o2000000));
        assert_eq!(constant("O_LARGEFILE"), Some(0o100000));
        assert_eq!(constant("O_PATH"), Some(0o10000000));
        assert_eq!(constant("O_TMPFILE"), Some(0o20200000));
        assert_eq!(constant("O_SYNC"), Some(0o4010000));
        assert_eq!(constant("O_DSYNC"), Some(0o10000));
    }

    #[test]
    fn assorted_values() {
        assert_eq!(constant("AT_FDCWD"), Some(-100));
        assert_eq!(constant("AT_REMOVEDIR"), Some(0x200));
        assert_eq!(constant("AT_EMPTY_PATH"), Some(0x1000));
        assert_eq!(constant("PROT_NONE"), Some(0));
        assert_eq!(constant("PROT_EXEC"), Some(4));
        assert_eq!(constant("MAP_ANONYMOUS"), Some(0x20));
        assert_eq!(constant("MAP_FIXED_NOREPLACE"), Some(0x100000));
        assert_eq!(constant("SIGHUP"), Some(1));
        assert_eq!(constant("SIGKILL"), Some(9));
        assert_eq!(constant("SIGSYS"), Some(31));
        assert_eq!(constant("SIGRTMIN"), Some(34));
        assert_eq!(constant("EPERM"), Some(1));
        assert_eq!(constant("E2BIG"), Some(7));
        assert_eq!(constant("EWOULDBLOCK"), constant("EAGAIN"));
        assert_eq!(constant("EHWPOISON"), Some(133));
        assert_eq!(constant("AF_UNIX"), constant("AF_LOCAL"));
        assert_eq!(constant("AF_INET6"), Some(10));
        assert_eq!(constant("SOCK_CLOEXEC"), Some(0o2000000));
        assert_eq!(constant("CLONE_THREAD"), Some(0x10000));
        assert_eq!(constant("CLONE_PIDFD"), Some(0x1000));
        assert_eq!(constant("F_OK"), Some(0));
        assert_eq!(constant("X_OK"), Some(1));
        assert_eq!(constant("S_IFMT"), Some(0o170000));
        assert_eq!(constant("S_IFDIR"), Some(0o040000));
        assert_eq!(constant("S_ISUID"), Some(0o4000));
        assert_eq!(constant("SEEK_END"), Some(2));
    }

    #[test]
    fn unknown_names() {
        assert_eq!(constant(""), None);
        assert_eq!(constant("O_CREATE"), None);
        assert_eq!(constant("sigkill"), None);
        assert_eq!(constant("SIGKILL "), None);
    }

    #[test]
    fn names_are_unique_and_all_resolve() {
        let mut seen = HashSet::new();
        for name in constant_names() {
            assert!(seen.insert(name), "duplicate constant {name}");
            assert!(constant(name).is_some());
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{name} is not an identifier"
            );
        }
        assert!(seen.len() > 200);
    }

    #[test]
    fn every_errno_has_a_name() {
        // 41 and 58 are unused on Linux.
        for n in (1..=133).filter(|n| *n != 41 && *n != 58) {
            assert!(ERRNOS.iter().any(|&(_, v)| v == n), "errno {n} has no name");
        }
    }

    #[test]
    fn every_signal_has_a_name() {
        for n in 1..=31 {
            assert!(SIGNALS.iter().any(|&(_, v)| v == n), "signal {n}");
        }
    }
}
