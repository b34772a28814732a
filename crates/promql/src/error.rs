//! The one error type of the PromQL engine.

use apilens_model::SelectError;

/// Why a query failed.
///
/// Each variant maps to the Prometheus HTTP API error type that [`Error::kind`] names, so the web
/// layer answers with the same `errorType` and status code Prometheus does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query string does not parse.
    #[error("parse error: {0}")]
    Parse(String),
    /// The query parses but cannot be evaluated (wrong types, bad arguments, label collisions).
    #[error("{0}")]
    Execution(String),
    /// The query uses a construct this engine does not evaluate (native histograms and the
    /// experimental functions); it fails instead of answering wrongly.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was stopped before it finished (its client went away).
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// The server is too busy to run the query now: every query thread is taken and the
    /// queue is full, or the query waited in the queue past its limit.
    #[error("{0}")]
    Busy(String),
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The store or the remote engine failed.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// A request parameter is invalid (time, duration, step).
    #[error("{0}")]
    BadParam(String),
}

impl Error {
    /// The Prometheus API `errorType` for this error (`bad_data`, `execution`, `timeout`,
    /// `internal`, `unavailable`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Parse(_) | Error::BadParam(_) => "bad_data",
            Error::Execution(_) | Error::Unsupported(_) | Error::TooManySamples(_) => "execution",
            Error::Timeout(_) => "timeout",
            Error::Canceled(_) => "canceled",
            Error::Busy(_) => "unavailable",
            Error::Select(SelectError::TooManySamples { .. }) => "execution",
            Error::Select(_) => "internal",
        }
    }

    pub(crate) fn exec(msg: impl Into<String>) -> Self {
        Error::Execution(msg.into())
    }
}

/// Shorthand used across the crate.
pub(crate) type Result<T> = std::result::Result<T, Error>;
