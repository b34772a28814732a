//! `apilens sim`: a simulated kube-apiserver (and etcd) that misbehaves on demand.

use crate::shared::runtime::{Workers, async_runtime};
use anyhow::Context as _;
use apilens_sim::{
    KubeVersion, SCENARIOS, ScenarioConfig, ServeConfig, SimServer, Simulator, Target,
};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `apilens sim`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The data is SIMULATED: synthetic load from a workload model. Metric names, HELP texts, labels and \
bucket layouts are those of a real kube-apiserver of the chosen version (taken from real scrapes); \
the values are not. Replica i serves /metrics on PORT+i, etcd on PORT+REPLICAS.

Examples:
  apilens sim --list
  apilens sim --scenario chatty-daemonset --listen 127.0.0.1:9100
  apilens sim --scenario webhook-slow --kubernetes-version 1.29 --audit-log audit.log")]
pub(crate) struct Args {
    /// Scenario to run (see --list).
    #[arg(long, value_name = "NAME", required_unless_present = "list")]
    scenario: Option<String>,
    /// List the scenarios with one line each and exit.
    #[arg(long)]
    list: bool,
    /// Address of API server replica 0; replica i listens on PORT+i and etcd on PORT+REPLICAS
    /// (port 0: an ephemeral port for each).
    #[arg(long, default_value = "127.0.0.1:9100", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Kubernetes version to imitate (metric names follow the nearest real scrape).
    #[arg(long, default_value = "1.34", value_name = "VERSION")]
    kubernetes_version: String,
    /// Number of API server replicas.
    #[arg(long, default_value_t = 2, value_name = "N")]
    replicas: usize,
    /// Write the matching audit log (audit.k8s.io/v1 JSON lines) to this file.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 1.0, value_name = "N")]
    speed: f64,
    /// Seed of the random draws: the same seed gives the same data.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Stop after this many wall-clock seconds (default: run until interrupted).
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<f64>,
}

/// Runs `apilens sim`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        let mut out = std::io::stdout().lock();
        let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in SCENARIOS {
            writeln!(out, "{:width$}  {}", s.name, s.summary)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scenario = args.scenario.context("--scenario is required")?;
    let version = KubeVersion::parse(&args.kubernetes_version)?;
    let now_ms = apilens_model::now_ms();
    let config = ScenarioConfig {
        scenario: scenario.clone(),
        kubernetes_version: version,
        replicas: args.replicas,
        seed: args.seed,
        start_unix_ms: now_ms / 1000 * 1000,
    };
    let mut sim = Simulator::new(config)?;
    if let Some(path) = &args.audit_log {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create audit log {}", path.display()))?;
        sim.set_audit_sink(Box::new(std::io::BufWriter::with_capacity(1 << 16, file)));
    }
    let sources: Vec<String> = (0..sim.replicas())
        .map(|i| sim.catalog_source(i).map(str::to_string))
        .collect::<Result<_, _>>()?;
    let etcd_source = sim.etcd_catalog_source().to_string();
    let runtime = async_runtime(Workers::Two)?;
    runtime.block_on(async move {
        let server = SimServer::bind(sim, ServeConfig { listen: args.listen, speed: args.speed }).await?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "apilens sim: scenario {scenario}, Kubernetes {version}, {} replica(s), speed {}x, seed {} (SIMULATED data)",
            args.replicas, args.speed, args.seed
        )?;
        for (target, addr) in server.addresses() {
            match target {
                Target::Apiserver(i) => writeln!(
                    err,
                    "  kube-apiserver replica {i}: http://{addr}/metrics  (names from {})",
                    sources[i]
                )?,
                Target::Etcd => writeln!(err, "  etcd: http://{addr}/metrics  (names from {etcd_source})")?,
            }
        }
        if let Some(path) = &args.audit_log {
            writeln!(err, "  audit log: {}", path.display())?;
        }
        drop(err);
        let exit_after = args.exit_after;
        server
            .run(async move {
                match exit_after {
                    Some(secs) => {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))) => {}
                            _ = stop_signal() => {}
                        }
                    }
                    None => stop_signal().await,
                }
            })
            .await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM (or Ctrl-C elsewhere); never completes when signals cannot
/// be watched.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
