//! `--target`, `--etcd` and the kubeconfig: where `serve`, `record` and `top` scrape from.

use apilens_kube::{Cluster, ClusterOpts};
use apilens_scrape::{HttpOpts, JOB_APISERVER, Target, TargetSources};
use std::path::PathBuf;

/// Where to scrape from; shared by `serve` and `record`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TargetArgs {
    /// A target to scrape: an `http://` or `https://` URL of a /metrics endpoint, a recorded
    /// bundle directory (from `apilens record`), a directory of scrape files, or one scrape
    /// file. Repeat for more.
    #[arg(long = "target", value_name = "URL|PATH")]
    pub(crate) targets: Vec<String>,
    /// The `job` label of `--target` series.
    #[arg(long, default_value = JOB_APISERVER)]
    pub(crate) job: String,
    /// CA certificates (PEM) to trust for `--target` URLs instead of the system roots.
    #[arg(long, value_name = "PATH")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for `--target` URLs.
    #[arg(long, value_name = "PATH", requires = "key_file")]
    pub(crate) cert_file: Option<PathBuf>,
    /// Private key (PEM) of `--cert-file`.
    #[arg(long, value_name = "PATH", requires = "cert_file")]
    pub(crate) key_file: Option<PathBuf>,
    /// File holding a bearer token for `--target` URLs (re-read on every scrape).
    #[arg(long, value_name = "PATH")]
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// Bearer token for `--target` URLs, read from this environment variable (never printed).
    #[arg(long, value_name = "ENV", conflicts_with = "bearer_token_file")]
    pub(crate) bearer_token_env: Option<String>,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
    #[command(flatten)]
    pub(crate) etcd: EtcdArgs,
}

/// The cluster whose API server replicas are scraped; shared by `serve`, `record` and `top`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct KubeArgs {
    /// Scrape every API server replica of this kubeconfig (default: `KUBECONFIG`, then
    /// `~/.kube/config`, then the in-cluster service account, when nothing else is given).
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
}

impl KubeArgs {
    /// Whether a kubeconfig or a context was asked for.
    pub(crate) fn given(&self) -> bool {
        self.kubeconfig.is_some() || self.context.is_some()
    }

    /// The cluster these flags name.
    fn opts(&self) -> ClusterOpts {
        ClusterOpts {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        }
    }

    /// Loads the configuration (nothing is sent yet).
    pub(crate) async fn connect(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(&self.opts()).await?)
    }
}

/// etcd's own `/metrics` endpoints and their client certificates; shared by `serve`, `record`
/// and `top`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EtcdArgs {
    /// An etcd /metrics URL, e.g. `https://10.0.0.5:2379/metrics`. Repeat for more.
    #[arg(long = "etcd", value_name = "URL")]
    pub(crate) etcd: Vec<String>,
    /// CA certificates (PEM) of the etcd server certificates.
    #[arg(long, value_name = "PATH")]
    pub(crate) etcd_ca_file: Option<PathBuf>,
    /// etcd client certificate (PEM), e.g. `/etc/kubernetes/pki/apiserver-etcd-client.crt`.
    #[arg(long, value_name = "PATH", requires = "etcd_key_file")]
    pub(crate) etcd_cert_file: Option<PathBuf>,
    /// Private key (PEM) of `--etcd-cert-file`.
    #[arg(long, value_name = "PATH", requires = "etcd_cert_file")]
    pub(crate) etcd_key_file: Option<PathBuf>,
}

impl EtcdArgs {
    /// One target per `--etcd` URL.
    pub(crate) fn targets(&self) -> anyhow::Result<Vec<Target>> {
        Ok(self.sources().etcd_targets()?)
    }

    /// The etcd endpoints alone, with their TLS.
    fn sources(&self) -> TargetSources {
        let etcd_http = HttpOpts {
            ca_file: self.etcd_ca_file.clone(),
            cert_file: self.etcd_cert_file.clone(),
            key_file: self.etcd_key_file.clone(),
            ..HttpOpts::default()
        };
        let etcd = self.etcd.clone();
        TargetSources {
            etcd,
            etcd_http,
            ..TargetSources::default()
        }
    }
}

impl TargetArgs {
    /// Builds every target; a kubeconfig that cannot be used is an error, discovery problems
    /// are warnings.
    pub(crate) async fn build(&self) -> anyhow::Result<Vec<Target>> {
        Ok(self.sources().build().await?)
    }

    /// Every source these flags name.
    pub(crate) fn sources(&self) -> TargetSources {
        TargetSources {
            targets: self.targets.clone(),
            job: self.job.clone(),
            http: HttpOpts {
                ca_file: self.ca_file.clone(),
                cert_file: self.cert_file.clone(),
                key_file: self.key_file.clone(),
                bearer_token_file: self.bearer_token_file.clone(),
                bearer_token_env: self.bearer_token_env.clone(),
            },
            kube: self.kube.opts(),
            kube_named: self.kube.given(),
            ..self.etcd.sources()
        }
    }
}
