//! Bounded-memory aggregation: exact per-key counters that turn into a heavy-hitters sketch when
//! the key space grows too large, and relative-error latency quantiles.

use sketches_ddsketch::{Config, DDSketch};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): much cheaper than SipHash on short keys, and the keys here are not
/// chosen by an attacker who could exploit collisions to slow a one-shot analysis.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(FX_SEED);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(FX_SEED);
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A HashMap with [`FxHasher`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Hashes bytes to 64 bits with FxHash.
pub(crate) fn fx_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    // One extra mixing round so the low bits used by the Bloom filter are well spread.
    h.write_u64(bytes.len() as u64);
    h.0 ^ (h.0 >> 29)
}

/// Per-key statistics that can be merged and weighed for [`HeavyHitters`].
pub(crate) trait Stat: Default {
    /// Folds another key's statistics into this one.
    fn merge(&mut self, other: Self);
    /// The weight that decides which keys survive a purge (the request count).
    fn weight(&self) -> u64;
}

/// Exact per-key statistics up to `cap` keys; beyond that, a batch Space-Saving / lossy-counting
/// sketch.
///
/// When the map grows past twice the cap, the lightest keys are dropped and `floor` remembers
/// the heaviest dropped weight: a key seen later may have had up to `floor` earlier requests, so
/// its count is a lower bound with that error. The output says a figure is approximate exactly
/// when `floor > 0`.
#[derive(Clone)]
pub(crate) struct HeavyHitters<V> {
    map: FxMap<String, Tracked<V>>,
    cap: usize,
    floor: u64,
}

#[derive(Clone, Default)]
pub(crate) struct Tracked<V> {
    pub(crate) stat: V,
    /// Upper bound on this key's weight missed before it was (re-)admitted.
    pub(crate) error: u64,
}

impl<V: Stat> HeavyHitters<V> {
    /// An empty sketch that stays exact up to `cap` keys.
    pub(crate) fn new(cap: usize) -> Self {
        HeavyHitters {
            map: FxMap::default(),
            cap: cap.max(1),
            floor: 0,
        }
    }

    /// The statistics of `key`, inserted when missing.
    pub(crate) fn entry(&mut self, key: &str) -> &mut V {
        // One lookup for a key already tracked (the common case); a new key pays a second.
        if self.map.contains_key(key) {
            return &mut self.map.get_mut(key).expect("key present").stat;
        }
        if self.map.len() >= self.cap * 2 {
            self.purge();
        }
        &mut self
            .map
            .entry(key.to_owned())
            .or_insert(Tracked {
                stat: V::default(),
                error: self.floor,
            })
            .stat
    }

    /// True when keys were dropped, so counts are lower bounds.
    pub(crate) fn is_approximate(&self) -> bool {
        self.floor > 0
    }

    /// Merges another sketch built over a different part of the input.
    pub(crate) fn merge(&mut self, other: HeavyHitters<V>) {
        let (self_floor, other_floor) = (self.floor, other.floor);
        for t in self.map.values_mut() {
            t.error += other_floor;
        }
        for (key, t) in other.map {
            match self.map.get_mut(&key) {
                Some(mine) => {
                    mine.stat.merge(t.stat);
                    // Both sides added `other_floor`/`self_floor` for absence; it was present.
                    mine.error = mine.error - other_floor + t.error;
                }
                None => {
                    self.map.insert(
                        key,
                        Tracked {
                            stat: t.stat,
                            error: t.error + self_floor,
                        },
                    );
                }
            }
        }
        self.floor = self_floor + other_floor;
        if self.map.len() > self.cap * 2 {
            self.purge();
        }
    }

    /// Keeps the `cap` heaviest keys.
    fn purge(&mut self) {
        if self.map.len() <= self.cap {
            return;
        }
        let mut weights: Vec<u64> = self.map.values().map(|t| t.stat.weight()).collect();
        let idx = weights.len() - self.cap;
        let (_, threshold, _) = weights.select_nth_unstable(idx);
        let threshold = *threshold;
        let above = self
            .map
            .values()
            .filter(|t| t.stat.weight() > threshold)
            .count();
        let mut ties_left = self.cap.saturating_sub(above);
        let mut dropped_max = 0;
        self.map.retain(|_, t| {
            let w = t.stat.weight();
            let keep = w > threshold || (w == threshold && ties_left > 0);
            if w == threshold && keep {
                ties_left -= 1;
            }
            if !keep {
                dropped_max = dropped_max.max(w + t.error);
            }
            keep
        });
        self.floor = self.floor.max(dropped_max);
    }

    /// The tracked keys, heaviest first (ties by key).
    pub(crate) fn into_sorted(self) -> Vec<(String, Tracked<V>)> {
        let mut rows: Vec<_> = self.map.into_iter().collect();
        rows.sort_by(|a, b| {
            b.1.stat
                .weight()
                .cmp(&a.1.stat.weight())
                .then_with(|| a.0.cmp(&b.0))
        });
        rows
    }

    /// The number of tracked keys.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Latency quantiles with 1 % relative error (DDSketch), in milliseconds.
#[derive(Clone, Default)]
pub(crate) struct Latency(Option<Box<DDSketch>>);

fn ddsketch_config() -> Config {
    // 1 % relative accuracy; 1 µs resolution; 1024 bins span 1 µs to beyond an hour.
    Config::new(0.01, 1024, 1e-3)
}

impl Latency {
    /// Adds one latency in milliseconds.
    pub(crate) fn add(&mut self, ms: f64) {
        self.0
            .get_or_insert_with(|| Box::new(DDSketch::new(ddsketch_config())))
            .add(ms);
    }

    /// Merges another sketch.
    pub(crate) fn merge(&mut self, other: Latency) {
        match (&mut self.0, other.0) {
            (Some(a), Some(b)) => {
                // Same config on both sides: merge cannot fail.
                let _ = a.merge(&b);
            }
            (None, Some(b)) => self.0 = Some(b),
            _ => {}
        }
    }

    /// The quantile `q` (0..=1) in milliseconds; `None` without samples.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        self.0.as_ref().and_then(|s| s.quantile(q).ok().flatten())
    }

    /// The number of samples.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.0.as_ref().map_or(0, |s| s.count() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(u64);
    impl Stat for Count {
        fn merge(&mut self, other: Self) {
            self.0 += other.0;
        }
        fn weight(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn exact_below_cap_and_bounded_above() {
        let mut hh = HeavyHitters::<Count>::new(4);
        for (key, n) in [("a", 100), ("b", 50), ("c", 10)] {
            for _ in 0..n {
                hh.entry(key).0 += 1;
            }
        }
        assert!(!hh.is_approximate());
        for i in 0..1000 {
            hh.entry(&format!("noise{i}")).0 += 1;
        }
        assert!(hh.is_approximate());
        assert!(hh.len() <= 8);
        let rows = hh.into_sorted();
        assert_eq!(rows[0].0, "a");
        assert_eq!(rows[0].1.stat.0, 100);
        assert_eq!(rows[1].0, "b");
        assert_eq!(rows[1].1.stat.0, 50);
    }

    #[test]
    fn merge_adds_counts() {
        let mut a = HeavyHitters::<Count>::new(10);
        let mut b = HeavyHitters::<Count>::new(10);
        a.entry("x").0 += 3;
        b.entry("x").0 += 4;
        b.entry("y").0 += 1;
        a.merge(b);
        let rows = a.into_sorted();
        assert_eq!(
            (rows[0].0.as_str(), rows[0].1.stat.0, rows[0].1.error),
            ("x", 7, 0)
        );
        assert_eq!((rows[1].0.as_str(), rows[1].1.stat.0), ("y", 1));
    }

    #[test]
    fn latency_quantiles_within_one_percent() {
        let mut l = Latency::default();
        for ms in 1..=1000 {
            l.add(f64::from(ms));
        }
        let p99 = l.quantile(0.99).unwrap();
        assert!((p99 - 990.0).abs() / 990.0 < 0.02, "{p99}");
        assert_eq!(l.count(), 1000);
    }
}
