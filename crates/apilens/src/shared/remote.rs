//! The options that point a command at a remote Prometheus-compatible engine, shared by the
//! commands that read through one.

use anyhow::Context as _;
use apilens_promapi::{RemoteAuth, RemoteClient};
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
        let region = self.sigv4_region.as_deref();
        let (url, sigv4) = match (&self.prometheus, &self.amp_workspace) {
            (_, Some(ws)) => (apilens_sigv4::amp_workspace_url(ws, region)?, true),
            (Some(url), None) => (url.clone(), self.sigv4),
            (None, None) => return Ok(None),
        };
        let auth = match (&self.bearer_token_env, &self.basic_user) {
            _ if sigv4 => RemoteAuth::SigV4(apilens_sigv4::Signer::for_amp(&url, region)?),
            (Some(env), _) => RemoteAuth::Bearer(
                std::env::var(env)
                    .with_context(|| format!("environment variable {env} is not set"))?,
            ),
            (None, _) if self.bearer_token_file.is_some() => {
                let path = self.bearer_token_file.as_ref().expect("checked");
                let token = std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the bearer token file {}", path.display())
                })?;
                RemoteAuth::Bearer(token.trim_end().to_owned())
            }
            (None, Some(user)) => RemoteAuth::Basic {
                user: user.clone(),
                password: std::env::var("APILENS_BASIC_PASSWORD").unwrap_or_default(),
            },
            (None, None) => RemoteAuth::None,
        };
        Ok(Some(RemoteClient::new(&url, auth, timeout)?))
    }
}
