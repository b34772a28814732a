//! Scrape targets: what to fetch, how, and which `job` and `instance` labels its series get.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use apilens_kube::ApiServer;

use crate::ScrapeError;

/// The default `job` of Kubernetes API server targets (kube-prometheus's name).
pub const JOB_APISERVER: &str = "apiserver";
/// The default `job` of etcd targets.
pub const JOB_ETCD: &str = "etcd";

/// TLS and authentication settings of an HTTP(S) `/metrics` URL, like a Prometheus
/// `scrape_config`'s `tls_config` and `authorization`: the one set of options of scrape targets
/// and of one-shot reads ([`crate::input::open`]).
#[derive(Debug, Clone, Default)]
pub struct HttpOpts {
    /// PEM file with the CA certificates to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (etcd, kubelet-style mTLS); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// File holding a bearer token, re-read on every scrape so rotated tokens are picked up.
    pub bearer_token_file: Option<PathBuf>,
    /// Environment variable holding a bearer token, used when no file is given. The token is
    /// never printed or logged.
    pub bearer_token_env: Option<String>,
}

/// One recorded scrape to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayScrape {
    /// The file with the raw exposition (gzip-compressed when it ends in `.gz`).
    pub path: PathBuf,
    /// When it was scraped, in milliseconds since the epoch; `None` replays it at the current
    /// time, one file per scrape interval.
    pub timestamp_ms: Option<i64>,
}

/// How a target is fetched.
#[derive(Debug, Clone)]
pub enum TargetKind {
    /// An `http://` or `https://` URL.
    Http {
        /// The URL, credentials never included.
        url: reqwest::Url,
        /// The client built from the TLS settings.
        client: reqwest::Client,
        /// The settings, for the bearer token read on every scrape.
        opts: HttpOpts,
    },
    /// `/metrics` of one Kubernetes API server (a replica or the service URL), through the
    /// kubeconfig's credentials.
    ApiServer(ApiServer),
    /// Recorded scrapes, replayed in order; the target ends after the last.
    Replay {
        /// The scrapes in order.
        scrapes: Arc<[ReplayScrape]>,
        /// The next one to replay.
        next: usize,
    },
    /// Fed by its owner through [`crate::ScrapeLoop::ingest`] (an in-process simulator); there
    /// is nothing to fetch, so a scrape loop running it ends at once.
    External {
        /// What produces the bodies, for listings ("simulated replica 0").
        source: String,
    },
}

/// One scrape target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The `job` label.
    pub job: String,
    /// The `instance` label.
    pub instance: String,
    /// How it is fetched.
    pub kind: TargetKind,
}

impl Target {
    /// An HTTP(S) target; `instance` is the URL's `host:port`, as Prometheus sets it.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::Config`] for a URL that is not http(s), carries credentials, or for an
    /// unreadable CA, certificate or key file.
    pub fn http(job: &str, url: &str, opts: &HttpOpts) -> Result<Self, ScrapeError> {
        let config_err = |reason: String| ScrapeError::Config {
            target: redact_url(url),
            reason,
        };
        let parsed =
            reqwest::Url::parse(url).map_err(|e| config_err(format!("invalid URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config_err(format!(
                "unsupported scheme {:?}: use http://, https:// or a file path",
                parsed.scheme()
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(config_err(
                "credentials in the URL are not accepted: use a bearer token file or a client certificate"
                    .to_owned(),
            ));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| config_err("URL has no host".to_owned()))?;
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| config_err("URL has no port".to_owned()))?;
        let instance = format!("{host}:{port}");
        let client = http_client(opts).map_err(config_err)?;
        Ok(Self {
            job: job.to_owned(),
            instance,
            kind: TargetKind::Http {
                url: parsed,
                client,
                opts: opts.clone(),
            },
        })
    }

    /// A Kubernetes API server target; `instance` is the server's name (`address:port` for a
    /// replica).
    pub fn api_server(job: &str, server: ApiServer) -> Self {
        let instance = server
            .name()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_owned();
        Self {
            job: job.to_owned(),
            instance,
            kind: TargetKind::ApiServer(server),
        }
    }

    /// A replay target over recorded scrapes.
    pub fn replay(job: &str, instance: &str, scrapes: Vec<ReplayScrape>) -> Self {
        Self {
            job: job.to_owned(),
            instance: instance.to_owned(),
            kind: TargetKind::Replay {
                scrapes: scrapes.into(),
                next: 0,
            },
        }
    }

    /// A target fed through [`crate::ScrapeLoop::ingest`]; `source` says what produces it.
    pub fn external(job: &str, instance: &str, source: &str) -> Self {
        Self {
            job: job.to_owned(),
            instance: instance.to_owned(),
            kind: TargetKind::External {
                source: source.to_owned(),
            },
        }
    }

    /// How messages name the target: `job instance (url)`.
    pub fn name(&self) -> String {
        match &self.kind {
            TargetKind::Http { url, .. } => format!("{} {} ({url})", self.job, self.instance),
            TargetKind::ApiServer(server) => {
                format!("{} {} ({}/metrics)", self.job, self.instance, server.url())
            }
            TargetKind::Replay { scrapes, .. } => match scrapes.first() {
                Some(first) => format!(
                    "{} {} (replay of {} scrapes from {})",
                    self.job,
                    self.instance,
                    scrapes.len(),
                    first.path.parent().unwrap_or(Path::new(".")).display()
                ),
                None => format!("{} {} (empty replay)", self.job, self.instance),
            },
            TargetKind::External { source } => format!("{} {} ({source})", self.job, self.instance),
        }
    }

    /// The URL or file of the target, for manifests and listings.
    pub fn source(&self) -> String {
        match &self.kind {
            TargetKind::Http { url, .. } => url.to_string(),
            TargetKind::ApiServer(server) => format!("{}/metrics", server.url()),
            TargetKind::External { source } => source.clone(),
            TargetKind::Replay { scrapes, next } => scrapes
                .get(next.saturating_sub(1))
                .map(|s| s.path.display().to_string())
                .unwrap_or_default(),
        }
    }
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The HTTP client of `opts`' TLS settings, shared by scrape targets and one-shot reads.
pub(crate) fn http_client(opts: &HttpOpts) -> Result<reqwest::Client, String> {
    apilens_model::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("apilens/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .connect_timeout(Duration::from_secs(10));
    if let Some(ca) = &opts.ca_file {
        let pem = read_file("CA file", ca)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("invalid CA file {}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {} holds no certificate", ca.display()));
        }
        builder = builder.tls_certs_only(certs);
    }
    match (&opts.cert_file, &opts.key_file) {
        (Some(cert), Some(key)) => {
            let mut pem = read_file("client certificate", cert)?;
            pem.push(b'\n');
            pem.extend(read_file("client key", key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                format!(
                    "invalid client certificate {} or key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err("a client certificate needs both a certificate and a key file".to_owned()),
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The URL without user information, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.chars().take(200).collect(),
    }
}
