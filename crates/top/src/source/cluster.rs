//! A live cluster through its kubeconfig: every API server replica (and etcd) scraped into the
//! embedded store as `serve` scrapes them, and the APF state `doctor --kubeconfig` reads (every
//! replica's debug dumps, the FlowSchemas and PriorityLevelConfigurations), both in the
//! background, so that a refresh reads the store and never waits for the cluster.

use super::audit_logs::AuditLogs;
use super::refresh::Refresher;
use super::scratch::ScratchDir;
use super::settings::{Settings, millis};
use crate::error::TopError;
use crate::frame::Frame;
use crate::term::Source;
use apilens_doctor::{DoctorInputs, read_live_apf};
use apilens_kube::Cluster;
use apilens_model::Sink;
use apilens_model::now_ms;
use apilens_promapi::LocalEngine;
use apilens_scrape::{Health, JOB_APISERVER, ScrapeOpts, Scraper, Target, api_server_targets};
use apilens_tsdb::{Db, DbOptions};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A future the cluster source runs on its runtime.
pub type ClusterFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// How the cluster is read: what the caller connected, and how often to read it.
pub struct ClusterSettings {
    /// The header's name of the cluster (`cluster prod`).
    pub name: String,
    /// The runtime the cluster's client was made on; the scrapes and the polls run on it.
    pub runtime: tokio::runtime::Runtime,
    /// Discovers the targets to scrape (every API server replica, etcd), with what it could
    /// not discover, each naming the server.
    pub discover: ClusterFuture<(Vec<Target>, Vec<String>)>,
    /// Reads the cluster's APF state as the doctor takes it (objects, every replica's dumps,
    /// the version, and notes naming what the cluster refused).
    pub read_apf: Box<dyn Fn() -> ClusterFuture<DoctorInputs> + Send + Sync>,
    /// The store to keep the scrapes in; a temporary one, removed on exit, without it.
    pub data_dir: Option<PathBuf>,
    /// Time between two scrapes of a target, and between two polls of the APF state.
    pub scrape_interval: Duration,
    /// Scrapes of every target before the first frame: two give rates (`--once`), one gives
    /// the live view something to show at once.
    pub first_scrapes: u32,
}

impl ClusterSettings {
    /// The settings of the cluster `kube` connects to on `runtime`: every API server replica
    /// scrapes finds (`api_server_targets`) plus the `etcd` targets, and the APF state the
    /// doctor reads live (`read_live_apf`), every `scrape_interval`; the scrapes go to
    /// `data_dir`, a temporary store without it.
    pub fn connected(
        runtime: tokio::runtime::Runtime,
        kube: Cluster,
        etcd: Vec<Target>,
        data_dir: Option<PathBuf>,
        scrape_interval: Duration,
        first_scrapes: u32,
    ) -> ClusterSettings {
        let discover = {
            let kube = kube.clone();
            Box::pin(async move {
                let (mut targets, warnings) = api_server_targets(&kube, JOB_APISERVER).await;
                targets.extend(etcd);
                (targets, warnings)
            })
        };
        let name = format!("cluster {}", kube.context());
        let read_apf = Box::new(move || {
            let kube = kube.clone();
            Box::pin(async move { read_live_apf(&kube).await.into_inputs() })
                as ClusterFuture<DoctorInputs>
        });
        ClusterSettings {
            name,
            runtime,
            discover,
            read_apf,
            data_dir,
            scrape_interval,
            first_scrapes,
        }
    }
}

/// The longest a scrape may take: the interval, at most this.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest the live view's first read waits for the first scrapes; later reads never wait.
const LIVE_PATIENCE: Duration = Duration::from_secs(2);

/// What the background tasks found, for the reader.
#[derive(Default)]
struct Shared {
    /// The scrape loops, once the replicas are discovered.
    scraper: Option<Scraper>,
    /// Targets being scraped (`job/instance`), once the replicas are discovered.
    targets: Vec<String>,
    /// What discovery could not do, each naming the server.
    warnings: Vec<String>,
    /// The newest APF state, and how many polls have finished.
    live: Option<DoctorInputs>,
    polls: u64,
}

/// A cluster scraped into a store, its APF state polled beside.
pub struct ClusterSource {
    name: String,
    refresher: Refresher,
    first_scrapes: u32,
    scrape_interval: Duration,
    started: Instant,
    /// Whether the first frame's scrapes were waited for.
    warmed_up: bool,
    shared: Arc<Mutex<Shared>>,
    health: Health,
    stop: watch::Sender<bool>,
    audit: AuditLogs,
    db: Arc<Db>,
    // Dropped in `Drop` before the store: the scrape loops hold it.
    runtime: Option<tokio::runtime::Runtime>,
    // Dropped last: a temporary store lives in it.
    _dir: Option<ScratchDir>,
}

impl ClusterSource {
    /// Opens the store and starts discovering the replicas, scraping them and polling the APF
    /// state in the background.
    ///
    /// # Errors
    ///
    /// When the store cannot be opened or the audit logs cannot be followed.
    pub fn start(cluster: ClusterSettings, settings: Settings) -> Result<Self, TopError> {
        let ClusterSettings {
            name,
            runtime,
            discover,
            read_apf,
            data_dir,
            scrape_interval,
            first_scrapes,
        } = cluster;
        let (dir, store) = match data_dir {
            Some(d) => (None, d),
            None => {
                let dir = ScratchDir::new("apilens-top-")?;
                let store = dir.path().join("store");
                (Some(dir), store)
            }
        };
        let db = Arc::new(Db::open(&store, DbOptions::default()).map_err(|e| {
            TopError::Source(format!(
                "opening the store in {}: {}",
                store.display(),
                apilens_model::error_chain(&e)
            ))
        })?);
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let health = Health::new();
        let opts = ScrapeOpts {
            interval: scrape_interval,
            timeout: scrape_interval.min(SCRAPE_TIMEOUT),
            ..ScrapeOpts::default()
        };
        // Discovery, then the scrape loops: the targets `serve --kubeconfig` scrapes.
        runtime.spawn({
            let (shared, health) = (Arc::clone(&shared), health.clone());
            let sink = Arc::clone(&db) as Arc<dyn Sink>;
            async move {
                let (targets, warnings) = discover.await;
                let names = targets
                    .iter()
                    .map(|t| format!("{}/{}", t.job, t.instance))
                    .collect();
                let scraper = Scraper::start(targets, opts, sink, health);
                let mut s = lock(&shared);
                s.scraper = Some(scraper);
                s.targets = names;
                s.warnings = warnings;
            }
        });
        // The APF state `doctor --kubeconfig` reads, once per scrape interval.
        runtime.spawn(poll_apf(
            read_apf,
            scrape_interval,
            Arc::clone(&shared),
            stopped,
        ));
        Ok(ClusterSource {
            refresher: Refresher::new(&settings),
            name,
            audit: AuditLogs::new(&settings)?,
            first_scrapes: first_scrapes.max(1),
            scrape_interval,
            started: Instant::now(),
            warmed_up: false,
            shared,
            health,
            stop,
            db,
            runtime: Some(runtime),
            _dir: dir,
        })
    }

    /// The source's name in the view's header (`cluster prod`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What `top` says on standard error once the cluster is connected: what it scrapes and,
    /// when the first frame waits for two scrapes (`--once`), how long that takes.
    pub fn opening_note(&self) -> String {
        let wait = if self.first_scrapes > 1 {
            format!(
                ", twice {} apart for rates, before the frame ...",
                crate::text::duration(self.scrape_interval.as_secs())
            )
        } else {
            String::new()
        };
        format!(
            "apilens top: scraping every API server replica of {}{wait}",
            self.name
        )
    }

    /// Waits, once, until every target was scraped `first_scrapes` times (or is down) and the
    /// APF state was read, within a bound: a server that never answers leaves it to the
    /// errors of the frame. The live view waits at most [`LIVE_PATIENCE`], so that `q` never
    /// waits for a silent server (the view leaves once the read in flight returns).
    fn warm_up(&mut self) {
        if self.warmed_up {
            return;
        }
        self.warmed_up = true;
        let rounds = u64::from(self.first_scrapes);
        let deadline = if rounds > 1 {
            // Discovery and the APF poll each wait at most about this long for the server.
            self.started
                + Duration::from_secs(30)
                + self.scrape_interval * self.first_scrapes
                + SCRAPE_TIMEOUT
        } else {
            self.started + LIVE_PATIENCE
        };
        let mut first_seen: BTreeMap<String, i64> = BTreeMap::new();
        while Instant::now() < deadline {
            let (targets, polls) = {
                let s = lock(&self.shared);
                (s.targets.clone(), s.polls)
            };
            let health = self.health.snapshot();
            let mut scrapes_done = !targets.is_empty();
            for h in &health {
                if h.health == "unknown" {
                    scrapes_done = false;
                    continue;
                }
                let key = format!("{}/{}", h.job, h.instance);
                let first = *first_seen.entry(key).or_insert(h.last_scrape_ms);
                if rounds > 1 && h.last_scrape_ms == first {
                    scrapes_done = false;
                }
            }
            // No second round is worth waiting for when no API server answered the first.
            let none_up = !health.is_empty()
                && health.len() == targets.len()
                && health
                    .iter()
                    .filter(|h| h.job == JOB_APISERVER)
                    .all(|h| h.health == "down");
            if polls > 0 && (scrapes_done || none_up) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What could not be read: scrapes of targets that are down, discovery, and the APF state,
    /// each naming its target.
    fn errors(&self, live: Option<&DoctorInputs>) -> Vec<String> {
        let mut out: Vec<String> = self
            .health
            .snapshot()
            .into_iter()
            .filter(|h| h.health == "down")
            .map(|h| h.last_error)
            .collect();
        out.extend(lock(&self.shared).warnings.iter().cloned());
        if let Some(l) = live {
            out.extend(l.notes.iter().cloned());
            out.extend(l.dumps.iter().flat_map(|d| d.errors.iter().cloned()));
        }
        out
    }
}

impl Source for ClusterSource {
    fn read(&mut self, back: Duration) -> Result<Frame, String> {
        self.warm_up();
        let (discovered, live) = {
            let s = lock(&self.shared);
            (s.scraper.is_some(), s.live.clone())
        };
        if !discovered {
            return Err(format!(
                "{}: still discovering the API server replicas (no answer yet)",
                self.name
            ));
        }
        let health = self.health.snapshot();
        if health.iter().all(|h| h.health == "unknown") {
            return Err(format!(
                "{}: waiting for the first scrape of {} targets",
                self.name,
                health.len()
            ));
        }
        let errors = self.errors(live.as_ref());
        let servers: Vec<_> = health.iter().filter(|h| h.job == JOB_APISERVER).collect();
        if !servers.is_empty() && servers.iter().all(|h| h.health == "down") {
            let more = match errors.len() {
                0 | 1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(format!(
                "{}: no API server answers: {}{more}",
                self.name,
                errors.first().map_or("", String::as_str)
            ));
        }
        // The dumps say what is queued now: they belong to the live frame only.
        let live = live.map(|mut l| {
            if !back.is_zero() {
                l.dumps.clear();
            }
            l
        });
        let audit = self.audit.current()?;
        // The report's queries select the same series many times and aggregate them the same
        // way many times: each is read and aggregated once in a refresh.
        let local = LocalEngine::snapshot(self.db.as_ref(), &self.name);
        let mut frame = self.refresher.read_frame(
            &self.name,
            &local,
            &audit,
            now_ms() - millis(back),
            live.as_ref(),
            back.is_zero(),
        )?;
        frame.errors = errors;
        Ok(frame)
    }
}

impl Drop for ClusterSource {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let scraper = lock(&self.shared).scraper.take();
        if let Some(runtime) = self.runtime.take() {
            if let Some(scraper) = scraper {
                // Each loop ends after its scrape in flight; one stuck on a silent server is
                // cut, so that the store is closed (and a temporary one removed) within the
                // second a closed terminal leaves.
                runtime.block_on(async {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(800), scraper.shutdown()).await;
                });
            }
            runtime.shutdown_timeout(Duration::from_millis(200));
        }
    }
}

/// Reads the cluster's APF state every `interval` into `shared` until `stopped`.
async fn poll_apf(
    read_apf: Box<dyn Fn() -> ClusterFuture<DoctorInputs> + Send + Sync>,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let started = tokio::time::Instant::now();
        let state = read_apf().await;
        {
            let mut s = lock(&shared);
            s.live = Some(state);
            s.polls += 1;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + interval) => {}
            _ = stopped.changed() => return,
        }
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
