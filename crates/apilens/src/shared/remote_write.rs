//! `apilens serve --remote-write URL`: the options that forward scraped samples to a
//! remote-write receiver.

use apilens_remotewrite::RemoteWriteSpec;
use std::path::{Path, PathBuf};

/// Remote write: forward every scraped sample to Prometheus, Mimir, Thanos, VictoriaMetrics
/// or Amazon Managed Service for Prometheus.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RemoteWriteArgs {
    /// Also send every scraped sample to this remote-write endpoint, e.g.
    /// `http://prometheus:9090/api/v1/write` or
    /// `https://aps-workspaces.<region>.amazonaws.com/workspaces/<id>/api/v1/remote_write`.
    /// Samples wait in an on-disk queue while the endpoint is unreachable.
    #[arg(long, value_name = "URL")]
    remote_write: Option<String>,
    /// Directory of the remote-write queue (default: `<data-dir>/remote-write`).
    #[arg(long, value_name = "DIR", requires = "remote_write")]
    remote_write_queue_dir: Option<PathBuf>,
    /// Most bytes the queue keeps on disk (such as `512MiB`, `2GiB` or a number of bytes);
    /// when full, the oldest unsent samples are dropped with a warning.
    #[arg(long, value_name = "BYTES", default_value = "512MiB", value_parser = apilens_model::parse_byte_size)]
    remote_write_max_queue_bytes: u64,
    /// Most samples in one remote-write request.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    remote_write_max_samples_per_send: usize,
    /// File holding a bearer token for the remote-write endpoint (re-read on every request).
    #[arg(long, value_name = "PATH", requires = "remote_write", conflicts_with_all = ["remote_write_basic_auth_user", "sigv4"])]
    remote_write_bearer_token_file: Option<PathBuf>,
    /// Basic-auth user for the remote-write endpoint.
    #[arg(long, value_name = "USER", requires_all = ["remote_write", "remote_write_basic_auth_password_file"], conflicts_with = "sigv4")]
    remote_write_basic_auth_user: Option<String>,
    /// File holding the basic-auth password (re-read on every request).
    #[arg(long, value_name = "PATH", requires = "remote_write_basic_auth_user")]
    remote_write_basic_auth_password_file: Option<PathBuf>,
    /// Sign remote-write requests with AWS SigV4 (Amazon Managed Service for Prometheus);
    /// credentials come from the standard AWS sources: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
    /// `AWS_PROFILE` with `~/.aws/credentials`, web identity (EKS IRSA), container
    /// credentials (EKS Pod Identity, ECS) or an EC2 instance profile.
    #[arg(long, requires = "remote_write")]
    sigv4: bool,
    /// AWS region for `--sigv4` (default: read from an `aps-workspaces.<region>.amazonaws.com`
    /// URL, else `AWS_REGION`).
    #[arg(long, value_name = "REGION", requires = "sigv4")]
    sigv4_region: Option<String>,
}

impl RemoteWriteArgs {
    /// The remote write `--remote-write` asks for; its queue defaults to
    /// `<data_dir>/remote-write`.
    pub(crate) fn spec(&self, data_dir: &Path) -> Option<RemoteWriteSpec> {
        let url = self.remote_write.clone()?;
        Some(RemoteWriteSpec {
            url,
            queue_dir: (self.remote_write_queue_dir.clone())
                .unwrap_or_else(|| data_dir.join("remote-write")),
            max_queue_bytes: self.remote_write_max_queue_bytes,
            max_samples_per_send: self.remote_write_max_samples_per_send,
            bearer_token_file: self.remote_write_bearer_token_file.clone(),
            basic_auth: (self.remote_write_basic_auth_user.clone())
                .zip(self.remote_write_basic_auth_password_file.clone()),
            sigv4: self.sigv4,
            sigv4_region: self.sigv4_region.clone(),
        })
    }
}
