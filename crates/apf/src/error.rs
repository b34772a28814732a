//! The one error type of apf.

/// Everything apf can reject: object files and debug dumps it cannot read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApfError {
    /// A document that is not valid YAML or JSON, or an APF object with a malformed field.
    #[error("{source_name}: document {document}: {why}")]
    Yaml {
        /// The file (or other source) read.
        source_name: String,
        /// The document's index, from 1.
        document: usize,
        /// What is wrong.
        why: String,
    },
    /// A document that is not a FlowSchema or PriorityLevelConfiguration (nor a list of them).
    #[error(
        "{source_name}: document {document} is a {kind}, not a FlowSchema or PriorityLevelConfiguration"
    )]
    NotApf {
        /// The file (or other source) read.
        source_name: String,
        /// The document's index, from 1.
        document: usize,
        /// Its `apiVersion`/`kind`, or a description when it has none.
        kind: String,
    },
    /// A source with no APF object at all.
    #[error("{source_name}: no FlowSchema or PriorityLevelConfiguration found")]
    Empty {
        /// The file (or other source) read.
        source_name: String,
    },
    /// A debug dump that cannot be read.
    #[error("{source_name}:{line}: {why}")]
    Dump {
        /// The file (or other source) read.
        source_name: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A server concurrency limit that cannot be inferred from what a replica reports.
    #[error("{source_name}: {why}")]
    ServerLimit {
        /// The scrape read.
        source_name: String,
        /// Why no limit follows from it.
        why: String,
    },
    /// A request to classify that is not one the API server could receive.
    #[error("{0}")]
    Request(String),
    /// A result that cannot be written as JSON.
    #[error("cannot write {what} as JSON: {why}")]
    Json {
        /// What was being written.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
}
