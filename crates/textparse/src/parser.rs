//! The pull parser: one [`Entry`] per line, borrowed from the input.

use crate::entry::{Entry, Exemplar, MetricType, SeriesEntry};
use crate::error::{ParseError, found};
use crate::format::Format;
use crate::lex::{
    FloatError, QuotedError, is_label_char, is_label_start, is_name_char, is_name_start,
    parse_float, parse_int, scan_ident, scan_quoted, skip_blank, unescape, unescape_help,
};
use crate::rules::{FamilyRules, FamilyState, Meta};
use crate::unique::{NameSet, NameSpan};
use memchr::memchr;
use std::borrow::Cow;

/// A pull parser over an in-memory exposition.
///
/// It is an [`Iterator`] of entries; after an error it resumes at the next line, so a caller may
/// stop at the first error (as a scrape does) or count them all. Empty lines are skipped in the
/// Prometheus text format; OpenMetrics input must end with `# EOF`, and a missing marker is
/// reported once at the end.
///
/// # Prometheus compatibility
///
/// Follows `model/textparse/promparse.go` and `openmetricsparse.go` of Prometheus 3: label values
/// decode `\\`, `\"` and `\n`; values accept Go's float syntax including `NaN` and `±Inf`;
/// UTF-8 metric names may be quoted inside the braces (`{"my.metric", a="b"}`).
///
/// It also rejects what Prometheus rejects after parsing, so that a series it yields is one
/// Prometheus would store: a label name given twice (`x{a="b",a="c"}`, or `__name__` as a
/// label), an empty quoted name, and a value out of the range of a 64-bit float (`1e999999`,
/// Go's `ErrRange`). With [`FamilyRules::Exposition`] (the default) it also applies the rules
/// across lines that `promtool check metrics` applies: one TYPE, HELP and UNIT line per family,
/// and no TYPE after the family's samples.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    format: Format,
    state: State,
    last_chunk: bool,
    saw_eof: bool,
    families: FamilyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    SawEof,
    Done,
}

impl<'a> Parser<'a> {
    /// A parser over `input` in the given format, with [`FamilyRules::Exposition`].
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Self {
            input,
            pos: 0,
            line: 0,
            format,
            state: State::Running,
            last_chunk: true,
            saw_eof: false,
            families: FamilyState::default(),
        }
    }

    /// The same parser with other rules across lines (before the first entry is read).
    #[must_use]
    pub fn family_rules(mut self, rules: FamilyRules) -> Self {
        self.families = FamilyState::new(rules);
        self
    }

    /// A parser over one chunk of a larger input that is read piece by piece: `input` holds
    /// whole lines only, `lines_before` lines came before it, `last_chunk` says whether the
    /// input ends here (only then is a missing OpenMetrics `# EOF` an error), and `families` is
    /// what the parser of the previous chunk remembered ([`Parser::into_families`]).
    pub(crate) fn for_chunk(
        input: &'a [u8],
        format: Format,
        lines_before: usize,
        last_chunk: bool,
        families: FamilyState,
    ) -> Self {
        Self {
            input,
            pos: 0,
            line: lines_before,
            format,
            state: State::Running,
            last_chunk,
            saw_eof: false,
            families,
        }
    }

    /// What the parser remembers across lines, for the parser of the next chunk.
    pub(crate) fn into_families(self) -> FamilyState {
        self.families
    }

    /// Whether an OpenMetrics `# EOF` has been read.
    pub fn saw_eof(&self) -> bool {
        self.saw_eof
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of the last line read, from 1 (0 before the first).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn error(&self, column: usize, message: impl std::fmt::Display) -> ParseError {
        ParseError::new(self.line, column, message)
    }

    fn parse_line(&mut self, line: &'a [u8]) -> Result<Option<Entry<'a>>, ParseError> {
        if skip_blank(line) == line.len() {
            return match self.format {
                Format::PrometheusText => Ok(None),
                Format::OpenMetrics => Err(self.error(1, "unexpected empty line")),
            };
        }
        if line[0] == b'#' {
            return self.parse_meta(line).map(Some);
        }
        self.parse_series(line).map(|s| Some(Entry::Series(s)))
    }

    fn parse_meta(&mut self, line: &'a [u8]) -> Result<Entry<'a>, ParseError> {
        let comment = || -> Result<Entry<'a>, ParseError> {
            match self.format {
                Format::PrometheusText => Ok(Entry::Comment(
                    std::str::from_utf8(&line[1..])
                        .map_err(|_| self.error(2, "invalid UTF-8 in comment"))?,
                )),
                Format::OpenMetrics => Err(self.error(
                    1,
                    format_args!(
                        "expected HELP, TYPE, UNIT or EOF after '#', got {}",
                        found(&line[1..])
                    ),
                )),
            }
        };
        let blank = skip_blank(&line[1..]);
        if blank == 0 {
            return comment();
        }
        let mut i = 1 + blank;
        let word_len = line[i..]
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(line.len() - i);
        let word = &line[i..i + word_len];
        if word == b"EOF" && self.format == Format::OpenMetrics {
            if i + word_len != line.len() {
                return Err(self.error(i + word_len + 1, "expected end of line after # EOF"));
            }
            return Ok(Entry::Eof);
        }
        if !matches!(word, b"HELP" | b"TYPE" | b"UNIT")
            || (word == b"UNIT" && self.format == Format::PrometheusText)
        {
            return comment();
        }
        i += word_len;
        let after_word = skip_blank(&line[i..]);
        if after_word == 0 {
            return Err(self.error(
                i + 1,
                format_args!(
                    "expected metric name after {}",
                    String::from_utf8_lossy(word)
                ),
            ));
        }
        i += after_word;
        let name_column = i + 1;
        let (name, name_end) = self.parse_family_name(line, i)?;
        let rest_start = name_end + skip_blank(&line[name_end..]);
        if rest_start == name_end && name_end < line.len() {
            return Err(self.error(
                name_end + 1,
                format_args!(
                    "expected whitespace after metric name, got {}",
                    found(&line[name_end..])
                ),
            ));
        }
        let rest = std::str::from_utf8(&line[rest_start..])
            .map_err(|e| self.error(rest_start + e.valid_up_to() + 1, "invalid UTF-8"))?;
        let (entry, meta) = match word {
            b"HELP" => (
                Entry::Help {
                    name,
                    text: unescape_help(rest),
                },
                Meta::Help,
            ),
            b"TYPE" => {
                let kind = self.metric_type(rest).ok_or_else(|| {
                    self.error(
                        rest_start + 1,
                        format_args!("expected a metric type, got {rest:?}"),
                    )
                })?;
                (Entry::Type { name, kind }, Meta::Type)
            }
            _ => {
                let unit = rest.trim_end();
                let suffix_ok = unit.is_empty()
                    || name
                        .strip_suffix(unit)
                        .is_some_and(|head| head.len() > 1 && head.ends_with('_'));
                if !suffix_ok {
                    return Err(self.error(
                        rest_start + 1,
                        format_args!("unit {unit:?} is not a suffix of metric {name:?}"),
                    ));
                }
                (Entry::Unit { name, unit }, Meta::Unit)
            }
        };
        let family = match &entry {
            Entry::Help { name, .. } | Entry::Type { name, .. } | Entry::Unit { name, .. } => {
                name.as_bytes()
            }
            _ => &[],
        };
        let line_no = self.line;
        self.families
            .meta(meta, family, line_no)
            .map_err(|why| ParseError::new(line_no, name_column, why))?;
        Ok(entry)
    }

    /// The type a TYPE line names, among the words its format allows (Prometheus's
    /// `promparse.go` and `openmetricsparse.go`): lower case, nothing after it.
    fn metric_type(&self, word: &str) -> Option<MetricType> {
        let allowed = match self.format {
            Format::PrometheusText => {
                matches!(
                    word,
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                )
            }
            Format::OpenMetrics => word != "untyped",
        };
        MetricType::parse(word).filter(|_| allowed)
    }

    /// A metric family name in a HELP/TYPE/UNIT line: plain or quoted.
    fn parse_family_name(
        &self,
        line: &'a [u8],
        i: usize,
    ) -> Result<(Cow<'a, str>, usize), ParseError> {
        if line.get(i) == Some(&b'"') {
            let q = self.quoted(line, i)?;
            if q.len == 0 {
                return Err(self.error(i + 1, "expected a metric name, got an empty string"));
            }
            return Ok((
                unescape(&line[i + 1..i + 1 + q.len], q.escaped),
                i + 2 + q.len,
            ));
        }
        let n = scan_ident(&line[i..], is_name_start, is_name_char);
        if n == 0 {
            return Err(self.error(
                i + 1,
                format_args!("expected metric name, got {}", found(&line[i..])),
            ));
        }
        Ok((unescape(&line[i..i + n], false), i + n))
    }

    /// Scans a quoted string starting at `line[i] == '"'`.
    fn quoted(&self, line: &[u8], i: usize) -> Result<crate::lex::Quoted, ParseError> {
        scan_quoted(&line[i + 1..]).map_err(|e| match e {
            QuotedError::Unterminated => self.error(
                i + 1,
                "expected closing '\"' of quoted string, got end of line",
            ),
            QuotedError::InvalidUtf8(at) => {
                self.error(i + 2 + at, "invalid UTF-8 in quoted string")
            }
        })
    }

    fn parse_series(&self, line: &'a [u8]) -> Result<SeriesEntry<'a>, ParseError> {
        let name: &'a [u8];
        let mut name_escaped = false;
        let mut labels: &'a [u8] = &[];
        let mut i = scan_ident(line, is_name_start, is_name_char);
        let raw_end;
        let mut braced = true;
        if i > 0 {
            name = &line[..i];
            let blank = skip_blank(&line[i..]);
            braced = line.get(i + blank) == Some(&b'{');
            if braced {
                let (inner, end, quoted_name) = self.parse_label_block(line, i + blank, true)?;
                if let Some(q) = quoted_name {
                    return Err(self.error(q.0 + 1, "metric name given twice"));
                }
                labels = inner;
                i = end;
            }
            raw_end = i;
        } else if line[0] == b'{' {
            let (inner, end, quoted_name) = self.parse_label_block(line, 0, true)?;
            let Some((start, len, escaped)) = quoted_name else {
                return Err(self.error(2, "expected a quoted metric name inside '{'"));
            };
            if len == 0 {
                return Err(self.error(start + 1, "expected a metric name, got an empty string"));
            }
            name = &line[start + 1..start + 1 + len];
            name_escaped = escaped;
            labels = inner;
            i = end;
            raw_end = i;
        } else {
            return Err(self.error(1, format_args!("expected metric name, got {}", found(line))));
        }

        let blank = skip_blank(&line[i..]);
        // After a closing brace the value may follow at once (`x{a="b"}1`), as in Prometheus.
        if blank == 0 && !braced {
            return Err(self.error(
                i + 1,
                format_args!(
                    "expected whitespace before value, got {}",
                    found(&line[i..])
                ),
            ));
        }
        i += blank;
        let (value, next) = self.number_token(line, i, "value")?;
        i = next;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        let blank = skip_blank(&line[i..]);
        i += blank;
        if blank > 0 && i < line.len() && line[i] != b'#' {
            let (t, next) = self.timestamp_token(line, i)?;
            timestamp_ms = Some(t);
            i = next;
            i += skip_blank(&line[i..]);
        }
        if i < line.len() && line[i] == b'#' && self.format == Format::OpenMetrics {
            let (e, next) = self.parse_exemplar(line, i)?;
            exemplar = Some(e);
            i = next;
        }
        if i < line.len() {
            return Err(self.error(
                i + 1,
                format_args!("expected end of line, got {}", found(&line[i..])),
            ));
        }
        Ok(SeriesEntry {
            raw: &line[..raw_end],
            name,
            name_escaped,
            labels,
            value,
            timestamp_ms,
            exemplar,
            line: self.line,
        })
    }

    /// Parses `{...}` starting at `line[open] == '{'`. Returns the inner bytes, the index after
    /// `}`, and the position, length and escape flag of a quoted metric name if one stood inside.
    #[allow(clippy::type_complexity)]
    fn parse_label_block(
        &self,
        line: &'a [u8],
        open: usize,
        allow_name: bool,
    ) -> Result<(&'a [u8], usize, Option<(usize, usize, bool)>), ParseError> {
        let mut i = open + 1;
        let mut quoted_name = None;
        let mut first = true;
        let mut names = NameSet::new();
        loop {
            i += skip_blank(&line[i..]);
            match line.get(i) {
                None => {
                    return Err(self.error(i + 1, "expected label name or '}', got end of line"));
                }
                Some(b'}') => return Ok((&line[open + 1..i], i + 1, quoted_name)),
                Some(b'"') => {
                    let q = self.quoted(line, i)?;
                    let start = i;
                    i += 2 + q.len;
                    i += skip_blank(&line[i..]);
                    if matches!(line.get(i), Some(b',') | Some(b'}')) {
                        if !allow_name || !first || quoted_name.is_some() {
                            return Err(self.error(
                                i + 1,
                                format_args!(
                                    "expected '=' after label name, got {}",
                                    found(&line[i..])
                                ),
                            ));
                        }
                        quoted_name = Some((start, q.len, q.escaped));
                        first = false;
                        if line[i] == b',' {
                            i += 1;
                        }
                        continue;
                    }
                    if allow_name {
                        let span = NameSpan {
                            start: start + 1,
                            len: q.len,
                            escaped: q.escaped,
                        };
                        if !label_name_ok(line, open, span, &mut names) {
                            return Err(self.label_name_error(line, span, start));
                        }
                    }
                }
                Some(_) => {
                    let n = scan_ident(&line[i..], is_label_start, is_label_char);
                    if n == 0 {
                        return Err(self.error(
                            i + 1,
                            format_args!("expected label name or '}}', got {}", found(&line[i..])),
                        ));
                    }
                    if allow_name {
                        let span = NameSpan {
                            start: i,
                            len: n,
                            escaped: false,
                        };
                        if !label_name_ok(line, open, span, &mut names) {
                            return Err(self.label_name_error(line, span, i));
                        }
                    }
                    i += n;
                    i += skip_blank(&line[i..]);
                }
            }
            first = false;
            if line.get(i) != Some(&b'=') {
                return Err(self.error(
                    i + 1,
                    format_args!("expected '=' after label name, got {}", found(&line[i..])),
                ));
            }
            i += 1;
            i += skip_blank(&line[i..]);
            if line.get(i) != Some(&b'"') {
                return Err(self.error(
                    i + 1,
                    format_args!(
                        "expected '\"' to open label value, got {}",
                        found(&line[i..])
                    ),
                ));
            }
            let q = self.quoted(line, i)?;
            i += 2 + q.len;
            i += skip_blank(&line[i..]);
            match line.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.error(
                        i + 1,
                        format_args!(
                            "expected ',' or '}}' after label value, got {}",
                            found(&line[i..])
                        ),
                    ));
                }
            }
        }
    }

    /// Why [`label_name_ok`] refused the name at `line[at]` (its opening quote when quoted).
    #[cold]
    #[inline(never)]
    fn label_name_error(&self, line: &[u8], name: NameSpan, at: usize) -> ParseError {
        if name.len == 0 {
            self.error(at + 1, "expected a label name, got an empty string")
        } else if name.is_metric_name_label(line) {
            self.error(
                at + 1,
                "label name \"__name__\" is reserved for the metric name",
            )
        } else {
            self.error(
                at + 1,
                format_args!(
                    "label name {} is not unique",
                    found(&line[name.start..name.start + name.len])
                ),
            )
        }
    }

    fn token_end(line: &[u8], i: usize) -> usize {
        i + line[i..]
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(line.len() - i)
    }

    fn number_token(&self, line: &[u8], i: usize, what: &str) -> Result<(f64, usize), ParseError> {
        let end = Self::token_end(line, i);
        let v = parse_float(&line[i..end]).map_err(|e| match e {
            FloatError::Syntax => self.error(
                i + 1,
                format_args!("expected a number as {what}, got {}", found(&line[i..end])),
            ),
            FloatError::Range => self.error(
                i + 1,
                format_args!(
                    "{what} {} is out of the range of a 64-bit float",
                    found(&line[i..end])
                ),
            ),
        })?;
        Ok((v, end))
    }

    fn timestamp_token(&self, line: &[u8], i: usize) -> Result<(i64, usize), ParseError> {
        let end = Self::token_end(line, i);
        let token = &line[i..end];
        let t = match self.format {
            Format::PrometheusText => parse_int(token),
            Format::OpenMetrics => parse_float(token)
                .ok()
                .filter(|s| s.is_finite() && s.abs() < 9.2e15)
                .map(|s| (s * 1000.0).round() as i64),
        };
        let t = t.ok_or_else(|| {
            self.error(
                i + 1,
                format_args!("expected a timestamp, got {}", found(token)),
            )
        })?;
        Ok((t, end))
    }

    fn parse_exemplar(
        &self,
        line: &'a [u8],
        hash: usize,
    ) -> Result<(Exemplar<'a>, usize), ParseError> {
        let mut i = hash + 1;
        i += skip_blank(&line[i..]);
        if line.get(i) != Some(&b'{') {
            return Err(self.error(
                i + 1,
                format_args!(
                    "expected '{{' to open exemplar labels, got {}",
                    found(&line[i..])
                ),
            ));
        }
        let (labels, end, _) = self.parse_label_block(line, i, false)?;
        i = end;
        let blank = skip_blank(&line[i..]);
        if blank == 0 {
            return Err(self.error(i + 1, "expected whitespace before exemplar value"));
        }
        i += blank;
        let (value, next) = self.number_token(line, i, "exemplar value")?;
        i = next;
        let blank = skip_blank(&line[i..]);
        i += blank;
        let mut timestamp_ms = None;
        if blank > 0 && i < line.len() {
            let (t, next) = self.timestamp_token(line, i)?;
            timestamp_ms = Some(t);
            i = next + skip_blank(&line[next..]);
        }
        Ok((
            Exemplar {
                labels,
                value,
                timestamp_ms,
            },
            i,
        ))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.state {
                State::Done => return None,
                State::SawEof => {
                    self.state = State::Done;
                    let rest = &self.input[self.pos.min(self.input.len())..];
                    if let Some(at) = rest.iter().position(|b| !b.is_ascii_whitespace()) {
                        let line =
                            self.line + 1 + rest[..at].iter().filter(|&&b| b == b'\n').count();
                        return Some(Err(ParseError::new(line, 1, "unexpected data after # EOF")));
                    }
                    return None;
                }
                State::Running => {}
            }
            if self.pos >= self.input.len() {
                self.state = State::Done;
                if self.format == Format::OpenMetrics && self.last_chunk {
                    return Some(Err(ParseError::new(
                        self.line.max(1),
                        1,
                        "expected # EOF at the end of OpenMetrics input",
                    )));
                }
                return None;
            }
            let rest = &self.input[self.pos..];
            let len = memchr(b'\n', rest).unwrap_or(rest.len());
            let mut line = &rest[..len];
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            self.pos += len + 1;
            self.line += 1;
            match self.parse_line(line) {
                Ok(None) => continue,
                Ok(Some(Entry::Eof)) => {
                    self.state = State::SawEof;
                    self.saw_eof = true;
                    return Some(Ok(Entry::Eof));
                }
                Ok(Some(Entry::Series(s))) => {
                    if s.name_escaped {
                        self.families.sample(s.name().as_bytes(), self.line);
                    } else {
                        self.families.sample(s.name, self.line);
                    }
                    return Some(Ok(Entry::Series(s)));
                }
                Ok(Some(entry)) => return Some(Ok(entry)),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Whether a series label name is allowed: not empty, not `__name__`, and not given before
/// inside the braces that open at `line[open]`. The accepting path is a few instructions per
/// label; the error is built out of line ([`Parser::label_name_error`]).
#[inline(always)]
fn label_name_ok(line: &[u8], open: usize, name: NameSpan, names: &mut NameSet) -> bool {
    name.len != 0
        && !name.is_metric_name_label(line)
        && names.insert(line, name, || label_names(line, open + 1))
}

/// The label names of a label set already validated up to its end, from `line[from]` (just
/// inside the opening brace) on: a quoted metric name is skipped.
fn label_names(line: &[u8], from: usize) -> impl Iterator<Item = NameSpan> + '_ {
    let mut i = from;
    std::iter::from_fn(move || {
        loop {
            i += skip_blank(&line[i..]);
            while line.get(i) == Some(&b',') {
                i += 1;
                i += skip_blank(&line[i..]);
            }
            let name = match line.get(i)? {
                b'}' => return None,
                b'"' => {
                    let q = scan_quoted(&line[i + 1..]).ok()?;
                    let span = NameSpan {
                        start: i + 1,
                        len: q.len,
                        escaped: q.escaped,
                    };
                    i += 2 + q.len;
                    span
                }
                _ => {
                    let n = scan_ident(&line[i..], is_label_start, is_label_char);
                    if n == 0 {
                        return None;
                    }
                    let span = NameSpan {
                        start: i,
                        len: n,
                        escaped: false,
                    };
                    i += n;
                    span
                }
            };
            i += skip_blank(&line[i..]);
            if line.get(i) != Some(&b'=') {
                // A quoted metric name, not a label.
                continue;
            }
            i += 1;
            i += skip_blank(&line[i..]);
            if line.get(i) != Some(&b'"') {
                return None;
            }
            let q = scan_quoted(&line[i + 1..]).ok()?;
            i += 2 + q.len;
            return Some(name);
        }
    })
}
