//! Typed arguments of system calls: descriptors, paths, flags, signals, pointers.
//!
//! Each type converts from and to the raw register value ([`Arg`]) and prints the way
//! `strace` does (`AT_FDCWD`, `"/etc/passwd"`, `O_RDONLY|O_CLOEXEC`, `SIGKILL`).

use core::fmt::{self, Write as _};

use crate::mem;

/// What an argument is, for tools that look arguments up by name (the `rules` hook).
///
/// ```
/// use hook_sdk::{View, args::ArgKind, libc};
/// let kinds: Vec<ArgKind> = View::args_of(libc::SYS_read).unwrap().iter().map(|a| a.kind).collect();
/// assert_eq!(kinds, [ArgKind::Int, ArgKind::Ptr, ArgKind::Int]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A number (descriptors, counts, flags, ids, signals).
    Int,
    /// A pointer to a C string (a path).
    Str,
    /// A pointer to something else (a buffer, a structure, an array).
    Ptr,
}

/// The name and kind of one argument of a typed view.
///
/// ```
/// use hook_sdk::{View, libc};
/// let flags = View::args_of(libc::SYS_openat).unwrap()[2];
/// assert_eq!((flags.name, flags.bits, flags.signed), ("flags", 32, true));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgInfo {
    /// The argument's name, as in the view's field (`path`, `flags`, `fd`).
    pub name: &'static str,
    /// What it holds.
    pub kind: ArgKind,
    /// How many low bits of the register the kernel reads (32 for an `int`).
    pub bits: u8,
    /// Whether the value is signed (a descriptor, a pid) or not (a mode, a count).
    pub signed: bool,
}

impl ArgInfo {
    /// The argument's value as the kernel sees it: the register cut to [`ArgInfo::bits`] and
    /// sign- or zero-extended.
    ///
    /// ```
    /// use hook_sdk::{View, libc};
    /// let dirfd = View::args_of(libc::SYS_openat).unwrap()[0];
    /// assert_eq!(dirfd.value(0xffff_ff9c), -100); // AT_FDCWD passed as a 32-bit int
    /// ```
    pub fn value(&self, raw: i64) -> i64 {
        match (self.bits, self.signed) {
            (32, true) => raw as i32 as i64,
            (32, false) => raw as u32 as i64,
            _ => raw,
        }
    }
}

/// A system call argument: built from a register value, and back.
///
/// ```
/// use hook_sdk::args::{Arg, Fd};
/// assert_eq!(Fd::from_raw(0xffff_ff9c), Fd::CWD); // an int: the low 32 bits
/// assert_eq!(Fd::CWD.into_raw(), -100);
/// ```
pub trait Arg: Copy + fmt::Display {
    /// What the argument holds.
    const KIND: ArgKind;
    /// How many low bits of the register the kernel reads.
    const BITS: u8 = 64;
    /// Whether the value is signed.
    const SIGNED: bool = false;
    /// The argument seen in a register.
    fn from_raw(raw: i64) -> Self;
    /// The register value.
    fn into_raw(self) -> i64;
}

macro_rules! int_arg {
    ($($t:ty),*) => { $(
        impl Arg for $t {
            const KIND: ArgKind = ArgKind::Int;
            const BITS: u8 = <$t>::BITS as u8;
            const SIGNED: bool = <$t>::MIN != 0;
            fn from_raw(raw: i64) -> Self {
                // The kernel reads an int argument from the low bits of the register.
                raw as $t
            }
            fn into_raw(self) -> i64 {
                self as i64
            }
        }
    )* };
}
int_arg!(i64, u64, i32, u32, usize);

/// A file descriptor, or `AT_FDCWD` for the `*at` calls' directory.
///
/// ```
/// use hook_sdk::args::Fd;
/// assert_eq!(Fd(3).to_string(), "3");
/// assert_eq!(Fd(hook_sdk::libc::AT_FDCWD).to_string(), "AT_FDCWD");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fd(pub i32);

impl Fd {
    /// `AT_FDCWD`: relative to the current directory.
    ///
    /// ```
    /// assert_eq!(hook_sdk::args::Fd::CWD.0, hook_sdk::libc::AT_FDCWD);
    /// ```
    pub const CWD: Fd = Fd(libc::AT_FDCWD);
}

impl Arg for Fd {
    const KIND: ArgKind = ArgKind::Int;
    const BITS: u8 = 32;
    const SIGNED: bool = true;
    fn from_raw(raw: i64) -> Self {
        Fd(raw as i32)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Fd::CWD {
            f.write_str("AT_FDCWD")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// A pointer into the program's memory (a buffer, a structure), shown in hexadecimal.
///
/// ```
/// use hook_sdk::args::Addr;
/// assert_eq!(Addr(0).to_string(), "NULL");
/// assert_eq!(Addr(0x7f00).to_string(), "0x7f00");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addr(pub u64);

impl Addr {
    /// Whether the pointer is null.
    ///
    /// ```
    /// assert!(hook_sdk::args::Addr(0).is_null());
    /// ```
    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// Copies bytes from the pointer into `buf` (see [`mem::read`]).
    ///
    /// ```
    /// let b = [1u8, 2, 3];
    /// let mut out = [0u8; 3];
    /// assert_eq!(hook_sdk::args::Addr(b.as_ptr() as u64).read(&mut out), Some(3));
    /// ```
    pub fn read(self, buf: &mut [u8]) -> Option<usize> {
        mem::read(self.0, buf)
    }

    /// Reads a `T` at the pointer (see [`mem::read_value`]).
    ///
    /// ```
    /// let x = 7i32;
    /// assert_eq!(hook_sdk::args::Addr(&x as *const i32 as u64).read_value::<i32>(), Some(7));
    /// ```
    pub fn read_value<T: Copy + mem::FromBytes>(self) -> Option<T> {
        mem::read_value(self.0)
    }

    /// Reads the socket address of `len` bytes at the pointer (`connect`, `bind`).
    ///
    /// ```
    /// use hook_sdk::args::{Addr, SockAddr};
    /// let sa = hook_sdk::libc::sockaddr_in {
    ///     sin_family: hook_sdk::libc::AF_INET as u16,
    ///     sin_port: 80u16.to_be(),
    ///     sin_addr: hook_sdk::libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
    ///     sin_zero: [0; 8],
    /// };
    /// let a = Addr(&sa as *const _ as u64).sockaddr(16);
    /// assert_eq!(a.unwrap().to_string(), "127.0.0.1:80");
    /// ```
    pub fn sockaddr(self, len: u32) -> Option<SockAddr> {
        SockAddr::read(self.0, len)
    }
}

impl Arg for Addr {
    const KIND: ArgKind = ArgKind::Ptr;
    fn from_raw(raw: i64) -> Self {
        Addr(raw as u64)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            f.write_str("NULL")
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// A pointer to a C string in the program's memory: a path. Shown quoted, like strace.
///
/// ```
/// use hook_sdk::args::CStr;
/// let p = CStr(c"/etc/passwd".as_ptr() as u64);
/// let mut buf = [0u8; 256];
/// assert_eq!(p.read(&mut buf), Some(&b"/etc/passwd"[..]));
/// assert_eq!(p.to_string(), "\"/etc/passwd\"");
/// assert_eq!(CStr(0).to_string(), "NULL");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CStr(pub u64);

impl CStr {
    /// The longest path the kernel accepts (`PATH_MAX`, with its NUL).
    pub const MAX: usize = 4096;

    /// Reads the string into `buf` (without its NUL); `None` when unreadable or longer than
    /// `buf`. Allocates nothing.
    ///
    /// ```
    /// let p = hook_sdk::args::CStr(c"/etc/passwd".as_ptr() as u64);
    /// let mut buf = [0u8; 64];
    /// assert!(p.read(&mut buf).is_some_and(|s| s.ends_with(b"passwd")));
    /// assert_eq!(p.read(&mut buf[..4]), None); // does not fit
    /// ```
    pub fn read(self, buf: &mut [u8]) -> Option<&[u8]> {
        mem::read_cstr(self.0, buf)
    }

    /// The string's bytes (at most [`CStr::MAX`]), allocated.
    ///
    /// ```
    /// let p = hook_sdk::args::CStr(c"a b".as_ptr() as u64);
    /// assert_eq!(p.to_vec().as_deref(), Some(&b"a b"[..]));
    /// ```
    pub fn to_vec(self) -> Option<Vec<u8>> {
        let mut buf = [0u8; Self::MAX];
        self.read(&mut buf).map(<[u8]>::to_vec)
    }

    /// The string, with invalid UTF-8 replaced; `None` when unreadable.
    ///
    /// ```
    /// let p = hook_sdk::args::CStr(c"/tmp".as_ptr() as u64);
    /// assert_eq!(p.to_string_lossy().as_deref(), Some("/tmp"));
    /// ```
    pub fn to_string_lossy(self) -> Option<String> {
        self.to_vec()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }
}

impl Arg for CStr {
    const KIND: ArgKind = ArgKind::Str;
    fn from_raw(raw: i64) -> Self {
        CStr(raw as u64)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

/// Writes `bytes` quoted and escaped as strace does (`"a\nb\x01"`).
///
/// ```
/// struct Q<'a>(&'a [u8]);
/// impl std::fmt::Display for Q<'_> {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         hook_sdk::args::write_quoted(f, self.0)
///     }
/// }
/// assert_eq!(Q(b"a\"b\n\x01").to_string(), r#""a\"b\n\x01""#);
/// ```
pub fn write_quoted(f: &mut dyn fmt::Write, bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    write_escaped(f, bytes)?;
    f.write_char('"')
}

/// Writes `bytes` escaped as [`write_quoted`] does, without the quotes.
fn write_escaped(f: &mut dyn fmt::Write, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            b'\r' => f.write_str("\\r")?,
            0x20..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    Ok(())
}

impl fmt::Display for CStr {
    /// Quoted; read 256 bytes at a time (a small stack frame), at most [`CStr::MAX`]; an
    /// unreadable pointer prints as its address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NULL");
        }
        let mut chunk = [0u8; 256];
        let mut done = 0usize;
        while done < Self::MAX {
            let want = (Self::MAX - done).min(chunk.len());
            let Some(got) = mem::read(self.0.wrapping_add(done as u64), &mut chunk[..want]) else {
                if done == 0 {
                    return write!(f, "{:#x}", self.0);
                }
                // Readable up to here, then not: what was read, and a mark.
                return f.write_str("\"...");
            };
            let end = chunk[..got].iter().position(|&b| b == 0);
            let part = &chunk[..end.unwrap_or(got)];
            if done == 0 {
                f.write_char('"')?;
            }
            write_escaped(f, part)?;
            done += got;
            if end.is_some() {
                break;
            }
            if got < want {
                return f.write_str("\"...");
            }
        }
        f.write_char('"')
    }
}

/// A NULL-terminated array of C strings (`execve`'s `argv` and `envp`).
///
/// ```
/// let a = c"ls";
/// let b = c"-l";
/// let argv = [a.as_ptr() as u64, b.as_ptr() as u64, 0];
/// let v = hook_sdk::args::StrArray(argv.as_ptr() as u64);
/// assert_eq!(v.to_vec(), Some(vec![b"ls".to_vec(), b"-l".to_vec()]));
/// assert_eq!(v.to_string(), r#"["ls", "-l"]"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrArray(pub u64);

impl StrArray {
    /// The `i`-th pointer, `Some(0)` at the end, `None` when unreadable.
    ///
    /// ```
    /// let argv = [c"ls".as_ptr() as u64, 0];
    /// let a = hook_sdk::args::StrArray(argv.as_ptr() as u64);
    /// assert_eq!(a.get(1), Some(0));
    /// ```
    pub fn get(self, i: usize) -> Option<u64> {
        mem::read_value::<u64>(self.0.wrapping_add(8 * i as u64))
    }

    /// The strings (at most 65536 of them), allocated; `None` when any is unreadable.
    pub fn to_vec(self) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for i in 0..65536 {
            match self.get(i)? {
                0 => return Some(out),
                p => out.push(CStr(p).to_vec()?),
            }
        }
        Some(out)
    }
}

impl Arg for StrArray {
    const KIND: ArgKind = ArgKind::Ptr;
    fn from_raw(raw: i64) -> Self {
        StrArray(raw as u64)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for StrArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("NULL");
        }
        f.write_str("[")?;
        for i in 0..32 {
            match self.get(i) {
                Some(0) => return f.write_str("]"),
                Some(p) => {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    CStr(p).fmt(f)?;
                }
                None => return write!(f, "{:#x}]", self.0),
            }
        }
        f.write_str(", ...]")
    }
}

/// Writes the names of the bits of `v` found in `names`, `|`-separated, and what is left in
/// hexadecimal; `zero` when `v` is 0.
fn write_flags(
    f: &mut fmt::Formatter<'_>,
    v: u64,
    names: &[(u64, &str)],
    zero: &str,
) -> fmt::Result {
    if v == 0 {
        return f.write_str(zero);
    }
    let mut left = v;
    let mut first = true;
    for &(bit, name) in names {
        if bit != 0 && left & bit == bit {
            if !first {
                f.write_str("|")?;
            }
            f.write_str(name)?;
            left &= !bit;
            first = false;
        }
    }
    if left != 0 {
        if !first {
            f.write_str("|")?;
        }
        write!(f, "{left:#x}")?;
    }
    Ok(())
}

macro_rules! flag_type {
    ($(#[$doc:meta])* $name:ident($t:ty), $table:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub $t);

        impl $name {
            /// Whether all the bits of `bits` are set.
            pub fn contains(self, bits: $t) -> bool {
                self.0 & bits == bits
            }
        }

        impl Arg for $name {
            const KIND: ArgKind = ArgKind::Int;
            const BITS: u8 = <$t>::BITS as u8;
            const SIGNED: bool = <$t>::MIN != 0;
            fn from_raw(raw: i64) -> Self {
                $name(raw as $t)
            }
            fn into_raw(self) -> i64 {
                self.0 as i64
            }
        }
    };
}

/// In strace's order (its output is what users compare with).
const O_FLAGS: &[(u64, &str)] = &[
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
    (0o20000, "O_ASYNC"),
];

flag_type!(
    /// `open` flags.
    ///
    /// ```
    /// use hook_sdk::{args::OFlags, libc};
    /// let f = OFlags(libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC);
    /// assert!(f.contains(libc::O_CREAT));
    /// assert!(f.writes());
    /// assert_eq!(f.to_string(), "O_WRONLY|O_CREAT|O_CLOEXEC");
    /// assert_eq!(OFlags(0).to_string(), "O_RDONLY");
    /// ```
    OFlags(i32),
    O_FLAGS
);

impl OFlags {
    /// `O_RDONLY`, `O_WRONLY` or `O_RDWR` (the low two bits).
    pub fn access_mode(self) -> i32 {
        self.0 & libc::O_ACCMODE
    }

    /// Whether the file is opened for writing (`O_WRONLY`, `O_RDWR`), or created or truncated.
    pub fn writes(self) -> bool {
        self.access_mode() != libc::O_RDONLY || self.0 & (libc::O_CREAT | libc::O_TRUNC) != 0
    }
}

impl fmt::Display for OFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let acc = match self.access_mode() {
            libc::O_RDONLY => "O_RDONLY",
            libc::O_WRONLY => "O_WRONLY",
            libc::O_RDWR => "O_RDWR",
            _ => "O_ACCMODE",
        };
        f.write_str(acc)?;
        let rest = (self.0 & !libc::O_ACCMODE) as u32 as u64;
        if rest != 0 {
            f.write_str("|")?;
            write_flags(f, rest, O_FLAGS, "")?;
        }
        Ok(())
    }
}

const AT_FLAGS: &[(u64, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x2000, "AT_STATX_FORCE_SYNC"),
    (0x4000, "AT_STATX_DONT_SYNC"),
    (0x8000, "AT_RECURSIVE"),
];

flag_type!(
    /// `AT_*` flags of the `*at` calls.
    ///
    /// ```
    /// use hook_sdk::{args::AtFlags, libc};
    /// assert_eq!(AtFlags(libc::AT_REMOVEDIR).to_string(), "AT_REMOVEDIR");
    /// assert_eq!(AtFlags(0).to_string(), "0");
    /// ```
    AtFlags(i32),
    AT_FLAGS
);

impl fmt::Display for AtFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(f, self.0 as u32 as u64, AT_FLAGS, "0")
    }
}

const PROT: &[(u64, &str)] = &[
    (1, "PROT_READ"),
    (2, "PROT_WRITE"),
    (4, "PROT_EXEC"),
    (8, "PROT_SEM"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

flag_type!(
    /// Memory protection (`mmap`, `mprotect`).
    ///
    /// ```
    /// use hook_sdk::{args::Prot, libc};
    /// assert_eq!(Prot(libc::PROT_READ | libc::PROT_EXEC).to_string(), "PROT_READ|PROT_EXEC");
    /// assert_eq!(Prot(0).to_string(), "PROT_NONE");
    /// ```
    Prot(i32),
    PROT
);

impl fmt::Display for Prot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flags(f, self.0 as u32 as u64, PROT, "PROT_NONE")
    }
}

const MAP: &[(u64, &str)] = &[
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x03, "MAP_SHARED_VALIDATE"),
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];

flag_type!(
    /// `mmap` flags.
    ///
    /// ```
    /// use hook_sdk::{args::MapFlags, libc};
    /// let f = MapFlags(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS);
    /// assert_eq!(f.to_string(), "MAP_PRIVATE|MAP_ANONYMOUS");
    /// ```
    MapFlags(i32),
    MAP
);

impl fmt::Display for MapFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The sharing type is the low two bits, a value rather than bits.
        let kind = match self.0 & 3 {
            1 => "MAP_SHARED",
            2 => "MAP_PRIVATE",
            3 => "MAP_SHARED_VALIDATE",
            _ => "0",
        };
        f.write_str(kind)?;
        let rest = (self.0 & !3) as u32 as u64;
        if rest != 0 {
            f.write_str("|")?;
            write_flags(f, rest, MAP, "")?;
        }
        Ok(())
    }
}

const CLONE: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

flag_type!(
    /// `clone` flags; the low byte is the signal sent to the parent when the child ends.
    ///
    /// ```
    /// use hook_sdk::{args::CloneFlags, libc};
    /// let f = CloneFlags((libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64);
    /// assert_eq!(f.to_string(), "CLONE_VM|CLONE_VFORK|SIGCHLD");
    /// assert!(f.contains(libc::CLONE_VM as u64));
    /// ```
    CloneFlags(u64),
    CLONE
);

impl CloneFlags {
    /// The signal sent to the parent when the child ends (0 for none).
    ///
    /// ```
    /// use hook_sdk::args::{CloneFlags, Signal};
    /// assert_eq!(CloneFlags(0x11).exit_signal(), Signal(17)); // SIGCHLD
    /// ```
    pub fn exit_signal(self) -> Signal {
        Signal((self.0 & 0xff) as i32)
    }
}

impl fmt::Display for CloneFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.0 & !0xff;
        let sig = self.exit_signal();
        if bits == 0 {
            return sig.fmt(f);
        }
        write_flags(f, bits, CLONE, "0")?;
        if sig.0 != 0 {
            f.write_str("|")?;
            sig.fmt(f)?;
        }
        Ok(())
    }
}

/// A file mode (permissions and type bits), shown in octal.
///
/// ```
/// assert_eq!(hook_sdk::args::Mode(0o644).to_string(), "0644");
/// assert_eq!(hook_sdk::args::Mode(0).to_string(), "000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mode(pub u32);

impl Arg for Mode {
    const KIND: ArgKind = ArgKind::Int;
    const BITS: u8 = 32;
    fn from_raw(raw: i64) -> Self {
        Mode(raw as u32)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As strace: `0644`, `04755`, `000`.
        if self.0 == 0 {
            f.write_str("000")
        } else {
            write!(f, "0{:03o}", self.0)
        }
    }
}

const SIGNALS: [&str; 32] = [
    "0",
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

/// A signal number.
///
/// ```
/// use hook_sdk::args::Signal;
/// assert_eq!(Signal(9).name(), Some("SIGKILL"));
/// assert_eq!(Signal::from_name("SIGTERM"), Some(Signal(15)));
/// assert_eq!(Signal::from_name("TERM"), Some(Signal(15)));
/// assert_eq!(Signal(40).to_string(), "SIGRT_8");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

impl Signal {
    /// The signal's name (`SIGKILL`), for 1 to 31.
    pub fn name(self) -> Option<&'static str> {
        usize::try_from(self.0)
            .ok()
            .filter(|&n| (1..32).contains(&n))
            .map(|n| SIGNALS[n])
    }

    /// The signal named `name`, with or without its `SIG` prefix (`SIGKILL`, `KILL`).
    pub fn from_name(name: &str) -> Option<Signal> {
        let name = name.strip_prefix("SIG").unwrap_or(name);
        (1..32)
            .find(|&n| &SIGNALS[n][3..] == name)
            .map(|n| Signal(n as i32))
    }
}

impl Arg for Signal {
    const KIND: ArgKind = ArgKind::Int;
    const BITS: u8 = 32;
    const SIGNED: bool = true;
    fn from_raw(raw: i64) -> Self {
        Signal(raw as i32)
    }
    fn into_raw(self) -> i64 {
        self.0 as i64
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            // Real-time signals counted from the kernel's first (32), as strace does.
            None if self.0 == 32 => f.write_str("SIGRTMIN"),
            None if (33..=64).contains(&self.0) => write!(f, "SIGRT_{}", self.0 - 32),
            None => write!(f, "{}", self.0),
        }
    }
}

/// A socket address read from the program (`connect`, `bind`, `accept`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SockAddr {
    /// `AF_INET` or `AF_INET6`.
    Inet(std::net::SocketAddr),
    /// `AF_UNIX`: the path (empty for unnamed; abstract names start with a NUL byte).
    Unix(Vec<u8>),
    /// Another family.
    Other(u16),
}

impl SockAddr {
    /// Reads a socket address of `len` bytes at `addr`.
    ///
    /// ```
    /// use hook_sdk::args::SockAddr;
    /// let mut raw = [0u8; 16];
    /// raw[..2].copy_from_slice(&(hook_sdk::libc::AF_UNIX as u16).to_ne_bytes());
    /// raw[2..7].copy_from_slice(b"/x.s\0");
    /// assert_eq!(SockAddr::read(raw.as_ptr() as u64, 16), Some(SockAddr::Unix(b"/x.s".to_vec())));
    /// assert_eq!(SockAddr::read(0, 16), None);
    /// ```
    pub fn read(addr: u64, len: u32) -> Option<SockAddr> {
        let mut raw = [0u8; core::mem::size_of::<libc::sockaddr_storage>()];
        let len = (len as usize).min(raw.len());
        if len < 2 || mem::read(addr, &mut raw[..len])? < len {
            return None;
        }
        let family = u16::from_ne_bytes([raw[0], raw[1]]);
        Some(match family as i32 {
            libc::AF_INET if len >= 8 => {
                let port = u16::from_be_bytes([raw[2], raw[3]]);
                let ip = std::net::Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
                SockAddr::Inet((ip, port).into())
            }
            libc::AF_INET6 if len >= 24 => {
                let port = u16::from_be_bytes([raw[2], raw[3]]);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&raw[8..24]);
                SockAddr::Inet((std::net::Ipv6Addr::from(ip), port).into())
            }
            libc::AF_UNIX => {
                let path = &raw[2..len];
                // A named socket's path ends at its NUL; an abstract one keeps its length.
                let end = if path.first() == Some(&0) {
                    path.len()
                } else {
                    path.iter().position(|&b| b == 0).unwrap_or(path.len())
                };
                SockAddr::Unix(path[..end].to_vec())
            }
            _ => SockAddr::Other(family),
        })
    }
}

impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet(a) => write!(f, "{a}"),
            SockAddr::Unix(p) => {
                f.write_str("unix:")?;
                write_quoted(f, p)
            }
            SockAddr::Other(fam) => write!(f, "family {fam}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trips() {
        assert_eq!(Fd::from_raw(-100), Fd::CWD);
        assert_eq!(Fd::from_raw(0x1_0000_0003).0, 3);
        assert_eq!(OFlags::from_raw(0o2101).into_raw(), 0o2101);
        assert_eq!(Signal::from_raw(9).name(), Some("SIGKILL"));
    }

    #[test]
    fn unknown_bits_in_hex() {
        assert_eq!(
            AtFlags(0x200 | 0x1_0000).to_string(),
            "AT_REMOVEDIR|0x10000"
        );
        assert_eq!(Prot(0x10).to_string(), "0x10");
    }

    #[test]
    fn long_and_unreadable_strings() {
        let long = format!("{}\0", "a".repeat(1000));
        let shown = CStr(long.as_ptr() as u64).to_string();
        assert_eq!(shown, format!("\"{}\"", "a".repeat(1000)));
        assert_eq!(CStr(8).to_string(), "0x8");
        // A string running into an unreadable page: what was readable, and a mark.
        // SAFETY: a fresh anonymous mapping of ours.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                8192,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        } as *mut u8;
        // SAFETY: inside the mapping.
        unsafe {
            core::ptr::write_bytes(p, b'b', 4096);
            libc::mprotect(p.add(4096).cast(), 4096, libc::PROT_NONE);
        }
        let shown = CStr(p as u64 + 4090).to_string();
        assert_eq!(shown, "\"bbbbbb\"...");
        // SAFETY: our mapping.
        unsafe { libc::munmap(p.cast(), 8192) };
    }

    #[test]
    fn unix_socket_paths() {
        // SAFETY: all-zero is a valid sockaddr_un.
        let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as u16;
        for (i, b) in b"/run/x.sock".iter().enumerate() {
            sa.sun_path[i] = *b as libc::c_char;
        }
        let a = SockAddr::read(&sa as *const _ as u64, 110).unwrap();
        assert_eq!(a, SockAddr::Unix(b"/run/x.sock".to_vec()));
        assert_eq!(a.to_string(), "unix:\"/run/x.sock\"");
    }
}
