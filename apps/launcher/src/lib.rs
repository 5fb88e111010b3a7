//! The launcher's ELF loader: a user-space `execve` that maps a program and its interpreter into
//! the current process, builds the initial stack the kernel would build and jumps to it.
//!
//! - [`elf`] parses the headers of an ELF64 x86-64 executable or shared object;
//! - [`image`] maps one into the process like the kernel does;
//! - [`stack`] builds the initial stack (argv, envp, auxv);
//! - [`arch`] jumps to the entry point with the registers `execve` leaves;
//! - [`loader`] puts them together: [`loader::prepare`] and [`loader::start`].
//!
//! `zpoline load -- CMD [ARGS...]` runs a command through it, without the runtime.

#![warn(missing_docs)]

pub mod arch;
pub mod elf;
pub mod image;
pub mod loader;
pub mod stack;
