//! The simulator in-process, stored in a temporary embedded store as `demo` stores it, with its
//! audit log beside. The simulation itself is the caller's ([`Simulation`]): this source owns
//! the store, the log's follower, the history filled before the first frame and the catch-up
//! to now before each one.

use super::follow::Follower;
use super::refresh::Refresher;
use super::scratch::ScratchDir;
use super::settings::{Settings, millis};
use crate::error::TopError;
use crate::frame::Frame;
use crate::term::Source;
use apilens_model::Sink;
use apilens_model::now_ms;
use apilens_promapi::LocalEngine;
use apilens_promql::{Engine, EngineOpts};
use apilens_tsdb::{Db, DbOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A simulated cluster that stores its scrapes where [`SimStart`] says.
pub trait Simulation: Send {
    /// Advances the simulation to `t_ms` (milliseconds since the epoch), stores one scrape of
    /// every simulated target at `t_ms` and flushes the audit lines of the requests up to it.
    ///
    /// # Errors
    ///
    /// A sentence naming what failed.
    fn scrape_at(&mut self, t_ms: i64) -> Result<(), String>;
}

/// What a [`Simulation`] is started with.
pub struct SimStart<'a> {
    /// Where the simulated history starts, milliseconds since the epoch.
    pub start_ms: i64,
    /// Time between two scrapes.
    pub scrape_every: Duration,
    /// The store its scrapes go to.
    pub sink: Arc<dyn Sink>,
    /// The audit log it writes.
    pub audit_log: &'a Path,
}

/// The simulator in-process, stored in a temporary embedded store.
pub struct SimSource {
    name: String,
    sim: Box<dyn Simulation>,
    db: Arc<Db>,
    audit_path: PathBuf,
    /// The audit log's last window, so that a live refresh does not read the whole session.
    recent: Follower,
    last_scrape_ms: i64,
    refresher: Refresher,
    // Dropped last: the store and the audit log live in it.
    _dir: ScratchDir,
}

/// Time between two simulated scrapes.
const SIM_SCRAPE: Duration = Duration::from_secs(5);

impl SimSource {
    /// Starts the simulation `open` returns and stores the window's worth of history (plus a
    /// minute, for the first frame's rates) in a temporary store; `name` is the header's.
    ///
    /// # Errors
    ///
    /// When the temporary store cannot be made, or the simulation fails to start or scrape.
    pub fn start(
        name: String,
        settings: Settings,
        open: impl FnOnce(SimStart<'_>) -> Result<Box<dyn Simulation>, String>,
    ) -> Result<SimSource, TopError> {
        let dir = ScratchDir::new("apilens-top-")?;
        let step = millis(SIM_SCRAPE);
        let now = now_ms() / step * step;
        let history = millis(settings.window) + 60_000;
        let audit_path = dir.path().join("audit.log");
        std::fs::File::create(&audit_path)
            .map_err(TopError::file(format!("creating {}", audit_path.display())))?;
        // Created while the log is empty, so it follows it from its first line.
        let spool = dir.path().join("spool");
        let recent = Follower::new(&audit_path, &spool, settings.window)
            .map_err(TopError::file(format!("creating {}", spool.display())))?;
        let store = dir.path().join("store");
        let db = Arc::new(Db::open(&store, DbOptions::default()).map_err(|e| {
            TopError::Source(format!(
                "opening the temporary store {}: {}",
                store.display(),
                apilens_model::error_chain(&e)
            ))
        })?);
        let mut sim = open(SimStart {
            start_ms: now - history,
            scrape_every: SIM_SCRAPE,
            sink: Arc::clone(&db) as Arc<dyn Sink>,
            audit_log: &audit_path,
        })
        .map_err(TopError::Source)?;
        let mut t = now - history + step;
        while t <= now {
            sim.scrape_at(t).map_err(TopError::Source)?;
            t += step;
        }
        Ok(SimSource {
            name,
            refresher: Refresher::new(&settings),
            sim,
            db,
            audit_path,
            recent,
            last_scrape_ms: now,
            _dir: dir,
        })
    }

    /// Scrapes the simulator up to now, a scrape every [`SIM_SCRAPE`].
    fn catch_up(&mut self) -> Result<(), String> {
        let step = millis(SIM_SCRAPE);
        let now = now_ms();
        while self.last_scrape_ms + step <= now {
            let t = self.last_scrape_ms + step;
            self.sim.scrape_at(t)?;
            self.last_scrape_ms = t;
        }
        Ok(())
    }
}

impl Source for SimSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        self.catch_up().map_err(|e| format!("simulator: {e}"))?;
        let local = LocalEngine::new(
            Engine::new(EngineOpts::default()),
            self.db.as_ref(),
            &self.name,
        );
        let recent = self
            .recent
            .poll(std::time::Instant::now())
            .map_err(|e| format!("simulator audit log: {e}"))?;
        // Live, the spool holds the window; further back, only the whole log does.
        let audit = if back.is_zero() {
            recent
        } else {
            vec![self.audit_path.clone()]
        };
        self.refresher.read_frame(
            &self.name,
            &local,
            &audit,
            self.last_scrape_ms - millis(back),
            None,
            back.is_zero(),
        )
    }
}
