//! The one error type of the query API: the engine's, or a remote engine's.

/// Why a query, or a series or label request, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromApiError {
    /// The embedded engine refused or failed the query (parse, evaluation, limits, the store).
    #[error(transparent)]
    Query(#[from] apilens_promql::Error),
    /// A remote Prometheus-compatible engine answered with an error or could not be reached.
    #[error("remote {url}: {message}")]
    Remote {
        /// The endpoint that was asked.
        url: String,
        /// What went wrong, with the remote error text when there is one.
        message: String,
    },
    /// The bearer token of a remote engine cannot be read.
    #[error("{0}")]
    Credentials(String),
    /// The AWS settings of a signed remote engine cannot be used.
    #[error(transparent)]
    Aws(#[from] apilens_sigv4::Error),
}

impl PromApiError {
    /// The Prometheus API `errorType` (`bad_data`, `execution`, `timeout`, `internal`,
    /// `unavailable`): a remote engine that cannot answer is `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            PromApiError::Query(e) => e.kind(),
            PromApiError::Remote { .. } | PromApiError::Credentials(_) | PromApiError::Aws(_) => {
                "unavailable"
            }
        }
    }

    /// The JSON error body and HTTP status Prometheus answers with for this error (503 for a
    /// remote engine that cannot answer).
    pub fn api_error(&self) -> (u16, String) {
        apilens_promql::api_error_body(self.kind(), &self.to_string())
    }
}
