//! `/api/verdict`: the report's one-line verdict (level, cause and chain) over the range the
//! dashboard shows, for the banner at the top of the page.
//!
//! The verdict is [`apilens_report::build_report`] run through the same [`QueryEngine`] as the
//! page's panels: the embedded engine over the store, or the remote engine the dashboard reads
//! through. So the banner and the panels read the same data.

use apilens_model::now_ms;
use apilens_promapi::QueryEngine;
use apilens_report::{ReportOpts, build_report};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The query string: the end of the range (Unix seconds, default now) and its length in
/// seconds (default one hour).
#[derive(Debug, Deserialize)]
struct Params {
    end: Option<f64>,
    range: Option<u64>,
}

/// The `/api/verdict` route over `engine`.
///
/// Answers `{"level", "overall", "cause", "sections": [{"row", "title", "level", "verdict"}]}`
/// with status 200, a bad parameter with 400, a source that cannot answer with 503.
pub fn verdict_router(engine: Arc<dyn QueryEngine>) -> Router {
    Router::new()
        .route("/api/verdict", get(verdict))
        .with_state(engine)
}

async fn verdict(State(engine): State<Arc<dyn QueryEngine>>, Query(p): Query<Params>) -> Response {
    let end_ms = match p.end {
        Some(s) if s.is_finite() => (s * 1000.0) as i64,
        Some(_) => return answer(StatusCode::BAD_REQUEST, json!({"error": "invalid end"})),
        None => now_ms(),
    };
    let range = Duration::from_secs(p.range.unwrap_or(3600).max(60));
    let opts = ReportOpts::new(end_ms, range);
    let built = tokio::task::spawn_blocking(move || build_report(engine.as_ref(), &opts)).await;
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
