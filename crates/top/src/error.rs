//! The errors of the view: the terminal failed, or a source could not be opened.

/// What can stop the view or keep a source from opening.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopError {
    /// The terminal could not be set up, read or drawn on.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// A file or directory of a source could not be created, opened or read.
    #[error("{what}: {source}")]
    File {
        /// What was being done, naming the path.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot listen for SIGHUP, SIGINT and SIGTERM: {0}")]
    Signal(std::io::Error),
    /// A flag's value is out of range: a sentence naming the flag.
    #[error("{0}")]
    Invalid(String),
    /// The frame could not be written to standard output.
    #[error("writing to standard output: {0}")]
    Output(std::io::Error),
    /// A source could not be opened: a sentence naming the input and what is wrong with it.
    #[error("{0}")]
    Source(String),
}

impl TopError {
    /// A closure wrapping an I/O error with `what` was being done.
    pub(crate) fn file(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TopError {
        let what = what.into();
        move |source| TopError::File { what, source }
    }
}
