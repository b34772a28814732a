//! `/api/verdict`: the report's one-line verdict (level, cause and chain) over the range the
//! dashboard shows, for the banner at the top of the page.
//!
//! The verdict is [`apilens_report::build_report`] run through the same query source as the
//! page's panels: the embedded engine over the store, or the remote engine the dashboard
//! forwards to. So the banner and the panels read the same data.

use crate::ApiState;
use apilens_promql::RemoteClient;
use apilens_report::{LocalSource, QuerySource, RemoteSource, ReportOpts, build_report};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// What the verdict is read from: the same source as the dashboard's queries.
#[derive(Clone)]
pub enum VerdictSource {
    /// The embedded engine over a store.
    Store(ApiState),
    /// A remote Prometheus-compatible engine.
    Remote(Arc<RemoteClient>),
}

impl std::fmt::Debug for VerdictSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerdictSource::Store(_) => f.write_str("VerdictSource::Store"),
            VerdictSource::Remote(c) => write!(f, "VerdictSource::Remote({})", c.base()),
        }
    }
}

/// The query string: the end of the range (Unix seconds, default now) and its length in
/// seconds (default one hour).
#[derive(Debug, Deserialize)]
struct Params {
    end: Option<f64>,
    range: Option<u64>,
}

/// The `/api/verdict` route over `source`.
///
/// Answers `{"level", "overall", "cause", "sections": [{"row", "title", "level", "verdict"}]}`
/// with status 200, a bad parameter with 400, a source that cannot answer with 503.
pub fn verdict_router(source: VerdictSource) -> Router {
    Router::new()
        .route("/api/verdict", get(verdict))
        .with_state(source)
}

async fn verdict(State(source): State<VerdictSource>, Query(p): Query<Params>) -> Response {
    let end_ms = match p.end {
        Some(s) if s.is_finite() => (s * 1000.0) as i64,
        Some(_) => return answer(StatusCode::BAD_REQUEST, json!({"error": "invalid end"})),
        None => now_ms(),
    };
    let range = Duration::from_secs(p.range.unwrap_or(3600).max(60));
    let opts = ReportOpts::new(end_ms, range);
    let built = tokio::task::spawn_blocking(move || match &source {
        VerdictSource::Store(state) => build_report(
            &LocalSource::new(state.engine.clone(), state.queryable.as_ref(), "store"),
            &opts,
        ),
        VerdictSource::Remote(client) => {
            let remote: &dyn QuerySource = &RemoteSource::new(client.as_ref().clone());
            build_report(remote, &opts)
        }
    })
    .await;
    match built {
        Ok(Ok(report)) => {
            let sections: Vec<_> = report
                .sections
                .iter()
                .map(|s| {
                    json!({"row": s.row, "title": s.title, "level": s.level, "verdict": s.verdict})
                })
                .collect();
            answer(
                StatusCode::OK,
                json!({
                    "level": report.level(),
                    "overall": report.overall,
                    "cause": report.cause,
                    "sections": sections,
                }),
            )
        }
        Ok(Err(e)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": e.to_string()}),
        ),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("verdict task failed: {e}")}),
        ),
    }
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
