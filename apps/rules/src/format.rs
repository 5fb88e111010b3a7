//! `format = "..."` templates for the log action.
//!
//! A template is literal text with `{name}` placeholders naming variables of the
//! [`Scope`]; `{name:x}` renders a number in hexadecimal (`0x1f`), `{{` and `}}` are literal
//! braces. Parsing happens once; [`Format::render`] writes into a fixed-size [`Buf`] without
//! allocating, locking or panicking, so it can run on every system call.
//!
//! ```
//! use zphook_rules::expr::{Env, Kind, Scope};
//! use zphook_rules::format::{Buf, Format};
//!
//! struct S;
//! impl Scope for S {
//!     fn var(&self, name: &str) -> Option<(u16, Kind)> {
//!         match name {
//!             "path" => Some((0, Kind::Str)),
//!             "flags" => Some((1, Kind::Int)),
//!             _ => None,
//!         }
//!     }
//!     fn constant(&self, _: &str) -> Option<i64> { None }
//! }
//! struct E;
//! impl Env for E {
//!     fn int(&self, _: u16) -> Option<i64> { Some(0x241) }
//!     fn str(&self, _: u16) -> Option<&[u8]> { Some(b"/etc/passwd") }
//! }
//!
//! let f = Format::parse("open {path} flags={flags:x} {{ok}}", &S).unwrap();
//! let mut buf = Buf::new();
//! f.render(&E, &mut buf);
//! assert_eq!(buf.as_bytes(), b"open /etc/passwd flags=0x241 {ok}");
//! ```

use std::fmt;

use crate::expr::{Env, Kind, ParseError, Scope, snippet};

/// The capacity of a [`Buf`] in bytes.
pub const BUF_CAPACITY: usize = 1024;

/// How many variable names an "unknown variable" message lists.
const LISTED_VARS: usize = 8;

/// A fixed-capacity output buffer that silently drops what does not fit.
#[derive(Clone)]
pub struct Buf {
    bytes: [u8; BUF_CAPACITY],
    len: usize,
}

impl Buf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Buf {
            bytes: [0; BUF_CAPACITY],
            len: 0,
        }
    }

    /// Appends `bytes` with control characters escaped (`\n`, `\t`, `\r`, `\\`, others as
    /// `\xHH`), so that a value (a file name with a newline) cannot split a log line.
    pub fn push_escaped(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &b in bytes {
            match b {
                b'\n' => self.push(b"\\n"),
                b'\t' => self.push(b"\\t"),
                b'\r' => self.push(b"\\r"),
                b'\\' => self.push(b"\\\\"),
                0..0x20 | 0x7f => self.push(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]),
                _ => self.push(&[b]),
            }
        }
    }

    /// Ends the text with a newline, replacing its last byte when the buffer is full (a log
    /// line always ends with one, so that the next line does not join it).
    pub fn finish_line(&mut self) {
        if self.len == BUF_CAPACITY {
            self.bytes[BUF_CAPACITY - 1] = b'\n';
        } else {
            self.push(b"\n");
        }
    }

    /// Appends `bytes`, keeping only what fits in the remaining capacity.
    pub fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(BUF_CAPACITY.saturating_sub(self.len));
        if let (Some(dst), Some(src)) = (self.bytes.get_mut(self.len..self.len + n), bytes.get(..n))
        {
            dst.copy_from_slice(src);
            self.len += n;
        }
    }

    /// Appends `v` in decimal, with a `-` if negative.
    pub fn push_int(&mut self, v: i64) {
        if v < 0 {
            self.push(b"-");
        }
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = v.unsigned_abs();
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or(&[]));
    }

    /// Appends `v` in lowercase hexadecimal with a `0x` prefix and no leading zeros.
    pub fn push_hex(&mut self, v: u64) {
        self.push(b"0x");
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        let mut n = v;
        loop {
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                let nibble = (n & 0xf) as u8;
                *d = if nibble < 10 {
                    b'0' + nibble
                } else {
                    b'a' + nibble - 10
                };
            }
            n >>= 4;
            if n == 0 || i == 0 {
                break;
            }
        }
        self.push(digits.get(i..).unwrap_or(&[]));
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// The number of bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the buffer is at capacity (further pushes are dropped).
    pub fn is_full(&self) -> bool {
        self.len >= BUF_CAPACITY
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Default for Buf {
    fn default() -> Self {
        Buf::new()
    }
}

impl fmt::Debug for Buf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Buf")
            .field(&String::from_utf8_lossy(self.as_bytes()))
            .finish()
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Literal text (braces already unescaped).
    Lit(Box<[u8]>),
    /// An integer variable, in hexadecimal if `hex`.
    Int { id: u16, hex: bool },
    /// A string variable.
    Str(u16),
}

/// A parsed `format` template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
    /// The variable ids used, sorted and without duplicates.
    vars: Vec<u16>,
}

impl Format {
    /// Parses the template `src`, resolving `{name}` placeholders as variables of `scope`.
    ///
    /// Errors: an unknown variable (at the name's offset), an unclosed `{` or a lone `}` (at
    /// the brace), an unknown `:spec`, or `:x` on a string (at the spec).
    pub fn parse(src: &str, scope: &dyn Scope) -> Result<Format, ParseError> {
        let bytes = src.as_bytes();
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    lit.push(b'{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    lit.push(b'}');
                    i += 2;
                }
                b'}' => {
                    return Err(ParseError::new(
                        i,
                        "unmatched `}`: write `}}` for a literal brace",
                    ));
                }
                b'{' => {
                    let close = bytes
                        .get(i + 1..)
                        .and_then(|rest| rest.iter().position(|&b| b == b'}'))
                        .map(|n| i + 1 + n)
                        .ok_or_else(|| {
                            ParseError::new(i, "unclosed `{`: write `{{` for a literal brace")
                        })?;
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit).into_boxed_slice()));
                    }
                    pieces.push(placeholder(src, i, close, scope)?);
                    i = close + 1;
                }
                _ => {
                    lit.push(b);
                    i += 1;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit.into_boxed_slice()));
        }
        let mut vars: Vec<u16> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Int { id, .. } | Piece::Str(id) => Some(*id),
                Piece::Lit(_) => None,
            })
            .collect();
        vars.sort_unstable();
        vars.dedup();
        Ok(Format { pieces, vars })
    }

    /// Appends the template, filled with the values in `env`, to `out`: strings as they are,
    /// numbers in decimal (or `0x` hexadecimal, as two's complement for negative numbers),
    /// missing values as `?`. Output beyond the buffer's capacity is dropped.
    pub fn render(&self, env: &dyn Env, out: &mut Buf) {
        for piece in &self.pieces {
            match piece {
                Piece::Lit(text) => out.push(text),
                Piece::Int { id, hex } => match env.int(*id) {
                    Some(v) if *hex => out.push_hex(v as u64),
                    Some(v) => out.push_int(v),
                    None => out.push(b"?"),
                },
                Piece::Str(id) => match env.str(*id) {
                    Some(v) => out.push_escaped(v),
                    None => out.push(b"?"),
                },
            }
        }
    }

    /// The ids of the variables the template uses (each once, in increasing order).
    pub fn vars(&self) -> impl Iterator<Item = u16> + '_ {
        self.vars.iter().copied()
    }
}

/// Parses the placeholder between the `{` at `open` and the `}` at `close`.
fn placeholder(
    src: &str,
    open: usize,
    close: usize,
    scope: &dyn Scope,
) -> Result<Piece, ParseError> {
    let inner = src.get(open + 1..close).unwrap_or("");
    let (name_part, spec) = match inner.split_once(':') {
        Some((name, spec)) => (name, Some(spec)),
        None => (inner, None),
    };
    let leading = name_part.len() - name_part.trim_start().len();
    let name = name_part.trim();
    let name_at = open + 1 + leading;
    if name.is_empty() {
        return Err(ParseError::new(
            name_at,
            format!(
                "expected a variable name in {}",
                snippet(src.get(open..=close).unwrap_or("{}"))
            ),
        ));
    }
    let Some((id, kind)) = scope.var(name) else {
        let mut msg = format!("unknown variable `{name}`");
        let vars = scope.var_names();
        if !vars.is_empty() {
            msg.push_str(": expected one of ");
            msg.push_str(
                &vars
                    .iter()
                    .take(LISTED_VARS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            if vars.len() > LISTED_VARS {
                msg.push_str(", ...");
            }
        }
        return Err(ParseError::new(name_at, msg));
    };
    let spec_at = open + 1 + name_part.len() + 1;
    let hex = match spec.map(str::trim) {
        None => false,
        Some("x") if kind == Kind::Int => true,
        Some("x") => {
            return Err(ParseError::new(
                spec_at,
                format!("`:x` needs a number; `{name}` is a string"),
            ));
        }
        Some(other) => {
            return Err(ParseError::new(
                spec_at,
                format!(
                    "unknown format {}: only `:x` (hexadecimal) is supported",
                    snippet(&format!(":{other}"))
                ),
            ));
        }
    };
    Ok(match kind {
        Kind::Int => Piece::Int { id, hex },
        Kind::Str => Piece::Str(id),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaped_values_keep_a_line_whole() {
        let mut b = Buf::new();
        b.push_escaped(b"a\nb\\c\x01d");
        assert_eq!(b.as_bytes(), b"a\\nb\\\\c\\x01d");
    }

    use super::*;
    use crate::expr::tests::allocations;

    const VARS: &[(&str, Kind)] = &[
        ("path", Kind::Str),
        ("fd", Kind::Int),
        ("flags", Kind::Int),
        ("comm", Kind::Str),
        ("ret", Kind::Int),
        ("a1", Kind::Int),
        ("a2", Kind::Int),
        ("a3", Kind::Int),
        ("a4", Kind::Int),
        ("a5", Kind::Int),
    ];

    struct TestScope;

    impl Scope for TestScope {
        fn var(&self, name: &str) -> Option<(u16, Kind)> {
            VARS.iter()
                .position(|(n, _)| *n == name)
                .map(|i| (i as u16, VARS[i].1))
        }
        fn constant(&self, name: &str) -> Option<i64> {
            crate::consts::constant(name)
        }
        fn var_names(&self) -> Vec<&'static str> {
            VARS.iter().map(|(n, _)| *n).collect()
        }
    }

    /// path = "/etc/passwd", fd = 3, flags = 0o101, comm = "cat", ret = -2; others missing.
    struct TestEnv;

    impl Env for TestEnv {
        fn int(&self, id: u16) -> Option<i64> {
            match id {
                1 => Some(3),
                2 => Some(0o101),
                4 => Some(-2),
                _ => None,
            }
        }
        fn str(&self, id: u16) -> Option<&[u8]> {
            match id {
                0 => Some(b"/etc/passwd"),
                3 => Some(b"cat"),
                _ => None,
            }
        }
    }

    /// An environment where nothing is known.
    struct Empty;

    impl Env for Empty {
        fn int(&self, _: u16) -> Option<i64> {
            None
        }
        fn str(&self, _: u16) -> Option<&[u8]> {
            None
        }
    }

    fn render(src: &str, env: &dyn Env) -> String {
        let f = Format::parse(src, &TestScope)
            .unwrap_or_else(|e| panic!("{src:?}: {} at {}", e.message, e.offset));
        let mut buf = Buf::new();
        f.render(env, &mut buf);
        String::from_utf8(buf.as_bytes().to_vec()).unwrap()
    }

    fn assert_err(src: &str, offset: usize, needle: &str) {
        let e = Format::parse(src, &TestScope).unwrap_err();
        assert!(
            e.message.contains(needle),
            "{src:?}: {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!(e.offset, offset, "{src:?}: {}", e.message);
        assert!(!e.message.contains('\n'));
    }

    fn int_text(v: i64) -> String {
        let mut b = Buf::new();
        b.push_int(v);
        String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    fn hex_text(v: u64) -> String {
        let mut b = Buf::new();
        b.push_hex(v);
        String::from_utf8(b.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            render("{comm} opened {path} as {fd}", &TestEnv),
            "cat opened /etc/passwd as 3"
        );
        assert_eq!(render("flags={flags:x}", &TestEnv), "flags=0x41");
        assert_eq!(
            render("ret={ret} hex={ret:x}", &TestEnv),
            "ret=-2 hex=0xfffffffffffffffe"
        );
        assert_eq!(render("{fd}{fd}{path}", &TestEnv), "33/etc/passwd");
        assert_eq!(render("{ fd }|{fd : x }", &TestEnv), "3|0x3");
    }

    #[test]
    fn literal_text_and_braces() {
        assert_eq!(render("", &TestEnv), "");
        assert_eq!(render("plain text", &TestEnv), "plain text");
        assert_eq!(render("{{}}", &TestEnv), "{}");
        assert_eq!(render("{{fd}} = {fd}", &TestEnv), "{fd} = 3");
        assert_eq!(render("{{{fd}}}", &TestEnv), "{3}");
        assert_eq!(render("caf\u{e9} {comm}\n", &TestEnv), "caf\u{e9} cat\n");
    }

    #[test]
    fn missing_values_render_as_question_marks() {
        assert_eq!(render("{a1} {a2:x} {path}", &TestEnv), "? ? /etc/passwd");
        assert_eq!(render("{path} {fd} {flags:x}", &Empty), "? ? ?");
    }

    #[test]
    fn errors() {
        assert_err(
            "open {nope}",
            6,
            "unknown variable `nope`: expected one of path, fd, flags, comm, ret, a1, a2, a3, ...",
        );
        assert_err("open { nope }", 7, "unknown variable `nope`");
        assert_err("{O_CREAT}", 1, "unknown variable `O_CREAT`");
        assert_err("x {fd", 2, "unclosed `{`");
        assert_err("x {", 2, "unclosed `{`");
        assert_err("x } y", 2, "unmatched `}`");
        assert_err("{fd}}", 4, "unmatched `}`");
        assert_err("{}", 1, "expected a variable name in `{}`");
        assert_err("{ :x}", 2, "expected a variable name");
        assert_err("{path:x}", 6, "`:x` needs a number; `path` is a string");
        assert_err("{fd:d}", 4, "unknown format `:d`");
        assert_err("{fd:}", 4, "unknown format `:`");
        assert_err("{fd:x:x}", 4, "unknown format `:x:x`");
    }

    #[test]
    fn vars_are_reported_once_in_order() {
        let f = Format::parse("{ret} {path} {fd} {path} {fd:x}", &TestScope).unwrap();
        assert_eq!(f.vars().collect::<Vec<_>>(), [0, 1, 4]);
        assert_eq!(
            Format::parse("{{x}}", &TestScope).unwrap().vars().count(),
            0
        );
    }

    #[test]
    fn buf_integers() {
        assert_eq!(int_text(0), "0");
        assert_eq!(int_text(7), "7");
        assert_eq!(int_text(-7), "-7");
        assert_eq!(int_text(10), "10");
        assert_eq!(int_text(1234567890), "1234567890");
        assert_eq!(int_text(i64::MAX), i64::MAX.to_string());
        assert_eq!(int_text(i64::MIN), i64::MIN.to_string());
        for v in [1, 9, 99, 100, 101, -100, 4096, -4095] {
            assert_eq!(int_text(v), v.to_string());
        }
        assert_eq!(hex_text(0), "0x0");
        assert_eq!(hex_text(0xf), "0xf");
        assert_eq!(hex_text(0x10), "0x10");
        assert_eq!(hex_text(0xdead_beef), "0xdeadbeef");
        assert_eq!(hex_text(u64::MAX), "0xffffffffffffffff");
        assert_eq!(hex_text(1 << 63), "0x8000000000000000");
    }

    #[test]
    fn buf_truncates_at_capacity() {
        let mut b = Buf::new();
        assert!(b.is_empty());
        b.push(&[b'a'; BUF_CAPACITY - 3]);
        assert_eq!(b.len(), BUF_CAPACITY - 3);
        b.push_int(-12345);
        assert_eq!(b.len(), BUF_CAPACITY);
        assert!(b.is_full());
        assert!(b.as_bytes().ends_with(b"-12"));
        b.push(b"more");
        b.push_hex(0xff);
        b.push_int(1);
        assert_eq!(b.len(), BUF_CAPACITY);
        b.clear();
        assert!(b.is_empty());
        b.push(&[b'x'; 5000]);
        assert_eq!(b.as_bytes(), &[b'x'; BUF_CAPACITY][..]);
        assert!(format!("{:?}", Buf::default()).starts_with("Buf"));

        let f = Format::parse("{path}{path}", &TestScope).unwrap();
        let mut b = Buf::new();
        for _ in 0..200 {
            f.render(&TestEnv, &mut b);
        }
        assert_eq!(b.len(), BUF_CAPACITY);
        assert!(b.as_bytes().starts_with(b"/etc/passwd/etc/passwd"));
    }

    #[test]
    fn rendering_does_not_allocate() {
        let f = Format::parse(
            "{comm}[{fd}] open({path}, {flags:x}) = {ret} {a1} {{}}",
            &TestScope,
        )
        .unwrap();
        let mut b = Buf::new();
        let n = allocations(|| {
            f.render(&TestEnv, &mut b);
            f.render(&Empty, &mut b);
            b.push_int(i64::MIN);
            b.push_hex(u64::MAX);
        });
        assert_eq!(n, 0);
        assert_eq!(
            b.as_bytes(),
            b"cat[3] open(/etc/passwd, 0x41) = -2 ? {}?[?] open(?, ?) = ? ? {}-92233720368547758080xffffffffffffffff"
        );
    }

    #[test]
    fn no_panics_on_garbage() {
        const PIECES: &[&str] = &[
            "{", "}", "fd", "path", ":x", ":", "x", " ", "\u{e9}", "nope",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let mut src = String::new();
            for _ in 0..(seed % 10) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                src.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
            }
            seed = seed.wrapping_add(0x9e37_79b9);
            match Format::parse(&src, &TestScope) {
                Ok(f) => {
                    let mut b = Buf::new();
                    f.render(&TestEnv, &mut b);
                    f.render(&Empty, &mut b);
                }
                Err(e) => {
                    assert!(
                        e.offset <= src.len() && src.is_char_boundary(e.offset),
                        "{src:?}"
                    );
                }
            }
        }
    }
}
