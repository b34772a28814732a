//! `apilens demo`: the simulator, the embedded store, the dashboard and the report together,
//! with nothing to install and no cluster.

use crate::output::{ReportFormat, print_text};
use crate::shared::logging::init_logging;
use crate::shared::report_print::print;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::web::ServerArgs;
use anyhow::Context as _;
use apilens_model::{format_duration, parse_duration};
use apilens_serve::{DEMO_SCRAPE_INTERVAL, Demo};
use apilens_sim::{KubeVersion, ScenarioConfig};
use apilens_web::{FindingsSlot, HttpServer};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Run a simulated cluster with a problem, store its metrics, serve the dashboard and print the
/// report. The data is SIMULATED: real metric names and bucket layouts, made-up values.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens demo
  apilens demo --scenario chatty-daemonset --kubernetes-version 1.29 --data-dir demo-data
  apilens demo --scenario webhook-slow --exit-after-report --format markdown")]
pub(crate) struct Args {
    /// The problem to simulate: healthy, chatty-daemonset, watch-storm, etcd-slow,
    /// apf-saturation, webhook-slow or upgrade-skew (`apilens sim --list` explains each).
    #[arg(long, default_value = "chatty-daemonset", value_name = "NAME")]
    scenario: String,
    /// Kubernetes version to imitate.
    #[arg(long, default_value = "1.34", value_name = "VERSION")]
    kubernetes_version: KubeVersion,
    /// Number of API server replicas.
    #[arg(long, default_value_t = 2, value_name = "N")]
    replicas: usize,
    /// Simulated time stored before the report, generated at once (at least 5m).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    history: Duration,
    /// Seed of the random draws: the same seed gives the same data.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Keep the store (and the simulated audit log) in this directory instead of a temporary
    /// one removed at exit.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Print the report and exit instead of serving until interrupted.
    #[arg(long)]
    exit_after_report: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Writes one line on standard error; a closed stderr does not stop the demo.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Runs `apilens demo`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    Demo::check(&args.scenario, args.history)?;
    let temp = (args.data_dir.is_none())
        .then(|| tempfile::Builder::new().prefix("apilens-demo-").tempdir())
        .transpose()
        .context("cannot create a temporary store directory")?;
    let data_dir = (args.data_dir.clone())
        .or_else(|| temp.as_ref().map(|t| t.path().to_owned()))
        .unwrap_or_default();
    async_runtime(Workers::PerCore)?.block_on(demo(&args, &data_dir))
}

async fn demo(args: &Args, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let listening = args.server.bind().await?;
    let (local, scheme) = (listening.local, listening.site.scheme());
    let config = ScenarioConfig {
        replicas: args.replicas,
        seed: args.seed,
        ..ScenarioConfig::new(&args.scenario, args.kubernetes_version)
    };
    let mut demo = Demo::start(config, args.history, data_dir).await?;
    note!(
        "apilens demo: scenario {} on Kubernetes {}, {} API servers (SIMULATED data)",
        args.scenario,
        args.kubernetes_version,
        args.replicas
    );
    note!(
        "storing {} of simulated scrapes every {}s in {} ...",
        format_duration(args.history),
        DEMO_SCRAPE_INTERVAL.as_secs(),
        data_dir.display()
    );
    demo.fill_history().await?;

    let findings = FindingsSlot::new();
    let app = demo.router(&args.server.limits(), findings.clone());
    let server = HttpServer::spawn(listening.listener, app, listening.site);
    let report = demo.report().await?;
    print(&report, args.format)?;
    // The doctor's findings: who is behind the metrics, and the fix, for the dashboard's
    // culprit panel and, in text, after the report.
    let d = demo.culprits(&report).await?;
    findings.set(apilens_doctor::render_json(&d));
    if args.format == ReportFormat::Text {
        print_text(&apilens_doctor::render_who_text(&d, 3))?;
    }
    let audit = demo.audit_log().display();
    note!("");
    note!("dashboard:     {scheme}://{local}/");
    note!(
        "query API:     {scheme}://{local}/api/v1/query (Grafana: add a Prometheus data source with this URL minus /api/v1/query)"
    );
    note!("who, the fix:  apilens doctor --audit-log {audit} --prometheus http://{local}");
    note!("the LISTs:     apilens audit lists {audit}");

    if !args.exit_after_report {
        if args.data_dir.is_none() {
            note!("the store is temporary: pass --data-dir DIR to keep it");
        }
        note!(
            "simulating live every {}s; Ctrl-C to stop",
            DEMO_SCRAPE_INTERVAL.as_secs()
        );
        let signal = demo.run_live(apilens_web::shutdown_signal()).await?;
        tracing::info!(signal = signal?, "shutting down");
    }
    server.stop().await;
    demo.close().await;
    Ok(ExitCode::SUCCESS)
}
