//! Write zpoline hook libraries in Rust.
//!
//! A hook library is a `cdylib` that `libzpoline.so` loads (from `LIBZPHOOK`, or
//! `zpoline run --hook LIB`) into its own link-map namespace, so the hook may use the standard
//! library freely: its own libc is never rewritten, and its own system calls go straight to the
//! kernel. Implement [`Hook`] (whose every method has a default that passes the call through)
//! and export it with [`zpoline_hook!`]:
//!
//! ```no_run
//! use hook_sdk::{Action, Errno, Hook, Syscall, View};
//!
//! /// Nothing named `*passwd` may be deleted.
//! struct KeepPasswd;
//!
//! impl Hook for KeepPasswd {
//!     fn before(&self, call: &mut Syscall) -> Action {
//!         let path = match call.view() {
//!             View::Unlink(u) => u.path,
//!             View::Unlinkat(u) => u.path,
//!             _ => return Action::Continue,
//!         };
//!         let mut buf = [0u8; 4096];
//!         match path.read(&mut buf) {
//!             Some(p) if p.ends_with(b"passwd") => Action::fail(Errno::EPERM),
//!             _ => Action::Continue,
//!         }
//!     }
//! }
//!
//! hook_sdk::zpoline_hook!(KeepPasswd);
//! # fn main() {}
//! ```
//!
//! * [`Hook::before`] may change a call's arguments or answer it without the kernel
//!   ([`Action::Return`], [`Action::fail`]); [`Hook::after`] may change its result;
//!   [`Hook::syscall`] gives full control (the defaults of the other two run from it).
//! * [`View`] decodes the common calls into structs with named, typed fields
//!   ([`args`]: [`args::Fd`], [`args::CStr`], [`args::OFlags`], [`args::Signal`], ...), which
//!   print like strace and encode back with `to_syscall`.
//! * [`mem`] reads the program's memory without trusting its pointers; [`raw`] makes system
//!   calls that bypass the hook; [`Errno`] and [`Sysno`] (from the `syscalls` crate) name
//!   errors and calls.
//! * Per-thread state: `thread_local!` works in a hook (each program thread has its own
//!   copy, under `LD_PRELOAD` and under the launcher alike); see [`Hook`].
//! * A panic in a hook never unwinds into the program: it is printed and the process aborts.
//!
//! The exported `__hook_init` follows the zpoline ABI, so the same library also works with the
//! original C zpoline.

use core::ffi::c_void;
use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};

pub use libc;
pub use syscalls::{Errno, Sysno};

pub mod args;
pub mod mem;
pub mod raw;
pub mod testing;
mod view;

pub use view::*;

/// The zpoline hook signature: `long f(long nr, long a1, …, long a6)`.
pub type SyscallFn = unsafe extern "C" fn(i64, i64, i64, i64, i64, i64, i64) -> i64;

/// One system call: its number and six arguments, as the application passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syscall {
    /// The number (`rax`); any value, including out-of-range ones.
    pub nr: i64,
    /// `rdi, rsi, rdx, r10, r8, r9`.
    pub args: [i64; 6],
}

impl Syscall {
    /// A call of `nr` with the first `args` (the rest 0).
    ///
    /// ```
    /// let c = hook_sdk::Syscall::new(hook_sdk::libc::SYS_close, &[3]);
    /// assert_eq!(c.args, [3, 0, 0, 0, 0, 0]);
    /// ```
    pub fn new(nr: i64, args: &[i64]) -> Syscall {
        let mut a = [0i64; 6];
        for (d, s) in a.iter_mut().zip(args) {
            *d = *s;
        }
        Syscall { nr, args: a }
    }

    /// The system call's name, if the number is a known x86-64 system call.
    ///
    /// ```
    /// let c = hook_sdk::Syscall { nr: 39, args: [0; 6] };
    /// assert_eq!(c.name(), Some("getpid"));
    /// assert_eq!(hook_sdk::Syscall { nr: 1000, args: [0; 6] }.name(), None);
    /// ```
    pub fn name(&self) -> Option<&'static str> {
        syscall_name(self.nr)
    }

    /// The call's [`Sysno`], if the number is a known x86-64 system call.
    ///
    /// ```
    /// use hook_sdk::{Sysno, Syscall};
    /// assert_eq!(Syscall::new(0, &[]).sysno(), Some(Sysno::read));
    /// assert_eq!(Syscall::new(-1, &[]).sysno(), None);
    /// ```
    pub fn sysno(&self) -> Option<Sysno> {
        let n = u32::try_from(self.nr).ok()?;
        Sysno::new(n as usize)
    }

    /// The call decoded: a typed view for the common calls, [`View::Other`] for the rest.
    ///
    /// ```
    /// use hook_sdk::{Syscall, View, args::Fd};
    /// let v = Syscall::new(hook_sdk::libc::SYS_close, &[7]).view();
    /// assert_eq!(v, View::Close(hook_sdk::Close { fd: Fd(7) }));
    /// assert_eq!(v.to_string(), "close(7)");
    /// ```
    pub fn view(&self) -> View {
        View::of(self)
    }
}

/// Prints the call by its name with its arguments in hexadecimal, trailing zeros left out
/// (`getpid()`, `ioctl(0x1, 0x5401, 0x7ffc12345678)`); [`View`] prints the common calls with
/// decoded arguments.
///
/// ```
/// let c = hook_sdk::Syscall::new(16, &[1, 0x5401, 0x7ffc0000]);
/// assert_eq!(c.to_string(), "ioctl(0x1, 0x5401, 0x7ffc0000)");
/// assert_eq!(hook_sdk::Syscall::new(39, &[]).to_string(), "getpid()");
/// assert_eq!(hook_sdk::Syscall::new(999, &[]).to_string(), "syscall_999()");
/// ```
impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n)?,
            None => write!(f, "syscall_{}", self.nr)?,
        }
        let n = self.args.iter().rposition(|&a| a != 0).map_or(0, |i| i + 1);
        f.write_str("(")?;
        for (i, a) in self.args[..n].iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a:#x}")?;
        }
        f.write_str(")")
    }
}

/// The name of system call `nr` on x86-64, or `None` for an unknown or out-of-range number.
///
/// ```
/// assert_eq!(hook_sdk::syscall_name(0), Some("read"));
/// assert_eq!(hook_sdk::syscall_name(-1), None);
/// ```
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    let n = u32::try_from(nr).ok()?;
    Sysno::new(n as usize).map(|s| s.name())
}

/// The number of the system call named `name` (`"openat"`), if there is one on x86-64.
///
/// ```
/// assert_eq!(hook_sdk::syscall_number("openat"), Some(257));
/// assert_eq!(hook_sdk::syscall_number("nosuchcall"), None);
/// ```
pub fn syscall_number(name: &str) -> Option<i64> {
    name.parse::<Sysno>().ok().map(|s| s.id() as i64)
}

/// A system call's result as a `Result`: `Err` for the kernel's error range (-4095 to -1).
///
/// ```
/// use hook_sdk::{Errno, result};
/// assert_eq!(result(3), Ok(3));
/// assert_eq!(result(-2), Err(Errno::ENOENT));
/// assert_eq!(result(-2).unwrap_err().name(), Some("ENOENT"));
/// ```
pub fn result(r: i64) -> Result<i64, Errno> {
    if (-4095..0).contains(&r) {
        Err(Errno::new(-r as i32))
    } else {
        Ok(r)
    }
}

/// The rest of the chain: calling it performs the system call (or the next hook's work).
#[derive(Clone, Copy)]
pub struct Next(SyscallFn);

impl Next {
    /// A `Next` that makes the call directly with the `syscall` instruction, without the
    /// runtime: for testing a hook's logic in `cargo test`, outside any program. (In a hook,
    /// use the `next` the runtime passes: it keeps `clone`, `vfork`, `execve` and
    /// `rt_sigreturn` correct.) Like the runtime's, it makes whatever call it is given:
    /// system calls are outside Rust's safety model (a `munmap` of the caller's memory is as
    /// possible as writing to `/proc/self/mem`).
    ///
    /// ```
    /// use hook_sdk::{Hook, Next, Syscall, libc};
    ///
    /// struct Pid1;
    /// impl Hook for Pid1 {
    ///     fn after(&self, call: &Syscall, r: i64) -> i64 {
    ///         if call.nr == libc::SYS_getpid { 1 } else { r }
    ///     }
    /// }
    /// let next = Next::kernel();
    /// assert_eq!(Pid1.syscall(Syscall::new(libc::SYS_getpid, &[]), next), 1);
    /// assert_eq!(Pid1.syscall(Syscall::new(libc::SYS_getppid, &[]), next), hook_sdk::raw::getppid() as i64);
    /// ```
    pub fn kernel() -> Next {
        unsafe extern "C" fn direct(
            nr: i64,
            a1: i64,
            a2: i64,
            a3: i64,
            a4: i64,
            a5: i64,
            a6: i64,
        ) -> i64 {
            // SAFETY: the caller of Next::call answers for the call, as a program would.
            unsafe { raw::syscall(nr, [a1, a2, a3, a4, a5, a6]) }
        }
        Next(direct)
    }

    /// Performs `call` as the kernel would at the program's site and returns the result
    /// (`-errno` on failure).
    ///
    /// ```
    /// use hook_sdk::{Next, Syscall, libc};
    /// let next = Next::kernel(); // in a hook: the `next` the runtime passes
    /// let r = next.call(Syscall::new(libc::SYS_close, &[-1]));
    /// assert_eq!(r, -(libc::EBADF as i64));
    /// ```
    pub fn call(self, call: Syscall) -> i64 {
        let a = call.args;
        // SAFETY: the runtime's next function takes any number and arguments; what the kernel
        // does with them is the hook's decision, as it would be the application's.
        unsafe { (self.0)(call.nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
    }
}

/// The program's file, absolute (what `/proc/self/exe` names for the program, also under the
/// launcher, where the kernel's answer would be the launcher), read once per process image.
/// `None` before the hook is installed or when the link cannot be read.
///
/// ```
/// // Outside a hook (no runtime), there is no program to name.
/// assert_eq!(hook_sdk::exe(), None);
/// ```
pub fn exe() -> Option<&'static [u8]> {
    static EXE: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let next = __private::next()?;
        let mut buf = [0u8; 4096];
        // The runtime's readlink answers with the program's path under the launcher.
        let r = next.call(Syscall::new(
            libc::SYS_readlink,
            &[
                c"/proc/self/exe".as_ptr() as i64,
                buf.as_mut_ptr() as i64,
                buf.len() as i64,
            ],
        ));
        (r > 0).then(|| buf[..r as usize].to_vec())
    })
    .as_deref()
}

/// What [`Hook::before`] decides.
///
/// ```
/// use hook_sdk::{Action, Errno};
/// let refuse = Action::fail(Errno::EACCES);
/// assert_eq!(refuse, Action::Return(-13));
/// assert_ne!(refuse, Action::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make the call (with the arguments as `before` left them).
    Continue,
    /// Do not make the call: this is its result (`-errno` for an error).
    Return(i64),
}

impl Action {
    /// Do not make the call: it fails with `errno`.
    ///
    /// ```
    /// use hook_sdk::{Action, Errno};
    /// assert_eq!(Action::fail(Errno::EPERM), Action::Return(-1));
    /// ```
    pub fn fail(errno: Errno) -> Action {
        Action::Return(-(errno.into_raw() as i64))
    }
}

/// A system call hook. Every method has a default that passes the call through: override
/// what you need.
///
/// The methods run on the program's thread, inside its system call. Per-thread state is a
/// `thread_local!` of the hook library:
///
/// ```
/// use std::cell::Cell;
/// use hook_sdk::{Hook, Syscall};
///
/// thread_local! {
///     static CALLS: Cell<u64> = const { Cell::new(0) };
/// }
///
/// struct PerThread;
/// impl Hook for PerThread {
///     fn after(&self, _call: &Syscall, result: i64) -> i64 {
///         CALLS.with(|c| c.set(c.get() + 1));
///         result
///     }
/// }
/// # assert_eq!(PerThread.after(&Syscall::new(39, &[]), 7), 7);
/// # assert_eq!(CALLS.with(Cell::get), 1);
/// ```
pub trait Hook: Sync + 'static {
    /// Called once when the library is loaded, before any system call reaches the hook.
    /// Return an error message to stop the program (the runtime prints it and exits).
    ///
    /// ```
    /// struct NeedsConfig;
    /// impl hook_sdk::Hook for NeedsConfig {
    ///     fn init(&self) -> Result<(), String> {
    ///         std::env::var("MY_HOOK_CONFIG")
    ///             .map(drop)
    ///             .map_err(|_| "set MY_HOOK_CONFIG to the configuration file".to_string())
    ///     }
    /// }
    /// # use hook_sdk::Hook;
    /// assert!(NeedsConfig.init().is_err());
    /// ```
    fn init(&self) -> Result<(), String> {
        Ok(())
    }

    /// Called for every system call of the program. The default runs [`Hook::before`], makes
    /// the call with `next` unless `before` answered it, and returns what [`Hook::after`]
    /// makes of the result.
    ///
    /// ```
    /// use hook_sdk::{Hook, Next, Syscall, libc};
    ///
    /// /// Counts the calls that fail.
    /// struct Failures(std::sync::atomic::AtomicU64);
    /// impl Hook for Failures {
    ///     fn syscall(&self, call: Syscall, next: Next) -> i64 {
    ///         let r = next.call(call);
    ///         if hook_sdk::result(r).is_err() {
    ///             self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ///         }
    ///         r
    ///     }
    /// }
    /// let f = Failures(0.into());
    /// f.syscall(Syscall::new(libc::SYS_close, &[-1]), Next::kernel());
    /// assert_eq!(f.0.into_inner(), 1);
    /// ```
    ///
    /// Calls that do not return (`exit`, `exit_group`, a successful `execve`) never reach
    /// `after`; a thread made by `clone` with a new stack starts in the program, not here;
    /// the child of `fork` (or `clone` without a new stack) returns here with result 0.
    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        let mut call = call;
        match self.before(&mut call) {
            Action::Return(r) => r,
            Action::Continue => {
                let r = next.call(call);
                self.after(&call, r)
            }
        }
    }

    /// Called before the call is made: change `call` to change what is made, or answer it
    /// without the kernel.
    ///
    /// ```
    /// use hook_sdk::{Action, Errno, Hook, Syscall, View};
    ///
    /// struct NoKill;
    /// impl Hook for NoKill {
    ///     fn before(&self, call: &mut Syscall) -> Action {
    ///         match call.view() {
    ///             View::Kill(k) if k.pid != hook_sdk::raw::getpid() => Action::fail(Errno::EPERM),
    ///             _ => Action::Continue,
    ///         }
    ///     }
    /// }
    /// let mut c = Syscall::new(hook_sdk::libc::SYS_kill, &[1, 9]);
    /// assert_eq!(NoKill.before(&mut c), Action::Return(-1));
    /// ```
    fn before(&self, call: &mut Syscall) -> Action {
        let _ = call;
        Action::Continue
    }

    /// Called with the call (as made) and its result; returns the result the program sees.
    ///
    /// ```
    /// use hook_sdk::{Hook, Syscall, libc};
    ///
    /// /// Every process is pid 1, as far as it can tell.
    /// struct Pid1;
    /// impl Hook for Pid1 {
    ///     fn after(&self, call: &Syscall, result: i64) -> i64 {
    ///         if call.nr == libc::SYS_getpid { 1 } else { result }
    ///     }
    /// }
    /// assert_eq!(Pid1.after(&Syscall::new(libc::SYS_getpid, &[]), 4242), 1);
    /// ```
    fn after(&self, call: &Syscall, result: i64) -> i64 {
        let _ = call;
        result
    }
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    /// Makes the hook library's thread-local storage static (`DF_STATIC_TLS`): one
    /// initial-exec reference to a TLS word of the library. The dynamic loader then places the
    /// library's whole TLS block in each thread's static TLS area, set up when the thread is
    /// created. Without it, a thread's first use of a `thread_local!` of the hook would allocate
    /// the block with the program's `malloc`, from inside the program's system call (perhaps
    /// one `malloc` itself makes), whose own system calls would come back to the hook: a
    /// recursion that overflows the stack.
    #[macro_export]
    #[doc(hidden)]
    macro_rules! __static_tls_marker {
        () => {
            ::core::arch::global_asm! {
                ".pushsection .tbss,\"awT\",@nobits",
                ".p2align 3",
                // Global but hidden: found from __hook_init whatever codegen unit each lands
                // in, never exported; weak: a second definition does not clash.
                ".weak __zpoline_hook_static_tls",
                ".hidden __zpoline_hook_static_tls",
                ".type __zpoline_hook_static_tls, @object",
                ".size __zpoline_hook_static_tls, 8",
                "__zpoline_hook_static_tls:",
                ".zero 8",
                ".popsection",
            }
        };
    }
    pub use __static_tls_marker as static_tls_marker;

    /// The `__hook_init` body: reads the runtime's next function and installs `entry`.
    ///
    /// # Safety
    /// `slot` is the pointer the runtime passes to `__hook_init`.
    pub unsafe fn init(slot: *mut c_void, entry: SyscallFn, hook: &dyn Hook) -> i32 {
        if slot.is_null() {
            return -1;
        }
        let slot = slot as *mut usize;
        // SAFETY: the runtime's slot holds a function pointer of the zpoline signature.
        let next = unsafe { slot.read() };
        if next == 0 {
            let _ = raw::write_all(2, b"zpoline hook: the hook slot holds no next function\n");
            return -1;
        }
        NEXT.store(next, Ordering::SeqCst);
        // A panic is reported as the hook's, then the process aborts (with `panic = "abort"`
        // the default hook's message is all there is; with unwinding, dispatch stops it).
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = raw::write_all(
                2,
                b"zpoline hook: the hook panicked; aborting the program\n",
            );
            previous(info);
        }));
        if let Err(msg) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook.init()))
            .unwrap_or_else(|_| Err("panic in Hook::init".into()))
        {
            eprintln!("zpoline hook: {msg}");
            // ZPOLINE_HOOK_REFUSED: the line above is the error; the runtime adds none.
            return -2;
        }
        // SAFETY: as above; the runtime reads the slot on every system call.
        unsafe { slot.write(entry as usize) };
        0
    }

    /// The runtime's next function, once the hook is installed.
    pub fn next() -> Option<Next> {
        let raw = NEXT.load(Ordering::Relaxed);
        // SAFETY: a non-zero value was read from the runtime's slot: a zpoline function.
        (raw != 0).then(|| Next(unsafe { core::mem::transmute::<usize, SyscallFn>(raw) }))
    }

    /// Runs the hook for one call; a panic never unwinds into the application. Inlined into
    /// the library's entry point: the arguments stay in registers.
    #[inline(always)]
    pub fn dispatch(hook: &dyn Hook, nr: i64, a: [i64; 6]) -> i64 {
        let raw = NEXT.load(Ordering::Relaxed);
        // SAFETY: set by init before the runtime could call us.
        let next = Next(unsafe { core::mem::transmute::<usize, SyscallFn>(raw) });
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hook.syscall(Syscall { nr, args: a }, next)
        })) {
            Ok(r) => r,
            // The panic hook set by init has reported it.
            Err(_) => std::process::abort(),
        }
    }
}

/// Exports `__hook_init` for a value implementing [`Hook`] (a `const` expression, e.g. a unit
/// struct).
#[macro_export]
macro_rules! zpoline_hook {
    ($hook:expr) => {
        static __ZPOLINE_HOOK: &(dyn $crate::Hook) = &$hook;

        $crate::__private::static_tls_marker!();

        unsafe extern "C" fn __zpoline_entry(
            nr: i64,
            a1: i64,
            a2: i64,
            a3: i64,
            a4: i64,
            a5: i64,
            a6: i64,
        ) -> i64 {
            $crate::__private::dispatch(__ZPOLINE_HOOK, nr, [a1, a2, a3, a4, a5, a6])
        }

        /// The zpoline ABI entry point, called once by the runtime.
        ///
        /// # Safety
        /// Called by the runtime with the address of its hook pointer.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn __hook_init(
            _placeholder: i64,
            sys_call_hook_ptr: *mut ::core::ffi::c_void,
        ) -> i32 {
            // The initial-exec reference that makes the library's TLS static (see
            // `__private::static_tls_marker`).
            let _offset: u64;
            // SAFETY: loads a constant (the TLS offset of the word above) from the GOT; reads
            // no other memory, writes none.
            unsafe {
                ::core::arch::asm!(
                    "mov __zpoline_hook_static_tls@GOTTPOFF(%rip), {o}",
                    o = out(reg) _offset,
                    options(att_syntax, nostack, readonly, preserves_flags),
                );
            }
            // SAFETY: forwarded from the runtime.
            unsafe { $crate::__private::init(sys_call_hook_ptr, __zpoline_entry, __ZPOLINE_HOOK) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn fake_next(
        nr: i64,
        a1: i64,
        _: i64,
        _: i64,
        _: i64,
        _: i64,
        _: i64,
    ) -> i64 {
        nr * 1000 + a1
    }

    struct PassThrough;
    impl Hook for PassThrough {}

    #[test]
    fn default_passes_through() {
        let next = Next(fake_next);
        let r = PassThrough.syscall(
            Syscall {
                nr: 2,
                args: [5, 0, 0, 0, 0, 0],
            },
            next,
        );
        assert_eq!(r, 2005);
    }

    #[test]
    fn names() {
        assert_eq!(syscall_name(257), Some("openat"));
        assert_eq!(syscall_name(0x4000_0027), None);
    }
}
