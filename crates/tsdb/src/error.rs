//! The one error type of the store.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A block file could not be read or written by redb.
    #[error("block {path}: {message}")]
    Block {
        /// The block file.
        path: PathBuf,
        /// redb's reason.
        message: String,
    },
    /// Stored bytes do not decode.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// What was being decoded (a file, a chunk).
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// A sample is not newer than the last sample of its series.
    #[error("out-of-order sample for {series}: {t_ms} ms is not after {last_ms} ms")]
    OutOfOrder {
        /// The series, in Prometheus form.
        series: String,
        /// The rejected timestamp.
        t_ms: i64,
        /// The newest timestamp the series already has.
        last_ms: i64,
    },
    /// A sample falls before the time range the head still accepts (it was persisted already).
    #[error(
        "sample for {series} at {t_ms} ms is older than the head's lower bound {min_valid_ms} ms"
    )]
    OutOfBounds {
        /// The series, in Prometheus form.
        series: String,
        /// The rejected timestamp.
        t_ms: i64,
        /// The oldest timestamp the head accepts.
        min_valid_ms: i64,
    },
    /// A sample carries an empty label set.
    #[error("sample at {t_ms} ms has no labels")]
    EmptyLabels {
        /// The rejected timestamp.
        t_ms: i64,
    },
    /// A write (append, import, compaction) on a store opened read-only.
    #[error("{dir}: the store is open read-only")]
    ReadOnly {
        /// The store directory.
        dir: PathBuf,
    },
    /// An import file has a line the store cannot take.
    #[error("{}:{line}{}: {message}", path.display(), column.map(|c| format!(":{c}")).unwrap_or_default())]
    Import {
        /// The import file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// Byte column, from 1, when known.
        column: Option<usize>,
        /// What was wrong.
        message: String,
    },
    /// An export's time range ends before it starts.
    #[error("the start of the range ({mint} ms) is after its end ({maxt} ms)")]
    Range {
        /// Oldest sample time asked for.
        mint: i64,
        /// Newest sample time asked for.
        maxt: i64,
    },
    /// Selecting series failed.
    #[error(transparent)]
    Select(#[from] apilens_model::SelectError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn block(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Block {
            path: path.into(),
            message: err.to_string(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }
}
