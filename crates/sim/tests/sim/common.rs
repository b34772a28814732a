//! Shared helpers: fixture location, parsing the simulator's output, rates between snapshots.

use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use apilens_textparse::families::{Families, Metric};
use apilens_textparse::{Format, Parser};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The real fixtures directory, or `None` (with a note) when it is absent outside CI.
///
/// # Panics
/// When `CI` is set and the fixtures are missing: CI must not skip.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("APILENS_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real")
        });
    if dir.join("metrics-apiserver").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "fixtures not found at {} (set APILENS_FIXTURES)",
        dir.display()
    );
    eprintln!(
        "note: fixtures not found at {}, test skipped",
        dir.display()
    );
    None
}

/// A simulator of `scenario` at `version` with 2 replicas.
pub fn sim(scenario: &str, version: &str) -> Simulator {
    let config = ScenarioConfig::new(scenario, KubeVersion::parse(version).unwrap());
    Simulator::new(config).unwrap()
}

/// Every sample of a scrape: series text (name + sorted labels) → value.
pub type Samples = BTreeMap<String, f64>;

/// Parses a scrape with apilens's own parser into samples, failing on any parse error.
pub fn samples(text: &str) -> Samples {
    let mut out = Samples::new();
    for family in Families::new(Parser::new(text.as_bytes(), Format::PrometheusText)) {
        let family = family.unwrap_or_else(|e| panic!("simulated output does not parse: {e}"));
        for metric in family.metrics {
            match metric {
                Metric::Sample(s) => {
                    out.insert(s.labels.to_string(), s.value);
                }
                Metric::Histogram(h) => {
                    let base = h.labels.without_metric_name();
                    let name = &family.name;
                    for b in &h.buckets {
                        out.insert(format!("{name}_bucket{base} le={}", b.le), b.count);
                    }
                    out.insert(format!("{name}_sum{base}"), h.sum.unwrap_or(f64::NAN));
                    out.insert(format!("{name}_count{base}"), h.count.unwrap_or(f64::NAN));
                }
                Metric::Summary(_) => panic!("the simulator writes no summaries"),
            }
        }
    }
    out
}

/// Sum of `after − before` over the series whose text contains every one of `parts`.
pub fn increase(before: &Samples, after: &Samples, parts: &[&str]) -> f64 {
    after
        .iter()
        .filter(|(k, _)| parts.iter().all(|p| k.contains(p)))
        .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
        .sum()
}

/// Sum of current values of the series whose text contains every one of `parts`.
pub fn total(samples: &Samples, parts: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| parts.iter().all(|p| k.contains(p)))
        .map(|(_, v)| v)
        .sum()
}

/// Runs a warm-up, then returns (before, after) snapshots of replica 0 and all replicas summed
/// over `window`.
pub fn window(sim: &mut Simulator, warmup: u64, window: u64) -> (Samples, Samples) {
    sim.advance(Duration::from_secs(warmup)).unwrap();
    let before = all_replicas(sim);
    sim.advance(Duration::from_secs(window)).unwrap();
    (before, all_replicas(sim))
}

/// Samples of every replica, each series suffixed with its replica index.
pub fn all_replicas(sim: &Simulator) -> Samples {
    let mut out = Samples::new();
    for r in 0..sim.replicas() {
        for (k, v) in samples(&sim.render_metrics(r).unwrap()) {
            out.insert(format!("{k} #replica={r}"), v);
        }
    }
    out
}
