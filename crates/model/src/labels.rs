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
/// one reference count, and a change copies them only while another clone holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<Vec<Label>>);

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
        Self(Arc::new(labels))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) if self.0[i].value == value => {}
            Ok(i) => value.clone_into(&mut Arc::make_mut(&mut self.0)[i].value),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(
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

    /// A copy without the metric name, as PromQL functions and most operators return.
    pub fn without_metric_name(&self) -> Self {
        Self::from_sorted(
            self.0
                .iter()
                .filter(|l| l.name != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }

    /// A copy holding only the named labels (PromQL's `by`/`on`).
    pub fn keep(&self, names: &[impl AsRef<str>]) -> Self {
        Self::from_sorted(
            self.0
                .iter()
                .filter(|l| names.iter().any(|n| n.as_ref() == l.name))
                .cloned()
                .collect(),
        )
    }

    /// A copy without the named labels (PromQL's `without`/`ignoring`).
    pub fn drop_names(&self, names: &[impl AsRef<str>]) -> Self {
        Self::from_sorted(
            self.0
                .iter()
                .filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
                .cloned()
                .collect(),
        )
    }

    /// A set of pairs already sorted by unique name, without empty values.
    fn from_sorted(labels: Vec<Label>) -> Self {
        Self(Arc::new(labels))
    }

    /// Iterates the pairs in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Label> {
        self.0.iter()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Formats as Prometheus does: `name{a="1", b="2"}`, escaping `\`, `"` and newlines.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(name) = name {
            f.write_str(name)?;
        }
        let mut rest = self.0.iter().filter(|l| l.name != METRIC_NAME).peekable();
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
}
