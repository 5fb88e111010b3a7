//! Write zpoline hook libraries in Rust.
//!
//! A hook library is a `cdylib` that `libzpoline.so` loads (from `LIBZPHOOK`) into its own
//! link-map namespace, so the hook may use the standard library freely: its own libc is never
//! rewritten. Implement [`Hook`] (whose default passes every call through) and export it with
//! [`zpoline_hook!`]:
//!
//! ```no_run
//! use hook_sdk::{Hook, Next, Syscall};
//!
//! struct DenyUnlink;
//!
//! impl Hook for DenyUnlink {
//!     fn syscall(&self, call: Syscall, next: Next) -> i64 {
//!         if call.name() == Some("unlinkat") {
//!             return -(libc::EPERM as i64);
//!         }
//!         next.call(call)
//!     }
//! }
//!
//! hook_sdk::zpoline_hook!(DenyUnlink);
//! # fn main() {}
//! ```
//!
//! The exported `__hook_init` follows the zpoline ABI, so the same library also works with the
//! original C zpoline.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};

pub use libc;

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
}

/// The name of system call `nr` on x86-64, or `None` for an unknown or out-of-range number.
///
/// ```
/// assert_eq!(hook_sdk::syscall_name(0), Some("read"));
/// assert_eq!(hook_sdk::syscall_name(-1), None);
/// ```
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    let n = u32::try_from(nr).ok()?;
    syscalls::Sysno::new(n as usize).map(|s| s.name())
}

/// The rest of the chain: calling it performs the system call (or the next hook's work).
#[derive(Clone, Copy)]
pub struct Next(SyscallFn);

impl Next {
    /// Performs `call` and returns the kernel's result (`-errno` on failure).
    pub fn call(self, call: Syscall) -> i64 {
        let a = call.args;
        // SAFETY: the runtime's next function takes any number and arguments; what the kernel
        // does with them is the hook's decision, as it would be the application's.
        unsafe { (self.0)(call.nr, a[0], a[1], a[2], a[3], a[4], a[5]) }
    }
}

/// A system call hook. The default implementation passes every call through unchanged.
pub trait Hook: Sync + 'static {
    /// Called once when the library is loaded, before any system call reaches [`Hook::syscall`].
    /// Return an error message to stop the program (the runtime prints it and exits).
    fn init(&self) -> Result<(), String> {
        Ok(())
    }

    /// Called for every system call of the application. `next.call(call)` performs it.
    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        next.call(call)
    }
}

#[doc(hidden)]
pub mod __private {
    use super::*;

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    /// The `__hook_init` body: reads the runtime's next function and installs `entry`.
    ///
    /// # Safety
    /// `slot` is the pointer the runtime passes to `__hook_init`.
    pub unsafe fn init(slot: *mut c_void, entry: SyscallFn, hook: &dyn Hook) -> i32 {
        if slot.is_null() {
            return -1;
        }
        if let Err(msg) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook.init()))
            .unwrap_or_else(|_| Err("panic in Hook::init".into()))
        {
            eprintln!("zpoline hook: {msg}");
            return -1;
        }
        let slot = slot as *mut usize;
        // SAFETY: the runtime's slot holds a function pointer of the zpoline signature.
        NEXT.store(unsafe { slot.read() }, Ordering::SeqCst);
        // SAFETY: as above; the runtime reads the slot on every system call.
        unsafe { slot.write(entry as usize) };
        0
    }

    /// Runs the hook for one call; a panic never unwinds into the application.
    pub fn dispatch(hook: &dyn Hook, nr: i64, a: [i64; 6]) -> i64 {
        let raw = NEXT.load(Ordering::Relaxed);
        // SAFETY: set by init before the runtime could call us.
        let next = Next(unsafe { core::mem::transmute::<usize, SyscallFn>(raw) });
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hook.syscall(Syscall { nr, args: a }, next)
        })) {
            Ok(r) => r,
            Err(_) => {
                let msg = b"zpoline hook: the hook panicked; aborting\n";
                // SAFETY: write(2) on stderr with a valid buffer.
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                std::process::abort()
            }
        }
    }
}

/// Exports `__hook_init` for a value implementing [`Hook`] (a `const` expression, e.g. a unit
/// struct).
#[macro_export]
macro_rules! zpoline_hook {
    ($hook:expr) => {
        static __ZPOLINE_HOOK: &(dyn $crate::Hook) = &$hook;

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
