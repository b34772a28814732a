//! What keeps a server or the demo from starting or running.

use std::path::PathBuf;

/// Why a server or the demo stopped: every message names what it was doing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// An option is out of range: a sentence naming the flag.
    #[error("{0}")]
    Invalid(String),
    /// The store could not be opened.
    #[error("cannot open the store in {dir}")]
    Store {
        /// The store directory.
        dir: PathBuf,
        /// Why.
        source: apilens_tsdb::Error,
    },
    /// The remote writer could not start.
    #[error("cannot start remote write to {url}")]
    RemoteWrite {
        /// The receiver, without its query.
        url: String,
        /// Why.
        source: apilens_remotewrite::Error,
    },
    /// A file or directory could not be created or read.
    #[error("{what}: {source}")]
    File {
        /// What was being done, naming the path.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The simulated cluster could not start or be scraped.
    #[error(transparent)]
    Scrape(#[from] apilens_scrape::ScrapeError),
    /// The simulator refused its configuration.
    #[error(transparent)]
    Sim(#[from] apilens_sim::SimError),
    /// The report could not be read from the store.
    #[error(transparent)]
    Report(#[from] apilens_report::ReportError),
    /// The doctor could not read the audit log.
    #[error(transparent)]
    Doctor(#[from] apilens_doctor::DoctorError),
    /// A blocking task (store, report, doctor) panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}
