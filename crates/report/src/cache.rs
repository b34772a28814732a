//! Query results kept between reports, for a view that refreshes more often than its source
//! gets new data: a report at the same end as the previous one evaluates nothing again.

use apilens_promapi::{
    Answer, EngineLimits, PromApiError, QueryEngine, QueryPlan, QueryRequest, Selection,
};
use apilens_promql::{ExecControl, Value};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The answers of the last report over one source, by query and time.
///
/// A report read through [`QueryCache::source`] at the same end as the previous one (a source
/// whose newest data did not move: the simulator between two scrapes, a fixed `--until`) gets
/// the previous answers (failures are asked again); at another end, the answers are dropped and every query is evaluated.
#[derive(Debug, Default)]
pub struct QueryCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    end_ms: i64,
    answers: HashMap<Call, Value>,
}

/// A query as a report asks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Call {
    Instant {
        query: String,
        t_ms: i64,
    },
    Range {
        query: String,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

impl QueryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a report ending at `end_ms` over `inner`: the source to give `build_report`.
    pub fn source<'a>(&'a self, inner: &'a dyn QueryEngine, end_ms: i64) -> CachedSource<'a> {
        let mut state = self.lock();
        if state.end_ms != end_ms {
            state.answers.clear();
            state.end_ms = end_ms;
        }
        CachedSource { cache: self, inner }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A report's source reading through a [`QueryCache`].
pub struct CachedSource<'a> {
    cache: &'a QueryCache,
    inner: &'a dyn QueryEngine,
}

impl std::fmt::Debug for CachedSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSource")
            .field("inner", &self.inner.describe())
            .finish_non_exhaustive()
    }
}

impl QueryEngine for CachedSource<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn limits(&self) -> EngineLimits {
        self.inner.limits()
    }

    fn plan(&self, request: QueryRequest) -> Result<QueryPlan, PromApiError> {
        self.inner.plan(request)
    }

    fn execute(&self, plan: &QueryPlan, control: &ExecControl) -> Result<Answer, PromApiError> {
        self.inner.execute(plan, control)
    }

    /// The answer kept for `request`, or the inner engine's (then kept when it succeeded).
    fn evaluate(&self, request: &QueryRequest) -> Result<Value, PromApiError> {
        let call = match request {
            QueryRequest::Instant { query, time } => Call::Instant {
                query: query.clone(),
                t_ms: *time,
            },
            QueryRequest::Range {
                query,
                start,
                end,
                step,
            } => Call::Range {
                query: query.clone(),
                start_ms: *start,
                end_ms: *end,
                step_ms: *step,
            },
        };
        if let Some(value) = self.cache.lock().answers.get(&call) {
            return Ok(value.clone());
        }
        let value = self.inner.evaluate(request)?;
        self.cache.lock().answers.insert(call, value.clone());
        Ok(value)
    }

    fn body(&self, request: &QueryRequest) -> Result<String, PromApiError> {
        self.inner.body(request)
    }

    fn series(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.series(selection)
    }

    fn label_names(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.label_names(selection)
    }

    fn label_values(&self, name: &str, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.label_values(name, selection)
    }
}
