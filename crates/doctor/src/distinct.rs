//! Counting distinct values (source IPs, pods, nodes) in bounded memory: exact up to
//! [`EXACT`] values, then a K-minimum-values estimate.
//!
//! KMV keeps the `K` smallest 64-bit hashes seen; with `K` values kept and the largest of them
//! at fraction `u` of the hash range, the distinct count is about `(K - 1) / u` (relative
//! standard error about `1/sqrt(K - 2)`, 4.4 % here). It merges by union, so per-worker counters
//! combine exactly as one counter over all the input would.

use std::collections::BTreeSet;

/// Values counted exactly (and hashes kept once estimating).
pub(crate) const EXACT: usize = 512;

/// A distinct-value counter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct {
    /// The smallest hashes seen, at most [`EXACT`] of them.
    smallest: BTreeSet<u64>,
    /// True once more than [`EXACT`] distinct hashes were seen.
    saturated: bool,
}

impl Distinct {
    /// Counts `value`.
    pub(crate) fn add(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        self.add_hash(hash(value));
    }

    fn add_hash(&mut self, h: u64) {
        if self.smallest.len() < EXACT {
            self.smallest.insert(h);
            return;
        }
        let largest = *self.smallest.last().expect("full set");
        if h < largest && self.smallest.insert(h) {
            self.smallest.pop_last();
            self.saturated = true;
        } else if h > largest {
            self.saturated = true;
        }
    }

    /// Folds in a counter that saw other values.
    pub(crate) fn merge(&mut self, other: Distinct) {
        self.saturated |= other.saturated;
        for h in other.smallest {
            self.add_hash(h);
        }
    }

    /// The number of distinct values (an estimate when [`Distinct::is_estimate`]).
    pub(crate) fn count(&self) -> u64 {
        if !self.saturated {
            return self.smallest.len() as u64;
        }
        let largest = *self.smallest.last().expect("saturated implies full") as f64;
        let fraction = (largest + 1.0) / (u64::MAX as f64);
        ((EXACT as f64 - 1.0) / fraction).round() as u64
    }

    /// True when the count is estimated rather than exact.
    pub(crate) fn is_estimate(&self) -> bool {
        self.saturated
    }
}

/// A well-mixed 64-bit hash (FNV-1a then a SplitMix64 finaliser): KMV needs hashes spread
/// uniformly over the whole range.
fn hash(value: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_the_cap() {
        let mut d = Distinct::default();
        for i in 0..300 {
            d.add(&format!("10.0.{}.{}", i / 256, i % 256));
            d.add(&format!("10.0.{}.{}", i / 256, i % 256));
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
            one.add(&ip);
            if i % 2 == 0 {
                a.add(&ip)
            } else {
                b.add(&ip)
            }
            // Repeats change nothing.
            b.add(&ip);
        }
        a.merge(b);
        assert!(one.is_estimate());
        assert_eq!(a.count(), one.count());
        let err = (one.count() as f64 - 20_000.0).abs() / 20_000.0;
        assert!(err < 0.15, "estimate {} is off by {err}", one.count());
    }
}
