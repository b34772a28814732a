//! `apilens dashboard`: the troubleshooter dashboard over a stored directory or a remote
//! Prometheus-compatible engine, without scraping anything.

use crate::commands::remote::RemoteArgs;
use crate::commands::serve::{init_logging, shutdown_signal};
use crate::commands::web_server::{QueryLimitArgs, WebArgs};
use anyhow::{Context as _, bail};
use apilens_promql::{RemoteAnswer, RemoteClient, api_error, parse_duration, parse_time};
use apilens_scrape::Health;
use apilens_tsdb::Db;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    let client = args.remote.client(Duration::from_secs(120))?.map(Arc::new);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(dashboard(args, client.clone()));
    drop(runtime);
    drop(client);
    result
}

async fn dashboard(args: Args, client: Option<Arc<RemoteClient>>) -> anyhow::Result<ExitCode> {
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
    let (app, what) = match client {
        Some(client) => {
            let what = client.base().to_owned();
            (
                remote_router(client).merge(apilens_web::findings_router(findings)),
                what,
            )
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
                crate::commands::serve::router(Health::new(), Arc::new(db), &args.limits, findings),
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
    .await?;
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

/// The dashboard with `/api/v1/query` and `/api/v1/query_range` forwarded to `client`: the
/// remote engine evaluates the panel queries unchanged and a successful answer is passed on as
/// is; a failed one becomes a Prometheus-style error that names the engine and carries its
/// message.
fn remote_router(client: Arc<RemoteClient>) -> axum::Router {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/v1/query", get(remote_query).post(remote_query))
        .route(
            "/api/v1/query_range",
            get(remote_query_range).post(remote_query_range),
        )
        .with_state(Arc::clone(&client))
        .merge(apilens_web::dashboard_router())
        .merge(apilens_web::verdict_router(
            apilens_web::VerdictSource::Remote(client),
        ))
        .route("/-/healthy", get(|| async { "apilens is Healthy.\n" }))
        .route("/-/ready", get(|| async { "apilens is Ready.\n" }))
}

/// Query-string and form parameters, query string first.
fn params(query: Option<String>, body: &Bytes) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = query
        .map(|q| form_urlencoded_pairs(q.as_bytes()))
        .unwrap_or_default();
    out.extend(form_urlencoded_pairs(body));
    out
}

fn form_urlencoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    reqwest::Url::parse("http://x/")
        .map(|mut url| {
            url.set_query(Some(&String::from_utf8_lossy(bytes)));
            url.query_pairs().into_owned().collect()
        })
        .unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bad(message: String) -> Response {
    let err = apilens_promql::Error::BadParam(message);
    respond(Err(err))
}

fn respond(result: Result<String, apilens_promql::Error>) -> Response {
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(e) => api_error(&e),
    };
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The engine's answer with its own status, errors included (a query it refuses is its 400
/// `bad_data`, as Grafana expects); an engine that cannot be reached is a 503 naming it.
fn relay(
    result: Result<Result<RemoteAnswer, apilens_promql::Error>, tokio::task::JoinError>,
) -> Response {
    match result.unwrap_or_else(|e| Err(apilens_promql::Error::Execution(e.to_string()))) {
        Ok(answer) => (
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, "application/json")],
            answer.body,
        )
            .into_response(),
        Err(e) => respond(Err(e)),
    }
}

fn time_param(params: &[(String, String)], name: &str) -> Result<Option<i64>, String> {
    match param(params, name) {
        None | Some("") => Ok(None),
        Some(text) => parse_time(text)
            .map(Some)
            .map_err(|e| format!("invalid parameter \"{name}\": {e}")),
    }
}

async fn remote_query(
    State(client): State<Arc<RemoteClient>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = params(query, &body);
    let Some(expr) = param(&params, "query").map(str::to_owned) else {
        return bad("invalid parameter \"query\": missing".to_owned());
    };
    let time = match time_param(&params, "time") {
        Ok(t) => t.unwrap_or_else(crate::commands::report::now_ms),
        Err(e) => return bad(e),
    };
    let result = tokio::task::spawn_blocking(move || client.relay_query(&expr, time)).await;
    relay(result)
}

async fn remote_query_range(
    State(client): State<Arc<RemoteClient>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = params(query, &body);
    let parsed = (|| {
        let expr = param(&params, "query").ok_or("invalid parameter \"query\": missing")?;
        let start = time_param(&params, "start")?.ok_or("invalid parameter \"start\": missing")?;
        let end = time_param(&params, "end")?.ok_or("invalid parameter \"end\": missing")?;
        let step = param(&params, "step")
            .ok_or("invalid parameter \"step\": missing".to_owned())
            .and_then(|s| {
                parse_duration(s).map_err(|e| format!("invalid parameter \"step\": {e}"))
            })?;
        Ok::<_, String>((expr.to_owned(), start, end, step))
    })();
    let (expr, start, end, step) = match parsed {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let result =
        tokio::task::spawn_blocking(move || client.relay_query_range(&expr, start, end, step))
            .await;
    relay(result)
}
