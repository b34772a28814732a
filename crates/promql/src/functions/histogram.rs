//! `histogram_quantile` over classic (`le`-bucketed) histograms.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcHistogramQuantile`) and
//! `promql/quantile.go` (`BucketQuantile`, `coalesceBuckets`,
//! `ensureMonotonicAndIgnoreSmallDeltas`). Buckets are grouped by every label but `le`; `le`
//! is compared as a number, so `1`, `1.0` and `1e0` are one bucket (their counts add up), and
//! any subset of buckets works as long as `+Inf` is there.

use super::{scalar_arg, vector_arg};
use crate::binary::by_step;
use crate::error::Result;
use crate::evaluator::Evaluator;
use crate::step::{StepSeries, Steps, Val, merge_same_labels};
use apilens_model::{Labels, METRIC_NAME};
use promql_parser::parser::Expr;
use std::collections::HashMap;

/// Relative tolerance under which bucket counts are treated as equal (`smallDeltaTolerance`).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// `histogram_quantile(φ, buckets)`.
pub(crate) fn histogram_quantile(
    ev: &mut Evaluator<'_>,
    q_arg: &Expr,
    v_arg: &Expr,
    steps: Steps,
) -> Result<Val> {
    let q = scalar_arg(ev, q_arg, steps)?;
    let v = vector_arg(ev, v_arg, steps)?;
    super::invalid_quantile_warning(ev, &q, q_arg);
    // Group every series once: key = labels without `le` (metric name kept, as upstream),
    // output = labels without `le` and the metric name.
    let mut key_index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<StepSeries> = Vec::new();
    let mut member: Vec<Option<(usize, f64)>> = Vec::with_capacity(v.len());
    for s in &v {
        let Some(upper) = s.labels.get("le").and_then(parse_le) else {
            if !s.points.is_empty() {
                ev.warn(
                    format!(
                        "bucket label \"le\" is missing or has a malformed value of {:?} for metric name {:?}",
                        s.labels.get("le").unwrap_or(""),
                        s.labels.metric_name().unwrap_or("")
                    ),
                    v_arg,
                );
            }
            member.push(None);
            continue;
        };
        let mut key = s.labels.clone();
        key.remove("le");
        let gi = *key_index.entry(key).or_insert_with_key(|k| {
            let mut labels = k.clone();
            labels.remove(METRIC_NAME);
            out.push(StepSeries {
                labels,
                points: Vec::new(),
            });
            out.len() - 1
        });
        member.push(Some((gi, upper)));
    }
    let per_step = by_step(&v, steps.len());
    let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); out.len()];
    let mut touched: Vec<usize> = Vec::new();
    for (i, samples) in per_step.iter().enumerate() {
        touched.clear();
        for &(si, count) in samples {
            if let Some((gi, upper)) = member[si as usize] {
                if buckets[gi].is_empty() {
                    touched.push(gi);
                }
                buckets[gi].push(Bucket { upper, count });
            }
        }
        for &gi in &touched {
            let (value, forced) = bucket_quantile(q[i], &mut buckets[gi]);
            if forced {
                ev.info(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"\"",
                    v_arg,
                );
            }
            out[gi].points.push((i as u32, value));
            buckets[gi].clear();
        }
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Parses an `le` value as Go's `strconv.ParseFloat` does for the usual spellings.
fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// `BucketQuantile`: linear interpolation inside the bucket that holds the rank; also whether
/// the counts had to be made monotonic.
fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    let mut forced = false;
    if q.is_nan() {
        return (f64::NAN, forced);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, forced);
    }
    if q > 1.0 {
        return (f64::INFINITY, forced);
    }
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, forced);
    }
    coalesce(buckets);
    forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|x| x.count < rank);
    if b == last {
        return (buckets[last - 1].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Merges buckets with the same upper bound by adding their counts.
fn coalesce(buckets: &mut Vec<Bucket>) {
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

/// Removes decreases of the cumulative counts and differences too small to be real; says
/// whether there was a decrease.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// `util/almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(upper: f64, count: f64) -> Bucket {
        Bucket { upper, count }
    }

    #[test]
    fn interpolates_within_bucket() {
        let mut v = vec![b(f64::INFINITY, 100.0), b(0.1, 50.0), b(1.0, 100.0)];
        assert!((bucket_quantile(0.5, &mut v).0 - 0.1).abs() < 1e-12);
        let mut v = vec![b(0.1, 0.0), b(1.0, 100.0), b(f64::INFINITY, 100.0)];
        assert!(!bucket_quantile(0.5, &mut v).1);
        let mut v = vec![b(0.1, 0.0), b(1.0, 100.0), b(f64::INFINITY, 100.0)];
        assert!((bucket_quantile(0.5, &mut v).0 - 0.55).abs() < 1e-12);
    }

    #[test]
    fn decreasing_counts_are_flagged() {
        let mut v = vec![b(0.1, 60.0), b(1.0, 50.0), b(f64::INFINITY, 100.0)];
        let (q, forced) = bucket_quantile(0.5, &mut v);
        assert!(forced);
        assert!((q - 0.1 * 50.0 / 60.0).abs() < 1e-12, "{q}");
    }

    #[test]
    fn missing_inf_bucket_is_nan() {
        let mut v = vec![b(0.1, 1.0), b(1.0, 2.0)];
        assert!(bucket_quantile(0.5, &mut v).0.is_nan());
    }

    #[test]
    fn le_spellings_are_numbers() {
        assert_eq!(parse_le("1e0"), Some(1.0));
        assert_eq!(parse_le("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_le("x"), None);
    }
}
