//! `/api/findings`: the doctor's findings (who is causing it, and the fix) for the dashboard's
//! culprit panel.
//!
//! The web crate does not diagnose: the binary runs the doctor over the audit logs it was given
//! and puts the JSON it renders into a [`FindingsSlot`]. The route answers what the slot holds,
//! and 404 while it holds nothing (no audit log given, or the diagnosis not done yet), which the
//! page reads as "no culprit panel".

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, RwLock};

/// The latest findings as the doctor renders them in JSON, shared between whoever diagnoses
/// and the route that serves them. Cloning shares the slot.
#[derive(Debug, Clone, Default)]
pub struct FindingsSlot(Arc<RwLock<Option<Arc<str>>>>);

impl FindingsSlot {
    /// An empty slot: `/api/findings` answers 404 until [`FindingsSlot::set`].
    pub fn new() -> FindingsSlot {
        FindingsSlot::default()
    }

    /// Replaces the findings with `json` (the doctor's `render_json` output).
    pub fn set(&self, json: String) {
        let mut slot = self.0.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(json.into());
    }

    /// The findings held, if any.
    pub fn get(&self) -> Option<Arc<str>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The `/api/findings` route over `slot`: the JSON held with status 200, else 404 with
/// `{"error": ...}`.
pub fn findings_router(slot: FindingsSlot) -> Router {
    Router::new()
        .route("/api/findings", get(findings))
        .with_state(slot)
}

async fn findings(State(slot): State<FindingsSlot>) -> Response {
    match slot.get() {
        Some(json) => (
            [(header::CONTENT_TYPE, "application/json")],
            json.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"no findings: the dashboard was started without an audit log, or the diagnosis is not done yet"}"#,
        )
            .into_response(),
    }
}
