//! Which series a target exposes: the fallback for choosing alternatives without a version.

use apilens_model::Labels;
use std::collections::{BTreeMap, BTreeSet};

/// The metric names a target exposes and the label names seen on each.
///
/// Built from a scrape (every series of one `/metrics` page) or from a store's series index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    metrics: BTreeMap<String, BTreeSet<String>>,
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Self {
        Inventory::default()
    }

    /// Records one series by its labels (with `__name__`); series without a name are ignored.
    pub fn add_labels(&mut self, labels: &Labels) {
        let Some(name) = labels.metric_name() else {
            return;
        };
        let names = labels
            .iter()
            .filter(|l| l.name != "__name__")
            .map(|l| l.name.as_str());
        self.add(name, names);
    }

    /// Records one series by its metric name and label names.
    pub fn add<'a>(&mut self, metric: &str, label_names: impl IntoIterator<Item = &'a str>) {
        let entry = self.metrics.entry(metric.to_owned()).or_default();
        entry.extend(label_names.into_iter().map(str::to_owned));
    }

    /// True when a series of this metric name exists.
    pub fn has_metric(&self, metric: &str) -> bool {
        self.metrics.contains_key(metric)
    }

    /// True when some series of this metric has the label.
    pub fn has_label(&self, metric: &str, label: &str) -> bool {
        self.metrics
            .get(metric)
            .is_some_and(|labels| labels.contains(label))
    }

    /// Every metric name, sorted.
    pub fn metrics(&self) -> impl Iterator<Item = &str> {
        self.metrics.keys().map(String::as_str)
    }

    /// The number of metric names.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}
