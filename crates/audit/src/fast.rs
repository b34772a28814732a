//! A scanner for native audit events that reads only the fields the analyses need.
//!
//! Most of an audit line is text no analysis reads: `requestObject`, `responseObject`,
//! `managedFields`, the RBAC reason annotation. Full deserialisation walks all of it through
//! serde's visitor machinery; this scanner walks the top-level object once, borrows the few
//! strings it needs straight from the line, and skips everything else eight bytes at a time.
//!
//! It validates what it skips (string escapes, control characters, numbers, literals, nesting),
//! so a line it accepts is a line serde accepts, and it gives the same [`Native`] fields. On
//! anything it does not handle itself (an envelope, a key written with escapes, a duplicate
//! field, a type serde would coerce or reject, nesting deeper than serde's limit) it returns
//! `None` and the caller decodes the line with serde, which then also produces the error message
//! for a malformed line.

use crate::native::Native;
use std::borrow::Cow;

/// Nesting depth beyond which the scanner leaves the line to serde (whose own limit is 128).
const MAX_DEPTH: u32 = 100;

/// `None` means "not handled here": decode the line with serde instead.
type Scan<T> = Option<T>;

/// Reads a native audit event (one JSON object) from `text`, or `None` when the line is anything
/// else or needs serde's judgement.
pub(crate) fn native(text: &str) -> Option<Native<'_>> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    let mut f = Native::default();
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if p.peek()? == b'}' {
        return None;
    }
    let mut seen = 0u32;
    loop {
        let key = p.key()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        let bit = match key {
            b"kind" => {
                p.opt_string()?;
                1
            }
            b"auditID" => {
                f.audit_id = p.opt_string()?;
                1 << 1
            }
            b"stage" => {
                f.stage = p.opt_string()?;
                1 << 2
            }
            b"requestURI" => {
                f.request_uri = p.opt_string()?;
                1 << 3
            }
            b"verb" => {
                f.verb = p.opt_string()?;
                1 << 4
            }
            b"user" => {
                if let Some((name, groups, extra)) = p.user()? {
                    f.username = name;
                    f.groups = groups;
                    f.extra = extra;
                }
                1 << 5
            }
            b"impersonatedUser" => {
                f.impersonated = p.user()?.and_then(|(name, _, _)| name);
                1 << 6
            }
            b"sourceIPs" => {
                f.source_ip = p.last_string()?;
                1 << 7
            }
            b"userAgent" => {
                f.user_agent = p.opt_string()?;
                1 << 8
            }
            b"objectRef" => {
                p.object_ref(&mut f)?;
                1 << 9
            }
            b"responseStatus" => {
                p.response_status(&mut f)?;
                1 << 10
            }
            b"requestReceivedTimestamp" => {
                f.received = p.opt_string()?;
                1 << 11
            }
            b"stageTimestamp" => {
                f.stage_timestamp = p.opt_string()?;
                1 << 12
            }
            b"timestamp" => {
                f.timestamp = p.raw()?;
                1 << 13
            }
            b"annotations" => {
                f.annotations = p.raw()?;
                1 << 14
            }
            b"labels" => {
                p.raw()?;
                1 << 15
            }
            b"insertId" => {
                p.opt_string()?;
                1 << 16
            }
            // Envelopes and fields only envelopes use: serde's job.
            b"items" | b"message" | b"logEvents" | b"events" | b"properties" | b"protoPayload"
            | b"operation" => return None,
            _ => {
                p.skip(0)?;
                0
            }
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        p.ws();
        match p.next()? {
            b',' => p.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    p.ws();
    if p.i != p.b.len() || (f.request_uri.is_none() && f.verb.is_none()) {
        return None;
    }
    Some(f)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is `"`, `\` or a control character (< 0x20). The lowest
/// set bit is exact (higher ones may be spurious after a match, which is never looked at).
#[inline(always)]
fn special(w: u64) -> u64 {
    let q = w ^ (LO * u64::from(b'"'));
    let s = w ^ (LO * u64::from(b'\\'));
    let zq = q.wrapping_sub(LO) & !q;
    let zs = s.wrapping_sub(LO) & !s;
    let ctl = w.wrapping_sub(LO * 0x20) & !w;
    (zq | zs | ctl) & HI
}

#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// The index of the first `"`, `\` or control byte at or after `i`, or `b.len()`.
#[inline]
fn find_special(b: &[u8], mut i: usize) -> usize {
    while i + 16 <= b.len() {
        let m = special16(&b[i..i + 16]);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i + 8 <= b.len() {
        let m = special(word(b, i));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// One bit per byte of `s` (16 bytes) that is `"`, `\` or a control character.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special16(s: &[u8]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(s.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and the unaligned load reads 16 bytes that
    // the assertion above proves are inside `s`.
    unsafe {
        let v = _mm_loadu_si128(s.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // v <= 0x1f (unsigned) exactly when max(v, 0x1f) == 0x1f.
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// One bit per byte of `s` (16 bytes) that is `"`, `\` or a control character.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn special16(s: &[u8]) -> u32 {
    special16_swar(s)
}

/// [`special16`] without SIMD instructions: exact in its lowest set bit, which is all
/// [`find_special`] reads.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
fn special16_swar(s: &[u8]) -> u32 {
    let bits = |m: u64| {
        let mut out = 0u32;
        for k in 0..8 {
            out |= u32::from((m >> (8 * k + 7)) & 1 == 1) << k;
        }
        out
    };
    let lo = special(word(s, 0));
    if lo != 0 {
        return 1 << (lo.trailing_zeros() / 8);
    }
    bits(special(word(s, 8))) << 8
}

impl<'a> Parser<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Scan<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn next(&mut self) -> Scan<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Scan<()> {
        (self.next()? == c).then_some(())
    }

    /// At an opening quote: the content span and whether it holds escapes; leaves `i` after the
    /// closing quote.
    #[inline]
    fn str_span(&mut self) -> Scan<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        let mut i = start;
        loop {
            i = find_special(self.b, i);
            match self.b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some((start, i, escaped));
                }
                b'\\' => {
                    escaped = true;
                    match *self.b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let hex = self.b.get(i + 2..i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                // A raw control character: serde rejects it.
                _ => return None,
            }
        }
    }

    /// An object key without escapes.
    #[inline]
    fn key(&mut self) -> Scan<&'a [u8]> {
        let (a, e, escaped) = self.str_span()?;
        (!escaped).then(|| &self.b[a..e])
    }

    #[inline]
    fn string(&mut self) -> Scan<Cow<'a, str>> {
        let (a, e, escaped) = self.str_span()?;
        if escaped {
            // Rare: let serde decode the escapes, surrogate pairs and all.
            serde_json::from_str::<String>(&self.s[a - 1..e + 1])
                .ok()
                .map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&self.s[a..e]))
        }
    }

    fn null(&mut self) -> Scan<()> {
        let lit = self.b.get(self.i..self.i + 4)?;
        (lit == b"null").then(|| self.i += 4)
    }

    /// A string or `null`.
    #[inline]
    fn opt_string(&mut self) -> Scan<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.null().map(|()| None),
            _ => None,
        }
    }

    /// Any value as its raw text; `null` is `None`.
    fn raw(&mut self) -> Scan<Option<&'a str>> {
        if self.peek()? == b'n' {
            return self.null().map(|()| None);
        }
        let a = self.i;
        self.skip(0)?;
        Some(Some(&self.s[a..self.i]))
    }

    /// The members of an object (or `null`, which calls nothing), each key passed to `member`
    /// with `i` at the value, which `member` must consume.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Scan<()>) -> Scan<bool> {
        match self.next()? {
            b'{' => {}
            b'n' => {
                self.i -= 1;
                self.null()?;
                return Some(false);
            }
            _ => return None,
        }
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(true);
        }
        loop {
            let key = self.key()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => return Some(true),
                _ => return None,
            }
        }
    }

    /// `user` / `impersonatedUser`: `None` for null, else the username, the raw groups and the
    /// raw extra.
    #[allow(clippy::type_complexity)]
    fn user(&mut self) -> Scan<Option<(Option<Cow<'a, str>>, Option<&'a str>, Option<&'a str>)>> {
        let mut name = None;
        let mut groups = None;
        let mut extra = None;
        let mut seen = 0u8;
        let present = self.members(|p, key| {
            let bit = match key {
                b"username" => {
                    name = p.opt_string()?;
                    1
                }
                b"groups" => {
                    groups = p.raw()?;
                    2
                }
                b"extra" => {
                    extra = p.raw()?;
                    4
                }
                _ => {
                    p.skip(1)?;
                    0
                }
            };
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some(present.then_some((name, groups, extra)))
    }

    fn object_ref(&mut self, f: &mut Native<'a>) -> Scan<()> {
        let mut seen = 0u8;
        self.members(|p, key| {
            let bit = match key {
                b"resource" => {
                    f.resource = p.opt_string()?;
                    1
                }
                b"namespace" => {
                    f.namespace = p.opt_string()?;
                    2
                }
                b"apiGroup" => {
                    f.api_group = p.opt_string()?;
                    4
                }
                b"subresource" => {
                    f.subresource = p.opt_string()?;
                    8
                }
                _ => {
                    p.skip(1)?;
                    0
                }
            };
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some(())
    }

    fn response_status(&mut self, f: &mut Native<'a>) -> Scan<()> {
        let mut seen = 0u8;
        self.members(|p, key| {
            let bit = match key {
                b"code" => {
                    f.code = if p.peek()? == b'n' {
                        p.null()?;
                        None
                    } else {
                        Some(p.integer()?)
                    };
                    1
                }
                b"message" => {
                    f.status_message = p.opt_string()?.is_some_and(|m| !m.is_empty());
                    2
                }
                _ => {
                    p.skip(1)?;
                    0
                }
            };
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some(())
    }

    /// `sourceIPs`: the last string of an array of strings, `None` for null or an empty array.
    fn last_string(&mut self) -> Scan<Option<Cow<'a, str>>> {
        match self.next()? {
            b'[' => {}
            b'n' => {
                self.i -= 1;
                return self.null().map(|()| None);
            }
            _ => return None,
        }
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(None);
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let last = Some(self.string()?);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(last),
                _ => return None,
            }
        }
    }

    /// A JSON integer that fits an i64 (serde rejects fractions and exponents for an i64).
    fn integer(&mut self) -> Scan<i64> {
        let neg = self.peek()? == b'-';
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        if digits == 0 || (digits > 1 && self.b[start] == b'0') {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(if neg { -n } else { n })
    }

    fn number(&mut self) -> Scan<()> {
        if self.peek()? == b'-' {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let start = p.i;
            while p.b.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - start
        };
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                digits(self);
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, lit: &[u8]) -> Scan<()> {
        let got = self.b.get(self.i..self.i + lit.len())?;
        (got == lit).then(|| self.i += lit.len())
    }

    /// Skips one value of any type, validating it as serde would.
    fn skip(&mut self, depth: u32) -> Scan<()> {
        match self.peek()? {
            b'"' => self.str_span().map(drop),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.members(|p, _| p.skip(depth + 1)).map(drop)
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_bytes_are_found_exactly() {
        let mut buf = vec![b'a'; 40];
        assert_eq!(find_special(&buf, 0), 40);
        for pos in 0..40 {
            for c in [b'"', b'\\', 0x01, 0x1f, 0x00] {
                buf.iter_mut().for_each(|b| *b = b'a');
                buf[pos] = c;
                // Bytes that could fool a carry-based test sit right before the match.
                if pos > 0 {
                    buf[pos - 1] = 0xff;
                }
                assert_eq!(find_special(&buf, 0), pos, "{pos} {c}");
            }
        }
        let utf8 = "ünïcødé — \u{1f600} 0x20 ".as_bytes();
        assert_eq!(find_special(utf8, 0), utf8.len());
        // The portable version finds the same first byte in every 16-byte block.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut block = [0u8; 16];
            for b in &mut block {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Mostly ordinary bytes, some specials and high bytes.
                *b = match rng % 40 {
                    0 => b'"',
                    1 => b'\\',
                    2 => (rng >> 8) as u8 % 0x20,
                    3..=8 => 0x80 | (rng >> 8) as u8,
                    _ => 0x20 + (rng >> 8) as u8 % 0x5f,
                };
            }
            let (a, b) = (special16(&block), special16_swar(&block));
            assert_eq!(a.trailing_zeros(), b.trailing_zeros(), "{block:?}");
        }
    }
}
