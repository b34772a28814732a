//! `absent`, `absent_over_time`, `scalar` and `sort`/`sort_desc`.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcAbsent`, `funcAbsentOverTime`,
//! `createLabelsForAbsentFunction`, `funcScalar`, `funcSort`, `funcSortDesc`).

use super::{matrix_arg, vector_arg};
use crate::error::Result;
use crate::evaluator::Evaluator;
use crate::step::{StepSeries, Steps, Val};
use apilens_model::{Labels, METRIC_NAME};
use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use std::collections::HashSet;

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

/// The labels `absent` returns: the selector's equality matchers, except names matched twice or
/// by another operator.
fn absent_labels(arg: &Expr) -> Labels {
    let vs: &VectorSelector = match unwrap_parens(arg) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::new(),
    };
    let mut out = Labels::new();
    let mut has = HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, MatchOp::Equal) && !has.contains(&m.name) {
            out.set(&m.name, &m.value);
            has.insert(m.name.clone());
        } else {
            out.remove(&m.name);
        }
    }
    out
}

/// `absent(v)`: 1 at the steps where `v` is empty.
pub(crate) fn absent(ev: &mut Evaluator<'_>, arg: &Expr, steps: Steps) -> Result<Val> {
    let v = vector_arg(ev, arg, steps)?;
    let mut present = vec![false; steps.len()];
    for s in &v {
        for &(i, _) in &s.points {
            present[i as usize] = true;
        }
    }
    let points = present
        .iter()
        .enumerate()
        .filter(|(_, p)| !**p)
        .map(|(i, _)| (i as u32, 1.0))
        .collect();
    Ok(Val::Vector(vec![StepSeries {
        labels: absent_labels(arg),
        points,
    }]))
}

/// `absent_over_time(m[r])`: 1 at the steps where no series has a sample in the window.
pub(crate) fn absent_over_time(ev: &mut Evaluator<'_>, arg: &Expr, steps: Steps) -> Result<Val> {
    let m = matrix_arg(ev, arg, steps)?;
    let points = (0..steps.len())
        .filter(|&i| {
            let t = steps.ts(i);
            m.series.iter().all(|s| {
                let (lo, hi) = m.window(&s.samples, t);
                lo >= hi
            })
        })
        .map(|i| (i as u32, 1.0))
        .collect();
    Ok(Val::Vector(vec![StepSeries {
        labels: absent_labels(arg),
        points,
    }]))
}

/// `scalar(v)`: the single element's value, NaN unless there is exactly one.
pub(crate) fn scalar(ev: &mut Evaluator<'_>, arg: &Expr, steps: Steps) -> Result<Val> {
    let v = vector_arg(ev, arg, steps)?;
    let mut out = vec![f64::NAN; steps.len()];
    let mut count = vec![0u32; steps.len()];
    for s in &v {
        for &(i, x) in &s.points {
            count[i as usize] += 1;
            out[i as usize] = x;
        }
    }
    for (o, c) in out.iter_mut().zip(count) {
        if c != 1 {
            *o = f64::NAN;
        }
    }
    Ok(Val::Scalar(out))
}

/// `sort`/`sort_desc`: orders the elements of an instant query by value, NaN last; a range
/// query's result is sorted by labels anyway.
pub(crate) fn sort(ev: &mut Evaluator<'_>, arg: &Expr, steps: Steps, desc: bool) -> Result<Val> {
    let mut v = vector_arg(ev, arg, steps)?;
    if steps.len() == 1 {
        v.sort_by(|a, b| {
            let (x, y) = (a.points[0].1, b.points[0].1);
            match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if desc => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            }
        });
    }
    Ok(Val::Vector(v))
}
