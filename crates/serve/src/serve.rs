//! `apilens serve`: targets scraped into the store, and the store served, until told to stop.

use crate::error::ServeError;
use crate::store::{close_store, open_store, store_router};
use apilens_remotewrite::{RemoteWriteSpec, RemoteWriter, Tee};
use apilens_scrape::{Health, ScrapeOpts, Scraper, Sink, Target};
use apilens_tsdb::DbOptions;
use apilens_web::{FindingsSlot, HttpServer, Listening, QueryLimits};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

/// What a server scrapes, where it stores it and how it serves it.
pub struct ServeOpts {
    /// Every target to scrape.
    pub targets: Vec<Target>,
    /// The store directory.
    pub data_dir: PathBuf,
    /// The store's retention and sizes.
    pub db: DbOptions,
    /// The scrape interval, timeout and caps.
    pub scrape: ScrapeOpts,
    /// Where every scrape goes after the store, when remote write is on: started once the
    /// store is open.
    pub remote_write: Option<RemoteWriteSpec>,
    /// The query API's limits.
    pub limits: QueryLimits,
}

/// Scrapes `opts.targets` into the store (and the remote writer) and serves the store where
/// `listening` is bound until `stop` completes; then stops in this order: the scrapes, the
/// remote writer (what is unsent stays queued on disk), the server (requests in flight
/// finish), the store. Returns what `stop` returned.
///
/// # Errors
///
/// [`ServeError::Store`] when the store cannot be opened, [`ServeError::RemoteWrite`] when the
/// remote writer cannot start; nothing is scraped then.
pub async fn serve_until<T>(
    opts: ServeOpts,
    listening: Listening,
    stop: impl Future<Output = T>,
) -> Result<T, ServeError> {
    let db = open_store(&opts.data_dir, opts.db).await?;
    for t in &opts.targets {
        tracing::info!(job = %t.job, instance = %t.instance, source = %t.source(), "target");
    }
    let remote_writer = match opts
        .remote_write
        .as_ref()
        .map(start_remote_writer)
        .transpose()
    {
        Ok(writer) => writer,
        Err(e) => {
            close_store(db).await;
            return Err(e);
        }
    };
    let health = Health::new();
    let sink = Tee::store_then(Arc::clone(&db) as Arc<dyn Sink>, remote_writer.as_ref());
    let scraper = Scraper::start(opts.targets, opts.scrape, sink, health.clone());
    let app = store_router(health, Arc::clone(&db), &opts.limits, FindingsSlot::new());
    let (scheme, local) = (listening.site.scheme(), listening.local);
    let server = HttpServer::spawn(listening.listener, app, listening.site);
    tracing::info!(listen = %local, scheme, data_dir = %opts.data_dir.display(), "serving");
    let stopped = stop.await;
    scraper.shutdown().await;
    if let Some(w) = remote_writer {
        let _ = tokio::task::spawn_blocking(move || w.shutdown()).await;
    }
    server.stop().await;
    close_store(db).await;
    tracing::info!("stopped");
    Ok(stopped)
}

/// Starts the remote writer `spec` asks for.
fn start_remote_writer(spec: &RemoteWriteSpec) -> Result<Arc<RemoteWriter>, ServeError> {
    let writer = spec.start().map_err(|source| ServeError::RemoteWrite {
        url: spec
            .url
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        source,
    })?;
    Ok(Arc::new(writer))
}
