//! Counting distinct values (source IPs, pods, nodes) in bounded memory: exact up to
//! [`EXACT`] values, then a K-minimum-values estimate.
//!
//! KMV keeps the `K` smallest 64-bit hashes seen; with `K` values kept and the largest of them
//! at fraction `u` of the hash range, the distinct count is about `(K - 1) / u` (relative
//! standard error about `1/sqrt(K - 2)`, 4.4 % here). It merges by union, so per-worker counters
//! combine exactly as one counter over all the input would.

use apilens_audit::FxHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::BuildHasherDefault;

/// Values counted exactly (and hashes kept once estimating).
pub(crate) const EXACT: usize = 512;

/// A distinct-value counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct {
    /// Every hash seen, while there are at most [`EXACT`] (the common case: a hash-set probe
    /// per value).
    exact: HashSet<u64, BuildHasherDefault<FxHasher>>,
    /// Once more were seen: the [`EXACT`] smallest.
    smallest: BTreeSet<u64>,
    /// The last hash added, to skip the probe for runs of one value.
    last: u64,
}

impl Distinct {
    /// Counts `value`; true when it may not have been seen before (always true for a value
    /// other than the last once the count is estimated).
    pub(crate) fn add(&mut self, value: &str) -> bool {
        if value.is_empty() {
            return false;
        }
        self.add_hashed(crate::hash::hash64(value))
    }

    /// Counts a value by its [`crate::hash::hash64`].
    pub(crate) fn add_hashed(&mut self, h: u64) -> bool {
        if h == self.last {
            return false;
        }
        self.last = h;
        self.add_hash(h)
    }

    fn is_saturated(&self) -> bool {
        !self.smallest.is_empty()
    }

    fn add_hash(&mut self, h: u64) -> bool {
        if !self.is_saturated() {
            if self.exact.len() < EXACT || self.exact.contains(&h) {
                return self.exact.insert(h);
            }
            // The 513th value: from here on keep the smallest hashes only.
            self.smallest = std::mem::take(&mut self.exact).into_iter().collect();
        }
        let largest = *self.smallest.last().expect("saturated set is full");
        if h < largest && self.smallest.insert(h) {
            self.smallest.pop_last();
        }
        true
    }

    /// Folds in a counter that saw other values.
    pub(crate) fn merge(&mut self, other: Distinct) {
        for h in other.exact.into_iter().chain(other.smallest) {
            let _ = self.add_hash(h);
        }
        if !self.is_saturated() && self.exact.len() > EXACT {
            self.smallest = std::mem::take(&mut self.exact).into_iter().collect();
            while self.smallest.len() > EXACT {
                self.smallest.pop_last();
            }
        }
    }

    /// The number of distinct values (an estimate when [`Distinct::is_estimate`]).
    pub(crate) fn count(&self) -> u64 {
        if !self.is_saturated() {
            return self.exact.len() as u64;
        }
        let largest = *self.smallest.last().expect("saturated implies full") as f64;
        let fraction = (largest + 1.0) / (u64::MAX as f64);
        ((EXACT as f64 - 1.0) / fraction).round() as u64
    }

    /// True when the count is estimated rather than exact.
    pub(crate) fn is_estimate(&self) -> bool {
        self.is_saturated()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_the_cap() {
        let mut d = Distinct::default();
        for i in 0..300 {
            assert!(d.add(&format!("10.0.{}.{}", i / 256, i % 256)));
            assert!(!d.add(&format!("10.0.{}.{}", i / 256, i % 256)));
        }
        assert_eq!(d.count(), 300);
        assert!(!d.is_estimate());
    }

    #[test]
    fn estimates_within_a_few_percent_and_merges_like_one_counter() {
        let mut one = Distinct::default();
        let (mut a, mut b) = (Distinct::default(), Distinct::default());
        for i in 0..20_000 {
            let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
            let _ = one.add(&ip);
            let _ = if i % 2 == 0 { a.add(&ip) } else { b.add(&ip) };
            // Repeats change nothing.
            let _ = b.add(&ip);
        }
        a.merge(b);
        assert!(one.is_estimate());
        assert_eq!(a.count(), one.count());
        let err = (one.count() as f64 - 20_000.0).abs() / 20_000.0;
        assert!(err < 0.15, "estimate {} is off by {err}", one.count());
    }
}
