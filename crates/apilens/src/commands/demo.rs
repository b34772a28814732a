//! `apilens demo`: the simulator, the embedded store, the dashboard and the report together,
//! with nothing to install and no cluster.

use crate::output::{ReportFormat, print_text};
use crate::shared::logging::init_logging;
use crate::shared::report_print::print;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::store::close_store;
use anyhow::{Context as _, bail};
use apilens_doctor::clients_behind;
use apilens_model::{format_duration, now_ms, parse_duration};
use apilens_promapi::LocalEngine;
use apilens_promql::{Engine, EngineOpts};
use apilens_report::{ReportOpts, build_report};
use apilens_scrape::{Health, SimulatedCluster, SimulatedOpts, Sink};
use apilens_sim::{KubeVersion, ScenarioConfig, check_scenario};
use apilens_tsdb::{Db, DbOptions};
use apilens_web::HttpServer;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
    kubernetes_version: String,
    /// Number of API server replicas.
    #[arg(long, default_value_t = 2, value_name = "N")]
    replicas: usize,
    /// Simulated time stored before the report, generated at once (at least 5m).
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    history: Duration,
    /// Seed of the random draws: the same seed gives the same data.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Address of the dashboard and query API.
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: SocketAddr,
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
    web: crate::shared::web::WebArgs,
    #[command(flatten)]
    limits: crate::shared::web::QueryLimitArgs,
}

/// Writes one line on standard error; a closed stderr does not stop the demo.
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Time between two simulated scrapes, as `apilens serve` scrapes by default.
const SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

/// Runs `apilens demo`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    check_scenario(&args.scenario)?;
    if args.history < Duration::from_secs(300) {
        bail!("--history must be at least 5m: rates look 5 minutes back");
    }
    let runtime = async_runtime(Workers::PerCore)?;
    runtime.block_on(demo(args))
}

async fn demo(args: Args) -> anyhow::Result<ExitCode> {
    let (data_dir, _temp) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new().prefix("apilens-demo-").tempdir();
            let temp = temp.context("cannot create a temporary store directory")?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    // An earlier run's store holds newer samples than this run's history, which it would refuse.
    if std::fs::read_dir(&data_dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "--data-dir {} is not empty: give the demo a new or empty directory",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let web = args.web.load(args.listen)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let local = listener.local_addr()?;

    let history_ms = i64::try_from(args.history.as_millis()).unwrap_or(i64::MAX);
    let interval_ms = SCRAPE_INTERVAL.as_millis() as i64;
    let now = now_ms() / interval_ms * interval_ms;
    let dir = data_dir.clone();
    let db = tokio::task::spawn_blocking(move || Db::open(&dir, DbOptions::default()))
        .await?
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let db = Arc::new(db);
    let health = Health::new();
    let audit_path = data_dir.join("audit.log");
    let config = ScenarioConfig {
        scenario: args.scenario.clone(),
        kubernetes_version: KubeVersion::parse(&args.kubernetes_version)?,
        replicas: args.replicas,
        seed: args.seed,
        start_unix_ms: now - history_ms,
    };
    let mut cluster = SimulatedCluster::start(
        config,
        SimulatedOpts {
            audit_log: &audit_path,
            sink: Arc::clone(&db) as Arc<dyn Sink>,
            health: health.clone(),
            interval: SCRAPE_INTERVAL,
        },
    )?;

    note!(
        "apilens demo: scenario {} on Kubernetes {}, {} API servers (SIMULATED data)",
        args.scenario,
        args.kubernetes_version,
        args.replicas
    );
    note!(
        "storing {} of simulated scrapes every {}s in {} ...",
        format_duration(args.history),
        SCRAPE_INTERVAL.as_secs(),
        data_dir.display()
    );
    cluster
        .scrape_history(now - history_ms + interval_ms, now, SCRAPE_INTERVAL)
        .await?;

    let findings = apilens_web::FindingsSlot::new();
    let app =
        crate::shared::web::store_router(health, Arc::clone(&db), &args.limits, findings.clone());
    let scheme = web.scheme();
    let server = HttpServer::spawn(listener, app, web);

    let report = {
        let db = Arc::clone(&db);
        let opts = ReportOpts::new(now, args.history.min(Duration::from_secs(3600)));
        tokio::task::spawn_blocking(move || {
            let engine = LocalEngine::new(
                Engine::new(EngineOpts::default()),
                db.as_ref(),
                "the demo store",
            );
            build_report(&engine, &opts)
        })
        .await??
    };
    print(&report, args.format)?;
    // The doctor's findings: who is behind the metrics, and the fix, for the dashboard's
    // culprit panel and, in text, after the report.
    let d = {
        let (report, path) = (report.clone(), audit_path.clone());
        tokio::task::spawn_blocking(move || clients_behind(&report, &[path])).await??
    };
    findings.set(apilens_doctor::render_json(&d));
    if args.format == ReportFormat::Text {
        print_text(&apilens_doctor::render_who_text(&d, 3))?;
    }
    let audit = audit_path.display();
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
            SCRAPE_INTERVAL.as_secs()
        );
        let signal = apilens_web::shutdown_signal();
        let signal = cluster.scrape_live(SCRAPE_INTERVAL, signal).await?;
        tracing::info!(signal = signal?, "shutting down");
    }
    server.stop().await;
    drop(cluster);
    close_store(db).await;
    Ok(ExitCode::SUCCESS)
}
