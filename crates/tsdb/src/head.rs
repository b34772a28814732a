//! The head: in-memory series with their open chunks and a postings index.

use crate::Error;
use crate::index::IndexReader;
use crate::xor::{SAMPLES_PER_CHUNK, XorChunk, XorIter};
use apilens_model::{Labels, Sample};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

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
        let overlaps = |c: &&ClosedChunk| c.max_t >= mint && c.min_t <= maxt;
        // Room for the samples read, estimated from each chunk's count (its first two bytes)
        // and the part of its time span in the range: one allocation, not one per doubling.
        let expected = self
            .closed
            .iter()
            .filter(overlaps)
            .map(|c| {
                let n = c
                    .bytes
                    .get(..2)
                    .map_or(0, |n| u16::from_be_bytes([n[0], n[1]]));
                share(usize::from(n), (c.min_t, c.max_t), (mint, maxt))
            })
            .sum::<usize>()
            + share(
                self.open.num_samples(),
                (self.open_min_t, self.max_t),
                (mint, maxt),
            );
        out.reserve(expected);
        for c in self.closed.iter().filter(overlaps) {
            // Decode straight into `out`; whole chunks need no per-sample test.
            let mut it = XorIter::new(&c.bytes);
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

/// About how many of `n` samples spread over `[min_t, max_t]` fall in `[mint, maxt]`.
fn share(n: usize, (min_t, max_t): (i64, i64), (mint, maxt): (i64, i64)) -> usize {
    let span = max_t.saturating_sub(min_t);
    let inside = maxt.min(max_t).saturating_sub(mint.max(min_t));
    if n == 0 || inside < 0 {
        0
    } else if span <= 0 || inside >= span {
        n
    } else {
        // n is a chunk's count (a u16): the product fits.
        (n as i128 * i128::from(inside) / i128::from(span)) as usize + 2
    }
}

/// A series' labels and its samples in a range.
pub(crate) type SeriesSamples = (Arc<Labels>, Vec<Sample>);

/// Start of the aligned range of width `range` that holds `t`.
pub(crate) fn range_start(t: i64, range: i64) -> i64 {
    t.div_euclid(range) * range
}

/// Each series' position in label order, as (ref, rank) sorted by ref.
type Ranks = Arc<[(u64, u32)]>;

/// The in-memory part of the store.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) series: HashMap<u64, MemSeries>,
    by_labels: HashMap<Arc<Labels>, u64>,
    /// Every series in label order, so that a read returns series sorted without comparing
    /// their labels.
    ordered: BTreeSet<(Arc<Labels>, u64)>,
    /// Each series' position in `ordered` as (ref, rank) sorted by ref, built by the first read
    /// after a series was created (removing a series leaves the others' order as it was).
    ranks: Mutex<Option<Ranks>>,
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
            ordered: BTreeSet::new(),
            ranks: Mutex::new(None),
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
        self.ordered.insert((labels.clone(), r));
        *self.ranks.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
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

    /// Each series' position in label order, as (ref, rank) sorted by ref.
    fn label_ranks(&self) -> Ranks {
        let mut ranks = self.ranks.lock().unwrap_or_else(PoisonError::into_inner);
        ranks
            .get_or_insert_with(|| {
                let mut by_ref: Vec<(u64, u32)> = self
                    .ordered
                    .iter()
                    .zip(0u32..)
                    .map(|((_, r), rank)| (*r, rank))
                    .collect();
                by_ref.sort_unstable();
                by_ref.into()
            })
            .clone()
    }

    /// Every series with samples in `[mint, maxt]` among `refs` (sorted), sorted by labels.
    pub(crate) fn read(
        &self,
        refs: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, Error> {
        let ranks = self.label_ranks();
        // Both lists are sorted by ref: each search starts where the previous one ended.
        let mut rest = &ranks[..];
        let mut found: Vec<(u32, &MemSeries)> = Vec::with_capacity(refs.len());
        for r in refs {
            let i = rest.partition_point(|(x, _)| x < r);
            rest = &rest[i..];
            let rank = match rest.first() {
                Some((x, rank)) if x == r => *rank,
                _ => u32::MAX,
            };
            if let Some(s) = self.series.get(r) {
                found.push((rank, s));
            }
        }
        found.sort_unstable_by_key(|(rank, _)| *rank);
        let mut out = Vec::with_capacity(found.len());
        for (_, s) in found {
            let mut samples = Vec::new();
            s.samples(mint, maxt, &mut samples)?;
            if !samples.is_empty() {
                out.push((s.labels.clone(), samples));
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
                self.ordered.remove(&(s.labels.clone(), r));
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

#[cfg(test)]
mod order_tests {
    use super::*;

    fn names(read: &[SeriesSamples]) -> Vec<String> {
        read.iter().map(|(l, _)| l.to_string()).collect()
    }

    #[test]
    fn reads_series_in_label_order_whatever_order_they_were_created_in() {
        let mut h = Head::new(3_600_000, i64::MIN);
        let mut refs = Vec::new();
        for pod in ["c", "a", "d", "b"] {
            let l = Labels::from_pairs([("__name__", "up"), ("pod", pod)]);
            let r = h.get_or_create(&l, None);
            assert!(h.append(r, 1_000, 1.0));
            refs.push(r);
        }
        refs.sort_unstable();
        let all = |h: &Head, refs: &[u64]| names(&h.read(refs, 0, 10_000).unwrap());
        assert_eq!(
            all(&h, &refs),
            [
                "up{pod=\"a\"}",
                "up{pod=\"b\"}",
                "up{pod=\"c\"}",
                "up{pod=\"d\"}"
            ]
        );
        // A series created after a read takes its place in the order.
        let l = Labels::from_pairs([("__name__", "up"), ("pod", "bb")]);
        let r = h.get_or_create(&l, None);
        assert!(h.append(r, 5_000, 1.0));
        refs.push(r);
        assert_eq!(
            all(&h, &refs),
            [
                "up{pod=\"a\"}",
                "up{pod=\"b\"}",
                "up{pod=\"bb\"}",
                "up{pod=\"c\"}",
                "up{pod=\"d\"}"
            ]
        );
        assert_eq!(
            all(&h, &refs[2..]),
            ["up{pod=\"b\"}", "up{pod=\"bb\"}", "up{pod=\"d\"}"],
            "a subset of the refs"
        );
        // Removed series leave the others in order.
        h.truncate(2_000);
        assert_eq!(all(&h, &refs), ["up{pod=\"bb\"}"]);
        let l = Labels::from_pairs([("__name__", "up"), ("pod", "a")]);
        let r = h.get_or_create(&l, None);
        assert!(h.append(r, 6_000, 1.0));
        refs.push(r);
        refs.sort_unstable();
        assert_eq!(all(&h, &refs), ["up{pod=\"a\"}", "up{pod=\"bb\"}"]);
    }

    #[test]
    fn share_estimates_the_samples_of_a_chunk_in_a_range() {
        assert_eq!(share(120, (0, 119), (0, 200)), 120);
        assert_eq!(share(120, (0, 119), (200, 300)), 0);
        assert_eq!(share(0, (0, 119), (0, 200)), 0);
        assert_eq!(share(1, (5, 5), (0, 10)), 1);
        let half = share(120, (0, 120), (60, 200));
        assert!((60..=62).contains(&half), "{half}");
    }
}
