//! A trace line in a fixed buffer, and the strace-style printing of numbers and of the
//! program's strings and buffers (read with `process_vm_readv`, never dereferenced). Nothing
//! here allocates.

use core::fmt;

use hook_sdk::mem;

/// The size of a line.
pub const CAP: usize = 2048;
/// Room kept at the end of a line for `) = result` (the arguments stop before it).
const RESERVE: usize = 200;

/// strace's default string limit (`-s 32`): longer strings and buffers are cut, with `...`
/// after the closing quote.
pub const STRLEN: usize = 32;
/// The longest path printed (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// A line being built in a fixed buffer (no allocation on the hook path).
pub struct Line {
    buf: [u8; CAP],
    len: usize,
    limit: usize,
    cut: bool,
}

impl Default for Line {
    fn default() -> Line {
        Line {
            buf: [0; CAP],
            len: 0,
            limit: CAP - RESERVE,
            cut: false,
        }
    }
}

impl Line {
    /// Empties the line.
    pub fn clear(&mut self) {
        self.len = 0;
        self.limit = CAP - RESERVE;
        self.cut = false;
    }

    /// Appends bytes (cut at the limit: the arguments' part leaves room for the result).
    pub fn push(&mut self, b: &[u8]) {
        let room = self.limit.saturating_sub(self.len);
        let n = b.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        if n < b.len() {
            self.cut = true;
        }
    }

    /// Ends the line with its newline, whatever the limit: a line that filled the buffer ends
    /// with `...` and the newline in its last bytes (the next line never joins it).
    pub fn newline(&mut self) {
        if self.len < CAP {
            self.buf[self.len] = b'\n';
            self.len += 1;
        } else {
            self.buf[CAP - 4..].copy_from_slice(b"...\n");
        }
    }

    /// Appends a string.
    pub fn s(&mut self, s: &str) {
        self.push(s.as_bytes());
    }

    /// Whether the arguments' part is full (what follows is dropped).
    pub fn full(&self) -> bool {
        self.len >= self.limit
    }

    /// Ends the arguments: what follows (the result) may use the whole line. A line whose
    /// arguments were cut gets `...` where they stop.
    pub fn end_args(&mut self) {
        self.limit = CAP;
        if self.cut {
            self.s("...");
            self.cut = false;
        }
    }

    /// Appends a signed decimal number.
    pub fn int(&mut self, v: i64) {
        if v < 0 {
            self.push(b"-");
        }
        self.uint(v.unsigned_abs());
    }

    /// Appends an unsigned decimal number.
    pub fn uint(&mut self, v: u64) {
        let mut d = [0u8; 20];
        let mut i = d.len();
        let mut u = v;
        loop {
            i -= 1;
            d[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        self.push(&d[i..]);
    }

    /// Appends `0x` and a hexadecimal number (`0x0` for zero).
    pub fn hex(&mut self, v: u64) {
        let mut d = [0u8; 16];
        let mut i = d.len();
        let mut u = v;
        loop {
            i -= 1;
            d[i] = b"0123456789abcdef"[(u & 15) as usize];
            u >>= 4;
            if u == 0 {
                break;
            }
        }
        self.push(b"0x");
        self.push(&d[i..]);
    }

    /// Appends a number as C's `%#x` does: `0` for zero, else `0x...`.
    pub fn xhex(&mut self, v: u64) {
        if v == 0 {
            self.push(b"0");
        } else {
            self.hex(v);
        }
    }

    /// Appends a number in octal as C's `%#03o` does (`000`, `022`, `0644`, `04755`).
    pub fn mode(&mut self, v: u64) {
        let mut d = [0u8; 24];
        let mut i = d.len();
        let mut u = v;
        while u != 0 {
            i -= 1;
            d[i] = b'0' + (u & 7) as u8;
            u >>= 3;
        }
        // The leading 0, then padding to three characters.
        i -= 1;
        d[i] = b'0';
        while d.len() - i < 3 {
            i -= 1;
            d[i] = b'0';
        }
        self.push(&d[i..]);
    }

    /// Appends a pointer: `NULL`, or in hexadecimal.
    pub fn ptr(&mut self, v: u64) {
        if v == 0 {
            self.push(b"NULL");
        } else {
            self.hex(v);
        }
    }

    /// The bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Writes bytes quoted as strace does, one at a time: `\t\n\v\f\r`, `\"` and `\\` by name,
/// other unprintable bytes in octal (three digits only when an octal digit follows), or
/// every byte as `\xNN` in hexadecimal style.
pub struct Quote<'a> {
    l: &'a mut Line,
    held: Option<u8>,
    hex: bool,
}

impl<'a> Quote<'a> {
    /// Opens the quote.
    pub fn new(l: &'a mut Line, hex: bool) -> Quote<'a> {
        l.push(b"\"");
        Quote { l, held: None, hex }
    }

    /// Adds one byte (written once the next is known, which decides the octal form).
    pub fn byte(&mut self, b: u8) {
        if let Some(h) = self.held {
            self.emit(h, Some(b));
        }
        self.held = Some(b);
    }

    /// Adds bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.byte(b);
        }
    }

    /// Closes the quote.
    pub fn close(mut self) {
        if let Some(h) = self.held.take() {
            self.emit(h, None);
        }
        self.l.push(b"\"");
    }

    fn emit(&mut self, c: u8, next: Option<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if self.hex {
            self.l
                .push(&[b'\\', b'x', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
            return;
        }
        let named = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'\t' => Some(b't'),
            b'\n' => Some(b'n'),
            0x0b => Some(b'v'),
            0x0c => Some(b'f'),
            b'\r' => Some(b'r'),
            _ => None,
        };
        if let Some(n) = named {
            self.l.push(&[b'\\', n]);
        } else if (0x20..0x7f).contains(&c) {
            self.l.push(&[c]);
        } else {
            let digits = [b'0' + (c >> 6), b'0' + ((c >> 3) & 7), b'0' + (c & 7)];
            let full = matches!(next, Some(b'0'..=b'7'));
            let from = if full || c >= 0o100 {
                0
            } else if c >= 0o10 {
                1
            } else {
                2
            };
            self.l.push(b"\\");
            self.l.push(&digits[from..]);
        }
    }
}

/// Appends `bytes` quoted (see [`Quote`]).
pub fn quoted(l: &mut Line, bytes: &[u8], hex: bool) {
    let mut q = Quote::new(l, hex);
    q.bytes(bytes);
    q.close();
}

/// Appends the `n` bytes of the program's buffer at `addr` the way strace shows a data
/// buffer: quoted, at most [`STRLEN`] of them, then `...` when there are more; `NULL`, `""`
/// for none, or the address when it cannot be read.
pub fn buffer(l: &mut Line, addr: u64, n: u64, hex: bool) {
    if addr == 0 {
        l.push(b"NULL");
        return;
    }
    if n == 0 {
        l.push(b"\"\"");
        return;
    }
    let want = (n as usize).min(STRLEN);
    let mut buf = [0u8; STRLEN];
    match mem::read(addr, &mut buf[..want]) {
        Some(got) if got == want => {
            quoted(l, &buf[..want], hex);
            if n as usize > want {
                l.push(b"...");
            }
        }
        _ => l.hex(addr),
    }
}

/// Appends the NUL-terminated string at the program's `addr`, quoted: at most `max` bytes,
/// then `...` when it is longer; `NULL`, or the address when it cannot be read. Paths are
/// shown whole (`max` = [`PATH_MAX`]), other strings cut at [`STRLEN`].
pub fn cstr(l: &mut Line, addr: u64, max: usize) {
    if addr == 0 {
        l.push(b"NULL");
        return;
    }
    let mut chunk = [0u8; 256];
    // One more byte than shown tells whether the string goes on.
    let first = (max + 1).min(chunk.len());
    let Some(got) = mem::read(addr, &mut chunk[..first]) else {
        l.hex(addr);
        return;
    };
    let mut q = Quote::new(l, false);
    let mut done = 0usize;
    let mut got = got;
    loop {
        let part = &chunk[..got];
        let end = part.iter().position(|&b| b == 0);
        let take = end.unwrap_or(got).min(max - done);
        q.bytes(&part[..take]);
        done += take;
        if end.is_some_and(|e| e <= take) {
            q.close();
            return;
        }
        if done >= max {
            q.close();
            l.push(b"...");
            return;
        }
        if q.l.full() {
            q.close();
            return;
        }
        let want = (max + 1 - done).min(chunk.len());
        match mem::read(addr + done as u64, &mut chunk[..want]) {
            Some(n) => got = n,
            None => {
                // Runs into an unreadable page before its end.
                q.close();
                l.push(b"...");
                return;
            }
        }
    }
}

/// The text a decoder appends to an empty line (for the decoders' tests).
#[cfg(test)]
pub fn text(f: impl FnOnce(&mut Line)) -> String {
    let mut l = Line::default();
    f(&mut l);
    String::from_utf8(l.bytes().to_vec()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(l: &Line) -> &str {
        std::str::from_utf8(l.bytes()).unwrap()
    }

    #[test]
    fn octal_escapes_like_strace() {
        let mut l = Line::default();
        quoted(
            &mut l,
            b"\x018\x02a\x000\x7f\x80\xff\t\n\x0b\x0c\r\"\\\x07\x08\x1bxyz",
            false,
        );
        assert_eq!(
            text(&l),
            r#""\18\2a\0000\177\200\377\t\n\v\f\r\"\\\7\10\33xyz""#
        );
        let mut l = Line::default();
        quoted(&mut l, b"\xef\x01A", true);
        assert_eq!(text(&l), r#""\xef\x01\x41""#);
    }

    #[test]
    fn buffers_cut_at_32() {
        let data = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut l = Line::default();
        buffer(&mut l, data.as_ptr() as u64, 36, false);
        assert_eq!(text(&l), r#""abcdefghijklmnopqrstuvwxyz012345"..."#);
        let mut l = Line::default();
        buffer(&mut l, data.as_ptr() as u64, 32, false);
        assert_eq!(text(&l), r#""abcdefghijklmnopqrstuvwxyz012345""#);
        let mut l = Line::default();
        buffer(&mut l, 1, 10, false);
        buffer(&mut l, 0, 10, false);
        buffer(&mut l, 1, 0, false);
        buffer(&mut l, 0, 0, false);
        assert_eq!(text(&l), r#"0x1NULL""NULL"#);
    }

    #[test]
    fn strings_and_paths() {
        let long = c"/usr/lib/x86_64-linux-gnu/aaaaaaaaaaaaaaaaaaaa";
        let mut l = Line::default();
        cstr(&mut l, long.as_ptr() as u64, STRLEN);
        assert_eq!(text(&l), r#""/usr/lib/x86_64-linux-gnu/aaaaaa"..."#);
        let mut l = Line::default();
        cstr(&mut l, long.as_ptr() as u64, PATH_MAX);
        assert_eq!(
            text(&l),
            r#""/usr/lib/x86_64-linux-gnu/aaaaaaaaaaaaaaaaaaaa""#
        );
        let exact = c"0123456789abcdef0123456789abcdef";
        let mut l = Line::default();
        cstr(&mut l, exact.as_ptr() as u64, STRLEN);
        assert_eq!(text(&l), r#""0123456789abcdef0123456789abcdef""#);
        // A path longer than a chunk.
        let mut v = vec![b'x'; 700];
        v.push(0);
        let mut l = Line::default();
        cstr(&mut l, v.as_ptr() as u64, PATH_MAX);
        assert_eq!(l.bytes().len(), 702);
        let mut l = Line::default();
        cstr(&mut l, 0, PATH_MAX);
        cstr(&mut l, 8, PATH_MAX);
        assert_eq!(text(&l), "NULL0x8");
    }

    #[test]
    fn numbers() {
        let mut l = Line::default();
        for m in [0, 0o22, 0o644, 0o4755] {
            l.mode(m);
            l.s(" ");
        }
        l.xhex(0);
        l.s(" ");
        l.xhex(0x20);
        l.s(" ");
        l.int(i64::MIN);
        assert_eq!(text(&l), "000 022 0644 04755 0 0x20 -9223372036854775808");
    }

    #[test]
    fn long_lines_keep_room_for_the_result() {
        let mut l = Line::default();
        for _ in 0..CAP {
            l.s("x");
        }
        assert!(l.full());
        l.end_args();
        l.s(") = 0\n");
        assert!(text(&l).ends_with("xxx...) = 0\n"));
    }
}
