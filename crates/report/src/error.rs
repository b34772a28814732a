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
    /// A bound of the range is neither a time nor a duration.
    #[error(
        "{option} {text}: cannot parse {text:?}: expected RFC 3339, Unix seconds or a duration such as 30m"
    )]
    Time {
        /// The option (`--since`, `--until`).
        option: &'static str,
        /// The text given.
        text: String,
    },
}
