//! The one seam every query goes through: [`QueryEngine`], answered by the embedded engine
//! over a store ([`LocalEngine`]) or by a remote Prometheus-compatible engine
//! ([`RemoteEngine`]).

use crate::bodies::{label_names_body, label_values_body, series_body};
use crate::error::PromApiError;
use crate::remote::{Answer, RemoteClient, secs};
use apilens_model::{Labels, MatchOp, Matcher, Queryable, ReadCache};
use apilens_promql::{
    Engine, ExecControl, PreparedQuery, Value, api_response_annotated, parse_series_selector,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// An instant or a range query, as the API receives it (times and step in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryRequest {
    /// `/api/v1/query`: the query at one time.
    Instant {
        /// The PromQL text.
        query: String,
        /// The evaluation time.
        time: i64,
    },
    /// `/api/v1/query_range`: the query at every step from start to end.
    Range {
        /// The PromQL text.
        query: String,
        /// The first evaluation time.
        start: i64,
        /// The last evaluation time (inclusive when on a step).
        end: i64,
        /// The step.
        step: i64,
    },
}

impl QueryRequest {
    /// The PromQL text.
    pub fn text(&self) -> &str {
        match self {
            QueryRequest::Instant { query, .. } | QueryRequest::Range { query, .. } => query,
        }
    }

    /// The API path that answers this request.
    pub fn path(&self) -> &'static str {
        match self {
            QueryRequest::Instant { .. } => "/api/v1/query",
            QueryRequest::Range { .. } => "/api/v1/query_range",
        }
    }
}

/// The `match[]` selectors and time range of `/api/v1/series` and the label APIs; no selector
/// means every series, no time means all time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Series selectors such as `up{job="apiserver"}`.
    pub selectors: Vec<String>,
    /// The start of the range.
    pub start: Option<i64>,
    /// The end of the range.
    pub end: Option<i64>,
}

/// A query checked and ready to run: parsed and compiled for the embedded engine, as it came
/// for a remote one.
#[derive(Debug)]
pub struct QueryPlan {
    request: QueryRequest,
    prepared: Option<PreparedQuery>,
}

impl QueryPlan {
    /// The request planned.
    pub fn request(&self) -> &QueryRequest {
        &self.request
    }

    /// The steps evaluated per series, when the engine can tell before running the query (the
    /// embedded engine can, a remote one cannot).
    pub fn steps_per_series(&self) -> Option<u64> {
        self.prepared.as_ref().map(PreparedQuery::steps_per_series)
    }
}

/// What an engine allows one query: the cap on a request's own `timeout`, and on the samples
/// it holds (`None` when a remote engine keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// The longest a query may run.
    pub timeout: Duration,
    /// The most samples a query may hold at once.
    pub max_samples: Option<usize>,
}

/// Something that answers the Prometheus query API: instant and range queries, series, label
/// names and values.
///
/// Every reader of metrics goes through one: the report, `query`, the dashboard's and
/// `serve`'s API, the doctor's metrics and `top`. Local evaluation must run on a thread with
/// [`apilens_promql::QUERY_STACK_SIZE`] of stack (the web pool's threads, or inside
/// [`apilens_promql::with_query_stack`]); a remote engine blocks on the network, so no method
/// may be called on an async worker.
pub trait QueryEngine: Send + Sync {
    /// What the engine is, for headers and errors ("store ./data", a URL).
    fn describe(&self) -> String;

    /// The limits a request's own parameters cannot exceed.
    fn limits(&self) -> EngineLimits;

    /// Checks a query before it runs: parses and compiles it for the embedded engine.
    ///
    /// # Errors
    ///
    /// [`PromApiError::Query`] for a query that does not parse.
    fn plan(&self, request: QueryRequest) -> Result<QueryPlan, PromApiError>;

    /// Runs a planned query within `control` and answers with the API body: the result with its
    /// warnings and infos, or a remote engine's error body as it came with its status.
    ///
    /// # Errors
    ///
    /// The engine's error (to be answered with [`PromApiError::api_error`]).
    fn execute(&self, plan: &QueryPlan, control: &ExecControl) -> Result<Answer, PromApiError>;

    /// Evaluates a query into a [`Value`].
    ///
    /// # Errors
    ///
    /// The engine's error; a remote engine's error answer becomes [`PromApiError::Remote`].
    fn evaluate(&self, request: &QueryRequest) -> Result<Value, PromApiError>;

    /// The body of a successful answer.
    ///
    /// # Errors
    ///
    /// As [`QueryEngine::evaluate`].
    fn body(&self, request: &QueryRequest) -> Result<String, PromApiError>;

    /// `/api/v1/series`: the label sets of the selected series.
    ///
    /// # Errors
    ///
    /// A selector that does not parse, a store that fails, a remote engine that cannot answer.
    fn series(&self, selection: &Selection) -> Result<Answer, PromApiError>;

    /// `/api/v1/labels`: the label names of the selected series.
    ///
    /// # Errors
    ///
    /// As [`QueryEngine::series`].
    fn label_names(&self, selection: &Selection) -> Result<Answer, PromApiError>;

    /// `/api/v1/label/<name>/values`: the values of `name` across the selected series.
    ///
    /// # Errors
    ///
    /// As [`QueryEngine::series`].
    fn label_values(&self, name: &str, selection: &Selection) -> Result<Answer, PromApiError>;

    /// Evaluates `query` at `time`.
    ///
    /// # Errors
    ///
    /// As [`QueryEngine::evaluate`].
    fn instant(&self, query: &str, time: i64) -> Result<Value, PromApiError> {
        self.evaluate(&QueryRequest::Instant {
            query: query.to_owned(),
            time,
        })
    }

    /// Evaluates `query` from `start` to `end` every `step`.
    ///
    /// # Errors
    ///
    /// As [`QueryEngine::evaluate`].
    fn range(&self, query: &str, start: i64, end: i64, step: i64) -> Result<Value, PromApiError> {
        self.evaluate(&QueryRequest::Range {
            query: query.to_owned(),
            start,
            end,
            step,
        })
    }
}

/// The store an engine reads: borrowed for one command, read through a cache for the queries
/// of one report, or shared with a server's threads.
enum Store<'a> {
    Borrowed(&'a dyn Queryable),
    Cached(ReadCache<'a>),
    Shared(Arc<dyn Queryable>),
}

impl Store<'_> {
    fn get(&self) -> &dyn Queryable {
        match self {
            Store::Borrowed(q) => *q,
            Store::Cached(q) => q,
            Store::Shared(q) => q.as_ref(),
        }
    }
}

/// The embedded engine over any [`Queryable`] (the store, a test's memory series).
pub struct LocalEngine<'a> {
    engine: Engine,
    store: Store<'a>,
    name: String,
}

impl<'a> LocalEngine<'a> {
    /// Queries `queryable` with `engine`; `name` says what it is ("store ./data").
    pub fn new(engine: Engine, queryable: &'a dyn Queryable, name: &str) -> Self {
        Self {
            engine,
            store: Store::Borrowed(queryable),
            name: name.to_owned(),
        }
    }

    /// The engine of one report's queries over `queryable` as it is now: each selector's series
    /// are read once (model's `ReadCache`) and each aggregation is evaluated once
    /// (`Engine::remembering`), with the default options. The store must not change while it
    /// lives: for one refresh or one command, never for a server.
    pub fn snapshot(queryable: &'a dyn Queryable, name: &str) -> Self {
        Self {
            engine: Engine::remembering(apilens_promql::EngineOpts::default()),
            store: Store::Cached(ReadCache::new(queryable)),
            name: name.to_owned(),
        }
    }
}

impl LocalEngine<'static> {
    /// Queries a store shared with other threads (a server's).
    pub fn shared(engine: Engine, queryable: Arc<dyn Queryable>, name: &str) -> Self {
        Self {
            engine,
            store: Store::Shared(queryable),
            name: name.to_owned(),
        }
    }
}

impl std::fmt::Debug for LocalEngine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEngine")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LocalEngine<'_> {
    fn prepare(&self, request: &QueryRequest) -> Result<PreparedQuery, PromApiError> {
        Ok(match request {
            QueryRequest::Instant { query, time } => self.engine.prepare_instant(query, *time)?,
            QueryRequest::Range {
                query,
                start,
                end,
                step,
            } => self.engine.prepare_range(query, *start, *end, *step)?,
        })
    }

    /// The label sets of every series a selector of `selection` matches.
    fn select_labels(&self, selection: &Selection) -> Result<BTreeSet<Labels>, PromApiError> {
        let sets = selection
            .selectors
            .iter()
            .map(|s| parse_series_selector(s))
            .collect::<Result<Vec<_>, _>>()?;
        let all = [vec![
            Matcher::new(MatchOp::RegexMatch, apilens_model::METRIC_NAME, ".+")
                .map_err(|e| apilens_promql::Error::BadParam(e.to_string()))?,
        ]];
        let sets = if sets.is_empty() { &all[..] } else { &sets };
        let start = selection.start.unwrap_or(i64::MIN / 2);
        let end = selection.end.unwrap_or(i64::MAX / 2);
        let mut out = BTreeSet::new();
        for m in sets {
            out.extend(
                self.store
                    .get()
                    .series(m, start, end)
                    .map_err(apilens_promql::Error::from)?,
            );
        }
        Ok(out)
    }
}

impl QueryEngine for LocalEngine<'_> {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn limits(&self) -> EngineLimits {
        EngineLimits {
            timeout: self.engine.opts().timeout,
            max_samples: Some(self.engine.opts().max_samples),
        }
    }

    fn plan(&self, request: QueryRequest) -> Result<QueryPlan, PromApiError> {
        let prepared = self.prepare(&request)?;
        Ok(QueryPlan {
            request,
            prepared: Some(prepared),
        })
    }

    fn execute(&self, plan: &QueryPlan, control: &ExecControl) -> Result<Answer, PromApiError> {
        let result = match &plan.prepared {
            Some(prepared) => self.engine.exec_with(self.store.get(), prepared, control)?,
            None => {
                let prepared = self.prepare(&plan.request)?;
                self.engine
                    .exec_with(self.store.get(), &prepared, control)?
            }
        };
        Ok(Answer {
            status: 200,
            body: api_response_annotated(&result),
        })
    }

    fn evaluate(&self, request: &QueryRequest) -> Result<Value, PromApiError> {
        let prepared = self.prepare(request)?;
        Ok(self
            .engine
            .exec_with(self.store.get(), &prepared, &ExecControl::default())?
            .value)
    }

    fn body(&self, request: &QueryRequest) -> Result<String, PromApiError> {
        let plan = self.plan(request.clone())?;
        Ok(self.execute(&plan, &ExecControl::default())?.body)
    }

    fn series(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        Ok(ok(series_body(&self.select_labels(selection)?)))
    }

    fn label_names(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        Ok(ok(label_names_body(&self.select_labels(selection)?)))
    }

    fn label_values(&self, name: &str, selection: &Selection) -> Result<Answer, PromApiError> {
        Ok(ok(label_values_body(&self.select_labels(selection)?, name)))
    }
}

fn ok(body: String) -> Answer {
    Answer { status: 200, body }
}

/// A remote Prometheus-compatible engine: every request is sent unchanged, and its answer,
/// Prometheus error bodies included, comes back as it is.
#[derive(Debug, Clone)]
pub struct RemoteEngine {
    client: RemoteClient,
}

impl RemoteEngine {
    /// Answers through `client`.
    pub fn new(client: RemoteClient) -> Self {
        Self { client }
    }

    /// The client.
    pub fn client(&self) -> &RemoteClient {
        &self.client
    }

    fn selection_form(selection: &Selection) -> Vec<(&'static str, String)> {
        let mut form: Vec<(&str, String)> = selection
            .selectors
            .iter()
            .map(|s| ("match[]", s.clone()))
            .collect();
        if let Some(start) = selection.start {
            form.push(("start", secs(start)));
        }
        if let Some(end) = selection.end {
            form.push(("end", secs(end)));
        }
        form
    }
}

impl QueryEngine for RemoteEngine {
    fn describe(&self) -> String {
        self.client.base().to_owned()
    }

    fn limits(&self) -> EngineLimits {
        EngineLimits {
            timeout: self.client.timeout(),
            max_samples: None,
        }
    }

    fn plan(&self, request: QueryRequest) -> Result<QueryPlan, PromApiError> {
        Ok(QueryPlan {
            request,
            prepared: None,
        })
    }

    fn execute(&self, plan: &QueryPlan, _control: &ExecControl) -> Result<Answer, PromApiError> {
        match &plan.request {
            QueryRequest::Instant { query, time } => self.client.relay_query(query, *time),
            QueryRequest::Range {
                query,
                start,
                end,
                step,
            } => self.client.relay_query_range(query, *start, *end, *step),
        }
    }

    fn evaluate(&self, request: &QueryRequest) -> Result<Value, PromApiError> {
        match request {
            QueryRequest::Instant { query, time } => self.client.query(query, *time),
            QueryRequest::Range {
                query,
                start,
                end,
                step,
            } => self.client.query_range(query, *start, *end, *step),
        }
    }

    fn body(&self, request: &QueryRequest) -> Result<String, PromApiError> {
        match request {
            QueryRequest::Instant { query, time } => self.client.query_raw(query, *time),
            QueryRequest::Range {
                query,
                start,
                end,
                step,
            } => self.client.query_range_raw(query, *start, *end, *step),
        }
    }

    fn series(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.client
            .relay("/api/v1/series", &Self::selection_form(selection))
    }

    fn label_names(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.client
            .relay("/api/v1/labels", &Self::selection_form(selection))
    }

    fn label_values(&self, name: &str, selection: &Selection) -> Result<Answer, PromApiError> {
        // The name is a path segment: only a valid label name is sent, anything else is
        // answered as Prometheus answers it.
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(
                apilens_promql::Error::BadParam(format!("invalid label name: {name:?}")).into(),
            );
        }
        self.client.relay_get(
            &format!("/api/v1/label/{name}/values"),
            &Self::selection_form(selection),
        )
    }
}
