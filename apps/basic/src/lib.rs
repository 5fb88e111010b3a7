//! The classic first hook: prints each system call's number and name to stderr, then performs
//! it. Writes with one `write(2)` per line from a stack buffer: no allocation, no lock.
//!
//! `LIBZPHOOK=target/release/libzphook_basic.so LD_PRELOAD=target/release/libzpoline.so ls`

use hook_sdk::{Hook, Next, Syscall, libc};

struct Basic;

fn push(buf: &mut [u8], len: &mut usize, bytes: &[u8]) {
    let n = bytes.len().min(buf.len() - *len);
    buf[*len..*len + n].copy_from_slice(&bytes[..n]);
    *len += n;
}

fn push_num(buf: &mut [u8], len: &mut usize, v: i64) {
    let mut digits = [0u8; 24];
    let mut i = digits.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        digits[i] = b'-';
    }
    push(buf, len, &digits[i..]);
}

impl Hook for Basic {
    fn syscall(&self, call: Syscall, next: Next) -> i64 {
        let mut buf = [0u8; 96];
        let mut len = 0;
        push(&mut buf, &mut len, b"zpoline-basic: syscall ");
        push_num(&mut buf, &mut len, call.nr);
        push(&mut buf, &mut len, b" ");
        push(
            &mut buf,
            &mut len,
            call.name().unwrap_or("(unknown)").as_bytes(),
        );
        push(&mut buf, &mut len, b"\n");
        // SAFETY: write(2) of our own buffer to stderr, through the hook's own libc.
        unsafe { libc::write(2, buf.as_ptr().cast(), len) };
        next.call(call)
    }
}

hook_sdk::zpoline_hook!(Basic);
