//! Targets from what a command line names: URLs, recorded files, etcd endpoints and every API
//! server replica of a kubeconfig.

use crate::{HttpOpts, JOB_APISERVER, JOB_ETCD, ScrapeError, Target, replay_targets};
use apilens_kube::{Cluster, ClusterOpts};
use std::path::Path;

/// What to do when nothing is given to scrape.
pub(crate) const NOTHING_TO_SCRAPE: &str = "nothing to scrape: no --target, no --etcd, and no kubeconfig found (KUBECONFIG, ~/.kube/config or an in-cluster service account)

try one of:
  apilens serve --kubeconfig ~/.kube/config [--context NAME]    every API server replica of a cluster
  apilens serve --target https://HOST:6443/metrics --ca-file ca.crt --bearer-token-file token
  apilens serve --target ./bundle                               replay a bundle from `apilens record`
  apilens serve --etcd https://127.0.0.1:2379/metrics --etcd-ca-file ca.crt --etcd-cert-file c.crt --etcd-key-file c.key";

/// Where to scrape from: every source a command names.
#[derive(Debug, Clone, Default)]
pub struct TargetSources {
    /// `http://` or `https://` URLs of /metrics endpoints, recorded bundle directories,
    /// directories of scrape files or single scrape files.
    pub targets: Vec<String>,
    /// The `job` label of `targets`.
    pub job: String,
    /// TLS and bearer token of the URLs in `targets`.
    pub http: HttpOpts,
    /// etcd /metrics URLs, scraped as job `etcd`.
    pub etcd: Vec<String>,
    /// TLS of the etcd URLs.
    pub etcd_http: HttpOpts,
    /// The kubeconfig and context whose API server replicas are scraped.
    pub kube: ClusterOpts,
    /// Whether a kubeconfig or a context was named; without, the default configuration is used
    /// only when nothing else is given and one exists.
    pub kube_named: bool,
}

impl TargetSources {
    /// One target per etcd URL.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::Config`] for a URL or a certificate file that cannot be used.
    pub fn etcd_targets(&self) -> Result<Vec<Target>, ScrapeError> {
        let etcd = |url: &String| Target::http(JOB_ETCD, url, &self.etcd_http);
        self.etcd.iter().map(etcd).collect()
    }

    /// Whether the kubeconfig is used: named, or nothing else given and a default exists.
    fn wants_kube(&self) -> bool {
        self.kube_named
            || (self.targets.is_empty()
                && self.etcd.is_empty()
                && ClusterOpts::default_config_found())
    }

    /// Builds every target; a kubeconfig that cannot be used is an error, problems of the
    /// replicas' discovery are logged as warnings.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::Config`] or [`ScrapeError::File`] for a target that cannot be used,
    /// [`ScrapeError::Cluster`] for a kubeconfig that cannot be loaded,
    /// [`ScrapeError::NothingToScrape`] when no source is given or found.
    pub async fn build(&self) -> Result<Vec<Target>, ScrapeError> {
        let mut targets = Vec::new();
        for spec in &self.targets {
            if spec.starts_with("http://") || spec.starts_with("https://") {
                targets.push(Target::http(&self.job, spec, &self.http)?);
            } else {
                targets.extend(replay_targets(Path::new(spec), &self.job)?);
            }
        }
        targets.extend(self.etcd_targets()?);
        if self.wants_kube() {
            let cluster = Cluster::connect(&self.kube).await?;
            tracing::info!(
                context = cluster.context(),
                server = cluster.server().url(),
                "discovering API server replicas"
            );
            let (found, warnings) = crate::api_server_targets(&cluster, JOB_APISERVER).await;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            targets.extend(found);
        }
        if targets.is_empty() {
            return Err(ScrapeError::NothingToScrape);
        }
        Ok(targets)
    }
}
