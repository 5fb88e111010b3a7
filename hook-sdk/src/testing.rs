//! Random system calls for testing a hook's decoding and decisions without the runtime: every
//! argument kind a program may pass (0, -1, small numbers, pointers into readable random bytes,
//! unmapped and non-canonical pointers, huge values, error numbers), reproducible from a seed.
//! A hook must never panic on any of them (a panic aborts the program it hooks).
//!
//! ```
//! use hook_sdk::{View, testing::RandomCalls};
//!
//! let mut calls = RandomCalls::new(42);
//! for nr in 0..470 {
//!     for _ in 0..4 {
//!         let call = calls.call(nr);
//!         let _ = call.view().to_string(); // never panics, never trusts a pointer
//!         let _ = calls.result();
//!     }
//! }
//! ```

use crate::Syscall;

/// A source of random calls and results; its pointers point into its own buffer of random
/// bytes, so they stay valid as long as it lives.
pub struct RandomCalls {
    bytes: Vec<u8>,
    state: u64,
}

impl RandomCalls {
    /// A generator seeded with `seed` (the same seed gives the same calls).
    pub fn new(seed: u64) -> RandomCalls {
        let mut r = RandomCalls {
            bytes: Vec::new(),
            state: seed | 1,
        };
        r.bytes = (0..65536).map(|_| r.next_u64() as u8).collect();
        r
    }

    /// The next 64 random bits (xorshift64).
    pub fn next_u64(&mut self) -> u64 {
        let mut s = self.state;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.state = s;
        s
    }

    /// One argument of a random kind.
    pub fn value(&mut self) -> i64 {
        let base = self.bytes.as_ptr() as u64;
        match self.next_u64() % 9 {
            0 => 0,
            1 => -1,
            2 => (self.next_u64() % 64) as i64,
            3 => (base + self.next_u64() % (self.bytes.len() as u64 - 4096)) as i64,
            4 => 0x10,
            5 => 0x8000_0000_0000_0000u64 as i64,
            6 => (self.next_u64() % (1 << 40)) as i64,
            7 => -((self.next_u64() % 4095) as i64 + 1),
            _ => self.next_u64() as i64,
        }
    }

    /// A call of `nr` with six random arguments.
    pub fn call(&mut self, nr: i64) -> Syscall {
        let mut args = [0i64; 6];
        for a in args.iter_mut() {
            *a = self.value();
        }
        Syscall { nr, args }
    }

    /// A random result: 0, a small count, an error (`-errno`), a pointer, or any value.
    pub fn result(&mut self) -> i64 {
        match self.next_u64() % 4 {
            0 => 0,
            1 => (self.next_u64() % 4096) as i64,
            2 => -((self.next_u64() % 133) as i64 + 1),
            _ => self.value(),
        }
    }
}
