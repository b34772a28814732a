//! Label sets: the identity of a series.

use std::fmt;
use std::sync::Arc;

/// The label that carries a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value; never empty in a stored label set (an empty value means "absent").
    pub value: String,
}

/// A label set sorted by name with unique names and no empty values.
///
/// Equality, ordering and hashing follow the sorted pairs, so two sets built in any order from the
/// same pairs are equal, exactly as in Prometheus where `{a="1",b="2"}` and `{b="2",a="1"}` name
/// the same series.
///
/// The pairs are shared: a clone (every selected series, every step series of a query) costs
/// one reference count, and a change copies them only while another clone holds them. Dropping
/// the first pair (the metric name, which sorts before every lowercase name) shares them too:
/// the set is a view that starts one pair later.
#[derive(Clone, Default)]
pub struct Labels {
    pairs: Arc<Vec<Label>>,
    /// Where the set starts in `pairs`.
    from: usize,
}

impl Labels {
    /// The empty label set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a label set from pairs in any order. Empty values are dropped; for a repeated name
    /// the last pair wins.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        labels.reverse();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        labels.dedup_by(|later, first| later.name == first.name);
        labels.retain(|l| !l.value.is_empty());
        Self::from_sorted(labels)
    }

    /// The pairs in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.pairs[self.from..]
    }

    /// The pairs to change, copied first while another clone shares them.
    fn pairs_mut(&mut self) -> &mut Vec<Label> {
        if self.from > 0 {
            self.pairs = Arc::new(self.as_slice().to_vec());
            self.from = 0;
        }
        Arc::make_mut(&mut self.pairs)
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.as_slice()
            .binary_search_by(|l| l.name.as_str().cmp(name))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name)
            .ok()
            .map(|i| self.as_slice()[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        match self.as_slice().first() {
            // Where it sorts unless a name starts with an upper-case letter or a digit.
            Some(l) if l.name == METRIC_NAME => Some(&l.value),
            _ => self.get(METRIC_NAME),
        }
    }

    /// Sets `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.position(name) {
            // The first pair goes without a copy.
            Ok(0) if value.is_empty() => self.from += 1,
            Ok(i) if value.is_empty() => {
                self.pairs_mut().remove(i);
            }
            Ok(i) if self.as_slice()[i].value == value => {}
            Ok(i) => value.clone_into(&mut self.pairs_mut()[i].value),
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs_mut().insert(
                i,
                Label {
                    name: name.to_owned(),
                    value: value.to_owned(),
                },
            ),
        }
    }

    /// Removes `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.set(name, "");
    }

    /// A copy without the metric name, as PromQL functions and most operators return (shared
    /// with this set, not copied).
    pub fn without_metric_name(&self) -> Self {
        let mut l = self.clone();
        match self.as_slice().first() {
            Some(first) if first.name == METRIC_NAME => l.from += 1,
            _ => l.remove(METRIC_NAME),
        }
        l
    }

    /// A copy holding only the named labels (PromQL's `by`/`on`).
    pub fn keep(&self, names: &[impl AsRef<str>]) -> Self {
        self.filtered(|l| names.iter().any(|n| n.as_ref() == l.name))
    }

    /// A copy without the named labels (PromQL's `without`/`ignoring`).
    pub fn drop_names(&self, names: &[impl AsRef<str>]) -> Self {
        self.filtered(|l| !names.iter().any(|n| n.as_ref() == l.name))
    }

    /// The pairs that `keep` accepts: this set itself when it accepts them all.
    fn filtered(&self, keep: impl Fn(&Label) -> bool) -> Self {
        if self.iter().all(&keep) {
            return self.clone();
        }
        Self::from_sorted(self.iter().filter(|l| keep(l)).cloned().collect())
    }

    /// A set of pairs already sorted by unique name, without empty values.
    fn from_sorted(labels: Vec<Label>) -> Self {
        Self {
            pairs: Arc::new(labels),
            from: 0,
        }
    }

    /// Iterates the pairs in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.as_slice().iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        (Arc::ptr_eq(&self.pairs, &other.pairs) && self.from == other.from)
            || self.as_slice() == other.as_slice()
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Labels").field(&self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Formats as Prometheus does: `name{a="1", b="2"}`, escaping `\`, `"` and newlines.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(name) = name {
            f.write_str(name)?;
        }
        let mut rest = self.iter().filter(|l| l.name != METRIC_NAME).peekable();
        if rest.peek().is_none() && name.is_some() {
            return Ok(());
        }
        f.write_str("{")?;
        let mut first = true;
        for l in rest {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}=\"", l.name)?;
            for c in l.value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_sorted_deduplicated_and_empty_values_dropped() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn display_escapes_values() {
        let l = Labels::from_pairs([("__name__", "m"), ("path", "a\\b\"c\nd")]);
        assert_eq!(l.to_string(), r#"m{path="a\\b\"c\nd"}"#);
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut l = Labels::from_pairs([("b", "2")]);
        l.set("a", "1");
        l.set("c", "3");
        l.remove("b");
        assert_eq!(l.to_string(), r#"{a="1", c="3"}"#);
    }

    #[test]
    fn a_set_without_its_name_equals_one_built_without_it() {
        use std::hash::BuildHasher;
        let full = Labels::from_pairs([("__name__", "m"), ("a", "1"), ("b", "2")]);
        let fresh = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let view = full.without_metric_name();
        assert_eq!(view, fresh);
        assert_eq!(view.cmp(&fresh), std::cmp::Ordering::Equal);
        let hasher = std::collections::hash_map::RandomState::new();
        assert_eq!(hasher.hash_one(&view), hasher.hash_one(&fresh));
        assert_eq!(format!("{view:?}"), format!("{fresh:?}"));
        assert_eq!(view.len(), 2);
        assert_eq!(view.metric_name(), None);
        assert_eq!(full.metric_name(), Some("m"));
        // A change to the view leaves the set it came from as it was.
        let mut changed = view.clone();
        changed.set("c", "3");
        changed.remove("a");
        assert_eq!(changed.to_string(), r#"{b="2", c="3"}"#);
        assert_eq!(view.to_string(), r#"{a="1", b="2"}"#);
        assert_eq!(full.to_string(), r#"m{a="1", b="2"}"#);
        // A name that does not sort first is dropped too.
        let upper = Labels::from_pairs([("A", "x"), ("__name__", "m"), ("b", "2")]);
        assert_eq!(upper.without_metric_name().to_string(), r#"{A="x", b="2"}"#);
    }
}
