//! The one error type of the audit crate.

use std::path::PathBuf;

/// Everything that stops an audit-log run.
///
/// Malformed lines are not errors: they are counted and reported beside the result (see
/// [`crate::Malformed`]). An error here means an input could not be read at all or an option is
/// invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An input file or directory could not be opened or read.
    #[error("{path}: {error}")]
    Io {
        /// The input that failed.
        path: PathBuf,
        /// The underlying I/O error (part of the message, so not repeated as a source).
        error: std::io::Error,
    },
    /// A filter or option value is invalid.
    #[error("invalid {option} {value:?}: {why}")]
    InvalidOption {
        /// The option name, such as `--since`.
        option: &'static str,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        why: String,
    },
    /// A line or document is not an audit record (see [`crate::decode_record`]).
    #[error("not an audit record: {why}")]
    Record {
        /// What is wrong with it.
        why: String,
    },
    /// No input was named.
    #[error("no input files (name files, directories, or - for stdin)")]
    NoInput,
    /// A pretty-printed document, read whole, is larger than the line limit
    /// (`ScanOpts::max_line_bytes`).
    #[error(
        "{path}: multi-line JSON document larger than the line limit of {limit} bytes (write one event per line instead)"
    )]
    DocumentTooLarge {
        /// The input that failed.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
}
