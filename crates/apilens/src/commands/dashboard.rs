//! `apilens dashboard`: the troubleshooter dashboard over a stored directory or a remote
//! Prometheus-compatible engine, without scraping anything.

use crate::shared::logging::init_logging;
use crate::shared::remote::RemoteArgs;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::web::{QueryLimitArgs, WebArgs, store_router};
use anyhow::{Context as _, bail};
use apilens_promapi::{QueryEngine, RemoteEngine};
use apilens_scrape::Health;
use apilens_tsdb::Db;
use apilens_web::shutdown_signal;
use std::net::SocketAddr;
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
    /// Address of the dashboard and its query API.
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: SocketAddr,
    #[command(flatten)]
    web: WebArgs,
    #[command(flatten)]
    limits: QueryLimitArgs,
    /// An audit log (file, directory or glob, repeatable) for the culprit panel: the doctor's
    /// findings over it, read once at start in the background.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<String>,
    /// The Kubernetes version whose APF defaults classify the audit log (default: the
    /// version the metrics report, else the newest apilens knows).
    #[arg(long, value_name = "X.Y")]
    kubernetes_version: Option<String>,
}

/// Runs `apilens dashboard` until SIGINT or SIGTERM.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    // The remote client blocks: it is built, and finally dropped, outside the async runtime.
    let engine: Option<Arc<dyn QueryEngine>> = args
        .remote
        .client(Duration::from_secs(120))?
        .map(|client| Arc::new(RemoteEngine::new(client)) as Arc<dyn QueryEngine>);
    let runtime = async_runtime(Workers::PerCore)?;
    let result = runtime.block_on(dashboard(args, engine.clone()));
    drop(runtime);
    drop(engine);
    result
}

async fn dashboard(args: Args, engine: Option<Arc<dyn QueryEngine>>) -> anyhow::Result<ExitCode> {
    let web = args.web.load(args.listen)?;
    let findings = apilens_web::FindingsSlot::new();
    if !args.audit_logs.is_empty() {
        let version = args
            .kubernetes_version
            .as_deref()
            .map(|v| {
                apilens_apf::KubeVersion::parse(v)
                    .with_context(|| format!("--kubernetes-version {v}"))
            })
            .transpose()?;
        let inputs = apilens_audit::collect_inputs(&args.audit_logs)?;
        diagnose_in_background(inputs, version, findings.clone());
    }
    let (app, what) = match engine {
        Some(engine) => {
            let what = engine.describe();
            let state = args.limits.api_state(engine);
            (apilens_web::app_router(state, findings), what)
        }
        None => {
            if !args.data_dir.is_dir() {
                bail!(
                    "store directory {} does not exist (pass --data-dir DIR or --prometheus URL)",
                    args.data_dir.display()
                );
            }
            let dir = args.data_dir.clone();
            let db = tokio::task::spawn_blocking(move || Db::open_read_only(&dir))
                .await?
                .with_context(|| {
                    format!(
                        "cannot open the store in {} (when `apilens serve` holds it, its own dashboard is already served)",
                        args.data_dir.display()
                    )
                })?;
            (
                store_router(Health::new(), Arc::new(db), &args.limits, findings),
                format!("store {}", args.data_dir.display()),
            )
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    eprintln!(
        "dashboard: {}://{local}/ over {what}; Ctrl-C to stop",
        web.scheme()
    );
    web.serve(listener, app, async {
        match shutdown_signal().await {
            Ok(signal) => tracing::info!(signal, "shutting down"),
            Err(e) => tracing::warn!(error = %e, "no signal handler; stopping"),
        }
    })
    .await
    .context("HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the doctor over `audit_logs` on a thread of its own and puts its JSON findings in
/// `slot` for the culprit panel; a failure is logged and leaves the panel hidden.
fn diagnose_in_background(
    audit: Vec<apilens_audit::Input>,
    version: Option<apilens_apf::KubeVersion>,
    slot: apilens_web::FindingsSlot,
) {
    std::thread::spawn(move || {
        let inputs = apilens_doctor::DoctorInputs {
            audit,
            version: version.map(|v| (v, "--kubernetes-version".to_owned())),
            ..apilens_doctor::DoctorInputs::default()
        };
        match apilens_doctor::diagnose(&inputs) {
            Ok(d) => {
                tracing::info!(findings = d.findings.len(), "culprit panel ready");
                slot.set(apilens_doctor::render_json(&d));
            }
            Err(e) => tracing::warn!(
                error = %apilens_model::error_chain(&e),
                "no culprit panel: the audit log could not be diagnosed"
            ),
        }
    });
}
