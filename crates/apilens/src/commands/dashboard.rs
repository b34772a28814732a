//! `apilens dashboard`: the troubleshooter dashboard over a stored directory or a remote
//! Prometheus-compatible engine, without scraping anything.

use crate::shared::logging::init_logging;
use crate::shared::remote::RemoteArgs;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::store::open_read_only;
use crate::shared::web::ServerArgs;
use apilens_apf::KubeVersion;
use apilens_promapi::{QueryEngine, RemoteEngine};
use apilens_scrape::Health;
use apilens_serve::store_router;
use apilens_web::{FindingsSlot, HttpServer, shutdown_signal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Serve the troubleshooter dashboard over an existing store or a remote engine.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens dashboard --data-dir data --audit-log audit/
  apilens dashboard --prometheus http://prometheus:9090 --bearer-token-file token
  apilens dashboard --amp-workspace ws-1234abcd --sigv4-region eu-west-1")]
pub(crate) struct Args {
    /// The store directory to show, opened read-only (while no `apilens serve` writes it).
    #[arg(long, default_value = "data", conflicts_with = "prometheus")]
    data_dir: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    server: ServerArgs,
    /// An audit log (file, directory or glob, repeatable) for the culprit panel: the doctor's
    /// findings over it, read once at start in the background.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<String>,
    /// The Kubernetes version whose APF defaults classify the audit log (default: the
    /// version the metrics report, else the newest apilens knows).
    #[arg(long, value_name = "X.Y")]
    kubernetes_version: Option<KubeVersion>,
}

/// Runs `apilens dashboard` until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let findings = FindingsSlot::new();
    if !args.audit_logs.is_empty() {
        let inputs = apilens_doctor::DoctorInputs {
            audit: apilens_audit::collect_inputs(&args.audit_logs)?,
            version: (args.kubernetes_version).map(|v| (v, "--kubernetes-version".to_owned())),
            ..apilens_doctor::DoctorInputs::default()
        };
        findings.fill_in_background(move || {
            apilens_doctor::diagnose(&inputs).map(|d| apilens_doctor::render_json(&d))
        });
    }
    // The remote client blocks: it is built, and finally dropped, outside the async runtime.
    let remote = args.remote.client(Duration::from_secs(120))?;
    let engine = remote.map(|client| Arc::new(RemoteEngine::new(client)) as Arc<dyn QueryEngine>);
    let (app, what) = match &engine {
        Some(engine) => {
            let state = args.server.limits().api_state(Arc::clone(engine));
            (apilens_web::app_router(state, findings), engine.describe())
        }
        None => {
            let db = open_read_only(
                &args.data_dir,
                " (pass --data-dir DIR or --prometheus URL)",
                " (when `apilens serve` holds it, its own dashboard is already served)",
            )?;
            let limits = args.server.limits();
            let app = store_router(Health::new(), Arc::new(db), &limits, findings);
            (app, format!("store {}", args.data_dir.display()))
        }
    };
    let runtime = async_runtime(Workers::PerCore)?;
    runtime.block_on(async {
        let listening = args.server.bind().await?;
        let (local, scheme) = (listening.local, listening.site.scheme());
        let server = HttpServer::spawn(listening.listener, app, listening.site);
        eprintln!("dashboard: {scheme}://{local}/ over {what}; Ctrl-C to stop");
        match shutdown_signal().await {
            Ok(signal) => tracing::info!(signal, "shutting down"),
            Err(e) => tracing::warn!(error = %e, "no signal handler; stopping"),
        }
        server.stop().await;
        anyhow::Ok(())
    })?;
    drop(runtime);
    drop(engine);
    Ok(ExitCode::SUCCESS)
}
