//! `apilens demo`: a simulated cluster with a problem, its history stored at once, then the
//! report and the doctor's culprits read from the store, and live scrapes until told to stop.
//! The data is SIMULATED: real metric names and bucket layouts, made-up values.

use crate::error::ServeError;
use crate::store::{close_store, open_store, store_router};
use apilens_doctor::{Diagnosis, clients_behind};
use apilens_model::now_ms;
use apilens_promapi::LocalEngine;
use apilens_promql::{Engine, EngineOpts};
use apilens_report::{Report, ReportOpts, build_report};
use apilens_scrape::{Health, SimulatedCluster, SimulatedOpts, Sink};
use apilens_sim::{ScenarioConfig, check_scenario};
use apilens_tsdb::{Db, DbOptions};
use apilens_web::{FindingsSlot, QueryLimits};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Time between two simulated scrapes, as `apilens serve` scrapes by default.
pub const DEMO_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

/// The least history the demo stores: rates look 5 minutes back.
pub const MIN_HISTORY: Duration = Duration::from_secs(300);

/// The longest range the demo's report reads, ending at the newest scrape.
const REPORT_RANGE: Duration = Duration::from_secs(3600);

/// A simulated cluster scraped into a store of its own, with its audit log beside.
pub struct Demo {
    db: Arc<Db>,
    cluster: SimulatedCluster,
    health: Health,
    audit_log: PathBuf,
    /// The newest scrape of the history, milliseconds since the epoch.
    end_ms: i64,
    history: Duration,
}

impl Demo {
    /// Refuses a scenario the simulator does not have and a history shorter than
    /// [`MIN_HISTORY`], before anything is created.
    ///
    /// # Errors
    ///
    /// [`ServeError::Sim`] naming the scenarios, or [`ServeError::Invalid`].
    pub fn check(scenario: &str, history: Duration) -> Result<(), ServeError> {
        check_scenario(scenario)?;
        if history < MIN_HISTORY {
            return Err(ServeError::Invalid(
                "--history must be at least 5m: rates look 5 minutes back".to_owned(),
            ));
        }
        Ok(())
    }

    /// Opens a new store in `data_dir` (created if missing; it must be empty, since an earlier
    /// run's store holds newer samples than this run's history, which it would refuse) and
    /// starts the simulation `config` describes, its history beginning `history` before now,
    /// its audit log in `data_dir/audit.log`. Nothing is scraped yet ([`Demo::fill_history`]).
    ///
    /// # Errors
    ///
    /// As [`Demo::check`]; [`ServeError::Invalid`] for a directory that is not empty,
    /// [`ServeError::File`] or [`ServeError::Store`] when it cannot be made, and the
    /// simulator's refusals.
    pub async fn start(
        config: ScenarioConfig,
        history: Duration,
        data_dir: &Path,
    ) -> Result<Demo, ServeError> {
        Demo::check(&config.scenario, history)?;
        if std::fs::read_dir(data_dir).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(ServeError::Invalid(format!(
                "--data-dir {} is not empty: give the demo a new or empty directory",
                data_dir.display()
            )));
        }
        std::fs::create_dir_all(data_dir).map_err(|source| ServeError::File {
            what: format!("cannot create {}", data_dir.display()),
            source,
        })?;
        let step = millis(DEMO_SCRAPE_INTERVAL);
        let end_ms = now_ms() / step * step;
        let db = open_store(data_dir, DbOptions::default()).await?;
        let health = Health::new();
        let audit_log = data_dir.join("audit.log");
        let config = ScenarioConfig {
            start_unix_ms: end_ms - millis(history),
            ..config
        };
        let cluster = SimulatedCluster::start(
            config,
            SimulatedOpts {
                audit_log: &audit_log,
                sink: Arc::clone(&db) as Arc<dyn Sink>,
                health: health.clone(),
                interval: DEMO_SCRAPE_INTERVAL,
            },
        )?;
        Ok(Demo {
            db,
            cluster,
            health,
            audit_log,
            end_ms,
            history,
        })
    }

    /// Stores every scrape of the history at once, one every [`DEMO_SCRAPE_INTERVAL`].
    ///
    /// # Errors
    ///
    /// [`ServeError::Scrape`] when the simulator or the store fails.
    pub async fn fill_history(&mut self) -> Result<(), ServeError> {
        let first = self.end_ms - millis(self.history) + millis(DEMO_SCRAPE_INTERVAL);
        (self.cluster)
            .scrape_history(first, self.end_ms, DEMO_SCRAPE_INTERVAL)
            .await?;
        Ok(())
    }

    /// The simulated audit log.
    pub fn audit_log(&self) -> &Path {
        &self.audit_log
    }

    /// The HTTP routes over the demo's store (the dashboard, the query API within `limits`,
    /// the culprit panel from `findings`, the simulated targets' health).
    pub fn router(&self, limits: &QueryLimits, findings: FindingsSlot) -> axum::Router {
        store_router(self.health.clone(), Arc::clone(&self.db), limits, findings)
    }

    /// The troubleshooter report over the history's last hour at most, read from the store.
    ///
    /// # Errors
    ///
    /// [`ServeError::Report`] when a query fails.
    pub async fn report(&self) -> Result<Report, ServeError> {
        let db = Arc::clone(&self.db);
        let opts = ReportOpts::new(self.end_ms, self.history.min(REPORT_RANGE));
        let report = tokio::task::spawn_blocking(move || {
            let engine = LocalEngine::new(
                Engine::new(EngineOpts::default()),
                db.as_ref(),
                "the demo store",
            );
            build_report(&engine, &opts)
        });
        Ok(report.await??)
    }

    /// Who is behind `report`'s metrics, and the fix: the doctor over the simulated audit log.
    ///
    /// # Errors
    ///
    /// [`ServeError::Doctor`] when the audit log cannot be read.
    pub async fn culprits(&self, report: &Report) -> Result<Diagnosis, ServeError> {
        let (report, path) = (report.clone(), self.audit_log.clone());
        Ok(tokio::task::spawn_blocking(move || clients_behind(&report, &[path])).await??)
    }

    /// Scrapes the simulation live every [`DEMO_SCRAPE_INTERVAL`] until `stop` completes, and
    /// returns what it returned.
    ///
    /// # Errors
    ///
    /// [`ServeError::Scrape`] when the simulator or the store fails.
    pub async fn run_live<T>(&mut self, stop: impl Future<Output = T>) -> Result<T, ServeError> {
        Ok(self.cluster.scrape_live(DEMO_SCRAPE_INTERVAL, stop).await?)
    }

    /// Stops the simulation and closes the store.
    pub async fn close(self) {
        drop(self.cluster);
        close_store(self.db).await;
    }
}

/// `d` in milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
