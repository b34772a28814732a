//! The simulator in-process, stored in a temporary embedded store as `demo` stores it, with its
//! audit log beside. The simulation itself is the caller's ([`Simulation`]): this source owns
//! the store, the log's follower, the history filled before the first frame and the catch-up
//! to now before each one. [`SimSource::simulate`] runs the simulator of `apilens_sim` as
//! scrape's [`SimulatedCluster`], the way `apilens demo` stores it.

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
use apilens_scrape::{Health, SimulatedCluster, SimulatedOpts};
use apilens_sim::ScenarioConfig;
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

    /// Runs the simulator `config` describes (its start is the history's), each replica and
    /// etcd scraped through scrape's loops as `apilens demo` stores them; the header names the
    /// scenario and says the data is SIMULATED.
    ///
    /// # Errors
    ///
    /// As [`SimSource::start`]; an unknown scenario or a bad configuration names it.
    pub fn simulate(config: ScenarioConfig, settings: Settings) -> Result<SimSource, TopError> {
        let name = format!("simulator {} (SIMULATED)", config.scenario);
        SimSource::start(name, settings, |start| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the simulator's runtime: {e}"))?;
            let cluster = SimulatedCluster::start(
                ScenarioConfig {
                    start_unix_ms: start.start_ms,
                    ..config
                },
                SimulatedOpts {
                    audit_log: start.audit_log,
                    sink: start.sink,
                    health: Health::new(),
                    interval: start.scrape_every,
                },
            )
            .map_err(|e| e.to_string())?;
            Ok(Box::new(ScrapedSimulation { runtime, cluster }) as Box<dyn Simulation>)
        })
    }

    /// What `top` says on standard error before it stores the first window of `scenario`.
    pub fn opening_note(scenario: &str, window: Duration) -> String {
        format!(
            "apilens top: simulating {scenario} (SIMULATED data): storing the first {} ...",
            crate::text::duration(window.as_secs() + 60)
        )
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

/// scrape's simulated cluster driven on a runtime of its own.
struct ScrapedSimulation {
    runtime: tokio::runtime::Runtime,
    cluster: SimulatedCluster,
}

impl Simulation for ScrapedSimulation {
    fn scrape_at(&mut self, t_ms: i64) -> Result<(), String> {
        self.runtime
            .block_on(self.cluster.scrape_at(t_ms))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl Source for SimSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        self.catch_up().map_err(|e| format!("simulator: {e}"))?;
        // The report's queries select the same series many times and aggregate them the same
        // way many times: each is read and aggregated once in a refresh.
        let local = LocalEngine::snapshot(self.db.as_ref(), &self.name);
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
