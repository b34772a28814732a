//! `timestamp` and the date functions (`day_of_month`, `day_of_week`, `day_of_year`,
//! `days_in_month`, `hour`, `minute`, `month`, `year`), all in UTC.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcTimestamp`, `dateWrapper`).

use super::{pointwise, vector_arg};
use crate::error::Result;
use crate::evaluator::Evaluator;
use crate::step::{StepSeries, Steps, Val, merge_same_labels};
use promql_parser::parser::Expr;

/// `timestamp(v)`: the timestamp of each sample in seconds; for a plain selector the sample's
/// own timestamp rather than the evaluation time.
pub(crate) fn timestamp(ev: &mut Evaluator<'_>, arg: &Expr, steps: Steps) -> Result<Val> {
    let mut inner = arg;
    while let Expr::Paren(p) = inner {
        inner = &p.expr;
    }
    if let Expr::VectorSelector(vs) = inner {
        let series = ev.eval_vector_selector(vs, steps, true)?;
        let out = series
            .into_iter()
            .map(|s| StepSeries {
                labels: s.labels.without_metric_name(),
                points: s.points,
            })
            .collect();
        return Ok(Val::Vector(merge_same_labels(out)?));
    }
    let v = vector_arg(ev, arg, steps)?;
    pointwise(v, true, |i, _| Some(steps.ts(i) as f64 / 1000.0))
}

/// One of the date functions over `arg`, or over `vector(time())` without an argument.
pub(crate) fn date_fn(
    ev: &mut Evaluator<'_>,
    name: &str,
    arg: Option<&Expr>,
    steps: Steps,
) -> Result<Val> {
    let f: fn(jiff::civil::DateTime) -> f64 = match name {
        "day_of_month" => |d| d.day() as f64,
        "day_of_week" => |d| d.weekday().to_sunday_zero_offset() as f64,
        "day_of_year" => |d| d.day_of_year() as f64,
        "days_in_month" => |d| d.days_in_month() as f64,
        "hour" => |d| d.hour() as f64,
        "minute" => |d| d.minute() as f64,
        "month" => |d| d.month() as f64,
        _ => |d| d.year() as f64,
    };
    let Some(arg) = arg else {
        let points = (0..steps.len())
            .map(|i| (i as u32, f(civil(steps.ts(i) as f64 / 1000.0))))
            .collect();
        return Ok(Val::Vector(vec![StepSeries {
            labels: apilens_model::Labels::new(),
            points,
        }]));
    };
    let v = vector_arg(ev, arg, steps)?;
    pointwise(v, true, |_, x| {
        Some(if x.is_finite() { f(civil(x)) } else { f64::NAN })
    })
}

/// The UTC civil time of `secs` seconds since the epoch, truncated to whole seconds as Go's
/// `time.Unix(int64(v), 0)`.
fn civil(secs: f64) -> jiff::civil::DateTime {
    let s = secs.trunc().clamp(-377_705_116_800.0, 253_402_207_199.0) as i64;
    jiff::Timestamp::from_second(s)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).datetime())
        .unwrap_or_default()
}
