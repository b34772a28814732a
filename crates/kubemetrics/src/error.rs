//! The one error type of the kubemetrics crate.

/// Why a scrape could not be inspected. Every message starts with the input's name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// A line that is not the text format, with the parser's `LINE:COLUMN: WHAT`.
    #[error("{name}:{error}")]
    Syntax {
        /// The input's name.
        name: String,
        /// The parser's error.
        error: apilens_textparse::ParseError,
    },
    /// A line that is not the text format where a scrape was expected whole.
    #[error("{name}: not a Prometheus text scrape: {error}")]
    NotAScrape {
        /// The input's name.
        name: String,
        /// The parser's error.
        error: apilens_textparse::ParseError,
    },
    /// The input is plainly something else (an HTML page, a JSON document).
    #[error("{name}: not the Prometheus text format: {what}")]
    Foreign {
        /// The input's name.
        name: String,
        /// What it is instead.
        what: String,
    },
    /// Reading the input failed.
    #[error("{name}: {error}")]
    Read {
        /// The input's name.
        name: String,
        /// What the reader said.
        error: apilens_textparse::StreamError,
    },
    /// Nothing was read (as when the command feeding a pipe failed).
    #[error("{name}: empty input (0 bytes): nothing to inspect")]
    Empty {
        /// The input's name.
        name: String,
    },
    /// Bytes were read but not a single sample.
    #[error("{name}: no samples in {bytes} bytes: nothing to inspect")]
    NoSamples {
        /// The input's name.
        name: String,
        /// How many bytes were read.
        bytes: u64,
    },
    /// A summary that cannot be written as JSON.
    #[error("{name}: cannot write the summary as JSON: {why}")]
    Json {
        /// The input's name.
        name: String,
        /// What is wrong.
        why: String,
    },
}
