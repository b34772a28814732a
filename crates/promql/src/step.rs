//! The values an expression has while it is evaluated: the steps of an evaluation, a series of
//! an instant vector over those steps, a range-vector argument, and the value of a node (`Val`),
//! with the checks on label sets every operator shares.

use crate::error::{Error, Result};
use apilens_model::{Labels, Sample, Series};
use std::collections::HashMap;

/// The timestamps of one evaluation: `start`, `start + step`, … up to `end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) step: i64,
}

impl Steps {
    pub(crate) fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            ((self.end - self.start) / self.step + 1) as usize
        }
    }

    pub(crate) fn ts(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }
}

/// The room to reserve for a series' points over `n` steps: all of them for a short range (no
/// growing one at a time), a bounded start for a long one whose series may be sparse.
pub(crate) fn points_room(n: usize) -> usize {
    n.min(256)
}

/// A series of an instant-vector expression evaluated over steps: `(step index, value)` pairs in
/// step order.
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub(crate) labels: Labels,
    pub(crate) points: Vec<(u32, f64)>,
}

/// A range-vector argument: raw series (stale markers removed) and how to cut the window for a
/// step.
#[derive(Debug, Clone)]
pub(crate) struct MatrixArg {
    pub(crate) series: Vec<Series>,
    pub(crate) range: i64,
    pub(crate) offset: i64,
    pub(crate) at: Option<i64>,
    /// Whether no two series share a label set (a selector's series, unlike a subquery's).
    pub(crate) distinct: bool,
}

impl MatrixArg {
    /// The end of the window for evaluation time `t` (Prometheus's `rangeEnd`).
    pub(crate) fn window_end(&self, t: i64) -> i64 {
        self.at.unwrap_or(t) - self.offset
    }

    /// Index range of the samples in the left-open window `(end - range, end]`.
    pub(crate) fn window(&self, samples: &[Sample], t: i64) -> (usize, usize) {
        let end = self.window_end(t);
        let start = end - self.range;
        let lo = samples.partition_point(|s| s.t <= start);
        let hi = samples.partition_point(|s| s.t <= end);
        (lo, hi.max(lo))
    }
}

/// The value of an expression over all steps.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(Vec<f64>),
    Vector(Vec<StepSeries>),
    Matrix(MatrixArg),
    String(String),
}

impl Val {
    /// How many samples the value holds, as the samples cap counts them.
    pub(crate) fn samples(&self) -> usize {
        match self {
            Val::Scalar(v) => v.len(),
            Val::Vector(series) => series.iter().map(|s| s.points.len()).sum(),
            Val::Matrix(m) => m.series.iter().map(|s| s.samples.len()).sum(),
            Val::String(_) => 0,
        }
    }
}

/// Merges series that share a label set into one; fails when two of them have a value at the
/// same step, with Prometheus's "vector cannot contain metrics with the same labelset".
pub(crate) fn merge_same_labels(series: Vec<StepSeries>) -> Result<Vec<StepSeries>> {
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    let mut out: Vec<StepSeries> = Vec::with_capacity(series.len());
    let mut merged = false;
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        match index.get(&s.labels) {
            Some(&i) => {
                out[i].points.extend(s.points);
                merged = true;
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    if merged {
        for s in &mut out {
            s.points.sort_by_key(|p| p.0);
            if s.points.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(same_labelset());
            }
        }
    }
    Ok(out)
}

/// Fails when two non-empty series share a label set at all, as Prometheus does for the result
/// of a range-vector function.
pub(crate) fn check_unique_labels(series: &[StepSeries]) -> Result<()> {
    // Label sets in strictly ascending order (a selector's series, their names dropped) are
    // unique without hashing them.
    if series
        .iter()
        .filter(|s| !s.points.is_empty())
        .is_sorted_by(|a, b| a.labels < b.labels)
    {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(series.len());
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        if !seen.insert(&s.labels) {
            return Err(same_labelset());
        }
    }
    Ok(())
}

/// Prometheus's error for two series with one label set in a vector.
pub(crate) fn same_labelset() -> Error {
    Error::exec("vector cannot contain metrics with the same labelset")
}
