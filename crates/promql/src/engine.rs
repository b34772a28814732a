//! The engine: options, prepare (parse, compile matchers) and exec, and the dispatch of each
//! node of the tree to the evaluator (selectors, subqueries), the operators and the functions.
//!
//! Follows Prometheus v3.5.0 `promql/engine.go`. Every expression is evaluated over all steps of
//! the query at once (Prometheus's `rangeEval`): selectors load their series once for the whole
//! range, and operators that work on whole vectors (binary operators, aggregations, some
//! functions) are computed step by step over per-series signatures that are computed once.

use crate::error::{Error, Result};
use crate::evaluator::{Evaluator, Limits, offset_ms, selector_key, to_matchers};
use crate::memo::Memo;
use crate::step::{StepSeries, Steps, Val, merge_same_labels};
use crate::value::{InstantSample, QueryResult, Value};
use crate::{aggregate, binary, functions};
use apilens_model::{Labels, Matcher, Queryable, Sample, Series};
use promql_parser::parser::{self, Expr};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

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
    memo: Option<Arc<Memo>>,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(opts: EngineOpts) -> Self {
        Self { opts, memo: None }
    }

    /// An engine that keeps the value of every aggregation it evaluates and answers the same
    /// aggregation over the same store and steps from memory in its later queries (the
    /// quantiles of one histogram share their `sum by (le, ...)`). The answers are those of
    /// [`Engine::new`], warnings and infos included, as long as the store does not change
    /// while the engine lives: meant for the queries of one report over one instant of a
    /// store, not for a server.
    pub fn remembering(opts: EngineOpts) -> Self {
        Self {
            opts,
            memo: Some(Arc::default()),
        }
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
        let now = Instant::now();
        let mut deadline = now + self.opts.timeout;
        if let Some(t) = ctl.timeout {
            deadline = deadline.min(now + t);
        }
        let limits = Limits {
            lookback: self.opts.lookback_delta.as_millis() as i64,
            deadline,
            cancel: ctl.cancel.clone(),
            max_samples: ctl
                .max_samples
                .map_or(self.opts.max_samples, |m| self.opts.max_samples.min(m)),
            default_step: (self.opts.default_subquery_step.as_millis() as i64).max(1),
        };
        let mut ev = Evaluator::new(
            q,
            &p.query,
            &p.matchers,
            eval_node,
            limits,
            (steps.start, steps.end),
            self.memo.as_deref(),
        );
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

/// The engine's [`EvalNode`]: evaluates one node over all steps, sending operators and
/// functions to their modules.
fn eval_node(ev: &mut Evaluator<'_>, expr: &Expr, steps: Steps) -> Result<Val> {
    match expr {
        Expr::NumberLiteral(n) => {
            ev.account(steps.len())?;
            Ok(Val::Scalar(vec![n.val; steps.len()]))
        }
        Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
        Expr::Paren(p) => ev.eval(&p.expr, steps),
        Expr::Unary(u) => match ev.eval(&u.expr, steps)? {
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
        Expr::VectorSelector(vs) => Ok(Val::Vector(ev.eval_vector_selector(vs, steps, false)?)),
        Expr::MatrixSelector(ms) => ev.eval_matrix_selector(ms, steps),
        Expr::Subquery(sq) => ev.eval_subquery(sq, steps),
        Expr::Call(call) => functions::eval_call(ev, call, steps),
        Expr::Aggregate(agg) => ev.remembered(expr, steps, |ev| aggregate::eval(ev, agg, steps)),
        Expr::Binary(bin) => binary::eval(ev, bin, steps),
        Expr::Extension(_) => Err(Error::Unsupported("extension expressions".into())),
    }
}
