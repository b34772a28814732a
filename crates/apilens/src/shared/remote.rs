//! The options that point a command at a remote Prometheus-compatible engine, shared by the
//! commands that read through one.

use apilens_promapi::{RemoteClient, RemoteSpec};
use std::time::Duration;

/// `--prometheus URL` and its credentials.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RemoteArgs {
    /// Read through this Prometheus-compatible engine (Prometheus, Mimir, Thanos,
    /// VictoriaMetrics, Amazon Managed Prometheus) instead of the embedded store; queries are
    /// sent unchanged.
    #[arg(long, value_name = "URL")]
    pub(crate) prometheus: Option<String>,
    /// Bearer token for `--prometheus`; read from this environment variable.
    #[arg(
        long,
        value_name = "ENV",
        requires = "prometheus",
        conflicts_with = "basic_user"
    )]
    pub(crate) bearer_token_env: Option<String>,
    /// Bearer token for `--prometheus`; read from this file (trailing whitespace dropped).
    #[arg(
        long,
        value_name = "PATH",
        requires = "prometheus",
        conflicts_with_all = ["bearer_token_env", "basic_user"]
    )]
    pub(crate) bearer_token_file: Option<std::path::PathBuf>,
    /// Basic-auth user for `--prometheus`; the password comes from `APILENS_BASIC_PASSWORD`.
    #[arg(long, requires = "prometheus")]
    pub(crate) basic_user: Option<String>,
    /// Sign requests to `--prometheus` with AWS SigV4 (Amazon Managed Service for
    /// Prometheus), credentials from the standard AWS sources.
    #[arg(long, requires = "prometheus", conflicts_with_all = ["bearer_token_env", "bearer_token_file", "basic_user"], group = "signed")]
    pub(crate) sigv4: bool,
    /// Read through this Amazon Managed Service for Prometheus workspace, by id (`ws-…`, in
    /// `--sigv4-region` or `AWS_REGION`) or ARN: `--prometheus` with the workspace URL and
    /// `--sigv4`.
    #[arg(long, value_name = "ID|ARN", conflicts_with_all = ["prometheus", "bearer_token_env", "bearer_token_file", "basic_user"], group = "signed")]
    pub(crate) amp_workspace: Option<String>,
    /// AWS region for `--sigv4` and `--amp-workspace` (default: read from an
    /// `aps-workspaces.<region>.amazonaws.com` URL, else `AWS_REGION`).
    #[arg(long, value_name = "REGION", requires = "signed")]
    pub(crate) sigv4_region: Option<String>,
}

impl RemoteArgs {
    /// The client for `--prometheus` or `--amp-workspace`, or `None` when neither is given.
    pub(crate) fn client(&self, timeout: Duration) -> anyhow::Result<Option<RemoteClient>> {
        let spec = RemoteSpec {
            url: self.prometheus.clone(),
            amp_workspace: self.amp_workspace.clone(),
            sigv4: self.sigv4,
            sigv4_region: self.sigv4_region.clone(),
            bearer_token_env: self.bearer_token_env.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            basic_user: self.basic_user.clone(),
        };
        Ok(spec.client(timeout)?)
    }
}
