//! `label_replace` and `label_join`.
//!
//! Follows Prometheus v3.5.0 `promql/functions.go` (`funcLabelReplace`, `funcLabelJoin`).

use super::{string_arg, vector_arg};
use crate::error::{Error, Result};
use crate::evaluator::Evaluator;
use crate::step::{StepSeries, Steps, Val, merge_same_labels};
use promql_parser::parser::Expr;

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr], steps: Steps) -> Result<Val> {
    let v = vector_arg(ev, args[0], steps)?;
    let dst = string_arg(ev, args[1], steps)?;
    let repl = string_arg(ev, args[2], steps)?;
    let src = string_arg(ev, args[3], steps)?;
    let pattern = string_arg(ev, args[4], steps)?;
    let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
        Error::exec(format!(
            "invalid regular expression in label_replace(): {pattern}: {e}"
        ))
    })?;
    if dst.is_empty() {
        return Err(Error::exec(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let out = v
        .into_iter()
        .map(|s| {
            let value = s.labels.get(&src).unwrap_or("");
            let mut labels = s.labels.clone();
            if let Some(caps) = re.captures(value) {
                let mut res = String::new();
                caps.expand(&repl, &mut res);
                labels.set(&dst, &res);
            }
            StepSeries {
                labels,
                points: s.points,
            }
        })
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr], steps: Steps) -> Result<Val> {
    let v = vector_arg(ev, args[0], steps)?;
    let dst = string_arg(ev, args[1], steps)?;
    let sep = string_arg(ev, args[2], steps)?;
    let mut src = Vec::new();
    for a in &args[3..] {
        src.push(string_arg(ev, a, steps)?);
    }
    if dst.is_empty() {
        return Err(Error::exec(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let out = v
        .into_iter()
        .map(|s| {
            let joined = src
                .iter()
                .map(|n| s.labels.get(n).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(&sep);
            let mut labels = s.labels.clone();
            labels.set(&dst, &joined);
            StepSeries {
                labels,
                points: s.points,
            }
        })
        .collect();
    Ok(Val::Vector(merge_same_labels(out)?))
}
