//! `apilens record`: a support bundle of raw scrapes, one file per scrape plus a manifest.

use crate::shared::runtime::{Workers, async_runtime};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apilens_scrape::{RecordOpts, record_bundle};

use crate::shared::logging::init_logging;
use crate::shared::targets::TargetArgs;
use apilens_model::parse_duration;

/// Record raw scrapes of every target into a bundle that `serve --target DIR` replays and
/// whose scrape files `inspect` reads.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens record --kubeconfig ~/.kube/config --out bundle/
  apilens record --target https://10.0.0.1:6443/metrics --count 10 --scrape-interval 30s --out bundle/")]
pub(crate) struct Args {
    #[command(flatten)]
    targets: TargetArgs,
    /// Scrapes per target.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Time between two scrapes of a target, e.g. `15s`.
    #[arg(long = "scrape-interval", alias = "interval", default_value = "15s", value_parser = parse_duration)]
    interval: Duration,
    /// Deadline of one scrape.
    #[arg(long = "scrape-timeout", alias = "timeout", default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Largest body accepted from one target, in MiB (after decompression).
    #[arg(long, default_value_t = 256)]
    body_limit_mib: usize,
    /// The bundle directory to create (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs `apilens record`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let opts = RecordOpts {
        count: args.count,
        interval: args.interval,
        timeout: args.timeout,
        body_limit: args.body_limit_mib.saturating_mul(1 << 20),
    };
    let runtime = async_runtime(Workers::PerCore)?;
    let sources = args.targets.sources();
    let progress = |line: &str| eprintln!("{line}");
    let summary = runtime.block_on(record_bundle(&sources, &args.out, &opts, progress))?;
    println!(
        "recorded {} scrapes ({} failed) of {} targets into {}",
        summary.ok,
        summary.failed,
        summary.targets,
        args.out.display()
    );
    match summary.nothing_recorded(&args.out) {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
