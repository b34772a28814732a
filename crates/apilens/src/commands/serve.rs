//! `apilens serve`: scrape API servers, etcd, URLs or recorded bundles into the embedded store
//! and serve it over HTTP until SIGINT or SIGTERM.

use crate::shared::logging::init_logging;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::targets::TargetArgs;
use crate::shared::web::ServerArgs;
use anyhow::{Context as _, bail};
use apilens_scrape::ScrapeOpts;
use apilens_serve::{ServeOpts, serve_until};
use apilens_tsdb::DbOptions;
use apilens_web::shutdown_signal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    remote_write: Box<crate::shared::remote_write::RemoteWriteArgs>,
}

/// Runs `apilens serve`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    if args.scrape_interval.is_zero() {
        bail!("--scrape-interval must be positive");
    }
    async_runtime(Workers::PerCore)?.block_on(async {
        let listening = args.server.bind().await?;
        let opts = ServeOpts {
            targets: args.targets.build().await?,
            db: DbOptions {
                retention: args.retention,
                ..DbOptions::default()
            },
            scrape: ScrapeOpts {
                interval: args.scrape_interval,
                timeout: args.scrape_timeout,
                body_limit: args.body_limit_mib.saturating_mul(1 << 20),
                sample_limit: args.sample_limit,
                ..ScrapeOpts::default()
            },
            remote_write: args.remote_write.spec(&args.data_dir),
            limits: args.server.limits(),
            data_dir: args.data_dir,
        };
        let stop = async {
            let signal = shutdown_signal().await;
            if let Ok(signal) = &signal {
                tracing::info!(signal, "shutting down");
            }
            signal
        };
        serve_until(opts, listening, stop)
            .await?
            .context("cannot listen for SIGINT and SIGTERM")?;
        Ok(ExitCode::SUCCESS)
    })
}
