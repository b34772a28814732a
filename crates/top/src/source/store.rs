//! A store directory opened read-only at every refresh, and a remote Prometheus-compatible
//! engine: each read through the report and the doctor, as `report` and `doctor` read them.

use super::audit_logs::AuditLogs;
use super::refresh::Refresher;
use super::settings::Settings;
use crate::error::TopError;
use crate::frame::Frame;
use crate::term::Source;
use apilens_promapi::{LocalEngine, RemoteClient, RemoteEngine};
use apilens_tsdb::Db;
use std::path::PathBuf;
use std::time::Duration;

/// A store directory, opened read-only at every refresh so that what a writer adds shows up.
pub struct StoreSource {
    dir: PathBuf,
    name: String,
    settings: Settings,
    audit: AuditLogs,
    refresher: Refresher,
}

impl StoreSource {
    /// Reads the store in `dir`.
    ///
    /// # Errors
    ///
    /// When the audit logs cannot be followed.
    pub fn new(dir: PathBuf, settings: Settings) -> Result<StoreSource, TopError> {
        let name = format!("store {}", dir.display());
        Ok(StoreSource {
            dir,
            name,
            audit: AuditLogs::new(&settings)?,
            refresher: Refresher::new(&settings),
            settings,
        })
    }
}

impl Source for StoreSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        let db = Db::open_read_only(&self.dir).map_err(|e| {
            format!(
                "opening store {}: {} (when `apilens serve` holds it, read through its API: --prometheus http://127.0.0.1:9797)",
                self.dir.display(),
                apilens_model::error_chain(&e)
            )
        })?;
        // The report's queries select the same series many times and aggregate them the same
        // way many times: each is read and aggregated once in a refresh.
        let local = LocalEngine::snapshot(&db, &self.name);
        let audit = self.audit.current()?;
        self.refresher.read_frame(
            &self.name,
            &local,
            &audit,
            self.settings.end_ms(back),
            None,
            back.is_zero(),
        )
    }
}

/// A remote Prometheus-compatible engine (`--prometheus`, SigV4 included).
pub struct RemoteStoreSource {
    queries: RemoteEngine,
    name: String,
    settings: Settings,
    audit: AuditLogs,
    refresher: Refresher,
}

impl RemoteStoreSource {
    /// Reads through `client`.
    ///
    /// # Errors
    ///
    /// When the audit logs cannot be followed.
    pub fn new(client: RemoteClient, settings: Settings) -> Result<RemoteStoreSource, TopError> {
        let name = client.base().to_owned();
        Ok(RemoteStoreSource {
            queries: RemoteEngine::new(client),
            name,
            audit: AuditLogs::new(&settings)?,
            refresher: Refresher::new(&settings),
            settings,
        })
    }
}

impl Source for RemoteStoreSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        let audit = self.audit.current()?;
        self.refresher.read_frame(
            &self.name,
            &self.queries,
            &audit,
            self.settings.end_ms(back),
            None,
            back.is_zero(),
        )
    }
}
