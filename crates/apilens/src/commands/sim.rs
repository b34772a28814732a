//! `apilens sim`: a simulated kube-apiserver (and etcd) that misbehaves on demand.

use crate::shared::runtime::{Workers, async_runtime};
use anyhow::Context as _;
use apilens_sim::{KubeVersion, ScenarioConfig, ServeConfig, SimServer, Simulator};
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
    kubernetes_version: KubeVersion,
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
        std::io::stdout()
            .lock()
            .write_all(apilens_sim::scenario_list().as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let scenario = args.scenario.context("--scenario is required")?;
    let config = ScenarioConfig {
        replicas: args.replicas,
        seed: args.seed,
        start_unix_ms: apilens_model::now_ms() / 1000 * 1000,
        ..ScenarioConfig::new(&scenario, args.kubernetes_version)
    };
    let mut sim = Simulator::new(config)?;
    if let Some(path) = &args.audit_log {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create audit log {}", path.display()))?;
        sim.set_audit_sink(Box::new(std::io::BufWriter::with_capacity(1 << 16, file)));
    }
    let (listen, speed) = (args.listen, args.speed);
    async_runtime(Workers::Two)?.block_on(async move {
        let server = SimServer::bind(sim, ServeConfig { listen, speed }).await?;
        let mut err = std::io::stderr().lock();
        err.write_all(server.describe().as_bytes())?;
        if let Some(path) = &args.audit_log {
            writeln!(err, "  audit log: {}", path.display())?;
        }
        drop(err);
        // SIGINT or SIGTERM stops it; when signals cannot be watched, only --exit-after does.
        let signal = async {
            if apilens_web::shutdown_signal().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let exit_after =
            (args.exit_after).and_then(|secs| Duration::try_from_secs_f64(secs.max(0.0)).ok());
        server.run_for(exit_after, signal).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
