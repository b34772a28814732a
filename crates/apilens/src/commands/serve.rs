//! `apilens serve`: scrape API servers, etcd, URLs or recorded bundles into the embedded store
//! and serve it over HTTP until SIGINT or SIGTERM.

use crate::shared::runtime::{Workers, async_runtime};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use apilens_remotewrite::Tee;
use apilens_scrape::{Health, ScrapeOpts, Scraper, Sink};
use apilens_tsdb::{Db, DbOptions};

use crate::shared::logging::init_logging;
use crate::shared::store::close_store;
use crate::shared::targets::TargetArgs;
use crate::shared::web::{QueryLimitArgs, WebArgs, store_router};
use apilens_web::{FindingsSlot, HttpServer, shutdown_signal};

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
    #[arg(long, default_value = "15s", value_parser = apilens_model::parse_duration)]
    scrape_interval: Duration,
    /// Deadline of one scrape (at most the interval).
    #[arg(long, default_value = "10s", value_parser = apilens_model::parse_duration)]
    scrape_timeout: Duration,
    /// How long samples are kept, e.g. `7d`, `36h`.
    #[arg(long, default_value = "7d", value_parser = apilens_model::parse_duration)]
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
    remote_write: Box<crate::shared::remote_write::RemoteWriteArgs>,
}

/// Runs `apilens serve`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let runtime = async_runtime(Workers::PerCore)?;
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
    let sink = Tee::store_then(Arc::clone(&db) as Arc<dyn Sink>, remote_writer.as_ref());
    let scraper = Scraper::start(targets, opts, sink, health.clone());
    let app = store_router(health, Arc::clone(&db), &args.limits, FindingsSlot::new());
    let (server, local) = HttpServer::bind(args.listen, app, web.clone()).await?;
    tracing::info!(listen = %local, scheme = web.scheme(), data_dir = %args.data_dir.display(), "serving");

    let signal = shutdown_signal()
        .await
        .context("cannot listen for SIGINT and SIGTERM")?;
    tracing::info!(signal, "shutting down");
    scraper.shutdown().await;
    crate::shared::remote_write::stop(remote_writer).await;
    server.stop().await;
    close_store(db).await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
