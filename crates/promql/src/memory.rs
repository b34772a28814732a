//! An in-memory [`Queryable`]: the store of the `promqltest` runner and of tests.

use apilens_model::{Labels, Matcher, Queryable, Sample, SelectError, SelectHints, Series};
use std::collections::BTreeMap;

/// Series held in memory, sorted by labels, with samples sorted by time.
#[derive(Debug, Clone, Default)]
pub struct MemQueryable {
    series: BTreeMap<Labels, Vec<Sample>>,
}

impl MemQueryable {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample; a sample at an existing timestamp replaces the old one.
    pub fn append(&mut self, labels: &Labels, sample: Sample) {
        let samples = self.series.entry(labels.clone()).or_default();
        match samples.last() {
            Some(last) if last.t < sample.t => samples.push(sample),
            None => samples.push(sample),
            _ => match samples.binary_search_by_key(&sample.t, |s| s.t) {
                Ok(i) => samples[i] = sample,
                Err(i) => samples.insert(i, sample),
            },
        }
    }

    /// Removes every series.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether the store holds no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every series, sorted by labels.
    pub fn all(&self) -> impl Iterator<Item = (&Labels, &[Sample])> {
        self.series.iter().map(|(l, s)| (l, s.as_slice()))
    }
}

impl Queryable for MemQueryable {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        hints: SelectHints,
    ) -> Result<Vec<Series>, SelectError> {
        let limit = hints.sample_limit.unwrap_or(usize::MAX);
        let mut taken = 0usize;
        let mut out = Vec::new();
        for (labels, samples) in &self.series {
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            let lo = samples.partition_point(|s| s.t < mint);
            let hi = samples.partition_point(|s| s.t <= maxt);
            if lo < hi {
                taken += hi - lo;
                if taken > limit {
                    return Err(SelectError::TooManySamples { limit });
                }
                out.push(Series {
                    labels: labels.clone(),
                    samples: samples[lo..hi].to_vec(),
                });
            }
        }
        Ok(out)
    }
}
