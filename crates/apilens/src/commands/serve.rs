//! `apilens serve`: scrape API servers, etcd, URLs or recorded bundles into the embedded store
//! and serve it over HTTP until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use apilens_kube::{Cluster, ClusterOpts};
use apilens_scrape::{
    Health, HttpOpts, JOB_APISERVER, JOB_ETCD, ScrapeOpts, Scraper, Sink, Target,
    api_server_targets, replay_targets,
};
use apilens_tsdb::{Db, DbOptions};

use crate::commands::web_server::{QueryLimitArgs, Web, WebArgs};

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

    /// Whether a default configuration exists: `KUBECONFIG`, `~/.kube/config`, or an in-cluster
    /// service account.
    pub(crate) fn default_found() -> bool {
        std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
            || std::env::var_os("HOME")
                .is_some_and(|h| PathBuf::from(h).join(".kube/config").is_file())
            || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some()
    }

    /// Loads the configuration (nothing is sent yet).
    pub(crate) async fn connect(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(&ClusterOpts {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
        })
        .await?)
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
        let opts = HttpOpts {
            ca_file: self.etcd_ca_file.clone(),
            cert_file: self.etcd_cert_file.clone(),
            key_file: self.etcd_key_file.clone(),
            bearer_token_file: None,
        };
        self.etcd
            .iter()
            .map(|url| Ok(Target::http(JOB_ETCD, url, &opts)?))
            .collect()
    }
}

/// What to do when nothing is given to scrape.
const NOTHING_TO_SCRAPE: &str = "nothing to scrape: no --target, no --etcd, and no kubeconfig found (KUBECONFIG, ~/.kube/config or an in-cluster service account)

try one of:
  apilens serve --kubeconfig ~/.kube/config [--context NAME]    every API server replica of a cluster
  apilens serve --target https://HOST:6443/metrics --ca-file ca.crt --bearer-token-file token
  apilens serve --target ./bundle                               replay a bundle from `apilens record`
  apilens serve --etcd https://127.0.0.1:2379/metrics --etcd-ca-file ca.crt --etcd-cert-file c.crt --etcd-key-file c.key";

impl TargetArgs {
    /// Whether a kubeconfig should be used: asked for, or nothing else given and one exists.
    fn wants_kube(&self) -> bool {
        if self.kube.given() {
            return true;
        }
        self.targets.is_empty() && self.etcd.etcd.is_empty() && KubeArgs::default_found()
    }

    /// Builds every target; a kubeconfig that cannot be used is an error, discovery problems
    /// are warnings.
    pub(crate) async fn build(&self) -> anyhow::Result<Vec<Target>> {
        let mut targets = Vec::new();
        let http_opts = HttpOpts {
            ca_file: self.ca_file.clone(),
            cert_file: self.cert_file.clone(),
            key_file: self.key_file.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
        };
        for spec in &self.targets {
            if spec.starts_with("http://") || spec.starts_with("https://") {
                targets.push(Target::http(&self.job, spec, &http_opts)?);
            } else {
                targets.extend(replay_targets(std::path::Path::new(spec), &self.job)?);
            }
        }
        targets.extend(self.etcd.targets()?);
        if self.wants_kube() {
            let cluster = self.kube.connect().await?;
            tracing::info!(
                context = cluster.context(),
                server = cluster.server().url(),
                "discovering API server replicas"
            );
            let (found, warnings) = api_server_targets(&cluster, JOB_APISERVER).await;
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            targets.extend(found);
        }
        if targets.is_empty() {
            bail!("{NOTHING_TO_SCRAPE}");
        }
        Ok(targets)
    }
}

/// Scrape into the embedded store and serve it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens serve --kubeconfig ~/.kube/config
  apilens serve --target https://10.0.0.1:6443/metrics --bearer-token-file token
  apilens serve --target bundle/ --listen 0.0.0.0:9797 --web.config.file web.yml")]
pub(crate) struct Args {
    #[command(flatten)]
    targets: TargetArgs,
    /// The store directory.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Time between two scrapes of a target, e.g. `15s`, `1m`.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    scrape_interval: Duration,
    /// Deadline of one scrape (at most the interval).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    scrape_timeout: Duration,
    /// How long samples are kept, e.g. `7d`, `36h`.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    retention: Duration,
    /// Largest body accepted from one target, in MiB (after decompression).
    #[arg(long, default_value_t = 128)]
    body_limit_mib: usize,
    /// Most samples accepted from one scrape; a larger scrape fails as a whole.
    #[arg(long, default_value_t = 1_000_000)]
    sample_limit: usize,
    /// Address of the HTTP server (health, readiness, targets and the query API).
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: SocketAddr,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    limits: QueryLimitArgs,
    #[command(flatten)]
    remote_write: Box<super::remote_write::RemoteWriteArgs>,
}

/// Parses durations such as `500ms`, `15s`, `1m30s`, `36h`, `7d`, `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a number and a unit (ms, s, m, h, d, w), e.g. 15s or 7d"
        )
    };
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms_per = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        total += Duration::from_millis(n.checked_mul(ms_per).ok_or_else(bad)?);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Sets up `tracing` output on standard error; `RUST_LOG` overrides the default level.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // kube-rs logs each failed request itself; apilens reports it once, with its cause.
        tracing_subscriber::EnvFilter::new(
            "info,kube=warn,kube_client::client::builder=off,hyper=warn,rustls=warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs `apilens serve`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    crate::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    if args.scrape_interval.is_zero() {
        bail!("--scrape-interval must be positive");
    }
    let web = args.web.load(args.listen)?;
    let targets = args.targets.build().await?;
    let db_opts = DbOptions {
        retention: args.retention,
        ..DbOptions::default()
    };
    let data_dir = args.data_dir.clone();
    let db = tokio::task::spawn_blocking(move || Db::open(&data_dir, db_opts))
        .await?
        .with_context(|| format!("cannot open the store in {}", args.data_dir.display()))?;
    let db = Arc::new(db);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;

    let opts = ScrapeOpts {
        interval: args.scrape_interval,
        timeout: args.scrape_timeout,
        body_limit: args.body_limit_mib.saturating_mul(1 << 20),
        sample_limit: args.sample_limit,
        ..ScrapeOpts::default()
    };
    let health = Health::new();
    for t in &targets {
        tracing::info!(job = %t.job, instance = %t.instance, source = %t.source(), "target");
    }
    let remote_writer = args.remote_write.start(&args.data_dir)?;
    let sink = super::remote_write::sink(Arc::clone(&db) as Arc<dyn Sink>, remote_writer.as_ref());
    let scraper = Scraper::start(targets, opts, sink, health.clone());

    let app = router(
        health,
        Arc::clone(&db),
        &args.limits,
        apilens_web::FindingsSlot::new(),
    );
    tracing::info!(listen = %local, scheme = web.scheme(), data_dir = %args.data_dir.display(), "serving");
    let server = HttpServer::spawn(listener, app, web);

    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    scraper.shutdown().await;
    super::remote_write::stop(remote_writer).await;
    server.stop().await;
    close_store(db).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// An HTTP server running on the runtime until [`HttpServer::stop`].
pub(crate) struct HttpServer {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl HttpServer {
    /// Serves `app` on `listener` in the background, under the rules of `web`.
    pub(crate) fn spawn(listener: tokio::net::TcpListener, app: axum::Router, web: Web) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            web.serve(listener, app, async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
        });
        Self { stop, task }
    }

    /// Finishes the requests in flight and stops; failures are logged.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server stopped with an error"),
            Err(err) => tracing::warn!(error = %err, "HTTP server task failed"),
        }
    }
}

/// Closes the store when nothing else holds it; otherwise its WAL keeps every committed batch.
pub(crate) async fn close_store(db: Arc<Db>) {
    match Arc::try_unwrap(db) {
        Ok(db) => {
            if let Err(err) = tokio::task::spawn_blocking(move || db.close()).await {
                tracing::warn!(error = %err, "closing the store failed");
            }
        }
        Err(_) => {
            tracing::warn!("store still in use at shutdown; its WAL holds every committed batch")
        }
    }
}

/// The HTTP routes: Prometheus-style health and readiness, the scrape targets, the
/// Prometheus-compatible query API over the store (on its own query threads, within
/// `limits`), the dashboard, and its culprit panel from `findings`.
pub(crate) fn router(
    health: Health,
    db: Arc<Db>,
    limits: &QueryLimitArgs,
    findings: apilens_web::FindingsSlot,
) -> axum::Router {
    use axum::routing::get;
    let state = apilens_web::ApiState::new(
        db as Arc<dyn apilens_model::Queryable>,
        apilens_promql::Engine::new(limits.engine_opts()),
        limits.pool_opts(),
    );
    axum::Router::new()
        .merge(apilens_web::verdict_router(
            apilens_web::VerdictSource::Store(state.clone()),
        ))
        .merge(apilens_web::api_router(state))
        .merge(apilens_web::dashboard_router())
        .merge(apilens_web::findings_router(findings))
        .route("/-/healthy", get(|| async { "apilens is Healthy.\n" }))
        .route("/-/ready", get(|| async { "apilens is Ready.\n" }))
        .route(
            "/api/v1/targets",
            get(move || {
                let health = health.clone();
                async move {
                    axum::Json(serde_json::json!({
                        "status": "success",
                        "data": { "activeTargets": health.snapshot() }
                    }))
                }
            }),
        )
}

/// Waits for SIGINT or SIGTERM and names it.
pub(crate) async fn shutdown_signal() -> anyhow::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        Ok("Ctrl-C")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "15", "s", "1.5s", "10x", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
