//! Replays one real kube-apiserver scrape over many timestamps with realistic counter growth.
//!
//! Shared by the tests, the examples and `bench/tsdb.sh`, so every figure comes from the same
//! data. Counters (declared counters and the `_bucket`/`_count`/`_sum` series of histograms and
//! summaries) grow by random amounts in a third of the series and stay flat in the rest, as most
//! buckets of an idle API server do; `_sum` series grow by fractional amounts; a tenth of the
//! gauges move. Scrape timestamps are 15 s apart with a few milliseconds of jitter, as real
//! scrapes have. Everything is seeded, so the same arguments give the same samples.

#![allow(dead_code)]

use apilens_model::Labels;
use apilens_textparse::{Entry, Format, MetricType, Parser};
use std::collections::HashMap;

/// One series of the base scrape and how it evolves.
pub struct ReplaySeries {
    pub labels: Labels,
    pub value: f64,
    kind: Kind,
    rate: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Flat,
    Counter,
    FloatCounter,
    Gauge,
}

/// A splitmix64 generator: small, seeded, good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The series of one scrape file, at most `limit` of them.
pub fn load(path: &std::path::Path, limit: usize) -> Vec<ReplaySeries> {
    let input = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut types: HashMap<String, MetricType> = HashMap::new();
    let mut rng = Rng::new(42);
    let mut out = Vec::new();
    for entry in Parser::new(&input, Format::detect(&input)) {
        match entry.unwrap_or_else(|e| panic!("{}:{e}", path.display())) {
            Entry::Type { name, kind } => {
                types.insert(name.into_owned(), kind);
            }
            Entry::Series(s) if out.len() < limit => {
                let name = s.name().into_owned();
                let family_kind = |suffix: &str| {
                    name.strip_suffix(suffix)
                        .and_then(|base| types.get(base))
                        .is_some_and(|k| matches!(k, MetricType::Histogram | MetricType::Summary))
                };
                let counter_like = types.get(&name) == Some(&MetricType::Counter)
                    || name.ends_with("_total")
                    || family_kind("_bucket")
                    || family_kind("_count");
                let is_sum = family_kind("_sum");
                let active = rng.unit() < 0.33;
                let kind = if is_sum && active {
                    Kind::FloatCounter
                } else if counter_like && active {
                    Kind::Counter
                } else if !counter_like && !is_sum && rng.unit() < 0.1 {
                    Kind::Gauge
                } else {
                    Kind::Flat
                };
                let value = if s.value.is_finite() { s.value } else { 0.0 };
                out.push(ReplaySeries {
                    labels: s.to_labels(),
                    value,
                    kind,
                    rate: 0.2 + rng.unit() * 20.0,
                });
            }
            _ => {}
        }
    }
    out
}

/// Scrape timestamps: `n` scrapes 15 s apart from `start_ms`. Prometheus (since 2.40) snaps
/// scrape timestamps within 2 ms of the schedule onto it (`--scrape.timestamp-tolerance`), so
/// most scrapes land exactly on the grid; one in twenty is late by 3 to 250 ms (a slow target, a
/// busy scraper) and keeps its real time.
pub fn timestamps(start_ms: i64, n: usize) -> Vec<i64> {
    let mut rng = Rng::new(7);
    (0..n as i64)
        .map(|i| {
            let late = if rng.unit() < 0.05 {
                3 + (rng.next_u64() % 248) as i64
            } else {
                0
            };
            start_ms + i * 15_000 + late
        })
        .collect()
}

/// Advances every series by one scrape interval.
pub fn step(series: &mut [ReplaySeries], rng: &mut Rng) {
    for s in series.iter_mut() {
        match s.kind {
            Kind::Flat => {}
            Kind::Counter => {
                // Poisson-like arrivals: most intervals add around rate × 15 s, some add nothing.
                if rng.unit() < 0.8 {
                    s.value += (s.rate * 15.0 * (0.5 + rng.unit())).floor();
                }
            }
            Kind::FloatCounter => {
                if rng.unit() < 0.8 {
                    s.value += s.rate * 0.01 * rng.unit();
                }
            }
            Kind::Gauge => {
                if rng.unit() < 0.3 {
                    s.value = (s.value + (rng.next_u64() % 5) as f64 - 2.0).max(0.0);
                }
            }
        }
    }
}
