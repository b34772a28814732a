//! Aggregation operators: `sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk` and `count_values`, with `by` and `without`.
//!
//! Follows Prometheus v3.5.0 `promql/engine.go` (`aggregation`, `aggregationK`,
//! `aggregationCountValues`) including its Kahan summation and overflow-safe average.

use crate::binary::by_step;
use crate::error::{Error, Result};
use crate::evaluator::Evaluator;
use crate::functions::over_time::{kahan_sum_inc, quantile};
use crate::step::{StepSeries, Steps, Val, points_room};
use crate::value::format_go_float;
use apilens_model::{Label, Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agg {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    Topk,
    Bottomk,
    CountValues,
}

/// Evaluates an aggregation over all steps.
pub(crate) fn eval(ev: &mut Evaluator<'_>, agg: &AggregateExpr, steps: Steps) -> Result<Val> {
    let name = agg.op.to_string();
    let kind = match name.as_str() {
        "sum" => Agg::Sum,
        "avg" => Agg::Avg,
        "min" => Agg::Min,
        "max" => Agg::Max,
        "count" => Agg::Count,
        "group" => Agg::Group,
        "stddev" => Agg::Stddev,
        "stdvar" => Agg::Stdvar,
        "quantile" => Agg::Quantile,
        "topk" => Agg::Topk,
        "bottomk" => Agg::Bottomk,
        "count_values" => Agg::CountValues,
        other => return Err(Error::Unsupported(format!("aggregation {other}"))),
    };
    let param = match &agg.param {
        Some(p) => Some(ev.eval(strip_parens(p), steps)?),
        None => None,
    };
    let Val::Vector(input) = ev.eval(&agg.expr, steps)? else {
        return Err(Error::exec(format!(
            "expected instant vector in aggregation {name}"
        )));
    };
    let n = steps.len();
    match kind {
        Agg::CountValues => {
            let Some(Val::String(label)) = param else {
                return Err(Error::exec("count_values needs a string parameter"));
            };
            count_values(&label, input, &agg.modifier, n)
        }
        Agg::Topk | Agg::Bottomk => {
            let Some(Val::Scalar(k)) = param else {
                return Err(Error::exec(format!("{name} needs a scalar parameter")));
            };
            top_bottom(kind == Agg::Topk, &k, input, &agg.modifier, n, &name)
        }
        _ => {
            let q = match param {
                Some(Val::Scalar(q)) => q,
                Some(_) => return Err(Error::exec(format!("{name} needs a scalar parameter"))),
                None => Vec::new(),
            };
            if let (Agg::Quantile, Some(p)) = (kind, &agg.param) {
                crate::functions::invalid_quantile_warning(ev, &q, p);
            }
            Ok(Val::Vector(simple(kind, &q, input, &agg.modifier, n)))
        }
    }
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

/// The group label set of one series under `by` or `without` (the latter also drops the
/// metric name).
fn group_labels(l: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::new(),
        Some(LabelModifier::Include(names)) => l.keep(&names.labels),
        Some(LabelModifier::Exclude(names)) => {
            let mut g = l.drop_names(&names.labels);
            g.remove(METRIC_NAME);
            g
        }
    }
}

/// The pairs of `labels` in its group label set under `modifier`, into `key`: a walk of the
/// sorted pairs along the sorted, deduplicated `names` of the modifier.
fn group_pairs<'a>(
    labels: &'a Labels,
    modifier: &Option<LabelModifier>,
    names: &[&str],
    key: &mut Vec<&'a Label>,
) {
    let include = match modifier {
        None => return,
        Some(LabelModifier::Include(_)) => true,
        Some(LabelModifier::Exclude(_)) => false,
    };
    let mut rest = names;
    for l in labels {
        while rest.first().is_some_and(|n| *n < l.name.as_str()) {
            rest = &rest[1..];
        }
        let named = rest.first() == Some(&l.name.as_str());
        if named == include && (include || l.name != METRIC_NAME) {
            key.push(l);
        }
    }
}

/// Group index of every input series plus the groups' label sets. A series is looked up by
/// its own pairs, so that only a new group builds a label set.
fn groups(input: &[StepSeries], modifier: &Option<LabelModifier>) -> (Vec<usize>, Vec<Labels>) {
    let mut names: Vec<&str> = match modifier {
        None => Vec::new(),
        Some(LabelModifier::Include(n) | LabelModifier::Exclude(n)) => {
            n.labels.iter().map(String::as_str).collect()
        }
    };
    names.sort_unstable();
    names.dedup();
    let mut index: HashMap<Vec<&Label>, usize> = HashMap::new();
    let mut labels = Vec::new();
    let mut key: Vec<&Label> = Vec::new();
    let of = input
        .iter()
        .map(|s| {
            key.clear();
            group_pairs(&s.labels, modifier, &names, &mut key);
            if let Some(&g) = index.get(key.as_slice()) {
                return g;
            }
            labels.push(group_labels(&s.labels, modifier));
            index.insert(key.clone(), labels.len() - 1);
            labels.len() - 1
        })
        .collect();
    (of, labels)
}

#[derive(Clone, Default)]
struct GroupState {
    stamp: u32,
    seen: bool,
    count: f64,
    value: f64,
    kahan_c: f64,
    mean: f64,
    incremental_mean: bool,
    values: Vec<f64>,
}

fn simple(
    kind: Agg,
    q: &[f64],
    input: Vec<StepSeries>,
    modifier: &Option<LabelModifier>,
    n: usize,
) -> Vec<StepSeries> {
    let (group_of, group_labels) = groups(&input, modifier);
    let mut state = vec![
        GroupState {
            stamp: u32::MAX,
            ..Default::default()
        };
        group_labels.len()
    ];
    let mut out: Vec<StepSeries> = group_labels
        .into_iter()
        .map(|labels| StepSeries {
            labels,
            points: Vec::with_capacity(points_room(n)),
        })
        .collect();
    let per_step = by_step(&input, n);
    let mut touched: Vec<usize> = Vec::new();
    for (i, samples) in per_step.iter().enumerate() {
        let stamp = i as u32;
        touched.clear();
        for &(si, v) in samples {
            let gi = group_of[si as usize];
            let g = &mut state[gi];
            if g.stamp != stamp {
                g.stamp = stamp;
                g.seen = true;
                g.count = 1.0;
                g.value = v;
                g.kahan_c = 0.0;
                g.mean = v;
                g.incremental_mean = false;
                g.values.clear();
                match kind {
                    Agg::Stddev | Agg::Stdvar => {
                        g.value = if v.is_finite() { 0.0 } else { f64::NAN }
                    }
                    Agg::Quantile => g.values.push(v),
                    _ => {}
                }
                touched.push(gi);
                continue;
            }
            g.count += 1.0;
            match kind {
                Agg::Sum => (g.value, g.kahan_c) = kahan_sum_inc(v, g.value, g.kahan_c),
                Agg::Avg => {
                    if !g.incremental_mean {
                        let (sum, c) = kahan_sum_inc(v, g.value, g.kahan_c);
                        if !sum.is_infinite() {
                            (g.value, g.kahan_c) = (sum, c);
                            continue;
                        }
                        // The running sum would overflow: switch to an incremental mean.
                        g.incremental_mean = true;
                        g.mean = g.value / (g.count - 1.0);
                        g.kahan_c /= g.count - 1.0;
                    }
                    let ratio = (g.count - 1.0) / g.count;
                    (g.mean, g.kahan_c) =
                        kahan_sum_inc(v / g.count, ratio * g.mean, ratio * g.kahan_c);
                }
                Agg::Min => {
                    if g.value > v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                Agg::Max => {
                    if g.value < v || g.value.is_nan() {
                        g.value = v;
                    }
                }
                Agg::Stddev | Agg::Stdvar => {
                    let delta = v - g.mean;
                    g.mean += delta / g.count;
                    g.value += delta * (v - g.mean);
                }
                Agg::Quantile => g.values.push(v),
                Agg::Count | Agg::Group | Agg::Topk | Agg::Bottomk | Agg::CountValues => {}
            }
        }
        for &gi in &touched {
            let g = &mut state[gi];
            let value = match kind {
                Agg::Sum => g.value + g.kahan_c,
                Agg::Avg => {
                    if g.incremental_mean {
                        g.mean + g.kahan_c
                    } else {
                        (g.value + g.kahan_c) / g.count
                    }
                }
                Agg::Count => g.count,
                Agg::Group => 1.0,
                Agg::Stdvar => g.value / g.count,
                Agg::Stddev => (g.value / g.count).sqrt(),
                Agg::Quantile => quantile(q[i], &mut g.values),
                Agg::Min | Agg::Max => g.value,
                Agg::Topk | Agg::Bottomk | Agg::CountValues => unreachable!("handled elsewhere"),
            };
            out[gi].points.push((stamp, value));
        }
    }
    out.retain(|s| !s.points.is_empty());
    out
}

fn top_bottom(
    top: bool,
    k: &[f64],
    input: Vec<StepSeries>,
    modifier: &Option<LabelModifier>,
    n: usize,
    name: &str,
) -> Result<Val> {
    let (group_of, group_labels) = groups(&input, modifier);
    let per_step = by_step(&input, n);
    let mut out: Vec<Vec<(u32, f64)>> = vec![Vec::new(); input.len()];
    let mut members: Vec<Vec<(u32, f64)>> = vec![Vec::new(); group_labels.len()];
    // Output order: groups in order of first appearance, members sorted as Prometheus's heap
    // leaves them for an instant query.
    let mut order: Vec<u32> = Vec::new();
    for (i, samples) in per_step.iter().enumerate() {
        if samples.is_empty() {
            continue;
        }
        let kf = k[i];
        if kf.is_nan() {
            return Err(Error::exec(format!("Parameter value is NaN for {name}")));
        }
        if kf >= 9.223_372_036_854_776e18 || kf <= -9.223_372_036_854_776e18 {
            return Err(Error::exec(format!("Scalar value {kf} overflows int64")));
        }
        let kk = kf as i64;
        if kk < 1 {
            continue;
        }
        for m in &mut members {
            m.clear();
        }
        let mut group_order: Vec<usize> = Vec::new();
        for &(si, v) in samples {
            let gi = group_of[si as usize];
            if members[gi].is_empty() {
                group_order.push(gi);
            }
            members[gi].push((si, v));
        }
        for gi in group_order {
            let m = &mut members[gi];
            // NaN sorts last whichever the direction: it is the first to be dropped.
            m.sort_by(|a, b| {
                let (x, y) = (a.1, b.1);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
            for &(si, v) in m.iter().take(kk.min(m.len() as i64) as usize) {
                if out[si as usize].is_empty() {
                    order.push(si);
                }
                out[si as usize].push((i as u32, v));
            }
        }
    }
    let mut input: Vec<Option<StepSeries>> = input.into_iter().map(Some).collect();
    let mut result = Vec::with_capacity(order.len());
    for si in order {
        if let Some(s) = input[si as usize].take() {
            result.push(StepSeries {
                labels: s.labels,
                points: std::mem::take(&mut out[si as usize]),
            });
        }
    }
    Ok(Val::Vector(result))
}

fn count_values(
    label: &str,
    input: Vec<StepSeries>,
    modifier: &Option<LabelModifier>,
    n: usize,
) -> Result<Val> {
    if !valid_label_name(label) {
        return Err(Error::exec(format!("invalid label name {label:?}")));
    }
    let group_of: Vec<Labels> = input
        .iter()
        .map(|s| group_labels(&s.labels, modifier))
        .collect();
    let per_step = by_step(&input, n);
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<StepSeries> = Vec::new();
    for (i, samples) in per_step.iter().enumerate() {
        for &(si, v) in samples {
            let mut labels = group_of[si as usize].clone();
            labels.set(label, &format_go_float(v));
            let oi = *index.entry(labels.clone()).or_insert_with(|| {
                out.push(StepSeries {
                    labels,
                    points: Vec::new(),
                });
                out.len() - 1
            });
            let points = &mut out[oi].points;
            match points.last_mut() {
                Some(last) if last.0 == i as u32 => last.1 += 1.0,
                _ => points.push((i as u32, 1.0)),
            }
        }
    }
    Ok(Val::Vector(out))
}

/// Whether `name` is a label name Prometheus 3 accepts (any non-empty UTF-8 string).
fn valid_label_name(name: &str) -> bool {
    !name.is_empty()
}
