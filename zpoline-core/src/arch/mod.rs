//! Architecture-specific code. Only x86-64 Linux is supported: every line of assembly is in
//! [`x86_64`].

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!("zpoline-core supports x86-64 Linux only");

pub mod x86_64;
