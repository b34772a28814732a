//! Samples, series and the staleness marker.

use crate::Labels;

/// Prometheus's staleness marker: a NaN with a payload that no arithmetic produces
/// (`value.StaleNaN` in `model/value/value.go`). It ends a series in the store and PromQL never
/// returns it.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Whether `v` is the staleness marker (compared by bits: every NaN compares unequal).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN.to_bits()
}

/// One float sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be [`STALE_NAN`].
    pub v: f64,
}

/// A series and its samples in ascending time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series identity.
    pub labels: Labels,
    /// Samples sorted by `t`, without duplicate timestamps.
    pub samples: Vec<Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_nan_is_recognised_by_bits() {
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
        assert!(STALE_NAN.is_nan());
    }
}
