//! The one error type of the report.

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The query source failed on the first query, so no panel could be read.
    #[error("{source_name}: {message}")]
    Source {
        /// The store or engine that was asked.
        source_name: String,
        /// What went wrong.
        message: String,
    },
    /// The options are inconsistent (an empty or negative range).
    #[error("invalid report options: {0}")]
    Options(String),
}
