//! Where `top` reads its frames: the simulator in-process, a store directory, a remote engine;
//! each through the report and the doctor, as `report` and `doctor` read them.

use super::follow::Follower;
use super::refresh::Refresher;
use super::settings::{Settings, millis};
use crate::shared::sim_store::{AuditFile, SimTarget, scrape_all, sim_targets};
use crate::shared::time::now_ms;
use anyhow::{Context as _, bail};
use apilens_promapi::{LocalEngine, RemoteClient, RemoteEngine};
use apilens_promql::{Engine, EngineOpts};
use apilens_scrape::{Health, Sink};
use apilens_sim::{KubeVersion, SCENARIOS, ScenarioConfig, Simulator};
use apilens_top::{Frame, Source};
use apilens_tsdb::{Db, DbOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The audit logs of a store, remote or cluster source: read whole at every refresh (the
/// window's requests kept), or followed as they grow.
pub(super) struct AuditLogs {
    paths: Vec<PathBuf>,
    followers: Vec<Follower>,
    // Dropped last: the followers' spool lives in it.
    _spool: Option<tempfile::TempDir>,
}

impl AuditLogs {
    /// The logs of `settings`, followed when it says so.
    pub(super) fn new(settings: &Settings) -> anyhow::Result<AuditLogs> {
        if !settings.follow {
            return Ok(AuditLogs {
                paths: settings.audit_logs.clone(),
                followers: Vec::new(),
                _spool: None,
            });
        }
        let spool = tempfile::Builder::new()
            .prefix("apilens-top-follow-")
            .tempdir()
            .context("cannot create a spool directory for --follow")?;
        let mut followers = Vec::new();
        for (i, path) in settings.audit_logs.iter().enumerate() {
            if path.is_dir() {
                bail!(
                    "--follow follows files, not directories: {} is a directory",
                    path.display()
                );
            }
            followers.push(
                Follower::new(path, &spool.path().join(i.to_string()), settings.window)
                    .with_context(|| format!("following {}", path.display()))?,
            );
        }
        Ok(AuditLogs {
            paths: Vec::new(),
            followers,
            _spool: Some(spool),
        })
    }

    /// The files to read for this refresh.
    pub(super) fn current(&mut self) -> Result<Vec<PathBuf>, String> {
        if self.followers.is_empty() {
            return Ok(self.paths.clone());
        }
        let now = std::time::Instant::now();
        let mut out = Vec::new();
        for f in &mut self.followers {
            let segments = f
                .poll(now)
                .map_err(|e| format!("following {}: {e}", f.path().display()))?;
            out.extend(segments);
        }
        Ok(out)
    }
}

/// The simulator in-process, stored in a temporary embedded store as `demo` stores it, with its
/// audit log beside.
pub(crate) struct SimSource {
    name: String,
    runtime: tokio::runtime::Runtime,
    sim: Simulator,
    targets: Vec<SimTarget>,
    db: Arc<Db>,
    audit: AuditFile,
    audit_path: PathBuf,
    /// The audit log's last window, so that a live refresh does not read the whole session.
    recent: Follower,
    last_scrape_ms: i64,
    refresher: Refresher,
    // Dropped last: the store and the audit log live in it.
    _dir: tempfile::TempDir,
}

/// Time between two simulated scrapes.
const SIM_SCRAPE: Duration = Duration::from_secs(5);

impl SimSource {
    /// Starts the simulator with `scenario` and stores the window's worth of history.
    pub(crate) fn start(
        scenario: &str,
        version: &str,
        replicas: usize,
        seed: u64,
        settings: Settings,
    ) -> anyhow::Result<SimSource> {
        if !SCENARIOS.iter().any(|s| s.name == scenario) {
            let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
            bail!(
                "unknown scenario {scenario:?}: choose one of {}",
                names.join(", ")
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("apilens-top-")
            .tempdir()
            .context("cannot create a temporary store directory")?;
        let step = millis(SIM_SCRAPE);
        let now = now_ms() / step * step;
        // The window plus a minute, so that the first frame's rates have their lookback.
        let history = millis(settings.window) + 60_000;
        let mut sim = Simulator::new(ScenarioConfig {
            scenario: scenario.to_owned(),
            kubernetes_version: KubeVersion::parse(version)?,
            replicas,
            seed,
            start_unix_ms: now - history,
        })?;
        let audit_path = dir.path().join("audit.log");
        let mut audit = AuditFile::create(&audit_path)?;
        sim.set_audit_sink(Box::new(audit.clone()));
        // Created while the log is empty, so it follows it from its first line.
        let recent = Follower::new(&audit_path, &dir.path().join("spool"), settings.window)?;
        let db = Arc::new(
            Db::open(&dir.path().join("store"), DbOptions::default())
                .context("cannot open the temporary store")?,
        );
        let sink: Arc<dyn Sink> = Arc::clone(&db) as Arc<dyn Sink>;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let mut targets = sim_targets(&sim, &sink, &Health::new(), SIM_SCRAPE);
        let mut t = now - history + step;
        while t <= now {
            runtime.block_on(scrape_all(&mut sim, &mut targets, t))?;
            t += step;
        }
        audit.flush()?;
        Ok(SimSource {
            name: format!("simulator {scenario} (SIMULATED)"),
            refresher: Refresher::new(&settings),
            runtime,
            sim,
            targets,
            db,
            audit,
            audit_path,
            recent,
            last_scrape_ms: now,
            _dir: dir,
        })
    }

    /// Scrapes the simulator up to now, a scrape every [`SIM_SCRAPE`].
    fn catch_up(&mut self) -> anyhow::Result<()> {
        let step = millis(SIM_SCRAPE);
        let now = now_ms();
        while self.last_scrape_ms + step <= now {
            let t = self.last_scrape_ms + step;
            self.runtime
                .block_on(scrape_all(&mut self.sim, &mut self.targets, t))?;
            self.last_scrape_ms = t;
        }
        self.audit.flush()?;
        Ok(())
    }
}

impl Source for SimSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        self.catch_up().map_err(|e| format!("simulator: {e:#}"))?;
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

/// A store directory, opened read-only at every refresh so that what a writer adds shows up.
pub(crate) struct StoreSource {
    dir: PathBuf,
    name: String,
    settings: Settings,
    audit: AuditLogs,
    refresher: Refresher,
}

impl StoreSource {
    /// Reads the store in `dir`.
    pub(crate) fn new(dir: PathBuf, settings: Settings) -> anyhow::Result<StoreSource> {
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
        let local = LocalEngine::new(Engine::new(EngineOpts::default()), &db, &self.name);
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
pub(crate) struct RemoteStoreSource {
    queries: RemoteEngine,
    name: String,
    settings: Settings,
    audit: AuditLogs,
    refresher: Refresher,
}

impl RemoteStoreSource {
    /// Reads through `client`.
    pub(crate) fn new(
        client: RemoteClient,
        settings: Settings,
    ) -> anyhow::Result<RemoteStoreSource> {
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
