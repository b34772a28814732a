//! The values of aggregations an engine has evaluated, kept for its later queries over the same
//! store: the queries of one report aggregate the same series the same way many times (the
//! three quantiles of one histogram, a panel's table and its time series).

use crate::step::{Steps, Val};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Everything an aggregation's value depends on besides the store's data: the store, the
/// expression, the steps it is evaluated at, the lookback and the query's own range (for
/// `@ start()` and `@ end()`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MemoKey {
    pub(crate) store: usize,
    pub(crate) expr: String,
    pub(crate) steps: (i64, i64, i64),
    pub(crate) lookback: i64,
    pub(crate) query: (i64, i64),
}

impl MemoKey {
    /// The key of `expr` evaluated at `steps`.
    pub(crate) fn new(
        store: usize,
        expr: String,
        steps: Steps,
        lookback: i64,
        query: (i64, i64),
    ) -> Self {
        MemoKey {
            store,
            expr,
            steps: (steps.start, steps.end, steps.step),
            lookback,
            query,
        }
    }
}

/// Values by [`MemoKey`], shared by the threads of one engine.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    values: Mutex<HashMap<MemoKey, Val>>,
}

impl Memo {
    /// The value kept for `key`.
    pub(crate) fn get(&self, key: &MemoKey) -> Option<Val> {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Keeps `value` for `key`.
    pub(crate) fn put(&self, key: MemoKey, value: Val) {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, value);
    }
}
