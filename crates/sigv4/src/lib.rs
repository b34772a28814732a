//! AWS Signature Version 4 for Amazon Managed Service for Prometheus (AMP): remote write and
//! the query API, with the standard credential sources.
//!
//! # Brief overview
//!
//! - [`Signer`]: signs one HTTP request (method, URL, headers, body) for a region and service
//!   (`aps` for AMP) with `aws-sigv4`, and returns the headers to add (`Authorization`,
//!   `X-Amz-Date`, `X-Amz-Security-Token` for temporary credentials).
//! - [`CredentialsChain`]: where the credentials come from, in the order of the AWS SDKs:
//!   the `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` variables, the shared
//!   `credentials` and `config` files with `AWS_PROFILE`, web identity (EKS IRSA:
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` through STS `AssumeRoleWithWebIdentity`),
//!   then container credentials (EKS Pod Identity and ECS: `AWS_CONTAINER_CREDENTIALS_FULL_URI`
//!   or `_RELATIVE_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`), and last an EC2
//!   instance profile through the instance metadata service (IMDSv2 session token, IMDSv1
//!   when tokens are refused; `AWS_EC2_METADATA_DISABLED`, `AWS_EC2_METADATA_V1_DISABLED`,
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE)` as in the SDKs). Temporary credentials are
//!   cached until five minutes before they expire.
//! - [`region_from_url`]: the region of an AMP workspace URL
//!   (`https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/...`); [`Signer::for_amp`]
//!   falls back to `AWS_REGION` for URLs without one (a proxy in front of AMP).
//! - [`amp_workspace_url`]: the URL of a workspace given by id and region, or by ARN.
//!
//! Credentials never appear in logs, errors or `Debug` output. Fetching credentials blocks
//! (it may call STS, a container endpoint or instance metadata): call it from a thread that
//! may block.
//!
//! ```
//! use apilens_sigv4::{Credentials, CredentialsChain, Signer};
//! let chain = CredentialsChain::fixed(Credentials::new("AKIDEXAMPLE", "secret", None));
//! let signer = Signer::new("us-east-1", "aps", chain);
//! let headers = signer
//!     .sign("POST", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/query", &[], b"query=up")
//!     .unwrap();
//! assert!(headers.iter().any(|(k, v)| k == "authorization" && v.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")));
//! ```
#![deny(missing_docs)]

mod credentials;
mod env;
mod error;
mod imds;
mod keys;
mod signer;

pub use crate::{
    credentials::CredentialsChain,
    env::EnvSnapshot,
    error::Error,
    keys::Credentials,
    signer::{Signer, amp_workspace_url, credential_values, region_from_url},
};
