//! `libzpoline.so`: hooks every system call of a Linux x86-64 process from user space.
//!
//! Loaded with `LD_PRELOAD`, its constructor ([`init`]) maps a trampoline at address 0
//! ([`trampoline`]), rewrites each `syscall`/`sysenter` of the executable mappings into
//! `callq *%rax` ([`rewrite`], [`decode`], [`ehframe`], [`maps`]) and loads the hook library
//! named by `LIBZPHOOK` ([`hook`]). A rewritten site calls into the trampoline, which slides into
//! the dispatcher ([`arch::x86_64::zp_entry`], [`dispatch`]); it keeps the kernel's contract
//! (registers, flags, extended state, red zone) and hands the call to the hook.
//!
//! See `Documentation/README.md` for the design.

#![warn(missing_docs)]

pub mod arch;
pub mod audit;
pub mod cache;
pub mod decode;
pub mod dispatch;
pub mod dstack;
pub mod ehframe;
pub mod follow;
pub mod hook;
pub mod init;
pub mod lazy;
pub mod loader;
pub mod maps;
pub mod rewrite;
pub mod signals;
pub mod sites;
pub mod stubs;
pub mod sud;
pub mod sys;
pub mod trampoline;
pub mod vforkbuf;
