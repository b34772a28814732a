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

    /// Runs `find` on a thread of its own and puts the JSON it returns in the slot; a failure
    /// is logged (its causes on one line) and leaves the culprit panel hidden.
    pub fn fill_in_background<E: std::error::Error + 'static>(
        &self,
        find: impl FnOnce() -> Result<String, E> + Send + 'static,
    ) {
        let slot = self.clone();
        std::thread::spawn(move || match find() {
            Ok(json) => {
                tracing::info!("culprit panel ready");
                slot.set(json);
            }
            Err(e) => tracing::warn!(
                error = %apilens_model::error_chain(&e),
                "no culprit panel: the audit log could not be diagnosed"
            ),
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_found_in_the_background_fill_the_slot_and_a_failure_leaves_it_empty() {
        let failed = FindingsSlot::new();
        failed.fill_in_background(|| Err(std::io::Error::other("unreadable audit log")));
        let slot = FindingsSlot::new();
        slot.fill_in_background(|| Ok::<_, std::io::Error>(r#"{"findings":[]}"#.to_owned()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while slot.get().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(slot.get().as_deref(), Some(r#"{"findings":[]}"#));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(failed.get(), None);
    }
}
