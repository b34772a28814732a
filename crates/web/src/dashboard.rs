//! The troubleshooter dashboard: the page, its script and style, the vendored uPlot, and the panel
//! catalog as JSON. The page reads its data from `/api/v1/query` and `/api/v1/query_range`, so it
//! works unchanged over the embedded store or a remote Prometheus-compatible engine.

use apilens_panels::{Row, catalog};
use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const UPLOT_JS: &str = include_str!("../assets/vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/vendor/uplot/uPlot.min.css");

/// Content Security Policy of the page: nothing from outside this server.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

/// The dashboard routes: `/` (the page), `/assets/*` and `/api/panels` (the catalog).
///
/// Mount it beside the query API; it holds no state of its own, so it merges into a router of any
/// state type:
///
/// ```
/// let app: axum::Router = apilens_web::dashboard_router();
/// # let _ = app;
/// ```
pub fn dashboard_router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/index.html",
            get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/assets/vendor/uplot/uPlot.iife.min.js",
            get(|| async { asset(UPLOT_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/vendor/uplot/uPlot.min.css",
            get(|| async { asset(UPLOT_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/panels", get(|| async { panels_response() }))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

fn panels_response() -> Response {
    let mut res = axum::Json(panels_json()).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The catalog as the page reads it: rows with titles, and each panel with every query's
/// alternatives plus the `combined` template used when the Kubernetes version is unknown.
pub fn panels_json() -> Value {
    let catalog = catalog();
    let mut panels = serde_json::to_value(catalog.panels()).unwrap_or_else(|_| json!([]));
    if let Some(list) = panels.as_array_mut() {
        for (panel, source) in list.iter_mut().zip(catalog.panels()) {
            if let Some(queries) = panel["queries"].as_array_mut() {
                for (query, q) in queries.iter_mut().zip(&source.queries) {
                    query["combined"] = json!(q.combined_template());
                }
            }
        }
    }
    let rows: Vec<Value> = Row::ALL
        .iter()
        .map(|row| json!({"id": serde_json::to_value(row).unwrap_or(Value::Null), "title": row.title()}))
        .collect();
    json!({"rows": rows, "panels": panels})
}
