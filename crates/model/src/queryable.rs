//! The storage interface the PromQL engine reads through.

use crate::{Labels, Matcher, Series};

/// Why a select failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// The store could not be read.
    #[error("storage: {0}")]
    Storage(String),
    /// A remote engine failed or answered with an error.
    #[error("remote {url}: {message}")]
    Remote {
        /// The endpoint that was asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The select would return more samples than allowed.
    #[error("query would load more than {limit} samples")]
    TooManySamples {
        /// The limit in force.
        limit: usize,
    },
}

/// What the caller will do with a select, so a store may fetch less (Prometheus's `SelectHints`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectHints {
    /// Step of a range query in milliseconds, 0 for instant queries.
    pub step_ms: i64,
    /// Range of the enclosing range selector in milliseconds, 0 for plain vector selectors.
    pub range_ms: i64,
    /// The most samples the caller can still hold: a store may stop reading and fail with
    /// [`SelectError::TooManySamples`] once it would return more, instead of loading them all
    /// first. `None` for no limit.
    pub sample_limit: Option<usize>,
}

/// A source of series: select by matchers over an inclusive time range `[mint, maxt]` in
/// milliseconds.
///
/// Implementations return every series whose labels satisfy all matchers and that has at least
/// one sample in the range, each with its samples in the range sorted by time, series sorted by
/// labels. Staleness markers are returned as stored; the engine interprets them.
pub trait Queryable: Send + Sync {
    /// Selects series and samples.
    ///
    /// # Errors
    ///
    /// [`SelectError`] when the store or remote engine fails.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        hints: SelectHints,
    ) -> Result<Vec<Series>, SelectError>;

    /// The label sets of matching series with samples in the range (the `/api/v1/series` view).
    ///
    /// # Errors
    ///
    /// [`SelectError`] when the store or remote engine fails.
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, SelectError> {
        Ok(self
            .select(matchers, mint, maxt, SelectHints::default())?
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }
}
