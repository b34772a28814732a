//! `rate`, `increase`, `delta` (extrapolated) and `irate`, `idelta` (last two samples).
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`extrapolatedRate`, `instantValue`).

use apilens_model::Sample;

/// `extrapolatedRate` for float samples in the window `(range_start, range_end]` (ms).
///
/// Needs at least two samples. The result is extrapolated to the window boundaries when the
/// first or last sample is within 110% of the average sample interval of them, else by half an
/// interval; for counters, never to before the counter's zero point.
pub(crate) fn extrapolated_rate(
    samples: &[Sample],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let n_minus_one = (samples.len() - 1) as f64;
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for s in &samples[1..] {
            if s.v < prev {
                result += prev;
            }
            prev = s.v;
        }
    }
    let mut duration_to_start = (first.t - range_start) as f64 / 1000.0;
    let mut duration_to_end = (range_end - last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_between = sampled_interval / n_minus_one;
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    if duration_to_start >= threshold {
        duration_to_start = average_between / 2.0;
    }
    if is_counter {
        // Counters cannot be negative: never extrapolate to before the zero point.
        let mut duration_to_zero = duration_to_start;
        if result > 0.0 && first.v >= 0.0 {
            duration_to_zero = sampled_interval * (first.v / result);
        }
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    extrapolate_to += duration_to_start;
    if duration_to_end >= threshold {
        duration_to_end = average_between / 2.0;
    }
    extrapolate_to += duration_to_end;
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `instantValue`: the difference of the last two samples, per second for `irate`, which also
/// treats a decrease as a counter reset.
pub(crate) fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let last = samples[samples.len() - 1];
    let prev = samples[samples.len() - 2];
    let mut result = last.v - prev.v;
    if is_rate && last.v < prev.v {
        result = last.v;
    }
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    #[test]
    fn rate_extrapolates_to_window_edges() {
        // 0,10,...,50 every 10 s in (0, 60s]: one interval missing at each end.
        let w: Vec<Sample> = (1..=6).map(|i| s(i * 10_000, (i * 10) as f64)).collect();
        let r = extrapolated_rate(&w, 0, 60_000, 60_000, true, true).unwrap();
        assert!((r - 1.0).abs() < 1e-12, "{r}");
    }

    #[test]
    fn counter_reset_is_added_back() {
        let w = [s(10_000, 5.0), s(20_000, 1.0), s(30_000, 3.0)];
        let inc = extrapolated_rate(&w, 0, 30_000, 30_000, true, false).unwrap();
        // raw increase 3 - 5 + 5 = 3 over 20 s, zero point at 0 from the first value.
        assert!(inc > 3.0);
        assert_eq!(instant_value(&w, true), Some(0.2));
    }
}
