//! Query results kept between reports, for a view that refreshes more often than its source
//! gets new data: a report at the same end as the previous one evaluates nothing again.

use crate::QuerySource;
use apilens_promql::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The answers of the last report over one source, by query and time.
///
/// A report read through [`QueryCache::source`] at the same end as the previous one (a source
/// whose newest data did not move: the simulator between two scrapes, a fixed `--until`) gets
/// the previous answers; at another end, the answers are dropped and every query is evaluated.
#[derive(Debug, Default)]
pub struct QueryCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    end_ms: i64,
    answers: HashMap<Call, Result<Value, String>>,
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
    pub fn source<'a>(&'a self, inner: &'a dyn QuerySource, end_ms: i64) -> CachedSource<'a> {
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
    inner: &'a dyn QuerySource,
}

impl std::fmt::Debug for CachedSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSource")
            .field("inner", &self.inner.describe())
            .finish_non_exhaustive()
    }
}

impl CachedSource<'_> {
    /// The answer kept for `call`, or `evaluate`'s (then kept).
    fn answer(
        &self,
        call: Call,
        evaluate: impl FnOnce() -> Result<Value, String>,
    ) -> Result<Value, String> {
        if let Some(answer) = self.cache.lock().answers.get(&call) {
            return answer.clone();
        }
        let answer = evaluate();
        self.cache.lock().answers.insert(call, answer.clone());
        answer
    }
}

impl QuerySource for CachedSource<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn instant(&self, query: &str, t_ms: i64) -> Result<Value, String> {
        let call = Call::Instant {
            query: query.to_owned(),
            t_ms,
        };
        self.answer(call, || self.inner.instant(query, t_ms))
    }

    fn range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, String> {
        let call = Call::Range {
            query: query.to_owned(),
            start_ms,
            end_ms,
            step_ms,
        };
        self.answer(call, || self.inner.range(query, start_ms, end_ms, step_ms))
    }
}
