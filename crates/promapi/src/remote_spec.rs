//! A remote engine as a command line names it: its URL or Amazon Managed Service for
//! Prometheus workspace, and where its credentials come from.

use crate::error::PromApiError as Error;
use crate::remote::{RemoteAuth, RemoteClient};
use std::path::PathBuf;
use std::time::Duration;

/// Where the remote engine is and how to authenticate to it; at most one kind of credential
/// is given (the command line's flags exclude the others).
#[derive(Debug, Clone, Default)]
pub struct RemoteSpec {
    /// The engine's URL (`--prometheus`).
    pub url: Option<String>,
    /// An Amazon Managed Service for Prometheus workspace, by id or ARN; its URL replaces
    /// `url` and its requests are signed.
    pub amp_workspace: Option<String>,
    /// Sign requests to `url` with AWS SigV4.
    pub sigv4: bool,
    /// The AWS region of the signature and of a workspace id (default: read from the URL, else
    /// `AWS_REGION`).
    pub sigv4_region: Option<String>,
    /// The environment variable holding a bearer token.
    pub bearer_token_env: Option<String>,
    /// The file holding a bearer token (trailing whitespace dropped).
    pub bearer_token_file: Option<PathBuf>,
    /// A basic-auth user; the password comes from `APILENS_BASIC_PASSWORD`.
    pub basic_user: Option<String>,
}

impl RemoteSpec {
    /// The client of the engine, with requests that time out after `timeout`; `None` when no
    /// engine is named. Credentials are read now and never shown.
    ///
    /// # Errors
    ///
    /// [`Error::Credentials`] for a bearer token that cannot be read, [`Error::Aws`] for AWS
    /// settings that cannot be used, [`Error::Remote`] when the HTTP client cannot be built.
    pub fn client(&self, timeout: Duration) -> Result<Option<RemoteClient>, Error> {
        let region = self.sigv4_region.as_deref();
        let (url, sigv4) = match (&self.url, &self.amp_workspace) {
            (_, Some(ws)) => (apilens_sigv4::amp_workspace_url(ws, region)?, true),
            (Some(url), None) => (url.clone(), self.sigv4),
            (None, None) => return Ok(None),
        };
        let auth = if sigv4 {
            RemoteAuth::SigV4(apilens_sigv4::Signer::for_amp(&url, region)?)
        } else if let Some(env) = &self.bearer_token_env {
            let token = std::env::var(env).map_err(|_| {
                Error::Credentials(format!("environment variable {env} is not set"))
            })?;
            RemoteAuth::Bearer(token)
        } else if let Some(path) = &self.bearer_token_file {
            let token = std::fs::read_to_string(path).map_err(|e| {
                Error::Credentials(format!(
                    "cannot read the bearer token file {}: {e}",
                    path.display()
                ))
            })?;
            RemoteAuth::Bearer(token.trim_end().to_owned())
        } else if let Some(user) = &self.basic_user {
            RemoteAuth::Basic {
                user: user.clone(),
                password: std::env::var("APILENS_BASIC_PASSWORD").unwrap_or_default(),
            }
        } else {
            RemoteAuth::None
        };
        Ok(Some(RemoteClient::new(&url, auth, timeout)?))
    }
}
