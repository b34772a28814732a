//! The evaluator: selectors, offsets, `@`, subqueries and the step loop.
//!
//! Follows Prometheus v3.5.0 `promql/engine.go`. Every expression is evaluated over all steps of
//! the query at once (Prometheus's `rangeEval`): selectors load their series once for the whole
//! range, and operators that work on whole vectors (binary operators, aggregations, some
//! functions) are computed step by step over per-series signatures that are computed once.

use crate::error::{Error, Result};
use crate::value::{Annotations, InstantSample, QueryResult, Value};
use crate::{aggregate, binary, functions};
use apilens_model::{
    Labels, MatchOp, Matcher, Queryable, Sample, SelectHints, Series, is_stale_nan,
};
use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Options of the [`Engine`], as Prometheus's `EngineOpts`.
#[derive(Debug, Clone)]
pub struct EngineOpts {
    /// How far back an instant selector looks for the latest sample (Prometheus's
    /// `--query.lookback-delta`, 5 minutes by default).
    pub lookback_delta: Duration,
    /// The longest a query may run (`--query.timeout`, 2 minutes by default).
    pub timeout: Duration,
    /// The most samples a query may hold in memory at once, loaded and produced together
    /// (`--query.max-samples`, 50 million). Counted before each allocation that can grow with
    /// the number of steps, so a query stops at the cap instead of after passing it.
    pub max_samples: usize,
    /// The step of subqueries that do not name one (the global evaluation interval, 1 minute).
    pub default_subquery_step: Duration,
}

impl Default for EngineOpts {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// What one execution may use beside the engine's own options: a request's shorter timeout,
/// its smaller samples cap, and a flag that cancels it.
#[derive(Debug, Clone, Default)]
pub struct ExecControl {
    /// A timeout shorter than the engine's (the API's `timeout=` parameter); the engine's own
    /// timeout stays the upper bound.
    pub timeout: Option<Duration>,
    /// A samples cap smaller than the engine's.
    pub max_samples: Option<usize>,
    /// Set to stop the query (its client went away); checked as often as the deadline. The
    /// query then fails with [`Error::Canceled`].
    pub cancel: Option<Arc<AtomicBool>>,
}

/// The PromQL engine: parses a query and evaluates it against any [`Queryable`].
///
/// # Examples
///
/// ```
/// use apilens_model::{Labels, Matcher, Queryable, Sample, SelectError, SelectHints, Series};
/// use apilens_promql::{Engine, EngineOpts, Value};
///
/// struct One(Series);
/// impl Queryable for One {
///     fn select(&self, m: &[Matcher], _: i64, _: i64, _: SelectHints) -> Result<Vec<Series>, SelectError> {
///         let ok = m.iter().all(|m| m.matches(self.0.labels.get(&m.name).unwrap_or("")));
///         Ok(if ok { vec![self.0.clone()] } else { vec![] })
///     }
/// }
/// let labels = Labels::from_pairs([("__name__", "up"), ("job", "apiserver")]);
/// let samples = (0..10).map(|i| Sample { t: i * 15_000, v: 1.0 }).collect();
/// let store = One(Series { labels, samples });
/// let value = Engine::new(EngineOpts::default()).instant_query(&store, "sum by (job) (up)", 120_000)?;
/// let Value::Vector(v) = value else { panic!() };
/// assert_eq!(v[0].v, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOpts,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(opts: EngineOpts) -> Self {
        Self { opts }
    }

    /// The options in force.
    pub fn opts(&self) -> &EngineOpts {
        &self.opts
    }

    fn default_step(&self) -> i64 {
        (self.opts.default_subquery_step.as_millis() as i64).max(1)
    }

    /// Evaluates `query` at one instant `t` (milliseconds since the epoch).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for a query that does not parse, [`Error::Execution`] or
    /// [`Error::Unsupported`] when it cannot be evaluated, [`Error::Timeout`] and
    /// [`Error::TooManySamples`] at the limits, [`Error::Select`] when the store fails.
    pub fn instant_query(&self, q: &dyn Queryable, query: &str, t: i64) -> Result<Value> {
        Ok(self.exec(q, &self.prepare_instant(query, t)?)?.value)
    }

    /// Evaluates `query` at every step from `start` to `end` inclusive (milliseconds), returning
    /// a matrix sorted by labels.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`]; also [`Error::BadParam`] for a non-positive step or an end
    /// before the start, and [`Error::Execution`] for a query whose type is not scalar or
    /// instant vector.
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Value> {
        Ok(self
            .exec(q, &self.prepare_range(query, start, end, step)?)?
            .value)
    }

    /// As [`Engine::instant_query`], with the warnings and infos of the evaluation.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`].
    pub fn instant_query_annotated(
        &self,
        q: &dyn Queryable,
        query: &str,
        t: i64,
    ) -> Result<QueryResult> {
        self.exec(q, &self.prepare_instant(query, t)?)
    }

    /// As [`Engine::range_query`], with the warnings and infos of the evaluation.
    ///
    /// # Errors
    ///
    /// As [`Engine::range_query`].
    pub fn range_query_annotated(
        &self,
        q: &dyn Queryable,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult> {
        self.exec(q, &self.prepare_range(query, start, end, step)?)
    }

    /// Parses an instant query and compiles its label matchers, without touching any store
    /// (Prometheus's `NewInstantQuery`).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for a query that does not parse or a regular expression that does not
    /// compile; [`Error::Unsupported`] for `or` inside label matchers.
    pub fn prepare_instant(&self, query: &str, t: i64) -> Result<PreparedQuery> {
        PreparedQuery::new(
            query,
            Steps {
                start: t,
                end: t,
                step: 1,
            },
            true,
            self.default_step(),
        )
    }

    /// Parses a range query, checks its parameters and type, and compiles its label matchers,
    /// without touching any store (Prometheus's `NewRangeQuery`).
    ///
    /// # Errors
    ///
    /// As [`Engine::prepare_instant`]; also [`Error::BadParam`] for a non-positive step or an
    /// end before the start, and [`Error::Execution`] for a query whose type is not scalar or
    /// instant vector.
    pub fn prepare_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<PreparedQuery> {
        if step <= 0 {
            return Err(Error::BadParam(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end < start {
            return Err(Error::BadParam(
                "end timestamp must not be before start time".into(),
            ));
        }
        let p = PreparedQuery::new(
            query,
            Steps { start, end, step },
            false,
            self.default_step(),
        )?;
        match p.expr.value_type() {
            parser::value::ValueType::Scalar | parser::value::ValueType::Vector => Ok(p),
            other => Err(Error::exec(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_display(other)
            ))),
        }
    }

    /// Evaluates a prepared query against `q` (Prometheus's `Query.Exec`).
    ///
    /// # Errors
    ///
    /// [`Error::Execution`] or [`Error::Unsupported`] when it cannot be evaluated,
    /// [`Error::Timeout`] and [`Error::TooManySamples`] at the limits, [`Error::Select`] when
    /// the store fails.
    pub fn exec(&self, q: &dyn Queryable, p: &PreparedQuery) -> Result<QueryResult> {
        self.exec_with(q, p, &ExecControl::default())
    }

    /// As [`Engine::exec`], within the limits of `ctl` (the tighter of its limits and the
    /// engine's apply).
    ///
    /// # Errors
    ///
    /// As [`Engine::exec`]; also [`Error::Canceled`] once `ctl.cancel` is set.
    pub fn exec_with(
        &self,
        q: &dyn Queryable,
        p: &PreparedQuery,
        ctl: &ExecControl,
    ) -> Result<QueryResult> {
        let steps = p.steps;
        let mut ev = Evaluator::new(q, &self.opts, p, steps.start, steps.end);
        if let Some(t) = ctl.timeout {
            ev.deadline = ev.deadline.min(Instant::now() + t);
        }
        if let Some(m) = ctl.max_samples {
            ev.max_samples = ev.max_samples.min(m);
        }
        ev.cancel = ctl.cancel.clone();
        let val = ev.eval(&p.expr, steps)?;
        let value = if p.instant {
            instant_value(val, steps.start)
        } else {
            range_value(val, steps)?
        };
        Ok(QueryResult {
            value,
            annotations: ev.annotations,
        })
    }
}

fn instant_value(val: Val, t: i64) -> Value {
    match val {
        Val::Scalar(v) => Value::Scalar { t, v: v[0] },
        Val::String(s) => Value::String { t, v: s },
        Val::Vector(series) => Value::Vector(
            series
                .into_iter()
                .filter_map(|s| {
                    s.points.first().map(|&(_, v)| InstantSample {
                        labels: s.labels,
                        t,
                        v,
                    })
                })
                .collect(),
        ),
        Val::Matrix(m) => {
            let mut out = Vec::new();
            for s in &m.series {
                let (lo, hi) = m.window(&s.samples, t);
                if lo < hi {
                    out.push(Series {
                        labels: s.labels.clone(),
                        samples: s.samples[lo..hi].to_vec(),
                    });
                }
            }
            Value::Matrix(out)
        }
    }
}

fn range_value(val: Val, steps: Steps) -> Result<Value> {
    let mut out = match val {
        Val::Scalar(v) => vec![Series {
            labels: Labels::new(),
            samples: v
                .iter()
                .enumerate()
                .map(|(i, &v)| Sample { t: steps.ts(i), v })
                .collect(),
        }],
        Val::Vector(series) => series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| Series {
                labels: s.labels,
                samples: s
                    .points
                    .iter()
                    .map(|&(i, v)| Sample {
                        t: steps.ts(i as usize),
                        v,
                    })
                    .collect(),
            })
            .collect(),
        Val::Matrix(_) | Val::String(_) => {
            return Err(Error::exec(
                "range query must return a scalar or an instant vector",
            ));
        }
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Matrix(out))
}

/// A parsed query with its label matchers compiled and its evaluation times fixed, ready for
/// [`Engine::exec`]; made by [`Engine::prepare_instant`] or [`Engine::prepare_range`].
#[derive(Debug)]
pub struct PreparedQuery {
    query: String,
    /// Boxed so that the selectors keep their addresses when the query moves.
    expr: Box<Expr>,
    /// Matchers of every selector, keyed by the selector's address inside `expr`.
    matchers: HashMap<usize, Vec<Matcher>>,
    steps: Steps,
    instant: bool,
    default_step: i64,
}

impl PreparedQuery {
    fn new(query: &str, steps: Steps, instant: bool, default_step: i64) -> Result<Self> {
        let expr = Box::new(parse(query)?);
        let mut matchers = HashMap::new();
        collect_matchers(&expr, &mut matchers)?;
        Ok(Self {
            query: query.to_owned(),
            expr,
            matchers,
            steps,
            instant,
            default_step,
        })
    }

    /// The query string as given.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// How many steps the query evaluates for each series it selects, summed over its
    /// selectors and literals, with every subquery's inner steps: a cost estimate that needs no
    /// store (an instant `up` is 1; `max_over_time(m[1h:1ms])` is 3.6 million). Multiplied by
    /// the series selected, it bounds the samples the query produces.
    pub fn steps_per_series(&self) -> u64 {
        let s = self.steps;
        steps_cost(&self.expr, s.start, s.end, s.step, self.default_step)
    }
}

/// [`PreparedQuery::steps_per_series`] of `e` evaluated from `first` to `last` by `step`.
fn steps_cost(e: &Expr, first: i64, last: i64, step: i64, default_step: i64) -> u64 {
    let n = if last < first {
        0
    } else {
        let n = (i128::from(last) - i128::from(first)) / i128::from(step.max(1)) + 1;
        u64::try_from(n).unwrap_or(u64::MAX)
    };
    let sub = |e: &Expr| steps_cost(e, first, last, step, default_step);
    match e {
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => n,
        Expr::Paren(p) => sub(&p.expr),
        Expr::Unary(u) => sub(&u.expr),
        Expr::Binary(b) => sub(&b.lhs).saturating_add(sub(&b.rhs)),
        Expr::Aggregate(a) => sub(&a.expr).saturating_add(a.param.as_deref().map_or(0, sub)),
        Expr::Call(c) => c
            .args
            .args
            .iter()
            .fold(0u64, |acc, a| acc.saturating_add(sub(a))),
        Expr::Subquery(sq) => {
            let inner_step = sq
                .step
                .map(|s| s.as_millis() as i64)
                .filter(|&s| s > 0)
                .unwrap_or(default_step);
            let offset = offset_ms(&sq.offset);
            let range = sq.range.as_millis() as i64;
            let (first, last) = match &sq.at {
                Some(_) => (last, last),
                None => (first, last),
            };
            let inner_first = first.saturating_sub(offset).saturating_sub(range);
            steps_cost(
                &sq.expr,
                inner_first,
                last.saturating_sub(offset),
                inner_step,
                default_step,
            )
        }
    }
}

fn selector_key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

fn collect_matchers(e: &Expr, out: &mut HashMap<usize, Vec<Matcher>>) -> Result<()> {
    match e {
        Expr::VectorSelector(vs) => {
            out.insert(selector_key(vs), to_matchers(vs)?);
        }
        Expr::MatrixSelector(ms) => {
            out.insert(selector_key(&ms.vs), to_matchers(&ms.vs)?);
        }
        Expr::Aggregate(a) => {
            collect_matchers(&a.expr, out)?;
            if let Some(p) = &a.param {
                collect_matchers(p, out)?;
            }
        }
        Expr::Unary(u) => collect_matchers(&u.expr, out)?,
        Expr::Binary(b) => {
            collect_matchers(&b.lhs, out)?;
            collect_matchers(&b.rhs, out)?;
        }
        Expr::Paren(p) => collect_matchers(&p.expr, out)?,
        Expr::Subquery(s) => collect_matchers(&s.expr, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                collect_matchers(a, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

/// Parses a query with promql-parser, mapping its message to [`Error::Parse`]; a query nested
/// deeper than [`crate::MAX_QUERY_DEPTH`] is refused before the parser sees it.
pub(crate) fn parse(query: &str) -> Result<Expr> {
    crate::depth::check_depth(query, crate::MAX_QUERY_DEPTH)?;
    parser::parse(query).map_err(Error::Parse)
}

fn type_display(t: parser::value::ValueType) -> &'static str {
    match t {
        parser::value::ValueType::Vector => "instant vector",
        parser::value::ValueType::Scalar => "scalar",
        parser::value::ValueType::Matrix => "range vector",
        parser::value::ValueType::String => "string",
    }
}

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
    fn samples(&self) -> usize {
        match self {
            Val::Scalar(v) => v.len(),
            Val::Vector(series) => series.iter().map(|s| s.points.len()).sum(),
            Val::Matrix(m) => m.series.iter().map(|s| s.samples.len()).sum(),
            Val::String(_) => 0,
        }
    }
}

/// Evaluation state of one query.
pub(crate) struct Evaluator<'a> {
    q: &'a dyn Queryable,
    prepared: &'a PreparedQuery,
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
}

impl<'a> Evaluator<'a> {
    fn new(
        q: &'a dyn Queryable,
        opts: &EngineOpts,
        prepared: &'a PreparedQuery,
        query_start: i64,
        query_end: i64,
    ) -> Self {
        Self {
            q,
            prepared,
            annotations: Annotations::default(),
            lookback: opts.lookback_delta.as_millis() as i64,
            deadline: Instant::now() + opts.timeout,
            cancel: None,
            max_samples: opts.max_samples,
            current: 0,
            peak: 0,
            default_step: (opts.default_subquery_step.as_millis() as i64).max(1),
            query_start,
            query_end,
        }
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
        let m = self.with_position(format!("PromQL warning: {msg}"), at);
        self.annotations.warn(m);
    }

    /// Adds `PromQL info: {msg}` about the expression `at`, as [`Evaluator::warn`].
    pub(crate) fn info(&mut self, msg: impl std::fmt::Display, at: &Expr) {
        let m = self.with_position(format!("PromQL info: {msg}"), at);
        self.annotations.info(m);
    }

    fn with_position(&self, msg: String, at: &Expr) -> String {
        match position(&self.prepared.query, at) {
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
        let val = self.eval_node(expr, steps)?;
        self.current = before;
        self.account(val.samples())?;
        Ok(val)
    }

    fn eval_node(&mut self, expr: &Expr, steps: Steps) -> Result<Val> {
        match expr {
            Expr::NumberLiteral(n) => {
                self.account(steps.len())?;
                Ok(Val::Scalar(vec![n.val; steps.len()]))
            }
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, steps),
            Expr::Unary(u) => match self.eval(&u.expr, steps)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(series) => {
                    let out = series
                        .into_iter()
                        .map(|s| StepSeries {
                            labels: s.labels.without_metric_name(),
                            points: s.points.into_iter().map(|(i, v)| (i, -v)).collect(),
                        })
                        .collect();
                    Ok(Val::Vector(merge_same_labels(out)?))
                }
                _ => Err(Error::exec(
                    "unary expression only allowed on expressions of type scalar or instant vector",
                )),
            },
            Expr::VectorSelector(vs) => {
                Ok(Val::Vector(self.eval_vector_selector(vs, steps, false)?))
            }
            Expr::MatrixSelector(ms) => {
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
                }))
            }
            Expr::Subquery(sq) => self.eval_subquery(sq, steps),
            Expr::Call(call) => functions::eval_call(self, call, steps),
            Expr::Aggregate(agg) => aggregate::eval(self, agg, steps),
            Expr::Binary(bin) => binary::eval(self, bin, steps),
            Expr::Extension(_) => Err(Error::Unsupported("extension expressions".into())),
        }
    }

    fn eval_subquery(&mut self, sq: &parser::SubqueryExpr, steps: Steps) -> Result<Val> {
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
            let mut points = Vec::new();
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
        let matchers = match self.prepared.matchers.get(&selector_key(vs)) {
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
    let mut seen = std::collections::HashSet::with_capacity(series.len());
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        if !seen.insert(&s.labels) {
            return Err(same_labelset());
        }
    }
    Ok(())
}

pub(crate) fn same_labelset() -> Error {
    Error::exec("vector cannot contain metrics with the same labelset")
}

/// Parses a series selector such as `up{job="apiserver"}` (the `match[]` parameter of the
/// series and label APIs) into matchers.
///
/// # Errors
///
/// [`Error::Parse`] when `selector` is not a vector selector.
pub fn parse_series_selector(selector: &str) -> Result<Vec<Matcher>> {
    match parse(selector)? {
        Expr::VectorSelector(vs) => to_matchers(&vs),
        _ => Err(Error::Parse(format!(
            "invalid series selector {selector:?}: expected a vector selector"
        ))),
    }
}
