//! Function calls: dispatch by name to one file per function family.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`FunctionCalls`) and the `Call` case of
//! `promql/engine.go`: range-vector functions drop the metric name (except `last_over_time`)
//! and fail when two results share a label set; instant-vector functions fail only when two
//! results share a label set at the same step.

mod counter;
mod histogram;
mod label;
pub(crate) mod math;
mod misc;
pub(crate) mod over_time;
mod rate;
mod regression;
mod time;

use crate::error::{Error, Result};
use crate::evaluator::Evaluator;
use crate::step::{
    MatrixArg, StepSeries, Steps, Val, check_unique_labels, merge_same_labels, points_room,
};
use apilens_model::{Sample, Series};
use promql_parser::parser::{Call, Expr};

/// Evaluates a function call over all steps.
pub(crate) fn eval_call(ev: &mut Evaluator<'_>, call: &Call, steps: Steps) -> Result<Val> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    match name {
        "rate" | "increase" | "delta" => {
            let (is_counter, is_rate) = match name {
                "rate" => (true, true),
                "increase" => (true, false),
                _ => (false, false),
            };
            let m = matrix_arg(ev, args[0], steps)?;
            let rate_of_selector = is_counter && is_matrix_selector(args[0]);
            let (out, produced) = range_fn_over(ev, &m, steps, true, |w, _t, end, range| {
                rate::extrapolated_rate(w, end - range, end, range, is_counter, is_rate)
            })?;
            if rate_of_selector {
                non_counter_info(ev, args[0], &m.series, &produced);
            }
            Ok(out)
        }
        "irate" => range_fn(ev, args[0], steps, true, |w, _, _, _| {
            rate::instant_value(w, true)
        }),
        "idelta" => range_fn(ev, args[0], steps, true, |w, _, _, _| {
            rate::instant_value(w, false)
        }),
        "resets" => range_fn(ev, args[0], steps, true, |w, _, _, _| counter::resets(w)),
        "changes" => range_fn(ev, args[0], steps, true, |w, _, _, _| counter::changes(w)),
        "deriv" => range_fn(ev, args[0], steps, true, |w, _, _, _| regression::deriv(w)),
        "predict_linear" => {
            let secs = scalar_arg(ev, args[1], steps)?;
            range_fn(ev, args[0], steps, true, |w, t, _, _| {
                regression::predict_linear(w, t, secs[t.1])
            })
        }
        "avg_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| over_time::avg(w)),
        "sum_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| over_time::sum(w)),
        "min_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| over_time::min(w)),
        "max_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| over_time::max(w)),
        "count_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| Some(w.len() as f64)),
        "last_over_time" => range_fn(ev, args[0], steps, false, |w, _, _, _| {
            w.last().map(|s| s.v)
        }),
        "present_over_time" => range_fn(ev, args[0], steps, true, |_, _, _, _| Some(1.0)),
        "stddev_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| {
            over_time::stdvar(w).map(f64::sqrt)
        }),
        "stdvar_over_time" => range_fn(ev, args[0], steps, true, |w, _, _, _| over_time::stdvar(w)),
        "quantile_over_time" => {
            let q = scalar_arg(ev, args[0], steps)?;
            let mut buf = Vec::new();
            let m = matrix_arg(ev, args[1], steps)?;
            if !m.series.is_empty() {
                invalid_quantile_warning(ev, &q, args[0]);
            }
            range_fn_over(ev, &m, steps, true, |w, t, _, _| {
                buf.clear();
                buf.extend(w.iter().map(|s| s.v));
                Some(over_time::quantile(q[t.1], &mut buf))
            })
            .map(|(v, _)| v)
        }
        "absent_over_time" => misc::absent_over_time(ev, args[0], steps),
        "absent" => misc::absent(ev, args[0], steps),
        "scalar" => misc::scalar(ev, args[0], steps),
        "vector" => {
            let v = scalar_arg(ev, args[0], steps)?;
            Ok(Val::Vector(vec![StepSeries {
                labels: apilens_model::Labels::new(),
                points: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i as u32, v))
                    .collect(),
            }]))
        }
        "time" => Ok(Val::Scalar(
            (0..steps.len())
                .map(|i| steps.ts(i) as f64 / 1000.0)
                .collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; steps.len()])),
        "timestamp" => time::timestamp(ev, args[0], steps),
        "sort" | "sort_desc" => misc::sort(ev, args[0], steps, name == "sort_desc"),
        "label_replace" => label::label_replace(ev, &args, steps),
        "label_join" => label::label_join(ev, &args, steps),
        "histogram_quantile" => histogram::histogram_quantile(ev, args[0], args[1], steps),
        "clamp" => {
            let v = vector_arg(ev, args[0], steps)?;
            let lo = scalar_arg(ev, args[1], steps)?;
            let hi = scalar_arg(ev, args[2], steps)?;
            pointwise(v, true, |i, x| {
                (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| math::go_max(lo[i], math::go_min(hi[i], x)))
            })
            .map(|s| filter_clamp(s, &lo, &hi))
        }
        "clamp_min" => {
            let v = vector_arg(ev, args[0], steps)?;
            let lo = scalar_arg(ev, args[1], steps)?;
            pointwise(v, true, |i, x| Some(math::go_max(lo[i], x)))
        }
        "clamp_max" => {
            let v = vector_arg(ev, args[0], steps)?;
            let hi = scalar_arg(ev, args[1], steps)?;
            pointwise(v, true, |i, x| Some(math::go_min(hi[i], x)))
        }
        "round" => {
            let v = vector_arg(ev, args[0], steps)?;
            let to = match args.get(1) {
                Some(a) => scalar_arg(ev, a, steps)?,
                None => vec![1.0; steps.len()],
            };
            pointwise(v, true, |i, x| Some(math::round(x, to[i])))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => time::date_fn(ev, name, args.first().copied(), steps),
        _ => match math::simple(name) {
            Some(f) => {
                let v = vector_arg(ev, args[0], steps)?;
                pointwise(v, true, |_, x| Some(f(x)))
            }
            None => Err(Error::Unsupported(format!("function {name}"))),
        },
    }
}

/// `clamp` with max below min returns nothing at that step.
fn filter_clamp(v: Val, lo: &[f64], hi: &[f64]) -> Val {
    match v {
        Val::Vector(series) => Val::Vector(
            series
                .into_iter()
                .map(|mut s| {
                    // NaN bounds keep the point, as in Prometheus: only max < min drops it.
                    s.points.retain(|&(i, _)| {
                        hi[i as usize].partial_cmp(&lo[i as usize])
                            != Some(std::cmp::Ordering::Less)
                    });
                    s
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        ),
        other => other,
    }
}

/// Evaluates an argument that must be a scalar, one value per step.
pub(crate) fn scalar_arg(ev: &mut Evaluator<'_>, e: &Expr, steps: Steps) -> Result<Vec<f64>> {
    match ev.eval(e, steps)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(Error::exec(format!("expected scalar argument, got {e}"))),
    }
}

/// Evaluates an argument that must be an instant vector.
pub(crate) fn vector_arg(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    steps: Steps,
) -> Result<Vec<StepSeries>> {
    match ev.eval(e, steps)? {
        Val::Vector(v) => Ok(v),
        _ => Err(Error::exec(format!(
            "expected instant vector argument, got {e}"
        ))),
    }
}

/// Evaluates an argument that must be a string.
pub(crate) fn string_arg(ev: &mut Evaluator<'_>, e: &Expr, steps: Steps) -> Result<String> {
    match ev.eval(e, steps)? {
        Val::String(s) => Ok(s),
        _ => Err(Error::exec(format!("expected string argument, got {e}"))),
    }
}

/// Evaluates an argument that must be a range vector (a matrix selector or a subquery).
pub(crate) fn matrix_arg(ev: &mut Evaluator<'_>, e: &Expr, steps: Steps) -> Result<MatrixArg> {
    match ev.eval(e, steps)? {
        Val::Matrix(m) => Ok(m),
        _ => Err(Error::exec(format!(
            "expected range vector argument, got {e}"
        ))),
    }
}

/// Applies `f` to every value of every series; the result drops the metric name when asked.
pub(crate) fn pointwise(
    v: Vec<StepSeries>,
    drop_name: bool,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Result<Val> {
    let out = v
        .into_iter()
        .map(|s| StepSeries {
            labels: if drop_name {
                s.labels.without_metric_name()
            } else {
                s.labels
            },
            points: s
                .points
                .into_iter()
                .filter_map(|(i, x)| f(i as usize, x).map(|y| (i, y)))
                .collect(),
        })
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Applies `f` to the window of samples of every series at every step. `f` gets the window, the
/// step `(timestamp, index)`, the window end and the range, all in milliseconds.
fn range_fn(
    ev: &mut Evaluator<'_>,
    arg: &Expr,
    steps: Steps,
    drop_name: bool,
    f: impl FnMut(&[Sample], (i64, usize), i64, i64) -> Option<f64>,
) -> Result<Val> {
    let m = matrix_arg(ev, arg, steps)?;
    Ok(range_fn_over(ev, &m, steps, drop_name, f)?.0)
}

/// Prometheus's `InvalidQuantileWarning` for every φ outside [0, 1] (NaN included).
pub(crate) fn invalid_quantile_warning(ev: &mut Evaluator<'_>, q: &[f64], at: &Expr) {
    for &x in q {
        if x.is_nan() || !(0.0..=1.0).contains(&x) {
            ev.warn(
                format!(
                    "quantile value should be between 0 and 1, got {}",
                    crate::value::format_go_float(x)
                ),
                at,
            );
        }
    }
}

/// Whether `e` is a matrix selector, parentheses aside.
fn is_matrix_selector(e: &Expr) -> bool {
    match e {
        Expr::Paren(p) => is_matrix_selector(&p.expr),
        Expr::MatrixSelector(_) => true,
        _ => false,
    }
}

/// Prometheus's `PossibleNonCounterInfo`: `rate` or `increase` of a selected series whose name
/// does not end in `_total`, `_sum`, `_count` or `_bucket` and that gave a value. `series` are
/// the selected series, `produced` whether each gave a value.
fn non_counter_info(ev: &mut Evaluator<'_>, arg: &Expr, series: &[Series], produced: &[bool]) {
    let at = strip_parens(arg);
    for (s, _) in series.iter().zip(produced).filter(|(_, p)| **p) {
        let Some(name) = s.labels.metric_name() else {
            continue;
        };
        if !["_total", "_sum", "_count", "_bucket"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            ev.info(
                format!(
                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                ),
                at,
            );
        }
    }
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        e => e,
    }
}

/// [`range_fn`] over an evaluated range vector; also says, per input series, whether it gave a
/// value.
fn range_fn_over(
    ev: &mut Evaluator<'_>,
    m: &MatrixArg,
    steps: Steps,
    drop_name: bool,
    mut f: impl FnMut(&[Sample], (i64, usize), i64, i64) -> Option<f64>,
) -> Result<(Val, Vec<bool>)> {
    let n = steps.len();
    let mut out = Vec::with_capacity(m.series.len());
    for s in &m.series {
        // Counted before producing, as for a selector: a value at every step at most.
        ev.account(n)?;
        let mut points = Vec::with_capacity(points_room(n));
        let (mut lo, mut hi) = (0usize, 0usize);
        for i in 0..n {
            let t = steps.ts(i);
            let end = m.window_end(t);
            let start = end - m.range;
            if m.at.is_some() {
                (lo, hi) = m.window(&s.samples, t);
            } else {
                while lo < s.samples.len() && s.samples[lo].t <= start {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < s.samples.len() && s.samples[hi].t <= end {
                    hi += 1;
                }
            }
            if lo >= hi {
                continue;
            }
            if let Some(v) = f(&s.samples[lo..hi], (t, i), end, m.range) {
                points.push((i as u32, v));
            }
        }
        ev.release(n - points.len());
        let labels = if drop_name {
            s.labels.without_metric_name()
        } else {
            s.labels.clone()
        };
        out.push(StepSeries { labels, points });
    }
    let gave: Vec<bool> = out.iter().map(|s| !s.points.is_empty()).collect();
    out.retain(|s| !s.points.is_empty());
    // Distinct series stay distinct without their names when they all had the same one.
    if !(m.distinct && (!drop_name || same_metric_name(&m.series))) {
        check_unique_labels(&out)?;
    }
    Ok((Val::Vector(out), gave))
}

/// Whether every series has the same metric name (or none has one).
fn same_metric_name(series: &[Series]) -> bool {
    let first = series.first().and_then(|s| s.labels.metric_name());
    series.iter().all(|s| s.labels.metric_name() == first)
}
