//! The jump into a loaded program: the machine state `execve` leaves for the entry point.

/// Starts a loaded program: sets `rsp = sp`, zeroes every general register but `rsp` (`rdx` = 0
/// tells `_start` there is no function for `atexit`), clears the flags and jumps to `entry`.
///
/// # Safety
///
/// `sp` must point at `argc` of a stack built for the program (see `stack::build`), 16-byte
/// aligned, with at least 16 writable bytes below it; `entry` must be the entry point of a
/// loaded program or interpreter. Nothing of the calling program runs again on this thread.
#[unsafe(naked)]
pub unsafe extern "sysv64" fn jump(entry: u64, sp: u64) -> ! {
    // entry arrives in rdi, sp in rsi (System V calling convention).
    core::arch::naked_asm!(
        "mov %rsi, %rsp",      // the program's stack: (%rsp) is argc
        "mov %rdi, -16(%rsp)", // keep entry below the stack (the push below takes -8)
        "xor %eax, %eax",      // rax = 0
        "xor %ebx, %ebx",      // rbx = 0
        "xor %ecx, %ecx",      // rcx = 0
        "xor %edx, %edx",      // rdx = 0: no atexit function for _start
        "xor %esi, %esi",      // rsi = 0
        "xor %edi, %edi",      // rdi = 0
        "xor %ebp, %ebp",      // rbp = 0: the outermost frame
        "xor %r8d, %r8d",      // r8 = 0
        "xor %r9d, %r9d",      // r9 = 0
        "xor %r10d, %r10d",    // r10 = 0
        "xor %r11d, %r11d",    // r11 = 0
        "xor %r12d, %r12d",    // r12 = 0
        "xor %r13d, %r13d",    // r13 = 0
        "xor %r14d, %r14d",    // r14 = 0
        "xor %r15d, %r15d",    // r15 = 0
        "push $0",             // a zero word at -8(%rsp) ...
        "popfq", // ... into rflags (after the xors, which set ZF and PF); rsp = sp again
        "jmp *-16(%rsp)", // to entry, with rsp = sp and every other register zero
        options(att_syntax)
    );
}

#[cfg(test)]
mod tests {
    use super::jump;

    /// A program entry that checks the state `jump` leaves and exits with argc (the word at
    /// rsp), or with 100 + the number of the first check that fails.
    #[unsafe(naked)]
    extern "sysv64" fn probe() {
        core::arch::naked_asm!(
            "pushfq",            // rflags as jump left them, before any check changes them
            "or %rax, %rbx",     // check 1: every general register but rsp is zero; rbx |= rax
            "or %rcx, %rbx",     // rbx |= rcx
            "or %rdx, %rbx",     // rbx |= rdx
            "or %rsi, %rbx",     // rbx |= rsi
            "or %rbp, %rbx",     // rbx |= rbp
            "or %r8, %rbx",      // rbx |= r8
            "or %r9, %rbx",      // rbx |= r9
            "or %r10, %rbx",     // rbx |= r10
            "or %r11, %rbx",     // rbx |= r11
            "or %r12, %rbx",     // rbx |= r12
            "or %r13, %rbx",     // rbx |= r13
            "or %r14, %rbx",     // rbx |= r14
            "or %r15, %rbx",     // rbx |= r15
            "or %rdi, %rbx",     // rbx |= rdi: ZF is clear if any register was set
            "mov $101, %edi",    // the exit code for check 1 (mov leaves the flags alone)
            "jnz 2f",            // fail if any register was set
            "mov $102, %edi",    // check 2: the entry's rsp (rsp + 8 here) is 16-byte aligned
            "lea 8(%rsp), %rcx", // rcx = the rsp jump set
            "test $15, %rcx",    // its low 4 bits
            "jnz 2f",            // fail if any is set
            "mov $103, %edi",    // check 3: CF PF AF ZF SF TF DF OF were clear
            "pop %rax",          // rax = the rflags pushed first; rsp = the entry's rsp
            "test $0xdd5, %eax", // CF PF AF ZF SF TF DF OF (0x1 0x4 0x10 0x40 0x80 0x100 0x400 0x800)
            "jnz 2f",            // fail if any is set
            "mov (%rsp), %rdi",  // success: exit code = argc
            "2:",                // exit_group(rdi)
            "mov $231, %eax",    // SYS_exit_group
            "syscall",           // does not return
            "ud2",               // never reached
            options(att_syntax)
        );
    }

    #[test]
    fn jump_leaves_a_clean_state() {
        let mut stack = vec![0u64; 1024];
        let sp = (stack.as_mut_ptr() as u64 + 4096) & !15;
        // SAFETY: sp is inside `stack`, with room on both sides.
        unsafe { *(sp as *mut u64) = 42 };
        // SAFETY: the child only jumps (no allocation, no lock) onto memory it owns after the fork.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: `probe` only reads registers and argc at sp, then exits.
            unsafe { jump(probe as extern "sysv64" fn() as usize as u64, sp) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "status {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            42,
            "check {} failed",
            libc::WEXITSTATUS(status) - 100
        );
    }
}
