//! The evaluation state of one query: its limits (deadline, cancel flag, samples cap), its
//! warnings, and the leaves of the tree (selectors, subqueries, `@` and `offset`).
//!
//! Follows Prometheus v3.5.0 `promql/engine.go` (`evaluator`). Operators and functions call back
//! into [`Evaluator::eval`] for their operands; which code evaluates a node is the engine's
//! [`EvalNode`], handed in at creation, so this module knows nothing of operators or functions.

use crate::error::{Error, Result};
use crate::memo::{Memo, MemoKey};
use crate::step::{MatrixArg, StepSeries, Steps, Val, points_room};
use crate::value::Annotations;
use apilens_model::{
    Labels, MatchOp, Matcher, Queryable, Sample, SelectHints, Series, is_stale_nan,
};
use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::{self, AtModifier, Expr, MatrixSelector, Offset, VectorSelector};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

/// Evaluates one node of the expression tree over all steps (the engine's dispatch).
pub(crate) type EvalNode = fn(&mut Evaluator<'_>, &Expr, Steps) -> Result<Val>;

/// The limits one evaluation runs within.
pub(crate) struct Limits {
    /// The lookback window of instant selectors, in milliseconds.
    pub(crate) lookback: i64,
    /// When the query fails with [`Error::Timeout`].
    pub(crate) deadline: Instant,
    /// Set by the caller to stop the query with [`Error::Canceled`].
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    /// The most samples the query may hold at once.
    pub(crate) max_samples: usize,
    /// The step of a subquery that gives none, in milliseconds.
    pub(crate) default_step: i64,
}

/// Evaluation state of one query.
pub(crate) struct Evaluator<'a> {
    q: &'a dyn Queryable,
    /// The query text, for the positions in warnings.
    query: &'a str,
    /// Each selector's matchers, compiled once by prepare (keyed by [`selector_key`]).
    matchers: &'a HashMap<usize, Vec<Matcher>>,
    /// Evaluates one node of the tree (the engine's dispatch to operators and functions).
    node: EvalNode,
    /// Warnings and infos collected so far.
    pub(crate) annotations: Annotations,
    lookback: i64,
    deadline: Instant,
    cancel: Option<Arc<AtomicBool>>,
    max_samples: usize,
    /// Samples held now: every value alive on the evaluation stack plus what the node being
    /// evaluated has produced so far (Prometheus's `currentSamples`).
    current: usize,
    /// The most held at once (Prometheus's `peakSamples`).
    peak: usize,
    default_step: i64,
    query_start: i64,
    query_end: i64,
    /// Where aggregations' values are kept across the engine's queries, when it keeps them.
    memo: Option<&'a Memo>,
    /// Warnings and infos raised so far, repeated ones included: a node that raised none can
    /// be answered from the memo without losing any.
    raised: usize,
}

impl<'a> Evaluator<'a> {
    /// A fresh evaluation of the query `query` (whose selectors' matchers are `matchers`)
    /// against `q` within `limits`, for `@ start()` and `@ end()` at `query_start` and
    /// `query_end`, with `node` evaluating each node of the tree.
    pub(crate) fn new(
        q: &'a dyn Queryable,
        query: &'a str,
        matchers: &'a HashMap<usize, Vec<Matcher>>,
        node: EvalNode,
        limits: Limits,
        (query_start, query_end): (i64, i64),
        memo: Option<&'a Memo>,
    ) -> Self {
        Self {
            q,
            query,
            matchers,
            node,
            annotations: Annotations::default(),
            lookback: limits.lookback,
            deadline: limits.deadline,
            cancel: limits.cancel,
            max_samples: limits.max_samples,
            current: 0,
            peak: 0,
            default_step: limits.default_step,
            query_start,
            query_end,
            memo,
            raised: 0,
        }
    }

    /// Evaluates `expr` with `eval`, or answers it from the engine's memo: the value of the
    /// same expression over the same store and steps in an earlier query. A value is kept only
    /// when its evaluation raised no warning or info, so an answer from the memo loses none.
    pub(crate) fn remembered(
        &mut self,
        expr: &Expr,
        steps: Steps,
        eval: impl FnOnce(&mut Self) -> Result<Val>,
    ) -> Result<Val> {
        let Some(memo) = self.memo else {
            return eval(self);
        };
        let store = std::ptr::from_ref(self.q).cast::<()>() as usize;
        let key = MemoKey::new(
            store,
            expr.to_string(),
            steps,
            self.lookback,
            (self.query_start, self.query_end),
        );
        if let Some(val) = memo.get(&key) {
            return Ok(val);
        }
        let raised = self.raised;
        let val = eval(self)?;
        if self.raised == raised {
            memo.put(key, val.clone());
        }
        Ok(val)
    }

    /// Fails with [`Error::Timeout`] once the deadline has passed, and with
    /// [`Error::Canceled`] once the query was canceled.
    pub(crate) fn check_deadline(&self, stage: &'static str) -> Result<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::Canceled(stage));
        }
        if Instant::now() > self.deadline {
            Err(Error::Timeout(stage))
        } else {
            Ok(())
        }
    }

    /// Counts `n` more samples held by the query against the cap, before they are allocated;
    /// also checks the deadline, so every loop that produces samples stops in time.
    pub(crate) fn account(&mut self, n: usize) -> Result<()> {
        self.current = self.current.saturating_add(n);
        if self.current > self.max_samples {
            return Err(Error::TooManySamples("query execution"));
        }
        self.peak = self.peak.max(self.current);
        self.check_deadline("query execution")
    }

    /// Gives back samples counted by [`Evaluator::account`] that were not used or are freed.
    pub(crate) fn release(&mut self, n: usize) {
        self.current = self.current.saturating_sub(n);
    }

    /// The most samples the query can still take.
    fn samples_left(&self) -> usize {
        self.max_samples.saturating_sub(self.current)
    }

    /// Adds `PromQL warning: {msg}` about the expression `at` (with its position, as
    /// Prometheus's `annoErr`, when it can be found in the query).
    pub(crate) fn warn(&mut self, msg: impl std::fmt::Display, at: &Expr) {
        self.raised += 1;
        let m = self.with_position(format!("PromQL warning: {msg}"), at);
        self.annotations.warn(m);
    }

    /// Adds `PromQL info: {msg}` about the expression `at`, as [`Evaluator::warn`].
    pub(crate) fn info(&mut self, msg: impl std::fmt::Display, at: &Expr) {
        self.raised += 1;
        let m = self.with_position(format!("PromQL info: {msg}"), at);
        self.annotations.info(m);
    }

    fn with_position(&self, msg: String, at: &Expr) -> String {
        match position(self.query, at) {
            Some(p) => format!("{msg} ({p})"),
            None => msg,
        }
    }

    /// Evaluates `expr` at every step of `steps`.
    ///
    /// On return the samples held are those held before plus the value's: the operands the
    /// node consumed are freed, and an output that passes the cap (an operator whose output is
    /// bounded by its operands) fails here.
    pub(crate) fn eval(&mut self, expr: &Expr, steps: Steps) -> Result<Val> {
        self.check_deadline("query execution")?;
        let before = self.current;
        let val = (self.node)(self, expr, steps)?;
        self.current = before;
        self.account(val.samples())?;
        Ok(val)
    }

    /// Evaluates a range selector: its series over the left-open window of every step, with
    /// staleness markers removed.
    pub(crate) fn eval_matrix_selector(
        &mut self,
        ms: &MatrixSelector,
        steps: Steps,
    ) -> Result<Val> {
        let offset = offset_ms(&ms.vs.offset);
        let at = self.at_ms(&ms.vs.at);
        let range = ms.range.as_millis() as i64;
        let (first, last) = match at {
            Some(a) => (a, a),
            None => (steps.start, steps.end),
        };
        let mint = first - offset - range + 1;
        let maxt = last - offset;
        let hints = SelectHints {
            step_ms: steps.step,
            range_ms: range,
            sample_limit: Some(self.samples_left()),
        };
        let mut series = self.select(&ms.vs, mint, maxt, hints)?;
        for s in &mut series {
            s.samples.retain(|x| !is_stale_nan(x.v));
        }
        series.retain(|s| !s.samples.is_empty());
        Ok(Val::Matrix(MatrixArg {
            series,
            range,
            offset,
            at,
            distinct: true,
        }))
    }

    /// Evaluates a subquery: its inner expression at steps aligned to its own step, as a range
    /// vector.
    pub(crate) fn eval_subquery(&mut self, sq: &parser::SubqueryExpr, steps: Steps) -> Result<Val> {
        let offset = offset_ms(&sq.offset);
        let at = self.at_ms(&sq.at);
        let range = sq.range.as_millis() as i64;
        let step = sq
            .step
            .map(|s| s.as_millis() as i64)
            .filter(|&s| s > 0)
            .unwrap_or(self.default_step);
        let (first, last) = match at {
            Some(a) => (a, a),
            None => (steps.start, steps.end),
        };
        // Start with the first timestamp after (start - offset - range) that is a multiple of
        // the step, as engine.go does, so that subquery steps do not move with the query time.
        let base = first - offset - range;
        let mut inner_start = step * (base / step);
        if inner_start <= base {
            inner_start += step;
        }
        let inner = Steps {
            start: inner_start,
            end: last - offset,
            step,
        };
        // Every series of the inner expression can have a value at each inner step: a
        // subquery whose steps alone pass the cap fails before evaluating anything.
        if inner.len() > self.samples_left() {
            return Err(Error::TooManySamples("subquery evaluation"));
        }
        let mut series = Vec::new();
        if inner.len() > 0 {
            match self.eval(&sq.expr, inner)? {
                Val::Vector(v) => {
                    for s in v {
                        if s.points.is_empty() {
                            continue;
                        }
                        // The copy is counted before it is made; the points it replaces are
                        // freed at the end of this iteration.
                        self.account(s.points.len())?;
                        let freed = s.points.len();
                        series.push(Series {
                            labels: s.labels,
                            samples: s
                                .points
                                .iter()
                                .map(|&(i, v)| Sample {
                                    t: inner.ts(i as usize),
                                    v,
                                })
                                .collect(),
                        });
                        self.release(freed);
                    }
                }
                Val::Scalar(v) => series.push(Series {
                    labels: Labels::new(),
                    samples: v
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| Sample { t: inner.ts(i), v })
                        .collect(),
                }),
                _ => {
                    return Err(Error::exec(
                        "subquery is only allowed on instant vector or scalar expressions",
                    ));
                }
            }
        }
        Ok(Val::Matrix(MatrixArg {
            series,
            range,
            offset,
            at,
            distinct: false,
        }))
    }

    /// Evaluates an instant selector: at each step the latest sample in the left-open lookback
    /// window `(t - lookback, t]`, unless it is a staleness marker. With `sample_time` the value is
    /// the sample's timestamp in seconds (what `timestamp()` returns).
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        steps: Steps,
        sample_time: bool,
    ) -> Result<Vec<StepSeries>> {
        let offset = offset_ms(&vs.offset);
        let at = self.at_ms(&vs.at);
        let (first, last) = match at {
            Some(a) => (a, a),
            None => (steps.start, steps.end),
        };
        let mint = first - offset - self.lookback + 1;
        let maxt = last - offset;
        let hints = SelectHints {
            step_ms: steps.step,
            range_ms: 0,
            sample_limit: Some(self.samples_left()),
        };
        let series = self.select(vs, mint, maxt, hints)?;
        let n = steps.len();
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            // A series can have a value at every step: count that before producing any, then
            // give back what it did not use.
            self.account(n)?;
            let mut points = Vec::with_capacity(points_room(n));
            let mut idx = 0usize;
            for i in 0..n {
                let t = at.unwrap_or(steps.ts(i)) - offset;
                if at.is_some() {
                    idx = s.samples.partition_point(|x| x.t <= t);
                } else {
                    while idx < s.samples.len() && s.samples[idx].t <= t {
                        idx += 1;
                    }
                }
                if idx == 0 {
                    continue;
                }
                let smp = s.samples[idx - 1];
                if smp.t <= t - self.lookback || is_stale_nan(smp.v) {
                    continue;
                }
                let v = if sample_time {
                    smp.t as f64 / 1000.0
                } else {
                    smp.v
                };
                points.push((i as u32, v));
            }
            self.release(n - points.len());
            if !points.is_empty() {
                out.push(StepSeries {
                    labels: s.labels,
                    points,
                });
            }
        }
        Ok(out)
    }

    fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        hints: SelectHints,
    ) -> Result<Vec<Series>> {
        let compiled;
        let matchers = match self.matchers.get(&selector_key(vs)) {
            Some(m) => m,
            None => {
                compiled = to_matchers(vs)?;
                &compiled
            }
        };
        let series = self
            .q
            .select(matchers, mint, maxt, hints)
            .map_err(|e| match e {
                apilens_model::SelectError::TooManySamples { .. } => {
                    Error::TooManySamples("query execution")
                }
                e => Error::Select(e),
            })?;
        let n: usize = series.iter().map(|s| s.samples.len()).sum();
        self.account(n)?;
        Ok(series)
    }

    /// The timestamp an `@` modifier pins evaluation to, in milliseconds.
    pub(crate) fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(system_time_ms(*t)),
        }
    }
}

/// The key of a selector in the prepared matchers: its address in the parsed tree.
pub(crate) fn selector_key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

/// Where a selector starts in the query, as `line:column` (1-based, columns in bytes), the way
/// Prometheus's `PositionRange.StartPosInput` prints it. The parser keeps no positions, so this
/// finds the selector's metric name: only a name that occurs once as a whole word gives one.
fn position(query: &str, e: &Expr) -> Option<String> {
    let name = match e {
        Expr::VectorSelector(vs) => vs.name.as_deref()?,
        Expr::MatrixSelector(ms) => ms.vs.name.as_deref()?,
        _ => return None,
    };
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut found = None;
    for (i, _) in query.match_indices(name) {
        let before = query[..i].chars().next_back();
        let after = query[i + name.len()..].chars().next();
        if before.is_some_and(ident) || after.is_some_and(ident) {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(i);
    }
    let pos = found?;
    let line = 1 + query[..pos].matches('\n').count();
    let col = pos - query[..pos].rfind('\n').map_or(0, |i| i + 1) + 1;
    Some(format!("{line}:{col}"))
}

fn system_time_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// An offset in milliseconds, negative for `offset -5m`.
pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

/// The selector's matchers in the model's vocabulary, the metric name first.
pub(crate) fn to_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(Error::Unsupported(format!(
            "'or' inside label matchers in {vs}"
        )));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::equal(apilens_model::METRIC_NAME, name));
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            ParserMatchOp::Equal => MatchOp::Equal,
            ParserMatchOp::NotEqual => MatchOp::NotEqual,
            ParserMatchOp::Re(_) => MatchOp::RegexMatch,
            ParserMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        out.push(Matcher::new(op, &m.name, &m.value).map_err(|e| Error::Parse(e.to_string()))?);
    }
    Ok(out)
}
