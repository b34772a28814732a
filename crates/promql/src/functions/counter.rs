//! `resets` and `changes`.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcResets`, `funcChanges`).

use apilens_model::Sample;

/// Number of decreases between consecutive samples.
pub(crate) fn resets(samples: &[Sample]) -> Option<f64> {
    Some(samples.windows(2).filter(|w| w[1].v < w[0].v).count() as f64)
}

/// Number of value changes between consecutive samples (NaN to NaN is no change).
pub(crate) fn changes(samples: &[Sample]) -> Option<f64> {
    Some(
        samples
            .windows(2)
            .filter(|w| w[1].v != w[0].v && !(w[1].v.is_nan() && w[0].v.is_nan()))
            .count() as f64,
    )
}
