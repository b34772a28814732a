//! The one error type of the crate.

/// Why a scrape (or reading a recorded bundle) failed. Every message starts with the target it
/// concerns and never includes a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// A target specification could not be used (bad URL, unreadable CA or key file).
    #[error("target {target}: {reason}")]
    Config {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request failed before or while the answer arrived (connection refused, TLS, reset).
    #[error("target {target}: request failed: {reason}")]
    Request {
        /// The target.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// No complete answer within the scrape timeout.
    #[error("target {target}: no complete answer within the timeout of {timeout_ms} ms")]
    Timeout {
        /// The target.
        target: String,
        /// The timeout in milliseconds.
        timeout_ms: u64,
    },
    /// The (decompressed) body passed the size cap.
    #[error("target {target}: body larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The target.
        target: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The target throttled the scraper with HTTP 429.
    #[error("target {target}: HTTP 429 too many requests{}", retry_after_ms.map(|ms| format!(", retry after {ms} ms")).unwrap_or_default())]
    TooManyRequests {
        /// The target.
        target: String,
        /// How long the target asked to wait, from `Retry-After`.
        retry_after_ms: Option<u64>,
    },
    /// The target answered with another error status.
    #[error("target {target}: HTTP {status}: {message}")]
    Status {
        /// The target.
        target: String,
        /// The status code.
        status: u16,
        /// The start of the body, or a hint for 401/403.
        message: String,
    },
    /// The body is not a valid exposition; the whole scrape is discarded, as Prometheus does.
    #[error("target {target}: invalid exposition at {position}: {message}")]
    Parse {
        /// The target.
        target: String,
        /// `line:column` of the first error.
        position: String,
        /// What the parser expected and found.
        message: String,
    },
    /// More samples than the per-target cap.
    #[error("target {target}: {count} samples exceed the limit of {limit} per scrape")]
    TooManySamples {
        /// The target.
        target: String,
        /// Samples in the body.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// The store refused the batch.
    #[error("target {target}: storing the scrape failed: {reason}")]
    Store {
        /// The target.
        target: String,
        /// What the store reported.
        reason: String,
    },
    /// A one-shot input (a file, standard input or a URL) could not be opened or read.
    #[error("{name}: {reason}")]
    Input {
        /// The path, `<stdin>` or the URL.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The in-process simulator refused its configuration or failed to advance or render.
    #[error("simulator: {0}")]
    Simulator(String),
    /// A recorded bundle or replay file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file or directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A support bundle could not be recorded as asked.
    #[error("{0}")]
    Record(String),
    /// The kubeconfig could not be used to reach the cluster.
    #[error(transparent)]
    Cluster(#[from] apilens_kube::KubeError),
    /// No target, no etcd endpoint and no kubeconfig: nothing to scrape.
    #[error("{}", crate::sources::NOTHING_TO_SCRAPE)]
    NothingToScrape,
}

impl ScrapeError {
    /// A short, bounded reason code for metrics and summaries (`timeout`, `http_429`, `parse`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ScrapeError::Config { .. } => "config",
            ScrapeError::Request { .. } => "request",
            ScrapeError::Timeout { .. } => "timeout",
            ScrapeError::BodyTooLarge { .. } => "body_too_large",
            ScrapeError::TooManyRequests { .. } => "http_429",
            ScrapeError::Status { .. } => "http_status",
            ScrapeError::Parse { .. } => "parse",
            ScrapeError::TooManySamples { .. } => "sample_limit",
            ScrapeError::Store { .. } => "store",
            ScrapeError::Input { .. } => "input",
            ScrapeError::File { .. } => "file",
            ScrapeError::Record(_) => "record",
            ScrapeError::Cluster(_) => "cluster",
            ScrapeError::NothingToScrape => "no_targets",
            ScrapeError::Simulator(_) => "simulator",
        }
    }
}
