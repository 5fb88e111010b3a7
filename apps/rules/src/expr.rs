//! A small expression language for rule conditions (`when = '...'`).
//!
//! ```text
//! path ~ "*passwd" && uid != 0
//! syscall in ("unlink", "unlinkat") || (flags & O_CREAT && !(flags & O_EXCL))
//! (flags & O_ACCMODE) == O_WRONLY
//! ret == -ENOENT
//! ```
//!
//! Grammar, from lowest to highest precedence:
//!
//! ```text
//! or      = and ("||" and)*
//! and     = not ("&&" not)*
//! not     = "!" not | cmp
//! cmp     = bitor [("==" | "!=" | "<" | "<=" | ">" | ">=") bitor
//!                 | ("~" | "!~") STRING
//!                 | "in" "(" literal ("," literal)* [","] ")"]
//! bitor   = bitand ("|" bitand)*
//! bitand  = primary ("&" primary)*
//! primary = INT | "-" INT | "-" CONSTANT | STRING | NAME | "true" | "false" | "(" or ")"
//! literal = INT | "-" INT | "-" CONSTANT | CONSTANT | STRING | "true" | "false"
//! ```
//!
//! Integers are decimal (`-1`, `420`), octal (`0644`, `0o644`), hexadecimal (`0x1f`) or
//! binary (`0b101`). Decimal literals must fit an `i64`; the other bases may use all 64 bits,
//! which are taken as an `i64` bit pattern (`0xffffffffffffff9c == -100`). Strings are
//! `"..."` with the escapes `\"`, `\\`, `\n`, `\t`, `\r`, `\0` and `\xHH`, or raw `'...'`.
//!
//! Every expression is a number ([`Kind::Int`], booleans being 0 and 1) or a byte string
//! ([`Kind::Str`]); types are checked by [`parse`]. Names are resolved by a [`Scope`] at parse
//! time, variables winning over constants. [`Expr::eval`] neither allocates, locks nor panics,
//! so it can run on every system call.

use std::fmt;

/// The deepest nesting [`parse`] accepts, counting parentheses, `!` and operators.
pub const MAX_DEPTH: usize = 64;

/// How many characters of source text an error message quotes before eliding the rest.
const SNIPPET_CHARS: usize = 32;

/// How many variable names an "unknown name" message lists.
const LISTED_VARS: usize = 8;

/// The type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit signed integer; booleans are 0 and 1.
    Int,
    /// A byte string.
    Str,
}

impl Kind {
    /// "a number" or "a string", for messages.
    fn article(self) -> &'static str {
        match self {
            Kind::Int => "a number",
            Kind::Str => "a string",
        }
    }
}

/// What names mean where an expression is parsed.
pub trait Scope {
    /// A variable: its id (passed back to Env at evaluation) and type, or None.
    fn var(&self, name: &str) -> Option<(u16, Kind)>;
    /// A constant's value (typically consts::constant), or None.
    fn constant(&self, name: &str) -> Option<i64>;
    /// The names of the variables, for hints in error messages (the first few are shown).
    fn var_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
}

/// Values of variables at evaluation time. Returning None means "this call has no such value"
/// (e.g. `path` for getpid): every comparison involving a missing value is false, `!=` included,
/// and a missing value alone is falsy; `!` of a false comparison is true.
pub trait Env {
    /// The value of the integer variable `id`, or `None` if the call has none.
    fn int(&self, id: u16) -> Option<i64>;
    /// The value of the string variable `id`, or `None` if the call has none.
    fn str(&self, id: u16) -> Option<&[u8]>;
}

/// Why a piece of source text was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the source of the offending token (the source's length for its end).
    pub offset: usize,
    /// A one-line description of what was expected and what was found.
    pub message: String,
}

impl ParseError {
    /// Creates an error at byte `offset`.
    pub fn new(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    /// The 1-based column (in characters) of the error in `src`, the text that was parsed.
    pub fn column(&self, src: &str) -> usize {
        column(src, self.offset)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// The 1-based character column of byte `offset` in `src` (clamped to the text).
fn column(src: &str, offset: usize) -> usize {
    let prefix = src.get(..offset.min(src.len())).unwrap_or(src);
    prefix.chars().count() + 1
}

/// Quotes `text` in backticks for a one-line message, eliding the end of long text and
/// replacing control characters (newlines...) with spaces.
pub(crate) fn snippet(text: &str) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if text.chars().count() <= SNIPPET_CHARS {
        format!("`{}`", text.chars().map(clean).collect::<String>())
    } else {
        let head: String = text.chars().take(SNIPPET_CHARS - 3).map(clean).collect();
        format!("`{head}...`")
    }
}

/// Comparison operators on integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn apply(self, a: i64, b: i64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// One node of the expression tree; children are indices into [`Expr::nodes`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    /// An integer literal or constant.
    Int(i64),
    /// A string literal.
    Str(Box<[u8]>),
    /// An integer variable.
    IntVar(u16),
    /// A string variable.
    StrVar(u16),
    /// `!x`.
    Not(u32),
    /// `a && b && ...`.
    All(Box<[u32]>),
    /// `a || b || ...`.
    Any(Box<[u32]>),
    /// `a & b`.
    BitAnd(u32, u32),
    /// `a | b`.
    BitOr(u32, u32),
    /// An integer comparison.
    CmpInt(CmpOp, u32, u32),
    /// `a == b` (`eq`) or `a != b` on strings.
    CmpStr { eq: bool, left: u32, right: u32 },
    /// `a ~ "glob"` or, if `negate`, `a !~ "glob"`.
    Glob {
        left: u32,
        pattern: Box<[u8]>,
        negate: bool,
    },
    /// `a in (1, 2, ...)`.
    InInt(u32, Box<[i64]>),
    /// `a in ("x", "y", ...)`.
    InStr(u32, Box<[Box<[u8]>]>),
}

/// A parsed, type-checked condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    nodes: Vec<Node>,
    root: u32,
    /// The variable ids used, sorted and without duplicates.
    vars: Vec<u16>,
}

/// Parses and type-checks `src`, resolving names through `scope`.
///
/// ```
/// use zphook_rules::expr::{parse, Env, Kind, Scope};
///
/// struct S;
/// impl Scope for S {
///     fn var(&self, name: &str) -> Option<(u16, Kind)> {
///         (name == "fd").then_some((0, Kind::Int))
///     }
///     fn constant(&self, name: &str) -> Option<i64> {
///         zphook_rules::consts::constant(name)
///     }
/// }
/// struct E(i64);
/// impl Env for E {
///     fn int(&self, _: u16) -> Option<i64> { Some(self.0) }
///     fn str(&self, _: u16) -> Option<&[u8]> { None }
/// }
///
/// let e = parse("fd in (0, 1, 2)", &S).unwrap();
/// assert!(e.eval(&E(2)));
/// assert!(!e.eval(&E(3)));
/// assert_eq!(parse("fd ~ '*'", &S).unwrap_err().offset, 0);
/// ```
pub fn parse(src: &str, scope: &dyn Scope) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        end: Token {
            tok: Tok::End,
            start: src.len(),
            end: src.len(),
        },
        scope,
        nodes: Vec::new(),
        depths: Vec::new(),
        nesting: 0,
    };
    let root = p.parse_or()?;
    let t = p.peek();
    match t.tok {
        Tok::End => {}
        Tok::RParen => return Err(ParseError::new(t.start, "unmatched `)`")),
        _ => {
            return Err(ParseError::new(
                t.start,
                format!("expected an operator or end of input, found {}", p.found(t)),
            ));
        }
    }
    let mut vars: Vec<u16> = p
        .nodes
        .iter()
        .filter_map(|n| match n {
            Node::IntVar(id) | Node::StrVar(id) => Some(*id),
            _ => None,
        })
        .collect();
    vars.sort_unstable();
    vars.dedup();
    Ok(Expr {
        nodes: p.nodes,
        root: root.node,
        vars,
    })
}

impl Expr {
    /// Whether the condition holds for the values in `env`. Never allocates or panics.
    pub fn eval(&self, env: &dyn Env) -> bool {
        self.truthy(self.root, env)
    }

    /// The ids of the variables the expression uses (each once, in increasing order), so the
    /// caller can fetch only those, or tell whether it needs the result (`ret`).
    pub fn vars(&self) -> impl Iterator<Item = u16> + '_ {
        self.vars.iter().copied()
    }

    fn node(&self, i: u32) -> Option<&Node> {
        self.nodes.get(i as usize)
    }

    /// Truthiness: a nonzero number or a non-empty string; a missing value is false.
    fn truthy(&self, i: u32, env: &dyn Env) -> bool {
        match self.node(i) {
            Some(Node::Str(s)) => !s.is_empty(),
            Some(Node::StrVar(id)) => env.str(*id).is_some_and(|s| !s.is_empty()),
            Some(_) => self.int(i, env).is_some_and(|v| v != 0),
            None => false,
        }
    }

    /// The value of an integer-typed node, `None` if it depends on a missing value.
    fn int(&self, i: u32, env: &dyn Env) -> Option<i64> {
        let b = |x: bool| Some(i64::from(x));
        match self.node(i)? {
            Node::Int(v) => Some(*v),
            Node::IntVar(id) => env.int(*id),
            Node::Str(_) | Node::StrVar(_) => None,
            Node::Not(x) => b(!self.truthy(*x, env)),
            Node::All(xs) => b(xs.iter().all(|&x| self.truthy(x, env))),
            Node::Any(xs) => b(xs.iter().any(|&x| self.truthy(x, env))),
            Node::BitAnd(l, r) => Some(self.int(*l, env)? & self.int(*r, env)?),
            Node::BitOr(l, r) => Some(self.int(*l, env)? | self.int(*r, env)?),
            Node::CmpInt(op, l, r) => b(match (self.int(*l, env), self.int(*r, env)) {
                (Some(l), Some(r)) => op.apply(l, r),
                _ => false,
            }),
            Node::CmpStr { eq, left, right } => {
                b(match (self.str(*left, env), self.str(*right, env)) {
                    (Some(l), Some(r)) => (l == r) == *eq,
                    _ => false,
                })
            }
            Node::Glob {
                left,
                pattern,
                negate,
            } => b(self
                .str(*left, env)
                .is_some_and(|s| glob_match(pattern, s) != *negate)),
            Node::InInt(l, list) => b(self.int(*l, env).is_some_and(|v| list.contains(&v))),
            Node::InStr(l, list) => b(self
                .str(*l, env)
                .is_some_and(|s| list.iter().any(|x| **x == *s))),
        }
    }

    /// The value of a string-typed node, `None` if missing.
    fn str<'a>(&'a self, i: u32, env: &'a dyn Env) -> Option<&'a [u8]> {
        match self.node(i)? {
            Node::Str(s) => Some(s),
            Node::StrVar(id) => env.str(*id),
            _ => None,
        }
    }
}

/// Whether `text` matches the glob `pattern` as a whole.
///
/// `*` matches any sequence of bytes (`/` included), `?` any one byte, `[abc]`, `[a-z]`,
/// `[!x]` and `[^x]` a byte in (or not in) a class (a `]` right after `[`, `[!` or `[^` is a
/// member; a `[` without a closing `]` is a literal `[`), and `\x` the byte `x`. Runs in
/// O(pattern × text) time without allocating.
///
/// ```
/// use zphook_rules::expr::glob_match;
/// assert!(glob_match(b"*passwd", b"/etc/passwd"));
/// assert!(glob_match(b"/tmp/*", b"/tmp/a/b"));
/// assert!(!glob_match(b"/tmp/?", b"/tmp/ab"));
/// ```
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // After a `*`: the pattern position following it and the text position it matched up to.
    let mut star: Option<(usize, usize)> = None;
    loop {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, t));
                continue;
            }
            Some(_) => {
                if let Some(&c) = text.get(t)
                    && let Some(next) = match_one(pattern, p, c)
                {
                    p = next;
                    t += 1;
                    continue;
                }
            }
            None if t == text.len() => return true,
            None => {}
        }
        // Mismatch: let the last `*` swallow one more byte, if there is one.
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

/// Whether the pattern element at `p` (not `*`) matches byte `c`: the position after the
/// element if it does.
fn match_one(pattern: &[u8], p: usize, c: u8) -> Option<usize> {
    match pattern.get(p)? {
        b'?' => Some(p + 1),
        b'\\' => match pattern.get(p + 1) {
            Some(&x) => (x == c).then_some(p + 2),
            None => (c == b'\\').then_some(p + 1),
        },
        b'[' => match match_class(pattern, p + 1, c) {
            Some((matched, next)) => matched.then_some(next),
            None => (c == b'[').then_some(p + 1),
        },
        &x => (x == c).then_some(p + 1),
    }
}

/// Matches `c` against the class whose body starts at `p` (just after `[`): whether it
/// matched and the position after the closing `]`, or `None` if the class is not closed.
fn match_class(pattern: &[u8], mut p: usize, c: u8) -> Option<(bool, usize)> {
    let negate = matches!(pattern.get(p), Some(b'!' | b'^'));
    if negate {
        p += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *pattern.get(p)?;
        if lo == b']' && !first {
            return Some((matched != negate, p + 1));
        }
        first = false;
        if lo == b'\\' {
            p += 1;
            lo = *pattern.get(p)?;
        }
        p += 1;
        let mut hi = lo;
        if pattern.get(p) == Some(&b'-') && pattern.get(p + 1).is_some_and(|&b| b != b']') {
            p += 1;
            hi = *pattern.get(p)?;
            if hi == b'\\' {
                p += 1;
                hi = *pattern.get(p)?;
            }
            p += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// An unsigned integer literal; `decimal` tells whether it was written in base 10.
    Int {
        value: u64,
        decimal: bool,
    },
    Str(Vec<u8>),
    Ident,
    OrOr,
    AndAnd,
    Bang,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Tilde,
    NotTilde,
    Pipe,
    Amp,
    LParen,
    RParen,
    Comma,
    Minus,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The character starting at byte `i` of `src`, quoted for a message.
fn char_at(src: &str, i: usize) -> String {
    match src.get(i..).and_then(|s| s.chars().next()) {
        Some(c) => format!("`{c}`"),
        None => "end of input".to_string(),
    }
}

fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two = |second: u8| bytes.get(start + 1) == Some(&second);
        let tok = if is_ident_start(b) {
            while bytes.get(i).is_some_and(|&b| is_ident_char(b)) {
                i += 1;
            }
            Tok::Ident
        } else if b.is_ascii_digit() {
            while bytes.get(i).is_some_and(|&b| is_ident_char(b)) {
                i += 1;
            }
            let word = src.get(start..i).unwrap_or("");
            let (value, decimal) = parse_int(word).map_err(|m| ParseError::new(start, m))?;
            Tok::Int { value, decimal }
        } else if b == b'"' {
            let (s, next) = lex_quoted(src, start)?;
            i = next;
            Tok::Str(s)
        } else if b == b'\'' {
            let len = bytes
                .get(start + 1..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\''))
                .ok_or_else(|| ParseError::new(start, "unterminated string"))?;
            i = start + 2 + len;
            Tok::Str(
                bytes
                    .get(start + 1..start + 1 + len)
                    .unwrap_or(&[])
                    .to_vec(),
            )
        } else {
            let (tok, len) = match b {
                b'|' if two(b'|') => (Tok::OrOr, 2),
                b'&' if two(b'&') => (Tok::AndAnd, 2),
                b'!' if two(b'=') => (Tok::Ne, 2),
                b'!' if two(b'~') => (Tok::NotTilde, 2),
                b'=' if two(b'=') => (Tok::EqEq, 2),
                b'<' if two(b'=') => (Tok::Le, 2),
                b'>' if two(b'=') => (Tok::Ge, 2),
                b'|' => (Tok::Pipe, 1),
                b'&' => (Tok::Amp, 1),
                b'!' => (Tok::Bang, 1),
                b'<' => (Tok::Lt, 1),
                b'>' => (Tok::Gt, 1),
                b'~' => (Tok::Tilde, 1),
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b',' => (Tok::Comma, 1),
                b'-' => (Tok::Minus, 1),
                b'=' => {
                    return Err(ParseError::new(
                        start,
                        "unexpected `=`: use `==` to compare",
                    ));
                }
                _ => {
                    return Err(ParseError::new(
                        start,
                        format!("unexpected character {}", char_at(src, start)),
                    ));
                }
            };
            i += len;
            tok
        };
        toks.push(Token { tok, start, end: i });
    }
    Ok(toks)
}

/// Lexes the `"..."` string starting at `start`: its bytes and the position after it.
fn lex_quoted(src: &str, start: usize) -> Result<(Vec<u8>, usize), ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = start + 1;
    loop {
        match bytes.get(i) {
            None => return Err(ParseError::new(start, "unterminated string")),
            Some(b'"') => return Ok((out, i + 1)),
            Some(b'\\') => {
                let esc = bytes.get(i + 1);
                let (byte, len) = match esc {
                    Some(b'"') => (b'"', 2),
                    Some(b'\\') => (b'\\', 2),
                    Some(b'n') => (b'\n', 2),
                    Some(b't') => (b'\t', 2),
                    Some(b'r') => (b'\r', 2),
                    Some(b'0') => (0, 2),
                    Some(b'x') => {
                        let hex = |k: usize| {
                            bytes
                                .get(i + k)
                                .and_then(|&b| char::from(b).to_digit(16))
                                .and_then(|d| u8::try_from(d).ok())
                        };
                        match (hex(2), hex(3)) {
                            (Some(h), Some(l)) => (h * 16 + l, 4),
                            _ => {
                                return Err(ParseError::new(
                                    i,
                                    "`\\x` needs two hex digits, as in `\\x2f`",
                                ));
                            }
                        }
                    }
                    None => return Err(ParseError::new(start, "unterminated string")),
                    Some(_) => {
                        return Err(ParseError::new(
                            i,
                            format!(
                                "unknown escape `\\{}` in string: use \\\", \\\\, \\n, \\t, \\r, \\0 or \\xHH",
                                src.get(i + 1..)
                                    .and_then(|s| s.chars().next())
                                    .unwrap_or('?')
                            ),
                        ));
                    }
                };
                out.push(byte);
                i += len;
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Parses an integer literal word: its value and whether it is decimal.
fn parse_int(word: &str) -> Result<(u64, bool), String> {
    let lower = word.to_ascii_lowercase();
    let (digits, radix, what) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16, "hexadecimal")
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8, "octal")
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2, "binary")
    } else if lower.len() > 1 && lower.starts_with('0') {
        (
            lower.get(1..).unwrap_or(""),
            8,
            "octal (a leading 0 means octal)",
        )
    } else {
        (lower.as_str(), 10, "decimal")
    };
    if digits.is_empty() {
        return Err(format!("`{word}` needs digits after its prefix"));
    }
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = c
            .to_digit(radix)
            .ok_or_else(|| format!("invalid digit `{c}` in {what} number `{word}`"))?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or_else(|| format!("number `{word}` is too large for 64 bits"))?;
    }
    Ok((value, radix == 10))
}

// ---------------------------------------------------------------------------------------------
// Parser

/// A parsed operand: its node, type and source span.
#[derive(Clone, Copy, Debug)]
struct Operand {
    node: u32,
    kind: Kind,
    start: usize,
    end: usize,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    /// The end-of-input token, returned once `toks` is exhausted.
    end: Token,
    scope: &'a dyn Scope,
    nodes: Vec<Node>,
    /// The tree depth of each node in `nodes`.
    depths: Vec<usize>,
    /// The current nesting of parentheses and `!`.
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.toks.get(self.pos).unwrap_or(&self.end)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn text(&self, start: usize, end: usize) -> &str {
        self.src.get(start..end).unwrap_or("")
    }

    /// Describes a token for "found ..." in messages.
    fn found(&self, t: &Token) -> String {
        match t.tok {
            Tok::End => "end of input".to_string(),
            _ => snippet(self.text(t.start, t.end)),
        }
    }

    /// Describes an operand for messages.
    fn describe(&self, o: &Operand) -> String {
        snippet(self.text(o.start, o.end))
    }

    fn too_deep(offset: usize) -> ParseError {
        ParseError::new(
            offset,
            format!("expression nested too deeply (more than {MAX_DEPTH} levels)"),
        )
    }

    /// Enters a parenthesis or `!` at `offset`.
    fn enter(&mut self, offset: usize) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(Self::too_deep(offset));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting = self.nesting.saturating_sub(1);
    }

    /// Adds `node`, whose children are `children`; `offset` is where to report excess depth.
    fn push(&mut self, node: Node, children: &[u32], offset: usize) -> Result<u32, ParseError> {
        let depth = 1 + children
            .iter()
            .filter_map(|&c| self.depths.get(c as usize))
            .max()
            .copied()
            .unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(Self::too_deep(offset));
        }
        let index = u32::try_from(self.nodes.len())
            .map_err(|_| ParseError::new(offset, "expression too large"))?;
        self.nodes.push(node);
        self.depths.push(depth);
        Ok(index)
    }

    fn leaf(&mut self, node: Node, kind: Kind, t: &Token) -> Result<Operand, ParseError> {
        Ok(Operand {
            node: self.push(node, &[], t.start)?,
            kind,
            start: t.start,
            end: t.end,
        })
    }

    /// Parses a chain of `sep`-separated operands into an n-ary node.
    fn chain(
        &mut self,
        sep: &Tok,
        next: fn(&mut Self) -> Result<Operand, ParseError>,
        make: fn(Box<[u32]>) -> Node,
    ) -> Result<Operand, ParseError> {
        let first = next(self)?;
        if self.peek().tok != *sep {
            return Ok(first);
        }
        let mut items = vec![first.node];
        let mut end = first.end;
        while self.peek().tok == *sep {
            self.bump();
            let o = next(self)?;
            items.push(o.node);
            end = o.end;
        }
        let node = self.push(make(items.clone().into_boxed_slice()), &items, first.start)?;
        Ok(Operand {
            node,
            kind: Kind::Int,
            start: first.start,
            end,
        })
    }

    fn parse_or(&mut self) -> Result<Operand, ParseError> {
        self.chain(&Tok::OrOr, Self::parse_and, Node::Any)
    }

    fn parse_and(&mut self) -> Result<Operand, ParseError> {
        self.chain(&Tok::AndAnd, Self::parse_not, Node::All)
    }

    fn parse_not(&mut self) -> Result<Operand, ParseError> {
        if self.peek().tok != Tok::Bang {
            return self.parse_cmp();
        }
        let bang = self.bump();
        self.enter(bang.start)?;
        let inner = self.parse_not()?;
        self.leave();
        let node = self.push(Node::Not(inner.node), &[inner.node], bang.start)?;
        Ok(Operand {
            node,
            kind: Kind::Int,
            start: bang.start,
            end: inner.end,
        })
    }

    fn is_in(&self, t: &Token) -> bool {
        t.tok == Tok::Ident && self.text(t.start, t.end) == "in"
    }

    fn is_comparison(&self, t: &Token) -> bool {
        matches!(
            t.tok,
            Tok::EqEq
                | Tok::Ne
                | Tok::Lt
                | Tok::Le
                | Tok::Gt
                | Tok::Ge
                | Tok::Tilde
                | Tok::NotTilde
        ) || self.is_in(t)
    }

    /// Checks that operand `o` of operator `op` has type `want`.
    fn expect_kind(&self, o: &Operand, want: Kind, op: &str, side: &str) -> Result<(), ParseError> {
        if o.kind == want {
            return Ok(());
        }
        Err(ParseError::new(
            o.start,
            format!(
                "`{op}` needs {} on its {side}; {} is {}",
                want.article(),
                self.describe(o),
                o.kind.article()
            ),
        ))
    }

    fn parse_cmp(&mut self) -> Result<Operand, ParseError> {
        let left = self.parse_bitor()?;
        let op = self.peek().clone();
        if !self.is_comparison(&op) {
            return Ok(left);
        }
        self.bump();
        let op_text = self.text(op.start, op.end).to_string();
        let (node, end) = match op.tok {
            Tok::EqEq | Tok::Ne => {
                let right = self.parse_bitor()?;
                if right.kind != left.kind {
                    return Err(ParseError::new(
                        right.start,
                        format!(
                            "`{op_text}` compares values of the same type; {} is {} but {} is {}",
                            self.describe(&left),
                            left.kind.article(),
                            self.describe(&right),
                            right.kind.article()
                        ),
                    ));
                }
                let eq = op.tok == Tok::EqEq;
                let node = match left.kind {
                    Kind::Int => {
                        let cmp = if eq { CmpOp::Eq } else { CmpOp::Ne };
                        Node::CmpInt(cmp, left.node, right.node)
                    }
                    Kind::Str => Node::CmpStr {
                        eq,
                        left: left.node,
                        right: right.node,
                    },
                };
                (
                    self.push(node, &[left.node, right.node], op.start)?,
                    right.end,
                )
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                self.expect_kind(&left, Kind::Int, &op_text, "left")?;
                let right = self.parse_bitor()?;
                self.expect_kind(&right, Kind::Int, &op_text, "right")?;
                let cmp = match op.tok {
                    Tok::Lt => CmpOp::Lt,
                    Tok::Le => CmpOp::Le,
                    Tok::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                let node = Node::CmpInt(cmp, left.node, right.node);
                (
                    self.push(node, &[left.node, right.node], op.start)?,
                    right.end,
                )
            }
            Tok::Tilde | Tok::NotTilde => {
                self.expect_kind(&left, Kind::Str, &op_text, "left")?;
                let t = self.bump();
                let Tok::Str(pattern) = t.tok else {
                    return Err(ParseError::new(
                        t.start,
                        format!(
                            "`{op_text}` needs a glob pattern (a string literal) on its right, found {}",
                            self.found(&t)
                        ),
                    ));
                };
                let node = Node::Glob {
                    left: left.node,
                    pattern: pattern.into_boxed_slice(),
                    negate: op.tok == Tok::NotTilde,
                };
                (self.push(node, &[left.node], op.start)?, t.end)
            }
            _ => self.parse_in_list(&left)?,
        };
        let next = self.peek();
        if self.is_comparison(next) {
            return Err(ParseError::new(
                next.start,
                format!(
                    "comparisons cannot be chained: add parentheses before {}",
                    self.found(next)
                ),
            ));
        }
        Ok(Operand {
            node,
            kind: Kind::Int,
            start: left.start,
            end,
        })
    }

    /// Parses `(lit, ...)` after `in`: the node and the end of the list.
    fn parse_in_list(&mut self, left: &Operand) -> Result<(u32, usize), ParseError> {
        let open = self.bump();
        if open.tok != Tok::LParen {
            return Err(ParseError::new(
                open.start,
                format!("expected `(` after `in`, found {}", self.found(&open)),
            ));
        }
        let mut ints = Vec::new();
        let mut strs = Vec::new();
        let close = loop {
            if self.peek().tok == Tok::RParen && !(ints.is_empty() && strs.is_empty()) {
                // A trailing comma.
                break self.bump();
            }
            let (value, start, end) = self.parse_literal()?;
            let item_kind = match value {
                Literal::Int(v) => {
                    ints.push(v);
                    Kind::Int
                }
                Literal::Str(s) => {
                    strs.push(s.into_boxed_slice());
                    Kind::Str
                }
            };
            if item_kind != left.kind {
                return Err(ParseError::new(
                    start,
                    format!(
                        "`in` list items must be {}s like {}; {} is {}",
                        match left.kind {
                            Kind::Int => "number",
                            Kind::Str => "string",
                        },
                        self.describe(left),
                        snippet(self.text(start, end)),
                        item_kind.article()
                    ),
                ));
            }
            let t = self.bump();
            match t.tok {
                Tok::Comma => {}
                Tok::RParen => break t,
                Tok::End => return Err(self.unclosed(&open, &t)),
                _ => {
                    return Err(ParseError::new(
                        t.start,
                        format!(
                            "expected `,` or `)` in the `in` list, found {}",
                            self.found(&t)
                        ),
                    ));
                }
            }
        };
        let node = match left.kind {
            Kind::Int => Node::InInt(left.node, ints.into_boxed_slice()),
            Kind::Str => Node::InStr(left.node, strs.into_boxed_slice()),
        };
        Ok((self.push(node, &[left.node], open.start)?, close.end))
    }

    /// The error for a missing `)` matching `open`, `found` being what came instead.
    fn unclosed(&self, open: &Token, found: &Token) -> ParseError {
        ParseError::new(
            found.start,
            format!(
                "expected `)` to close the `(` at column {}, found {}",
                column(self.src, open.start),
                self.found(found)
            ),
        )
    }

    /// Parses a literal of an `in` list: its value and span.
    fn parse_literal(&mut self) -> Result<(Literal, usize, usize), ParseError> {
        let t = self.bump();
        let value = match &t.tok {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Int { .. } | Tok::Minus => {
                let (v, end) = self.number(&t)?;
                return Ok((Literal::Int(v), t.start, end));
            }
            Tok::Ident => {
                let name = self.text(t.start, t.end);
                match name {
                    "true" => Literal::Int(1),
                    "false" => Literal::Int(0),
                    _ if self.scope.var(name).is_some() => {
                        return Err(ParseError::new(
                            t.start,
                            format!(
                                "`in` list items must be literals or constants; `{name}` is a variable"
                            ),
                        ));
                    }
                    _ => match self.scope.constant(name) {
                        Some(v) => Literal::Int(v),
                        None => return Err(self.unknown_name(&t)),
                    },
                }
            }
            _ => {
                return Err(ParseError::new(
                    t.start,
                    format!(
                        "expected a number, string or constant, found {}",
                        self.found(&t)
                    ),
                ));
            }
        };
        Ok((value, t.start, t.end))
    }

    /// The value of the integer literal `t` (already consumed), or of `-` and the literal or
    /// constant after it; also the end of what was consumed.
    fn number(&mut self, t: &Token) -> Result<(i64, usize), ParseError> {
        match t.tok {
            Tok::Int { value, decimal } => {
                let v = if decimal {
                    i64::try_from(value).ok()
                } else {
                    Some(value as i64)
                };
                let v = v.ok_or_else(|| {
                    ParseError::new(
                        t.start,
                        format!(
                            "number {} is out of range",
                            snippet(self.text(t.start, t.end))
                        ),
                    )
                })?;
                Ok((v, t.end))
            }
            _ => {
                let n = self.bump();
                let out_of_range = |p: &Self| {
                    ParseError::new(
                        t.start,
                        format!("number {} is out of range", snippet(p.text(t.start, n.end))),
                    )
                };
                match n.tok {
                    Tok::Int { value, .. } => {
                        if value > 1 << 63 {
                            return Err(out_of_range(self));
                        }
                        // 2^63 wraps to i64::MIN, which is its own negation.
                        Ok(((value as i64).wrapping_neg(), n.end))
                    }
                    Tok::Ident if !matches!(self.text(n.start, n.end), "true" | "false" | "in") => {
                        let name = self.text(n.start, n.end);
                        if self.scope.var(name).is_some() {
                            return Err(ParseError::new(
                                n.start,
                                format!(
                                    "`-` applies only to numbers and constants; `{name}` is a variable"
                                ),
                            ));
                        }
                        match self.scope.constant(name) {
                            Some(v) => match v.checked_neg() {
                                Some(v) => Ok((v, n.end)),
                                None => Err(out_of_range(self)),
                            },
                            None => Err(self.unknown_name(&n)),
                        }
                    }
                    _ => Err(ParseError::new(
                        n.start,
                        format!(
                            "expected a number or constant after `-`, found {}",
                            self.found(&n)
                        ),
                    )),
                }
            }
        }
    }

    fn unknown_name(&self, t: &Token) -> ParseError {
        let name = self.text(t.start, t.end);
        let mut msg = format!("unknown name `{name}`: expected a variable");
        let vars = self.scope.var_names();
        if !vars.is_empty() {
            msg.push_str(" (");
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
            msg.push(')');
        }
        msg.push_str(" or a constant (O_CREAT, SIGKILL, ...)");
        let lower = name.to_ascii_lowercase();
        let upper = name.to_ascii_uppercase();
        if lower != name && self.scope.var(&lower).is_some() {
            msg.push_str(&format!("; did you mean `{lower}`?"));
        } else if upper != name && self.scope.constant(&upper).is_some() {
            msg.push_str(&format!("; did you mean `{upper}`?"));
        }
        ParseError::new(t.start, msg)
    }

    /// Parses a chain of `&` or `|` operations.
    fn bit_chain(
        &mut self,
        sep: Tok,
        next: fn(&mut Self) -> Result<Operand, ParseError>,
    ) -> Result<Operand, ParseError> {
        let mut left = next(self)?;
        while self.peek().tok == sep {
            let op = self.bump();
            let op_text = self.text(op.start, op.end).to_string();
            self.expect_kind(&left, Kind::Int, &op_text, "left")?;
            let right = next(self)?;
            self.expect_kind(&right, Kind::Int, &op_text, "right")?;
            let folded = match (
                self.nodes.get(left.node as usize),
                self.nodes.get(right.node as usize),
            ) {
                (Some(Node::Int(a)), Some(Node::Int(b)))
                    if left.node as usize + 2 == self.nodes.len()
                        && right.node as usize + 1 == self.nodes.len() =>
                {
                    Some(if sep == Tok::Amp { a & b } else { a | b })
                }
                _ => None,
            };
            let node = match folded {
                Some(v) => {
                    self.nodes.truncate(left.node as usize);
                    self.depths.truncate(left.node as usize);
                    self.push(Node::Int(v), &[], op.start)?
                }
                None => {
                    let node = if sep == Tok::Amp {
                        Node::BitAnd(left.node, right.node)
                    } else {
                        Node::BitOr(left.node, right.node)
                    };
                    self.push(node, &[left.node, right.node], op.start)?
                }
            };
            left = Operand {
                node,
                kind: Kind::Int,
                start: left.start,
                end: right.end,
            };
        }
        Ok(left)
    }

    fn parse_bitor(&mut self) -> Result<Operand, ParseError> {
        self.bit_chain(Tok::Pipe, Self::parse_bitand)
    }

    fn parse_bitand(&mut self) -> Result<Operand, ParseError> {
        self.bit_chain(Tok::Amp, Self::parse_primary)
    }

    fn parse_primary(&mut self) -> Result<Operand, ParseError> {
        let t = self.bump();
        match &t.tok {
            Tok::Int { .. } | Tok::Minus => {
                let (v, end) = self.number(&t)?;
                let node = self.push(Node::Int(v), &[], t.start)?;
                Ok(Operand {
                    node,
                    kind: Kind::Int,
                    start: t.start,
                    end,
                })
            }
            Tok::Str(s) => {
                let node = Node::Str(s.clone().into_boxed_slice());
                self.leaf(node, Kind::Str, &t)
            }
            Tok::Ident => {
                let name = self.text(t.start, t.end);
                match name {
                    "true" => return self.leaf(Node::Int(1), Kind::Int, &t),
                    "false" => return self.leaf(Node::Int(0), Kind::Int, &t),
                    "in" => {
                        return Err(ParseError::new(t.start, "expected an operand, found `in`"));
                    }
                    _ => {}
                }
                if let Some((id, kind)) = self.scope.var(name) {
                    let node = match kind {
                        Kind::Int => Node::IntVar(id),
                        Kind::Str => Node::StrVar(id),
                    };
                    return self.leaf(node, kind, &t);
                }
                match self.scope.constant(name) {
                    Some(v) => self.leaf(Node::Int(v), Kind::Int, &t),
                    None => Err(self.unknown_name(&t)),
                }
            }
            Tok::LParen => {
                self.enter(t.start)?;
                let inner = self.parse_or()?;
                let close = self.bump();
                if close.tok != Tok::RParen {
                    return Err(self.unclosed(&t, &close));
                }
                self.leave();
                Ok(Operand {
                    start: t.start,
                    end: close.end,
                    ..inner
                })
            }
            _ => Err(ParseError::new(
                t.start,
                format!("expected an operand, found {}", self.found(&t)),
            )),
        }
    }
}

/// A literal of an `in` list.
enum Literal {
    Int(i64),
    Str(Vec<u8>),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::consts;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// The system allocator, counting allocations per thread so tests can check that
    /// evaluation and rendering never allocate.
    struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
    // counter is a const-initialised thread-local without destructor, which does not allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: forwarded from our caller, who upholds `GlobalAlloc::alloc`'s contract.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` was allocated by `System` through `alloc` above with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// How many allocations `f` makes on this thread.
    pub(crate) fn allocations(f: impl FnOnce()) -> usize {
        let before = ALLOCATIONS.with(Cell::get);
        f();
        ALLOCATIONS.with(Cell::get) - before
    }

    const VARS: &[(&str, Kind)] = &[
        ("path", Kind::Str),
        ("fd", Kind::Int),
        ("uid", Kind::Int),
        ("syscall", Kind::Str),
        ("flags", Kind::Int),
        ("arg0", Kind::Int),
        ("ret", Kind::Int),
        ("comm", Kind::Str),
        ("pid", Kind::Int),
        ("signal", Kind::Int),
        ("mode", Kind::Int),
        // Shadows the constant of the same name.
        ("SIGTERM", Kind::Int),
    ];

    struct TestScope;

    impl Scope for TestScope {
        fn var(&self, name: &str) -> Option<(u16, Kind)> {
            VARS.iter()
                .position(|(n, _)| *n == name)
                .map(|i| (i as u16, VARS[i].1))
        }
        fn constant(&self, name: &str) -> Option<i64> {
            consts::constant(name)
        }
        fn var_names(&self) -> Vec<&'static str> {
            VARS.iter().map(|(n, _)| *n).collect()
        }
    }

    /// A scope without variable names, to test the default `var_names`.
    struct BareScope;

    impl Scope for BareScope {
        fn var(&self, name: &str) -> Option<(u16, Kind)> {
            (name == "x").then_some((0, Kind::Int))
        }
        fn constant(&self, _: &str) -> Option<i64> {
            None
        }
    }

    #[derive(Default)]
    struct TestEnv {
        ints: Vec<(u16, i64)>,
        strs: Vec<(u16, &'static [u8])>,
    }

    fn id(name: &str) -> u16 {
        TestScope.var(name).unwrap().0
    }

    impl TestEnv {
        fn int(mut self, name: &str, v: i64) -> Self {
            self.ints.push((id(name), v));
            self
        }
        fn str(mut self, name: &str, v: &'static str) -> Self {
            self.strs.push((id(name), v.as_bytes()));
            self
        }
    }

    impl Env for TestEnv {
        fn int(&self, id: u16) -> Option<i64> {
            self.ints.iter().find(|(i, _)| *i == id).map(|(_, v)| *v)
        }
        fn str(&self, id: u16) -> Option<&[u8]> {
            self.strs.iter().find(|(i, _)| *i == id).map(|(_, v)| *v)
        }
    }

    fn env() -> TestEnv {
        TestEnv::default()
    }

    fn p(src: &str) -> Expr {
        match parse(src, &TestScope) {
            Ok(e) => e,
            Err(e) => panic!("{src:?}: {} at {}", e.message, e.offset),
        }
    }

    fn ev(src: &str, env: &TestEnv) -> bool {
        p(src).eval(env)
    }

    fn err(src: &str) -> ParseError {
        match parse(src, &TestScope) {
            Ok(e) => panic!("{src:?} parsed: {e:?}"),
            Err(e) => e,
        }
    }

    /// Asserts that `src` fails at `offset` with a message containing `needle`.
    fn assert_err(src: &str, offset: usize, needle: &str) {
        let e = err(src);
        assert!(
            e.message.contains(needle),
            "{src:?}: message {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!(e.offset, offset, "{src:?}: {}", e.message);
        assert!(!e.message.contains('\n'), "{src:?}: multi-line message");
    }

    /// Asserts that the literal `src` has the value `want`.
    fn assert_num(src: &str, want: i64) {
        let e = p(&format!("arg0 == {src}"));
        assert!(e.eval(&env().int("arg0", want)), "{src} != {want}");
        assert!(!e.eval(&env().int("arg0", want.wrapping_add(1))), "{src}");
    }

    #[test]
    fn brief_examples() {
        let e = "path ~ \"*passwd\" && uid != 0";
        assert!(ev(e, &env().str("path", "/etc/passwd").int("uid", 1000)));
        assert!(!ev(e, &env().str("path", "/etc/passwd").int("uid", 0)));
        assert!(!ev(e, &env().str("path", "/etc/shadow").int("uid", 1000)));
        assert!(!ev(e, &env().int("uid", 1000)));

        let e = "syscall in (\"unlink\", \"unlinkat\") || (flags & O_CREAT && !(flags & O_EXCL))";
        assert!(ev(e, &env().str("syscall", "unlinkat")));
        assert!(ev(e, &env().str("syscall", "unlink")));
        assert!(!ev(e, &env().str("syscall", "openat").int("flags", 0)));
        assert!(ev(e, &env().str("syscall", "openat").int("flags", 0o101)));
        assert!(!ev(e, &env().str("syscall", "openat").int("flags", 0o301)));
        // flags missing: `flags & O_CREAT` is missing, hence falsy.
        assert!(!ev(e, &env().str("syscall", "getpid")));

        let e = "(flags & O_ACCMODE) == O_WRONLY";
        assert!(ev(e, &env().int("flags", 0o101)));
        assert!(!ev(e, &env().int("flags", 0o102)));
        assert!(!ev(e, &env()));

        let e = "arg0 == 3 && ret < 0";
        assert!(ev(e, &env().int("arg0", 3).int("ret", -2)));
        assert!(!ev(e, &env().int("arg0", 3).int("ret", 0)));
        assert!(!ev(e, &env().int("arg0", 3)));

        let e = "comm == \"rm\" && pid > 1";
        assert!(ev(e, &env().str("comm", "rm").int("pid", 42)));
        assert!(!ev(e, &env().str("comm", "rmdir").int("pid", 42)));
        assert!(!ev(e, &env().str("comm", "rm").int("pid", 1)));

        let e = "fd in (0, 1, 2)";
        assert!(ev(e, &env().int("fd", 0)));
        assert!(ev(e, &env().int("fd", 2)));
        assert!(!ev(e, &env().int("fd", 3)));
        assert!(!ev(e, &env()));

        assert!(ev("signal == SIGKILL", &env().int("signal", 9)));
        assert!(!ev("signal == SIGKILL", &env().int("signal", 15)));

        let e = "mode >= 0644";
        assert!(ev(e, &env().int("mode", 0o644)));
        assert!(ev(e, &env().int("mode", 0o755)));
        assert!(!ev(e, &env().int("mode", 0o600)));

        let e = "path !~ \"/tmp/*\"";
        assert!(ev(e, &env().str("path", "/etc/x")));
        assert!(!ev(e, &env().str("path", "/tmp/x/y")));
        assert!(!ev(e, &env()), "!~ on a missing value is false");

        assert!(ev("true", &env()));
        assert!(!ev("false", &env()));
        assert!(!ev("!true", &env()));
        assert!(ev("!false", &env()));
        assert!(ev("!!true", &env()));
    }

    #[test]
    fn missing_values() {
        let none = env();
        for src in [
            "fd == 1",
            "fd != 1",
            "fd < 1",
            "fd >= 1",
            "path == \"x\"",
            "path != \"x\"",
            "path ~ \"*\"",
            "path !~ \"x\"",
            "fd in (1, 2)",
            "path in (\"a\")",
            "fd",
            "path",
            "fd & 1",
            "fd | 1",
            "(fd | 1) == (fd | 1)",
            "fd == fd",
        ] {
            assert!(!ev(src, &none), "{src}");
            assert!(ev(&format!("!({src})"), &none), "!({src})");
        }
        assert!(ev("fd == 1 || true", &none));
        assert!(ev("!fd", &none));
        assert!(!ev("!fd", &env().int("fd", 5)));
        assert!(ev("!fd", &env().int("fd", 0)));
    }

    #[test]
    fn truthiness() {
        assert!(ev("path", &env().str("path", "x")));
        assert!(!ev("path", &env().str("path", "")));
        assert!(ev("!path", &env().str("path", "")));
        assert!(ev("path && fd", &env().str("path", "x").int("fd", 3)));
        assert!(!ev("path && fd", &env().str("path", "x").int("fd", 0)));
        assert!(ev("\"x\"", &env()));
        assert!(!ev("''", &env()));
        assert!(ev("7", &env()));
        assert!(!ev("0", &env()));
        assert!(ev("-1", &env()));
        // Booleans are numbers.
        assert!(ev("(fd == 3) == 1", &env().int("fd", 3)));
    }

    #[test]
    fn precedence() {
        // `!` binds looser than comparison and bit operations.
        assert!(ev("!flags & O_EXCL", &env().int("flags", 0)));
        assert!(!ev("!flags & O_EXCL", &env().int("flags", 0o200)));
        assert!(ev("!fd == 3", &env().int("fd", 4)));
        // `&` binds tighter than `|`, both tighter than comparisons.
        assert!(ev("1 | 2 & 0 == 1", &env()));
        assert!(ev("fd == 1 | 2", &env().int("fd", 3)));
        assert!(ev("fd & 6 == 4", &env().int("fd", 5)));
        // `&&` binds tighter than `||`.
        assert!(ev("true || false && false", &env()));
        assert!(!ev("(true || false) && false", &env()));
        assert!(ev("false && false || true", &env()));
    }

    #[test]
    fn integer_literals() {
        assert_num("0", 0);
        assert_num("00", 0);
        assert_num("420", 420);
        assert_num("0644", 420);
        assert_num("0o644", 420);
        assert_num("0O644", 420);
        assert_num("0x1f", 0x1f);
        assert_num("0X1F", 0x1f);
        assert_num("0b101", 5);
        assert_num("-1", -1);
        assert_num("- 1", -1);
        assert_num("-0x10", -16);
        assert_num("0xffffffffffffffff", -1);
        assert_num("0xfffffffffffffffe", -2);
        assert_num("9223372036854775807", i64::MAX);
        assert_num("-9223372036854775808", i64::MIN);
        assert_num("0x8000000000000000", i64::MIN);
        assert_num("-0x8000000000000000", i64::MIN);
        assert_num("AT_FDCWD", -100);
        assert_num("-SIGKILL", -9);
        assert_num("-AT_FDCWD", 100);
    }

    #[test]
    fn integer_literal_errors() {
        assert_err("fd == 08", 6, "invalid digit `8` in octal");
        assert_err("fd == 0x", 6, "needs digits");
        assert_err("fd == 0xg", 6, "invalid digit `g` in hexadecimal");
        assert_err("fd == 12a", 6, "invalid digit `a` in decimal number `12a`");
        assert_err("fd == 1_000", 6, "invalid digit `_`");
        assert_err("fd == 9223372036854775808", 6, "out of range");
        assert_err("fd == -9223372036854775809", 6, "out of range");
        assert_err("fd == -0x8000000000000001", 6, "out of range");
        assert_err("fd == 18446744073709551616", 6, "too large");
        assert_err("fd == 0x10000000000000000", 6, "too large");
        assert_err("fd == -fd", 7, "`-` applies only to numbers and constants");
        assert_err(
            "fd == -\"x\"",
            7,
            "expected a number or constant after `-`, found `\"x\"`",
        );
        assert_err("fd == -", 7, "found end of input");
        assert_err("fd == -true", 7, "expected a number or constant after `-`");
        assert_err("fd == -nope", 7, "unknown name `nope`");
    }

    #[test]
    fn strings() {
        let e = env().str("path", "a\"b\\c\nd\te\x41/");
        assert!(ev(r#"path == "a\"b\\c\nd\te\x41/""#, &e));
        assert!(ev(r#"path == "a\"b\\c\nd\te\x41\x2f""#, &e));
        assert!(ev("comm == 'a\\b'", &env().str("comm", "a\\b")));
        assert!(ev("comm == '\"'", &env().str("comm", "\"")));
        assert!(ev("comm == \"'\"", &env().str("comm", "'")));
        assert!(ev("comm == \"\"", &env().str("comm", "")));
        assert!(ev("comm == \"h\u{e9}\"", &env().str("comm", "h\u{e9}")));
        assert!(ev("comm == \"\\r\\0\"", &env().str("comm", "\r\0")));
        // Non-UTF-8 bytes through \x.
        let bytes = parse("comm == \"\\xff\\x00\"", &TestScope).unwrap();
        struct Raw;
        impl Env for Raw {
            fn int(&self, _: u16) -> Option<i64> {
                None
            }
            fn str(&self, _: u16) -> Option<&[u8]> {
                Some(&[0xff, 0])
            }
        }
        assert!(bytes.eval(&Raw));
    }

    #[test]
    fn string_errors() {
        assert_err("path == \"abc", 8, "unterminated string");
        assert_err("path == 'abc", 8, "unterminated string");
        assert_err("path == \"abc\\", 8, "unterminated string");
        assert_err("path == \"a\\qb\"", 10, "unknown escape `\\q`");
        assert_err("path == \"a\\\u{e9}\"", 10, "unknown escape `\\\u{e9}`");
        assert_err("path == \"\\x4\"", 9, "`\\x` needs two hex digits");
        assert_err("path == \"\\xzz\"", 9, "`\\x` needs two hex digits");
    }

    #[test]
    fn whitespace() {
        let e = env().int("fd", 1).str("path", "/x");
        assert!(ev("fd==1&&path~\"/*\"", &e));
        assert!(ev(" \t\n fd \n == \t 1 \r\n && ( path ~ '/*' ) ", &e));
        assert!(ev("fd in(0,1)", &e));
        assert!(ev("fd in ( 0 , 1 , )", &e));
        assert!(ev("!(fd!=1)", &e));
    }

    #[test]
    fn in_lists() {
        let e = "signal in (SIGKILL, SIGSTOP, -1, 0x20)";
        for v in [9, 19, -1, 32] {
            assert!(ev(e, &env().int("signal", v)), "{v}");
        }
        assert!(!ev(e, &env().int("signal", 15)));
        assert!(ev("fd in (1,)", &env().int("fd", 1)));
        assert!(ev("fd in (true)", &env().int("fd", 1)));
        assert!(ev("ret in (-ENOENT, -EACCES)", &env().int("ret", -13)));
        assert!(ev("path in ('/a', \"/b\")", &env().str("path", "/b")));
        assert!(!ev("path in ('/a', \"/b\")", &env().str("path", "/c")));
        assert!(ev("(flags & 3) in (1, 2)", &env().int("flags", 0o102)));
        // `in` yields a number, usable with `!`, `&&`...
        assert!(ev("!(fd in (1)) && true", &env().int("fd", 2)));
    }

    #[test]
    fn in_list_errors() {
        assert_err("fd in 1", 6, "expected `(` after `in`, found `1`");
        assert_err("fd in", 5, "expected `(` after `in`, found end of input");
        assert_err(
            "fd in ()",
            7,
            "expected a number, string or constant, found `)`",
        );
        assert_err(
            "fd in (1, \"x\")",
            10,
            "`in` list items must be numbers like `fd`; `\"x\"` is a string",
        );
        assert_err(
            "path in (1)",
            9,
            "must be strings like `path`; `1` is a number",
        );
        assert_err("fd in (uid)", 7, "`uid` is a variable");
        assert_err(
            "fd in (1 2)",
            9,
            "expected `,` or `)` in the `in` list, found `2`",
        );
        assert_err(
            "fd in (1,",
            9,
            "expected a number, string or constant, found end of input",
        );
        assert_err(
            "fd in (1",
            8,
            "expected `)` to close the `(` at column 7, found end of input",
        );
        assert_err("fd in (nope)", 7, "unknown name `nope`");
        assert_err("fd in (1,,2)", 9, "found `,`");
        assert_err("in", 0, "expected an operand, found `in`");
    }

    #[test]
    fn glob_operator() {
        let e = env().str("path", "/etc/passwd");
        assert!(ev("path ~ '/etc/*'", &e));
        assert!(ev("path ~ '*'", &e));
        assert!(ev("path ~ '/etc/pass??'", &e));
        assert!(ev("path ~ '/etc/[a-p]asswd'", &e));
        assert!(!ev("path ~ '/etc'", &e));
        assert!(ev("path !~ '/etc'", &e));
        assert!(ev("path ~ \"/etc/\\x70asswd\"", &e));
    }

    #[test]
    fn variables_shadow_constants() {
        // `SIGTERM` is a variable in TestScope.
        assert!(ev("SIGTERM == 7", &env().int("SIGTERM", 7)));
        assert!(!ev("SIGTERM == 15", &env()));
        assert_eq!(
            p("SIGTERM == 15").vars().collect::<Vec<_>>(),
            [id("SIGTERM")]
        );
    }

    #[test]
    fn string_comparisons() {
        let e = env().str("path", "abc").str("comm", "abc");
        assert!(ev("path == comm", &e));
        assert!(!ev("path != comm", &e));
        assert!(ev("path != 'abd'", &e));
        assert!(ev("'x' == 'x'", &e));
    }

    #[test]
    fn type_errors() {
        assert_err(
            "fd ~ \"x\"",
            0,
            "`~` needs a string on its left; `fd` is a number",
        );
        assert_err(
            "fd !~ \"x\"",
            0,
            "`!~` needs a string on its left; `fd` is a number",
        );
        assert_err(
            "path ~ comm",
            7,
            "`~` needs a glob pattern (a string literal) on its right, found `comm`",
        );
        assert_err("path ~ 3", 7, "found `3`");
        assert_err("path ~", 6, "found end of input");
        assert_err(
            "path < 3",
            0,
            "`<` needs a number on its left; `path` is a string",
        );
        assert_err(
            "3 >= path",
            5,
            "`>=` needs a number on its right; `path` is a string",
        );
        assert_err(
            "path & 1",
            0,
            "`&` needs a number on its left; `path` is a string",
        );
        assert_err(
            "1 | comm",
            4,
            "`|` needs a number on its right; `comm` is a string",
        );
        assert_err(
            "path == 3",
            8,
            "`==` compares values of the same type; `path` is a string but `3` is a number",
        );
        assert_err(
            "(fd & 1) != 'x'",
            12,
            "`(fd & 1)` is a number but `'x'` is a string",
        );
        assert_err(
            "fd & (1 == path)",
            11,
            "`==` compares values of the same type",
        );
    }

    #[test]
    fn syntax_errors() {
        assert_err("", 0, "expected an operand, found end of input");
        assert_err("   ", 3, "expected an operand, found end of input");
        assert_err("&& fd", 0, "expected an operand, found `&&`");
        assert_err("fd == 1 &&", 10, "expected an operand, found end of input");
        assert_err("fd == 1 && && 2", 11, "expected an operand, found `&&`");
        assert_err("fd ==", 5, "expected an operand, found end of input");
        assert_err(
            "fd && (uid == 1",
            15,
            "expected `)` to close the `(` at column 7, found end of input",
        );
        assert_err(
            "(fd 1)",
            4,
            "expected `)` to close the `(` at column 1, found `1`",
        );
        assert_err("fd 3", 3, "expected an operator or end of input, found `3`");
        assert_err("fd)", 2, "unmatched `)`");
        assert_err("fd = 3", 3, "use `==`");
        assert_err("fd == 1 == 1", 8, "comparisons cannot be chained");
        assert_err("fd < 1 < 2", 7, "comparisons cannot be chained");
        assert_err("path ~ 'x' ~ 'y'", 11, "comparisons cannot be chained");
        assert_err("fd in (1) in (1)", 10, "comparisons cannot be chained");
        assert_err("fd == $", 6, "unexpected character `$`");
        assert_err("fd == \u{e9}", 6, "unexpected character `\u{e9}`");
        assert_err("fd + 1", 3, "unexpected character `+`");
        assert_err("fd & !1", 5, "expected an operand, found `!`");
        assert_err("fd == ,", 6, "found `,`");
    }

    #[test]
    fn unknown_names() {
        let e = err("foo == 1");
        assert_eq!(e.offset, 0);
        assert!(
            e.message.starts_with(
                "unknown name `foo`: expected a variable (path, fd, uid, syscall, flags, arg0, ret, comm, ...) or a constant (O_CREAT, SIGKILL, ...)"
            ),
            "{}",
            e.message
        );
        assert_err("fd == 1 && o_creat", 11, "did you mean `O_CREAT`?");
        assert_err("PATH", 0, "did you mean `path`?");
        let e = parse("y", &BareScope).unwrap_err();
        assert_eq!(
            e.message,
            "unknown name `y`: expected a variable or a constant (O_CREAT, SIGKILL, ...)"
        );
        assert!(parse("x == 1", &BareScope).is_ok());
    }

    #[test]
    fn long_snippets_are_elided() {
        let long = "\"0123456789012345678901234567890123456789\"";
        let e = err(&format!("fd == {long}"));
        assert!(e.message.contains("...`"), "{}", e.message);
        assert!(e.message.len() < 200);
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_err(
            "fd &\n(path\n)",
            5,
            "`&` needs a number on its right; `(path )` is a string",
        );
        assert_err(
            "fd ==\n\"a\nb\"",
            6,
            "`fd` is a number but `\"a b\"` is a string",
        );
        assert_err("path ~\n(\n'x')", 7, "found `(`");
    }

    #[test]
    fn error_columns() {
        let src = "path == \"h\u{e9}\" && (1";
        let e = parse(src, &TestScope).unwrap_err();
        assert_eq!(e.column(src), src.chars().count() + 1);
        assert_eq!(ParseError::new(0, "x").column(src), 1);
        assert_eq!(
            ParseError::new(99, "x").column(src),
            src.chars().count() + 1
        );
        assert_eq!(e.to_string(), e.message);
    }

    #[test]
    fn nesting_limit() {
        let nested = |n: usize| format!("{}fd{}", "(".repeat(n), ")".repeat(n));
        assert!(ev(&nested(MAX_DEPTH), &env().int("fd", 1)));
        assert_err(&nested(MAX_DEPTH + 1), MAX_DEPTH, "nested too deeply");
        assert_err(&nested(100_000), MAX_DEPTH, "nested too deeply");
        let bangs = |n: usize| format!("{}true", "!".repeat(n));
        assert!(ev(&bangs(MAX_DEPTH - 2), &env()));
        assert!(err(&bangs(MAX_DEPTH)).message.contains("nested too deeply"));
        assert!(err(&bangs(100_000)).message.contains("nested too deeply"));
        // Long flat chains are fine; long bit-operation chains hit the tree-depth limit.
        let ors = vec!["fd == 1"; 500].join(" || ");
        assert!(ev(&ors, &env().int("fd", 1)));
        let ands = vec!["fd"; 500].join(" && ");
        assert!(ev(&ands, &env().int("fd", 1)));
        let bits = vec!["fd"; 200].join(" | ");
        assert!(err(&bits).message.contains("nested too deeply"));
        let bits = vec!["fd"; 40].join(" | ");
        assert!(ev(&bits, &env().int("fd", 1)));
    }

    #[test]
    fn constant_folding() {
        let e = p("flags & (O_CREAT | O_EXCL | O_TRUNC)");
        assert_eq!(e.nodes.len(), 3, "{:?}", e.nodes);
        assert!(e.eval(&env().int("flags", 0o1000)));
        assert!(!e.eval(&env().int("flags", 0o2)));
        let e = p("1 | 2 | 4");
        assert_eq!(e.nodes, [Node::Int(7)]);
        let e = p("(flags | 1) & 3");
        assert!(e.eval(&env().int("flags", 0)));
        assert!(!e.eval(&env()));
    }

    #[test]
    fn vars_are_reported_once_in_order() {
        let e = p("path ~ '*' && fd == 1 || ret < 0 && fd in (1) && !path");
        assert_eq!(
            e.vars().collect::<Vec<_>>(),
            [id("path"), id("fd"), id("ret")]
        );
        assert_eq!(p("1 == 1 && SIGKILL").vars().count(), 0);
        assert!(p("ret < 0").vars().any(|v| v == id("ret")));
    }

    #[test]
    fn keywords_are_reserved() {
        assert_err("true == in", 8, "expected an operand, found `in`");
        assert!(ev("true == 1", &env()));
        assert!(ev("false == 0", &env()));
        assert_err("truex == 1", 0, "unknown name `truex`");
        assert!(ev("(true)", &env()));
    }

    #[test]
    fn no_panics_on_garbage() {
        const PIECES: &[&str] = &[
            "fd",
            "path",
            "(",
            ")",
            "!",
            "&&",
            "||",
            "&",
            "|",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "~",
            "!~",
            "in",
            ",",
            "-",
            "0",
            "0x",
            "08",
            "1",
            "'a*'",
            "\"b\\x4\"",
            "\"c",
            "'",
            "O_CREAT",
            "nope",
            "true",
            " ",
            "=",
            "$",
            "\u{e9}",
            "\\",
            "99999999999999999999",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let envs = [
            env(),
            env().int("fd", 1).str("path", "abc"),
            env().int("fd", 0).str("path", ""),
        ];
        let mut ok = 0;
        for _ in 0..20_000 {
            let n = (next() % 12) as usize;
            let src: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(if next() % 2 == 0 { " " } else { "" });
            match parse(&src, &TestScope) {
                Ok(e) => {
                    ok += 1;
                    for env in &envs {
                        e.eval(env);
                    }
                }
                Err(e) => {
                    assert!(e.offset <= src.len(), "{src:?}: {e:?}");
                    assert!(src.is_char_boundary(e.offset), "{src:?}: {e:?}");
                    assert!(!e.message.is_empty() && !e.message.contains('\n'));
                }
            }
        }
        assert!(ok > 100, "only {ok} random expressions parsed");
    }

    #[test]
    fn glob_basics() {
        assert!(glob_match(b"", b""));
        assert!(!glob_match(b"", b"a"));
        assert!(!glob_match(b"a", b""));
        assert!(glob_match(b"abc", b"abc"));
        assert!(!glob_match(b"abc", b"abd"));
        assert!(!glob_match(b"abc", b"abcd"));
        assert!(!glob_match(b"abcd", b"abc"));
    }

    #[test]
    fn glob_stars() {
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"*", b"anything/at/all"));
        assert!(glob_match(b"**", b""));
        assert!(glob_match(b"***a", b"bba"));
        assert!(glob_match(b"*passwd", b"/etc/passwd"));
        assert!(!glob_match(b"*passwd", b"/etc/passwd-"));
        assert!(glob_match(b"/tmp/*", b"/tmp/"));
        assert!(glob_match(b"/tmp/*", b"/tmp/a/b/c"));
        assert!(!glob_match(b"/tmp/*", b"/tmp"));
        assert!(glob_match(b"a*b*c", b"abc"));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
        assert!(!glob_match(b"a*b*c", b"aXbYbZ"));
        assert!(glob_match(b"*a*a*a*", b"banana a"));
        assert!(!glob_match(b"*a*a*a*a*", b"banana"));
        assert!(glob_match(b"a*", b"a"));
        assert!(glob_match(b"*.so.*", b"libc.so.6"));
        // Backtracking past partial matches.
        assert!(glob_match(b"*aab", b"aaaab"));
        assert!(glob_match(b"*ab*ab", b"abxabyab"));
        // Pathological input finishes (quadratic, not exponential).
        let text = [b'a'; 2000];
        assert!(!glob_match(b"*a*a*a*a*a*a*a*a*b", &text));
    }

    #[test]
    fn glob_question_marks() {
        assert!(glob_match(b"?", b"x"));
        assert!(!glob_match(b"?", b""));
        assert!(!glob_match(b"?", b"xy"));
        assert!(glob_match(b"a?c", b"a/c"));
        assert!(glob_match(b"??*", b"ab"));
        assert!(!glob_match(b"??*", b"a"));
        assert!(glob_match(b"?", &[0xff]));
    }

    #[test]
    fn glob_classes() {
        assert!(glob_match(b"[abc]", b"b"));
        assert!(!glob_match(b"[abc]", b"d"));
        assert!(!glob_match(b"[abc]", b""));
        assert!(glob_match(b"[a-z]x", b"qx"));
        assert!(!glob_match(b"[a-z]", b"Q"));
        assert!(glob_match(b"[a-zA-Z0-9_]", b"Q"));
        assert!(glob_match(b"[!a-z]", b"Q"));
        assert!(!glob_match(b"[!a-z]", b"q"));
        assert!(glob_match(b"[^x]", b"y"));
        assert!(!glob_match(b"[^x]", b"x"));
        assert!(glob_match(b"[]]", b"]"));
        assert!(glob_match(b"[!]]", b"a"));
        assert!(!glob_match(b"[!]]", b"]"));
        assert!(glob_match(b"[a-]", b"-"));
        assert!(glob_match(b"[-a]", b"-"));
        assert!(glob_match(b"[\\]]", b"]"));
        assert!(glob_match(b"[a\\-z]", b"-"));
        assert!(!glob_match(b"[a\\-z]", b"b"));
        assert!(!glob_match(b"[z-a]", b"m"));
        assert!(glob_match(b"*[0-9]", b"/dev/tty7"));
        assert!(glob_match(b"/proc/[0-9]*/*", b"/proc/123/maps"));
        assert!(glob_match(b"[*]", b"*"));
        assert!(!glob_match(b"[*]", b"x"));
    }

    #[test]
    fn glob_malformed_classes_are_literal() {
        assert!(glob_match(b"[", b"["));
        assert!(glob_match(b"[abc", b"[abc"));
        assert!(!glob_match(b"[abc", b"a"));
        assert!(glob_match(b"a[", b"a["));
        assert!(glob_match(b"*[", b"xx["));
        assert!(glob_match(b"[!", b"[!"));
        assert!(glob_match(b"[]", b"[]"));
        assert!(glob_match(b"[a-", b"[a-"));
        assert!(glob_match(b"[\\", b"[\\"));
    }

    #[test]
    fn glob_escapes() {
        assert!(glob_match(b"\\*", b"*"));
        assert!(!glob_match(b"\\*", b"x"));
        assert!(glob_match(b"a\\?", b"a?"));
        assert!(!glob_match(b"a\\?", b"ab"));
        assert!(glob_match(b"\\[a]", b"[a]"));
        assert!(glob_match(b"\\\\", b"\\"));
        assert!(glob_match(b"\\a", b"a"));
        // A trailing backslash is literal.
        assert!(glob_match(b"a\\", b"a\\"));
        assert!(!glob_match(b"a\\", b"a"));
    }

    #[test]
    fn evaluation_does_not_allocate() {
        let exprs: Vec<Expr> = [
            "path ~ \"*passwd\" && uid != 0",
            "syscall in (\"unlink\", \"unlinkat\") || (flags & O_CREAT && !(flags & O_EXCL))",
            "(flags & O_ACCMODE) == O_WRONLY || fd in (0, 1, 2) || path !~ '/tmp/*'",
            "comm == \"rm\" && pid > 1 && path && !(mode >= 0644) && path != comm",
        ]
        .iter()
        .map(|s| p(s))
        .collect();
        let envs = [
            env(),
            env()
                .str("path", "/etc/passwd")
                .str("comm", "rm")
                .str("syscall", "unlinkat")
                .int("uid", 1)
                .int("flags", 0o101)
                .int("pid", 7)
                .int("mode", 0o600),
        ];
        let mut results = [false; 8];
        let n = allocations(|| {
            for (i, e) in exprs.iter().enumerate() {
                for (j, env) in envs.iter().enumerate() {
                    results[i * 2 + j] = e.eval(env);
                }
            }
        });
        assert_eq!(n, 0);
        assert_eq!(
            results,
            [false, true, false, true, false, true, false, true]
        );
        // The counter works.
        assert!(allocations(|| drop(vec![1u8])) > 0);
    }
}
