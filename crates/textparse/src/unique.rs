//! The rule that no label name repeats inside one pair of braces, checked without allocating
//! (up to 64 labels; a longer label set allocates its names once).
//!
//! Prometheus rejects such a series when it is appended (`label name "a" is not unique` from
//! `tsdb/head_append.go`, after `model/labels`' `HasDuplicateLabelNames`), and
//! `promtool check metrics` rejects it while parsing. `__name__` as a label repeats the metric
//! name, so it is rejected too.

use crate::lex::unescaped_bytes;
use std::collections::HashSet;

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
    #[inline(always)]
    pub(crate) fn is_metric_name_label(&self, line: &[u8]) -> bool {
        if !self.escaped {
            return self.bytes(line) == b"__name__";
        }
        unescaped_bytes(self.bytes(line), self.escaped).eq(b"__name__".iter().copied())
    }
}

/// Label sets longer than this are checked with a hash set of their names (one allocation per
/// name, for such a sample only), so a line of a million labels costs linear time, not the
/// quadratic rescans of the filter.
const LARGE: usize = 64;

/// The label names met so far inside one `{...}`.
///
/// The common case costs a few instructions per label and no memory: a 64-bit filter keyed on
/// each name's length and first byte says when a name cannot have been seen (equal names have
/// equal keys). Only a hit compares the name with the earlier ones, found again by scanning the
/// block; a name with an escape makes every later name take that path, comparing decoded names.
pub(crate) struct NameSet {
    filter: u64,
    n: usize,
    generic: bool,
    /// The decoded names of a label set longer than [`LARGE`].
    large: Option<HashSet<Vec<u8>>>,
}

impl NameSet {
    pub(crate) fn new() -> NameSet {
        NameSet {
            filter: 0,
            n: 0,
            generic: false,
            large: None,
        }
    }

    /// Records `name`; false when an equal name came before it. `earlier` yields the names
    /// of the block again, in order.
    #[inline(always)]
    pub(crate) fn insert<I: Iterator<Item = NameSpan>>(
        &mut self,
        line: &[u8],
        name: NameSpan,
        earlier: impl FnOnce() -> I,
    ) -> bool {
        if self.n >= LARGE {
            return self.insert_large(line, name, earlier);
        }
        self.generic |= name.escaped;
        let key = ((name.len as u64) << 8) | u64::from(line[name.start]);
        let bit = 1u64 << (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58);
        if (self.generic || self.filter & bit != 0) && seen(line, name, earlier(), self.n) {
            return false;
        }
        self.filter |= bit;
        self.n += 1;
        true
    }

    /// [`NameSet::insert`] past [`LARGE`] names: a hash set of decoded names.
    #[cold]
    fn insert_large<I: Iterator<Item = NameSpan>>(
        &mut self,
        line: &[u8],
        name: NameSpan,
        earlier: impl FnOnce() -> I,
    ) -> bool {
        let decoded = |n: &NameSpan| unescaped_bytes(n.bytes(line), n.escaped).collect::<Vec<u8>>();
        let n = self.n;
        let set = self
            .large
            .get_or_insert_with(|| earlier().take(n).map(|e| decoded(&e)).collect());
        self.n += 1;
        set.insert(decoded(&name))
    }
}

/// Whether `name` equals one of the `n` names `earlier` yields first.
#[inline(never)]
fn seen(line: &[u8], name: NameSpan, earlier: impl Iterator<Item = NameSpan>, n: usize) -> bool {
    earlier.take(n).any(|e| e.same_as(&name, line))
}
