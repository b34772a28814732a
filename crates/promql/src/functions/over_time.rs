//! The `*_over_time` family and the shared numeric helpers (Kahan summation, quantile).
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcAvgOverTime`, `funcSumOverTime`,
//! `funcMinOverTime`, `funcMaxOverTime`, `funcStdvarOverTime`, `kahanSumInc`) and
//! `promql/quantile.go` (`quantile`).

use apilens_model::Sample;

/// One step of Kahan-Babuška-Neumaier summation: the new sum and compensation.
pub(crate) fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Mean of the window: Kahan-compensated sum divided by the count, switching to an
/// incremental mean if the sum would overflow.
pub(crate) fn avg(w: &[Sample]) -> Option<f64> {
    let first = w.first()?;
    let (mut sum, mut count) = (first.v, 1.0);
    let (mut mean, mut c) = (0.0, 0.0);
    let mut incremental = false;
    for (i, s) in w[1..].iter().enumerate() {
        count = (i + 2) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_sum_inc(s.v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_sum_inc(s.v / count, q * mean, q * c);
    }
    Some(if incremental {
        mean + c
    } else {
        sum / count + c / count
    })
}

/// Kahan-compensated sum of the window.
pub(crate) fn sum(w: &[Sample]) -> Option<f64> {
    let (mut sum, mut c) = (0.0, 0.0);
    for s in w {
        (sum, c) = kahan_sum_inc(s.v, sum, c);
    }
    Some(if sum.is_infinite() { sum } else { sum + c })
}

/// Minimum; NaN only when every value is NaN.
pub(crate) fn min(w: &[Sample]) -> Option<f64> {
    let mut m = w.first()?.v;
    for s in w {
        if s.v < m || m.is_nan() {
            m = s.v;
        }
    }
    Some(m)
}

/// Maximum; NaN only when every value is NaN.
pub(crate) fn max(w: &[Sample]) -> Option<f64> {
    let mut m = w.first()?.v;
    for s in w {
        if s.v > m || m.is_nan() {
            m = s.v;
        }
    }
    Some(m)
}

/// Population variance (Welford with Kahan-compensated mean and sum of squares).
pub(crate) fn stdvar(w: &[Sample]) -> Option<f64> {
    if w.is_empty() {
        return None;
    }
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for s in w {
        count += 1.0;
        let delta = s.v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (s.v - (mean + c_mean)), aux, c_aux);
    }
    Some((aux + c_aux) / count)
}

/// The φ-quantile of `values` by linear interpolation between closest ranks; sorts `values`.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as with Go's sort over `vectorByValueHeap`.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates() {
        let mut v = vec![4.0, 1.0, 2.0, 3.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(1.5, &mut v), f64::INFINITY);
    }

    #[test]
    fn kahan_sum_recovers_small_terms() {
        let w: Vec<Sample> = [1e100, 1.0, -1e100]
            .iter()
            .map(|&v| Sample { t: 0, v })
            .collect();
        assert_eq!(sum(&w), Some(1.0));
    }
}
