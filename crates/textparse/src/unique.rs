//! The rule that no label name repeats inside one pair of braces, checked without allocating.
//!
//! Prometheus rejects such a series when it is appended (`label name "a" is not unique` from
//! `tsdb/head_append.go`, after `model/labels`' `HasDuplicateLabelNames`), and
//! `promtool check metrics` rejects it while parsing. `__name__` as a label repeats the metric
//! name, so it is rejected too.

use crate::lex::unescaped_bytes;

/// Names compared from a fixed array; a longer label set compares the rest by scanning the
/// names already read again, which is slower but still allocates nothing.
const INLINE: usize = 16;

/// A label name as it stands in the line: its content (quotes removed, escapes still encoded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameSpan {
    /// Offset of the first byte of the content in the line.
    pub(crate) start: usize,
    /// Length of the content in bytes.
    pub(crate) len: usize,
    /// Whether the content holds a backslash escape.
    pub(crate) escaped: bool,
}

impl NameSpan {
    fn bytes<'l>(&self, line: &'l [u8]) -> &'l [u8] {
        &line[self.start..self.start + self.len]
    }

    /// Whether two names are the same once decoded (`"a"` and `a` are the same name).
    pub(crate) fn same_as(&self, other: &NameSpan, line: &[u8]) -> bool {
        let (a, b) = (self.bytes(line), other.bytes(line));
        if !self.escaped && !other.escaped {
            return a == b;
        }
        unescaped_bytes(a, self.escaped).eq(unescaped_bytes(b, other.escaped))
    }

    /// Whether the name is `__name__`.
    pub(crate) fn is_metric_name_label(&self, line: &[u8]) -> bool {
        unescaped_bytes(self.bytes(line), self.escaped).eq(b"__name__".iter().copied())
    }
}

/// The label names met so far inside one `{...}`.
pub(crate) struct NameSet {
    inline: [NameSpan; INLINE],
    n: usize,
}

impl NameSet {
    pub(crate) fn new() -> NameSet {
        NameSet {
            inline: [NameSpan {
                start: 0,
                len: 0,
                escaped: false,
            }; INLINE],
            n: 0,
        }
    }

    /// Records `name`; false when an equal name came before it. `earlier` yields the names
    /// before it again, for label sets longer than the inline array.
    pub(crate) fn insert<I: Iterator<Item = NameSpan>>(
        &mut self,
        line: &[u8],
        name: NameSpan,
        earlier: impl FnOnce() -> I,
    ) -> bool {
        let kept = self.n.min(INLINE);
        if self.inline[..kept].iter().any(|n| n.same_as(&name, line)) {
            return false;
        }
        if self.n >= INLINE
            && earlier()
                .skip(INLINE)
                .take(self.n - INLINE)
                .any(|n| n.same_as(&name, line))
        {
            return false;
        }
        if self.n < INLINE {
            self.inline[self.n] = name;
        }
        self.n += 1;
        true
    }
}
