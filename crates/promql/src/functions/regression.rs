//! `deriv` and `predict_linear`: least-squares linear regression over the window.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`linearRegression`, `funcDeriv`,
//! `funcPredictLinear`), Kahan-compensated sums included.

use super::over_time::kahan_sum_inc;
use apilens_model::Sample;

/// Slope and intercept at `intercept_time` (ms) of the regression line.
fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].v;
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(s.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * s.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// Per-second derivative; needs two samples.
pub(crate) fn deriv(samples: &[Sample]) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    Some(linear_regression(samples, samples[0].t).0)
}

/// The value `secs` seconds after the evaluation time `(t, _)`; needs two samples.
pub(crate) fn predict_linear(samples: &[Sample], t: (i64, usize), secs: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(samples, t.0);
    Some(slope * secs + intercept)
}
