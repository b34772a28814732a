//! The one error type of the crate.

/// Why talking to an API server failed. Every message names the kubeconfig, API server or path
/// involved and never includes a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// The kubeconfig could not be read or did not name a usable context.
    #[error("cannot load kubeconfig {source_name}: {source}")]
    Kubeconfig {
        /// The file or the default search (`KUBECONFIG`, `~/.kube/config`).
        source_name: String,
        /// What kube-rs reported.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither a kubeconfig nor an in-cluster service account was found.
    #[error(
        "no Kubernetes configuration found: {reason}; pass --kubeconfig PATH, set KUBECONFIG, or run inside a pod with a service account"
    )]
    NoConfig {
        /// What was tried.
        reason: String,
    },
    /// A client could not be built (bad CA data, client certificate, exec plugin settings).
    #[error("cannot build a client for {server}: {source}")]
    Client {
        /// The API server URL.
        server: String,
        /// What kube-rs reported.
        #[source]
        source: kube::Error,
    },
    /// An endpoint address could not be turned into a URL.
    #[error("invalid API server address {address}: {reason}")]
    Address {
        /// The address as discovered.
        address: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The request failed before a response arrived (connection, TLS, authentication plugin).
    #[error("GET {path} from {server} failed: {source}")]
    Request {
        /// The API server, by name.
        server: String,
        /// The request path.
        path: String,
        /// What kube-rs reported.
        #[source]
        source: kube::Error,
    },
    /// The body stream broke off.
    #[error("GET {path} from {server}: reading the body failed: {reason}")]
    Body {
        /// The API server, by name.
        server: String,
        /// The request path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The body exceeded the caller's limit.
    #[error("GET {path} from {server}: body larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The API server, by name.
        server: String,
        /// The request path.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The API server answered with an error status.
    #[error("GET {path} from {server}: HTTP {status}: {message}")]
    Status {
        /// The API server, by name.
        server: String,
        /// The request path.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The server's message, or a hint for authentication failures.
        message: String,
    },
    /// A JSON answer did not have the expected shape.
    #[error("GET {path} from {server}: cannot decode the answer: {source}")]
    Decode {
        /// The API server, by name.
        server: String,
        /// The request path.
        path: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },
    /// Neither EndpointSlices nor Endpoints of the `kubernetes` service could be read.
    #[error("cannot discover the API server replicas of {server}: {reason}")]
    Discovery {
        /// The API server, by name.
        server: String,
        /// Both failures.
        reason: String,
    },
}
