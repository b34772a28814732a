//! `apilens record`: a support bundle of raw scrapes, one file per scrape plus a manifest.

use crate::shared::runtime::{Workers, async_runtime};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use apilens_scrape::{BundleWriter, Target};

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
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let runtime = async_runtime(Workers::PerCore)?;
    runtime.block_on(record(args))
}

async fn record(args: Args) -> anyhow::Result<ExitCode> {
    let mut targets: Vec<Target> = args.targets.build().await?;
    let interval_ms = u64::try_from(args.interval.as_millis()).unwrap_or(u64::MAX);
    let mut writer = BundleWriter::create(&args.out, interval_ms)?;
    let body_limit = args.body_limit_mib.saturating_mul(1 << 20);
    let (mut ok, mut failed) = (0usize, 0usize);
    for round in 0..args.count {
        let started = tokio::time::Instant::now();
        let t = jiff::Timestamp::now().as_millisecond();
        // Every target of a round is scraped at once, so replicas are compared at one moment.
        let fetches = targets.iter_mut().map(|target| async move {
            let t0 = Instant::now();
            let res = target.fetch(args.timeout, body_limit).await;
            (res, t0.elapsed())
        });
        let results = join_all(fetches).await;
        for (target, (res, took)) in targets.iter().zip(results) {
            let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
            match res {
                Ok(Some(fetched)) => {
                    writer.add(
                        target,
                        fetched.timestamp_ms.unwrap_or(t),
                        took_ms,
                        Ok(&fetched),
                    )?;
                    ok += 1;
                }
                Ok(None) => {}
                Err(err) => {
                    eprintln!("warning: {err}");
                    writer.add(target, t, took_ms, Err(&err))?;
                    failed += 1;
                }
            }
        }
        eprintln!(
            "round {}/{}: {} targets, {ok} scrapes recorded, {failed} failed",
            round + 1,
            args.count,
            targets.len()
        );
        if round + 1 < args.count {
            tokio::time::sleep_until(started + args.interval).await;
        }
    }
    println!(
        "recorded {ok} scrapes ({failed} failed) of {} targets into {}",
        targets.len(),
        args.out.display()
    );
    if ok == 0 {
        bail!(
            "no scrape succeeded; the reasons are in {}",
            args.out.join(apilens_scrape::MANIFEST).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Awaits every future concurrently, keeping their order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
