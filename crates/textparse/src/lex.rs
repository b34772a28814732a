//! Byte-level scanners shared by the line parser and the on-demand label decoder.

use std::borrow::Cow;

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CHAR: u8 = 8;

/// Character classes of every byte, looked up once per byte on the hot path.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let colon = c == b':';
        let mut v = 0;
        if alpha || colon {
            v |= NAME_START | NAME_CHAR;
        }
        if digit {
            v |= NAME_CHAR | LABEL_CHAR;
        }
        if alpha {
            v |= LABEL_START | LABEL_CHAR;
        }
        t[b] = v;
        b += 1;
    }
    t
};

/// Whether `b` may start a metric name (`[a-zA-Z_:]`).
#[inline]
pub(crate) fn is_name_start(b: u8) -> bool {
    CLASS[b as usize] & NAME_START != 0
}

/// Whether `b` may continue a metric name (`[a-zA-Z0-9_:]`).
#[inline]
pub(crate) fn is_name_char(b: u8) -> bool {
    CLASS[b as usize] & NAME_CHAR != 0
}

/// Whether `b` may start a label name (`[a-zA-Z_]`).
#[inline]
pub(crate) fn is_label_start(b: u8) -> bool {
    CLASS[b as usize] & LABEL_START != 0
}

/// Whether `b` may continue a label name (`[a-zA-Z0-9_]`).
#[inline]
pub(crate) fn is_label_char(b: u8) -> bool {
    CLASS[b as usize] & LABEL_CHAR != 0
}

/// Length of the run of name characters at the start of `s` given the start and continue classes.
#[inline]
pub(crate) fn scan_ident(s: &[u8], start: fn(u8) -> bool, cont: fn(u8) -> bool) -> usize {
    match s.first() {
        Some(&b) if start(b) => 1 + s[1..].iter().position(|&b| !cont(b)).unwrap_or(s.len() - 1),
        _ => 0,
    }
}

/// Number of spaces and tabs at the start of `s`.
#[inline]
pub(crate) fn skip_blank(s: &[u8]) -> usize {
    s.iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len())
}

/// A quoted string found at the start of a slice.
pub(crate) struct Quoted {
    /// Bytes between the quotes, escapes still encoded.
    pub(crate) len: usize,
    /// Whether the content holds a backslash escape.
    pub(crate) escaped: bool,
}

/// Why a quoted string could not be scanned.
pub(crate) enum QuotedError {
    /// No closing quote before the end of the line.
    Unterminated,
    /// A byte sequence that is not UTF-8, at this offset from the opening quote.
    InvalidUtf8(usize),
}

/// Scans the quoted string that `s` starts inside of (just past the opening `"`): finds the
/// closing quote, skipping `\` escapes, and checks the content is UTF-8.
///
/// Eight bytes at a time while no quote or backslash is in sight (most label values hold
/// neither), then byte by byte around one: cheaper than `memchr`'s set-up on short values.
#[inline]
pub(crate) fn scan_quoted(s: &[u8]) -> Result<Quoted, QuotedError> {
    let mut i = 0;
    let mut escaped = false;
    let mut non_ascii = false;
    loop {
        while let Some(word) = s.get(i..i + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let w = u64::from_le_bytes(bytes);
            // Over-approximates for bytes after the match, which only costs a UTF-8 check.
            non_ascii |= w & HIGH_BITS != 0;
            let special = quote_or_backslash(w);
            if special != 0 {
                i += (special.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        let Some(&b) = s.get(i) else {
            return Err(QuotedError::Unterminated);
        };
        if b == b'"' {
            if non_ascii && let Err(e) = std::str::from_utf8(&s[..i]) {
                return Err(QuotedError::InvalidUtf8(e.valid_up_to()));
            }
            return Ok(Quoted { len: i, escaped });
        }
        if b == b'\\' {
            escaped = true;
            i += 2;
            continue;
        }
        non_ascii |= b >= 0x80;
        i += 1;
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is `"` or `\`. The lowest set bit is exact (higher ones
/// may be spurious after a match, and are never looked at): the classic test for a zero byte,
/// on `w` with each byte xored with the one looked for.
#[inline(always)]
fn quote_or_backslash(w: u64) -> u64 {
    let q = w ^ (LOW_BITS * u64::from(b'"'));
    let b = w ^ (LOW_BITS * u64::from(b'\\'));
    ((q.wrapping_sub(LOW_BITS) & !q) | (b.wrapping_sub(LOW_BITS) & !b)) & HIGH_BITS
}

/// Decodes the escapes of a quoted label value or name: `\\`, `\"` and `\n`. Any other escaped
/// byte is kept with its backslash, as Prometheus's `lvalReplacer` does.
pub(crate) fn unescape(content: &[u8], escaped: bool) -> Cow<'_, str> {
    // The content was checked to be UTF-8 when the line was parsed.
    let text = std::str::from_utf8(content).unwrap_or_default();
    if !escaped {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// The bytes of a quoted name or label value with its escapes decoded (`\\`, `\"`, `\n`; any
/// other escaped byte keeps its backslash), without allocating: for comparing two spellings.
pub(crate) fn unescaped_bytes(content: &[u8], escaped: bool) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    let mut pending = None;
    std::iter::from_fn(move || {
        if let Some(b) = pending.take() {
            return Some(b);
        }
        let b = *content.get(i)?;
        i += 1;
        if !escaped || b != b'\\' {
            return Some(b);
        }
        match content.get(i) {
            Some(&next @ (b'\\' | b'"')) => {
                i += 1;
                Some(next)
            }
            Some(b'n') => {
                i += 1;
                Some(b'\n')
            }
            Some(&other) => {
                i += 1;
                pending = Some(other);
                Some(b'\\')
            }
            None => Some(b'\\'),
        }
    })
}

/// Decodes HELP text escapes: `\\` and `\n` (the text format does not escape quotes there).
pub(crate) fn unescape_help(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Why a number token is not a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FloatError {
    /// Not a number in Go's float syntax.
    Syntax,
    /// A well-formed number beyond the range of a 64-bit float, such as `1e999999`.
    Range,
}

/// Parses a sample value as Prometheus does: Go's `strconv.ParseFloat` without the forms Go 1.13
/// added (`textparse.parseFloat` rejects `p`, `P` and `_`, so no hexadecimal floats or digit
/// separators).
///
/// Accepted: decimal and exponent forms (`1`, `-0.5`, `.5`, `5.`, `1e+3`), `NaN` (unsigned) and
/// `Inf`/`Infinity` with an optional sign, all case-insensitive. A number that overflows is
/// [`FloatError::Range`], as Go's `ErrRange`; one that underflows reads as 0 (or a subnormal),
/// as in Go. The small non-negative integers that dominate counter and bucket lines take a fast
/// path.
#[inline]
pub(crate) fn parse_float(s: &[u8]) -> Result<f64, FloatError> {
    if !s.is_empty() && s.len() <= 15 && s.iter().all(u8::is_ascii_digit) {
        let mut n: u64 = 0;
        for &b in s {
            n = n * 10 + u64::from(b - b'0');
        }
        // Exact: every integer below 2^53 is representable.
        return Ok(n as f64);
    }
    let text = std::str::from_utf8(s).map_err(|_| FloatError::Syntax)?;
    let signed = text.starts_with(['+', '-']);
    let unsigned = if signed { &text[1..] } else { text };
    if unsigned.starts_with(['n', 'N', 'i', 'I']) {
        // Go takes a sign before Inf and Infinity, never before NaN.
        return if unsigned.eq_ignore_ascii_case("nan") && !signed {
            Ok(f64::NAN)
        } else if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity")
        {
            Ok(if text.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        } else {
            Err(FloatError::Syntax)
        };
    }
    // Rust's grammar is Go's decimal grammar ("1." and ".5" in both; ".", "e5" and "1e" in
    // neither); hexadecimal and `_` fail in Rust as Prometheus wants. Only overflow differs: Rust
    // rounds it to infinity where Go reports ErrRange.
    match text.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(FloatError::Range),
        Ok(v) => Ok(v),
        Err(_) => Err(FloatError::Syntax),
    }
}

/// Parses a millisecond timestamp of the Prometheus text format (a signed integer).
#[inline]
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_go_parse_float() {
        assert_eq!(parse_float(b"42"), Ok(42.0));
        assert_eq!(parse_float(b"1.5e3"), Ok(1500.0));
        assert_eq!(parse_float(b"-0.25"), Ok(-0.25));
        assert_eq!(parse_float(b".5"), Ok(0.5));
        assert_eq!(parse_float(b"5."), Ok(5.0));
        assert_eq!(parse_float(b"+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float(b"-Inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float(b"-infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_float(b"NaN").is_ok_and(f64::is_nan));
        assert!(parse_float(b"nan").is_ok_and(f64::is_nan));
        assert_eq!(parse_float(b"+NaN"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"-nan"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"infin"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"1e"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"1e+"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b""), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"0x10"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"0x1p3"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"1_000"), Err(FloatError::Syntax));
        assert_eq!(parse_float(b"1e308"), Ok(1e308));
        assert_eq!(parse_float(b"1e309"), Err(FloatError::Range));
        assert_eq!(parse_float(b"-1e999999"), Err(FloatError::Range));
        assert_eq!(parse_float(b"1e-400"), Ok(0.0));
        assert_eq!(
            parse_float(b"12345678901234567890"),
            Ok(12345678901234567890.0)
        );
    }

    #[test]
    fn quoted_strings_end_where_a_byte_loop_says() {
        // Every position of the closing quote and of an escape, around the 8-byte steps.
        fn byte_loop(s: &[u8]) -> Option<(usize, bool)> {
            let (mut i, mut escaped) = (0, false);
            while i < s.len() {
                match s[i] {
                    b'"' => return Some((i, escaped)),
                    b'\\' => {
                        escaped = true;
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
            None
        }
        let cycle: Vec<char> = "ab\u{e9}c ~z\u{1F600}".chars().collect();
        let mut checked = 0;
        for len in 0..40 {
            for special in [None, Some('"'), Some('\\')] {
                for at in 0..len.max(1) {
                    let mut chars: Vec<char> = (0..len).map(|k| cycle[k % cycle.len()]).collect();
                    if let Some(c) = special
                        && at < len
                    {
                        chars[at] = c;
                    }
                    let mut s = chars.into_iter().collect::<String>().into_bytes();
                    s.extend_from_slice(b"x\"tail\"");
                    let want = byte_loop(&s);
                    assert!(want.is_some());
                    let got = scan_quoted(&s).ok().map(|q| (q.len, q.escaped));
                    assert_eq!(got, want, "{s:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
        // Invalid UTF-8 is found wherever it stands.
        for at in 0..20 {
            let mut s = vec![b'a'; 20];
            s[at] = 0xff;
            s.push(b'"');
            assert!(matches!(scan_quoted(&s), Err(QuotedError::InvalidUtf8(p)) if p == at));
        }
    }

    #[test]
    fn unescape_decodes_the_three_escapes() {
        assert_eq!(unescape(br#"a\\b\"c\nd"#, true), "a\\b\"c\nd");
        assert_eq!(unescape(br"x\ty", true), "x\\ty");
        assert_eq!(unescape_help(r"line\nnext \\ done"), "line\nnext \\ done");
        for (raw, escaped) in [
            (&br#"a\\b\"c\nd"#[..], true),
            (br"x\ty", true),
            (br"plain", false),
        ] {
            let want = unescape(raw, escaped).into_owned().into_bytes();
            assert_eq!(unescaped_bytes(raw, escaped).collect::<Vec<u8>>(), want);
        }
    }
}
