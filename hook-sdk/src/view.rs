//! Typed views of the common system calls: [`View::of`] decodes a [`Syscall`] into a struct
//! with named, typed fields; [`View::to_syscall`] (or each struct's `to_syscall`) encodes it
//! back, for changing arguments.
//!
//! ```
//! use hook_sdk::{Syscall, View, args::Fd, libc};
//!
//! let path = c"/etc/hostname";
//! let call = Syscall::new(libc::SYS_openat, &[libc::AT_FDCWD as i64, path.as_ptr() as i64, 0]);
//! let View::Openat(mut o) = call.view() else { unreachable!() };
//! assert_eq!(o.dirfd, Fd::CWD);
//! assert_eq!(o.path.to_string_lossy().as_deref(), Some("/etc/hostname"));
//! assert_eq!(call.view().to_string(), r#"openat(AT_FDCWD, "/etc/hostname", O_RDONLY, 000)"#);
//!
//! o.flags.0 |= libc::O_CLOEXEC;
//! assert_eq!(o.to_syscall().args[2], libc::O_CLOEXEC as i64);
//! ```

use core::fmt;

use crate::Syscall;
use crate::args::{
    Addr, Arg, ArgInfo, AtFlags, CStr, CloneFlags, Fd, MapFlags, Mode, OFlags, Prot, Signal,
    StrArray,
};

macro_rules! views {
    ($(
        $(#[$doc:meta])*
        $name:ident = $sys:ident { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct $name {
                $( $(#[$fdoc])* pub $field: $ty, )*
            }

            impl $name {
                /// The system call's number.
                pub const NR: i64 = libc::$sys;
                /// The arguments' names and kinds, in register order.
                pub const ARGS: &'static [ArgInfo] = &[
                    $( ArgInfo {
                        name: stringify!($field),
                        kind: <$ty as Arg>::KIND,
                        bits: <$ty as Arg>::BITS,
                        signed: <$ty as Arg>::SIGNED,
                    }, )*
                ];

                #[allow(unused_assignments, unused_mut, unused_variables)]
                fn decode(a: &[i64; 6]) -> Self {
                    let mut i = 0;
                    $name {
                        $( $field: { let v = <$ty as Arg>::from_raw(a[i]); i += 1; v }, )*
                    }
                }

                /// The call with these arguments (the unused registers 0).
                #[allow(unused_assignments, unused_mut, unused_variables)]
                pub fn to_syscall(&self) -> Syscall {
                    let mut args = [0i64; 6];
                    let mut i = 0;
                    $( args[i] = Arg::into_raw(self.$field); i += 1; )*
                    Syscall { nr: Self::NR, args }
                }
            }

            impl fmt::Display for $name {
                #[allow(unused_assignments, unused_mut, unused_variables)]
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(stringify!($sys).trim_start_matches("SYS_"))?;
                    f.write_str("(")?;
                    let mut first = true;
                    $(
                        if !first {
                            f.write_str(", ")?;
                        }
                        first = false;
                        fmt::Display::fmt(&self.$field, f)?;
                    )*
                    f.write_str(")")
                }
            }
        )*

        /// A system call decoded by its number: one variant per typed view, and [`View::Other`]
        /// for the rest.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum View {
            $( $(#[$doc])* $name($name), )*
            /// A call without a typed view (its raw number and arguments).
            Other(Syscall),
        }

        impl View {
            /// Decodes `call`.
            ///
            /// ```
            /// use hook_sdk::{Syscall, View, args::Fd, libc};
            /// let v = View::of(&Syscall::new(libc::SYS_kill, &[42, 15]));
            /// assert_eq!(v.to_string(), "kill(42, SIGTERM)");
            /// ```
            pub fn of(call: &Syscall) -> View {
                $( if call.nr == libc::$sys { return View::$name($name::decode(&call.args)); } )*
                View::Other(*call)
            }

            /// The call again, with the view's (possibly changed) arguments. The registers a
            /// view does not name are 0, except for [`View::Other`].
            ///
            /// ```
            /// use hook_sdk::{Syscall, View, args::Fd, libc};
            /// let View::Close(mut c) = View::of(&Syscall::new(libc::SYS_close, &[3])) else { panic!() };
            /// c.fd = Fd(4);
            /// assert_eq!(View::Close(c).to_syscall(), Syscall::new(libc::SYS_close, &[4]));
            /// ```
            pub fn to_syscall(&self) -> Syscall {
                match self {
                    $( View::$name(v) => v.to_syscall(), )*
                    View::Other(c) => *c,
                }
            }

            /// The names and kinds of the arguments of system call `nr`, when it has a view.
            ///
            /// ```
            /// use hook_sdk::{View, args::ArgKind, libc};
            /// let a = View::args_of(libc::SYS_unlinkat).unwrap();
            /// assert_eq!(a[1].name, "path");
            /// assert_eq!(a[1].kind, ArgKind::Str);
            /// assert!(View::args_of(libc::SYS_getpid).is_none());
            /// ```
            pub fn args_of(nr: i64) -> Option<&'static [ArgInfo]> {
                $( if nr == libc::$sys { return Some($name::ARGS); } )*
                None
            }
        }

        impl fmt::Display for View {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( View::$name(v) => v.fmt(f), )*
                    View::Other(c) => c.fmt(f),
                }
            }
        }
    };
}

views! {
    /// `open(path, flags, mode)`.
    Open = SYS_open { path: CStr, flags: OFlags, mode: Mode }
    /// `openat(dirfd, path, flags, mode)`.
    Openat = SYS_openat { dirfd: Fd, path: CStr, flags: OFlags, mode: Mode }
    /// `creat(path, mode)`.
    Creat = SYS_creat { path: CStr, mode: Mode }
    /// `read(fd, buf, count)`.
    Read = SYS_read { fd: Fd, buf: Addr, count: usize }
    /// `write(fd, buf, count)`.
    Write = SYS_write { fd: Fd, buf: Addr, count: usize }
    /// `pread64(fd, buf, count, offset)`.
    Pread64 = SYS_pread64 { fd: Fd, buf: Addr, count: usize, offset: i64 }
    /// `pwrite64(fd, buf, count, offset)`.
    Pwrite64 = SYS_pwrite64 { fd: Fd, buf: Addr, count: usize, offset: i64 }
    /// `close(fd)`.
    Close = SYS_close { fd: Fd }
    /// `stat(path, statbuf)`.
    Stat = SYS_stat { path: CStr, statbuf: Addr }
    /// `lstat(path, statbuf)`.
    Lstat = SYS_lstat { path: CStr, statbuf: Addr }
    /// `fstat(fd, statbuf)`.
    Fstat = SYS_fstat { fd: Fd, statbuf: Addr }
    /// `newfstatat(dirfd, path, statbuf, flags)` (glibc's `fstatat`).
    Newfstatat = SYS_newfstatat { dirfd: Fd, path: CStr, statbuf: Addr, flags: AtFlags }
    /// `statx(dirfd, path, flags, mask, statxbuf)`.
    Statx = SYS_statx { dirfd: Fd, path: CStr, flags: AtFlags, mask: u32, statxbuf: Addr }
    /// `getdents64(fd, dirp, count)`.
    Getdents64 = SYS_getdents64 { fd: Fd, dirp: Addr, count: u32 }
    /// `mmap(addr, length, prot, flags, fd, offset)`.
    Mmap = SYS_mmap { addr: Addr, length: usize, prot: Prot, flags: MapFlags, fd: Fd, offset: i64 }
    /// `mprotect(addr, length, prot)`.
    Mprotect = SYS_mprotect { addr: Addr, length: usize, prot: Prot }
    /// `munmap(addr, length)`.
    Munmap = SYS_munmap { addr: Addr, length: usize }
    /// `socket(domain, ty, protocol)`.
    Socket = SYS_socket { domain: i32, ty: i32, protocol: i32 }
    /// `connect(fd, addr, addrlen)`; [`Addr::sockaddr`] reads the address.
    Connect = SYS_connect { fd: Fd, addr: Addr, addrlen: u32 }
    /// `bind(fd, addr, addrlen)`.
    Bind = SYS_bind { fd: Fd, addr: Addr, addrlen: u32 }
    /// `accept(fd, addr, addrlen)` (`addrlen` points to the length).
    Accept = SYS_accept { fd: Fd, addr: Addr, addrlen: Addr }
    /// `accept4(fd, addr, addrlen, flags)`.
    Accept4 = SYS_accept4 { fd: Fd, addr: Addr, addrlen: Addr, flags: i32 }
    /// `execve(path, argv, envp)`.
    Execve = SYS_execve { path: CStr, argv: StrArray, envp: StrArray }
    /// `execveat(dirfd, path, argv, envp, flags)`.
    Execveat = SYS_execveat { dirfd: Fd, path: CStr, argv: StrArray, envp: StrArray, flags: AtFlags }
    /// `clone(flags, stack, parent_tid, child_tid, tls)` (the x86-64 order).
    Clone = SYS_clone { flags: CloneFlags, stack: Addr, parent_tid: Addr, child_tid: Addr, tls: u64 }
    /// `clone3(args, size)`.
    Clone3 = SYS_clone3 { args: Addr, size: usize }
    /// `fork()`.
    Fork = SYS_fork {}
    /// `vfork()`.
    Vfork = SYS_vfork {}
    /// `unlink(path)`.
    Unlink = SYS_unlink { path: CStr }
    /// `unlinkat(dirfd, path, flags)` (`AT_REMOVEDIR` removes a directory).
    Unlinkat = SYS_unlinkat { dirfd: Fd, path: CStr, flags: AtFlags }
    /// `rename(oldpath, newpath)`.
    Rename = SYS_rename { oldpath: CStr, newpath: CStr }
    /// `renameat(olddirfd, oldpath, newdirfd, newpath)`.
    Renameat = SYS_renameat { olddirfd: Fd, oldpath: CStr, newdirfd: Fd, newpath: CStr }
    /// `renameat2(olddirfd, oldpath, newdirfd, newpath, flags)`.
    Renameat2 = SYS_renameat2 { olddirfd: Fd, oldpath: CStr, newdirfd: Fd, newpath: CStr, flags: u32 }
    /// `mkdir(path, mode)`.
    Mkdir = SYS_mkdir { path: CStr, mode: Mode }
    /// `mkdirat(dirfd, path, mode)`.
    Mkdirat = SYS_mkdirat { dirfd: Fd, path: CStr, mode: Mode }
    /// `rmdir(path)`.
    Rmdir = SYS_rmdir { path: CStr }
    /// `chdir(path)`.
    Chdir = SYS_chdir { path: CStr }
    /// `access(path, mode)`.
    Access = SYS_access { path: CStr, mode: i32 }
    /// `faccessat2(dirfd, path, mode, flags)`.
    Faccessat2 = SYS_faccessat2 { dirfd: Fd, path: CStr, mode: i32, flags: AtFlags }
    /// `kill(pid, sig)`.
    Kill = SYS_kill { pid: i32, sig: Signal }
    /// `tkill(tid, sig)`.
    Tkill = SYS_tkill { tid: i32, sig: Signal }
    /// `tgkill(tgid, tid, sig)`.
    Tgkill = SYS_tgkill { tgid: i32, tid: i32, sig: Signal }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_encode_round_trip() {
        let call = Syscall {
            nr: libc::SYS_mmap,
            args: [0, 4096, 3, 0x22, -1, 0],
        };
        let v = call.view();
        assert_eq!(v.to_syscall(), call);
        assert_eq!(
            v.to_string(),
            "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
        );
        let View::Mmap(m) = v else { panic!() };
        assert_eq!(m.fd, Fd(-1));
    }

    #[test]
    fn other_calls_keep_everything() {
        let call = Syscall {
            nr: 39,
            args: [1, 2, 3, 4, 5, 6],
        };
        assert_eq!(call.view(), View::Other(call));
        assert_eq!(call.view().to_syscall(), call);
    }

    #[test]
    fn no_argument_views() {
        let v = Syscall::new(libc::SYS_fork, &[]).view();
        assert_eq!(v, View::Fork(Fork {}));
        assert_eq!(v.to_string(), "fork()");
    }

    /// Every call, with arguments of every kind (pointers into random bytes, unmapped and
    /// non-canonical ones, -1, huge numbers): decoding and printing never panic, and encoding
    /// gives the registers back.
    #[test]
    fn random_calls_print_without_panicking() {
        let mut calls = crate::testing::RandomCalls::new(0x2545_f491_4f6c_dd1d);
        for nr in (0..470).chain([1000, -1]) {
            for _ in 0..16 {
                let call = calls.call(nr);
                let v = call.view();
                let _ = v.to_string();
                if let View::Other(c) = v {
                    assert_eq!(c, call);
                } else {
                    // The view's registers, cut to their C types, give the same view again.
                    assert_eq!(v.to_syscall().view(), v);
                }
            }
        }
    }

    #[test]
    fn every_view_names_a_distinct_call() {
        let mut seen = std::collections::HashSet::new();
        for nr in 0..512 {
            if View::args_of(nr).is_some() {
                assert!(seen.insert(nr));
            }
        }
        assert!(seen.len() >= 40);
    }
}
