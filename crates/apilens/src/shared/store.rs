//! The embedded store's end of life in a server.

use apilens_tsdb::Db;
use std::sync::Arc;

/// Closes the store when nothing else holds it; otherwise its WAL keeps every committed batch.
pub(crate) async fn close_store(db: Arc<Db>) {
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
