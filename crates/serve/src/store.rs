//! The writable store of a server: opened off the async threads, served with the targets'
//! health, closed last.

use crate::error::ServeError;
use apilens_scrape::Health;
use apilens_tsdb::{Db, DbOptions};
use apilens_web::{FindingsSlot, QueryLimits};
use std::path::Path;
use std::sync::Arc;

/// Opens (or creates) the store in `dir` as its writer, on a blocking thread: the WAL replay
/// of a large store takes a while.
///
/// # Errors
///
/// [`ServeError::Store`] naming the directory.
pub async fn open_store(dir: &Path, opts: DbOptions) -> Result<Arc<Db>, ServeError> {
    let path = dir.to_owned();
    let db = tokio::task::spawn_blocking(move || Db::open(&path, opts)).await?;
    db.map(Arc::new).map_err(|source| ServeError::Store {
        dir: dir.to_owned(),
        source,
    })
}

/// Closes the store when nothing else holds it; otherwise its WAL keeps every committed batch.
pub async fn close_store(db: Arc<Db>) {
    match Arc::try_unwrap(db) {
        Ok(db) => {
            if let Err(err) = tokio::task::spawn_blocking(move || db.close()).await {
                tracing::warn!(error = %err, "closing the store failed");
            }
        }
        Err(_) => {
            tracing::warn!("store still in use at shutdown; its WAL holds every committed batch")
        }
    }
}

/// The HTTP routes of a server over the store `db`: the query API on its own query threads
/// within `limits`, the dashboard and its culprit panel from `findings`, and the scrape
/// targets' `health` at `/api/v1/targets`.
pub fn store_router(
    health: Health,
    db: Arc<Db>,
    limits: &QueryLimits,
    findings: FindingsSlot,
) -> axum::Router {
    let targets = move || serde_json::to_value(health.snapshot()).unwrap_or_default();
    limits.store_router(db, findings, targets)
}
