//! The error of this crate.

/// What went wrong while finding credentials or signing. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credential source is configured.
    #[error(
        "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, AWS_CONTAINER_CREDENTIALS_FULL_URI, or run on EC2 with an instance profile"
    )]
    NoCredentials,
    /// A credential source is configured but does not work.
    #[error("AWS credentials from {source_name}: {message}")]
    Source {
        /// The source, e.g. `profile prod in /root/.aws/credentials` or `web identity (STS)`.
        source_name: String,
        /// What failed.
        message: String,
    },
    /// No region was given and none could be read from the URL.
    #[error(
        "no AWS region for {url}: pass --sigv4-region, use an aps-workspaces.<region>.amazonaws.com URL or set AWS_REGION"
    )]
    NoRegion {
        /// The URL without its query string.
        url: String,
    },
    /// An Amazon Managed Service for Prometheus workspace id or ARN that cannot be used.
    #[error("workspace {workspace}: {message}")]
    Workspace {
        /// The id or ARN as given.
        workspace: String,
        /// What is wrong with it.
        message: String,
    },
    /// The request could not be signed.
    #[error("cannot sign the request to {url}: {message}")]
    Sign {
        /// The URL without its query string.
        url: String,
        /// What failed.
        message: String,
    },
}
