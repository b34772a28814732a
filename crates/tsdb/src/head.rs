//! The head: in-memory series with their open chunks and a postings index.

use crate::Error;
use crate::index::IndexReader;
use crate::xor::{SAMPLES_PER_CHUNK, XorChunk, XorIter};
use apilens_model::{Labels, Sample};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A full chunk of a head series.
#[derive(Debug)]
struct ClosedChunk {
    min_t: i64,
    max_t: i64,
    bytes: Box<[u8]>,
}

/// One series in memory.
#[derive(Debug)]
pub(crate) struct MemSeries {
    pub(crate) labels: Arc<Labels>,
    closed: Vec<ClosedChunk>,
    open: XorChunk,
    open_min_t: i64,
    /// Newest sample time, `i64::MIN` when the series has none.
    pub(crate) max_t: i64,
    /// The last value, compared by bits for duplicate detection.
    pub(crate) last_v: u64,
    /// Whether a WAL record already declares this series.
    pub(crate) logged: bool,
}

impl MemSeries {
    fn new(labels: Arc<Labels>) -> Self {
        Self {
            labels,
            closed: Vec::new(),
            open: XorChunk::new(),
            open_min_t: i64::MIN,
            max_t: i64::MIN,
            last_v: 0,
            logged: false,
        }
    }

    /// Appends a sample newer than every other, cutting a chunk after 120 samples or at a block
    /// boundary so that every chunk lies in exactly one block range.
    fn append(&mut self, t: i64, v: f64, chunk_range: i64) -> bool {
        if t <= self.max_t {
            return false;
        }
        if self.open.num_samples() > 0
            && (self.open.num_samples() >= SAMPLES_PER_CHUNK
                || range_start(t, chunk_range) != range_start(self.open_min_t, chunk_range))
        {
            let full = std::mem::take(&mut self.open);
            self.closed.push(ClosedChunk {
                min_t: self.open_min_t,
                max_t: self.max_t,
                bytes: full.bytes().into(),
            });
        }
        if self.open.num_samples() == 0 {
            self.open_min_t = t;
        }
        self.open.append(t, v);
        self.max_t = t;
        self.last_v = v.to_bits();
        true
    }

    /// Samples in `[mint, maxt]`.
    fn samples(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), Error> {
        for c in &self.closed {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            // Decode straight into `out`; whole chunks need no per-sample test.
            let mut it = XorIter::new(&c.bytes);
            out.reserve(SAMPLES_PER_CHUNK);
            if c.min_t >= mint && c.max_t <= maxt {
                out.extend(&mut it);
            } else {
                out.extend(
                    it.by_ref()
                        .skip_while(|s| s.t < mint)
                        .take_while(|s| s.t <= maxt),
                );
            }
            if let Some(e) = it.err() {
                return Err(Error::corrupt("chunk", e));
            }
        }
        if self.open.num_samples() > 0 && self.max_t >= mint && self.open_min_t <= maxt {
            out.extend(self.open.iter().filter(|s| s.t >= mint && s.t <= maxt));
        }
        Ok(())
    }

    fn min_t(&self) -> Option<i64> {
        self.closed
            .first()
            .map(|c| c.min_t)
            .or((self.open.num_samples() > 0).then_some(self.open_min_t))
    }

    /// Drops every chunk that ends before `cut`; true when nothing is left.
    fn truncate(&mut self, cut: i64) -> bool {
        self.closed.retain(|c| c.max_t >= cut);
        if self.open.num_samples() > 0 && self.max_t < cut {
            self.open = XorChunk::new();
        }
        self.closed.is_empty() && self.open.num_samples() == 0
    }

    fn approx_bytes(&self) -> usize {
        self.closed
            .iter()
            .map(|c| c.bytes.len() + 32)
            .sum::<usize>()
            + self.open.bytes().len()
    }
}

/// A series' labels and its samples in a range.
pub(crate) type SeriesSamples = (Arc<Labels>, Vec<Sample>);

/// Start of the aligned range of width `range` that holds `t`.
pub(crate) fn range_start(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range
}

/// The in-memory part of the store.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) series: HashMap<u64, MemSeries>,
    by_labels: HashMap<Arc<Labels>, u64>,
    postings: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
    next_ref: u64,
    /// Samples before this time are in blocks and are rejected.
    pub(crate) min_valid_t: i64,
    chunk_range: i64,
}

impl Head {
    pub(crate) fn new(chunk_range: i64, min_valid_t: i64) -> Self {
        Self {
            series: HashMap::new(),
            by_labels: HashMap::new(),
            postings: BTreeMap::new(),
            next_ref: 1,
            min_valid_t,
            chunk_range,
        }
    }

    pub(crate) fn get_ref(&self, labels: &Labels) -> Option<u64> {
        self.by_labels.get(labels).copied()
    }

    /// The series' ref, creating the series when new (with `want_ref` when given and free).
    pub(crate) fn get_or_create(&mut self, labels: &Labels, want_ref: Option<u64>) -> u64 {
        if let Some(r) = self.by_labels.get(labels) {
            return *r;
        }
        let r = match want_ref {
            Some(r) if !self.series.contains_key(&r) => r,
            _ => self.next_ref,
        };
        self.next_ref = self.next_ref.max(r + 1);
        let labels = Arc::new(labels.clone());
        for l in labels.iter() {
            let list = self
                .postings
                .entry(l.name.clone())
                .or_default()
                .entry(l.value.clone())
                .or_default();
            let pos = list.partition_point(|&x| x < r);
            list.insert(pos, r);
        }
        self.by_labels.insert(labels.clone(), r);
        self.series.insert(r, MemSeries::new(labels));
        r
    }

    /// Appends to an existing series; false when the sample is not newer than the series' last.
    pub(crate) fn append(&mut self, r: u64, t: i64, v: f64) -> bool {
        if t < self.min_valid_t {
            return false;
        }
        match self.series.get_mut(&r) {
            Some(s) => s.append(t, v, self.chunk_range),
            None => false,
        }
    }

    /// Oldest and newest sample times, if the head has samples.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        for s in self.series.values() {
            if let Some(min) = s.min_t() {
                range = Some(match range {
                    None => (min, s.max_t),
                    Some((a, b)) => (a.min(min), b.max(s.max_t)),
                });
            }
        }
        range
    }

    /// Every series with samples in `[mint, maxt]` among `refs`.
    pub(crate) fn read(
        &self,
        refs: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, Error> {
        let mut out = Vec::new();
        for r in refs {
            if let Some(s) = self.series.get(r) {
                let mut samples = Vec::new();
                s.samples(mint, maxt, &mut samples)?;
                if !samples.is_empty() {
                    out.push((s.labels.clone(), samples));
                }
            }
        }
        Ok(out)
    }

    /// Drops chunks before `cut` and series left empty, and raises the lower bound.
    pub(crate) fn truncate(&mut self, cut: i64) {
        self.min_valid_t = self.min_valid_t.max(cut);
        let mut gone = Vec::new();
        for (r, s) in self.series.iter_mut() {
            if s.truncate(cut) {
                gone.push(*r);
            }
        }
        for r in gone {
            if let Some(s) = self.series.remove(&r) {
                self.by_labels.remove(&s.labels);
                for l in s.labels.iter() {
                    if let Some(values) = self.postings.get_mut(&l.name) {
                        if let Some(list) = values.get_mut(&l.value) {
                            list.retain(|&x| x != r);
                            if list.is_empty() {
                                values.remove(&l.value);
                            }
                        }
                        if values.is_empty() {
                            self.postings.remove(&l.name);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        self.postings.keys().cloned().collect()
    }

    pub(crate) fn num_series(&self) -> usize {
        self.series.len()
    }

    /// Bytes held by chunks (labels and index not counted).
    pub(crate) fn chunk_bytes(&self) -> usize {
        self.series.values().map(MemSeries::approx_bytes).sum()
    }
}

impl IndexReader for Head {
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
        Ok(self
            .postings
            .get(name)
            .and_then(|v| v.get(value))
            .cloned()
            .unwrap_or_default())
    }

    fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .postings
            .get(name)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn all_postings(&self) -> Result<Vec<u64>, Error> {
        let mut all: Vec<u64> = self.series.keys().copied().collect();
        all.sort_unstable();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_at_120_samples_and_at_range_boundaries() {
        let mut h = Head::new(3_600_000, i64::MIN);
        let l = Labels::from_pairs([("__name__", "up")]);
        let r = h.get_or_create(&l, None);
        for i in 0..300 {
            assert!(h.append(r, i * 15_000, 1.0));
        }
        assert!(!h.append(r, 0, 1.0), "older sample refused");
        let s = &h.series[&r];
        // 240 samples in the first hour: two full chunks, then the cut at 3 600 000 ms.
        assert_eq!(s.closed.len(), 2);
        assert_eq!(s.closed[1].max_t, 3_585_000);
        assert_eq!(s.open_min_t, 3_600_000);
        h.truncate(3_600_000);
        assert_eq!(h.read(&[r], 0, i64::MAX).unwrap()[0].1.len(), 60);
        h.truncate(10_000_000);
        assert_eq!(h.num_series(), 0);
        assert!(h.label_names().is_empty());
    }
}
