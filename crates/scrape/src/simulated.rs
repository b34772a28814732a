//! The simulator scraped in-process, as a live cluster is: one scrape loop per simulated API
//! server replica and one for etcd, each fed the simulator's body through
//! [`ScrapeLoop::ingest`] (target labels, `up`, staleness, the sample limit, as for any target),
//! and the simulated audit log written beside as the simulation runs.

use crate::error::ScrapeError;
use crate::fetch::Fetched;
use crate::health::Health;
use crate::scrape_loop::{ScrapeLoop, ScrapeOpts};
use crate::target::{JOB_APISERVER, JOB_ETCD, Target};
use apilens_model::{Sink, now_ms};
use apilens_sim::{ScenarioConfig, SimError, Simulator};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running simulation whose every scrape is stored in a [`Sink`] and whose audit log grows
/// on disk, flushed after each scrape so that a reader sees the requests up to it.
pub struct SimulatedCluster {
    sim: Simulator,
    /// Each loop with the replica it renders, `None` for etcd.
    targets: Vec<(ScrapeLoop, Option<usize>)>,
    audit: AuditFile,
}

/// What a [`SimulatedCluster`] stores where.
pub struct SimulatedOpts<'a> {
    /// The audit log to create (or truncate) and write.
    pub audit_log: &'a Path,
    /// Where every scrape goes.
    pub sink: Arc<dyn Sink>,
    /// The targets' health, as `/api/v1/targets` shows it.
    pub health: Health,
    /// Time between two scrapes (the staleness of a vanished series follows it).
    pub interval: Duration,
}

impl SimulatedCluster {
    /// Starts the simulation `config` describes with its scrape targets: `apiserver-<i>.sim:6443`
    /// of job `apiserver` for each replica and `etcd-0.sim:2379` of job `etcd`.
    ///
    /// # Errors
    ///
    /// When the configuration is invalid or the audit log cannot be created.
    pub fn start(config: ScenarioConfig, opts: SimulatedOpts<'_>) -> Result<Self, ScrapeError> {
        let mut sim = Simulator::new(config).map_err(simulator_error)?;
        let audit = AuditFile::create(opts.audit_log)?;
        sim.set_audit_sink(Box::new(audit.clone()));
        let scrape_opts = ScrapeOpts {
            interval: opts.interval,
            ..ScrapeOpts::default()
        };
        let target = |target: Target| {
            ScrapeLoop::new(
                target,
                scrape_opts,
                Arc::clone(&opts.sink),
                opts.health.clone(),
            )
        };
        let mut targets: Vec<_> = (0..sim.replicas())
            .map(|i| {
                let replica = Target::external(
                    JOB_APISERVER,
                    &format!("apiserver-{i}.sim:6443"),
                    &format!("simulated API server replica {i}"),
                );
                (target(replica), Some(i))
            })
            .collect();
        let etcd = Target::external(JOB_ETCD, "etcd-0.sim:2379", "simulated etcd");
        targets.push((target(etcd), None));
        Ok(Self {
            sim,
            targets,
            audit,
        })
    }

    /// Advances the simulation to `t_ms` (milliseconds since the epoch), stores one scrape of
    /// every target at `t_ms` and flushes the audit log; returns the samples appended.
    ///
    /// # Errors
    ///
    /// The first target whose scrape was refused (a body that does not parse, a store that
    /// fails), or the simulation or its audit log failing.
    pub async fn scrape_at(&mut self, t_ms: i64) -> Result<usize, ScrapeError> {
        self.sim.advance_to(t_ms).map_err(simulator_error)?;
        let mut appended = 0;
        for (scrape_loop, replica) in &mut self.targets {
            let started = Instant::now();
            let body = match replica {
                Some(i) => self.sim.render_metrics(*i).map_err(simulator_error)?,
                None => self.sim.render_etcd_metrics(),
            };
            let fetched = Fetched {
                content_type: None,
                body: body.into(),
                timestamp_ms: Some(t_ms),
            };
            let report = scrape_loop.ingest(fetched, started.elapsed()).await;
            if let Some(e) = report.error.or(report.store_error) {
                return Err(e);
            }
            appended += report.appended;
        }
        self.audit.flush_to_disk()?;
        Ok(appended)
    }

    /// Stores a scrape every `step` from `first_ms` to `last_ms` included, at once (simulated
    /// history), and logs how many samples that took how long; returns the samples appended.
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::scrape_at`].
    pub async fn scrape_history(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        step: Duration,
    ) -> Result<usize, ScrapeError> {
        let started = Instant::now();
        let step = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
        let (mut t, mut appended) = (first_ms, 0);
        while t <= last_ms {
            appended += self.scrape_at(t).await?;
            t += step;
        }
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(samples = appended, elapsed_ms, "history stored");
        Ok(appended)
    }

    /// Scrapes at the wall clock every `interval`, live, until `stop` completes; returns what
    /// `stop` gave (the signal that ended the demo).
    ///
    /// # Errors
    ///
    /// As [`SimulatedCluster::scrape_at`]; the loop ends at the first error.
    pub async fn scrape_live<T>(
        &mut self,
        interval: Duration,
        stop: impl Future<Output = T>,
    ) -> Result<T, ScrapeError> {
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    self.scrape_at(now_ms()).await?;
                }
                stopped = &mut stop => return Ok(stopped),
            }
        }
    }
}

/// A simulator's failure, named as the simulator's.
fn simulator_error(e: SimError) -> ScrapeError {
    ScrapeError::Simulator(e.to_string())
}

/// The simulated audit log, shared between the simulator that writes it and the cluster that
/// flushes it after each scrape.
#[derive(Clone)]
struct AuditFile {
    path: PathBuf,
    writer: Arc<Mutex<BufWriter<std::fs::File>>>,
}

impl AuditFile {
    /// Creates (or truncates) the file at `path`.
    fn create(path: &Path) -> Result<Self, ScrapeError> {
        let file = std::fs::File::create(path).map_err(|e| ScrapeError::File {
            path: path.display().to_string(),
            reason: format!("cannot create the simulated audit log: {e}"),
        })?;
        Ok(Self {
            path: path.to_owned(),
            writer: Arc::new(Mutex::new(BufWriter::with_capacity(1 << 16, file))),
        })
    }

    /// Flushes what the simulator wrote, naming the file when that fails.
    fn flush_to_disk(&mut self) -> Result<(), ScrapeError> {
        self.flush().map_err(|e| ScrapeError::File {
            path: self.path.display().to_string(),
            reason: format!("writing the simulated audit log: {e}"),
        })
    }
}

impl Write for AuditFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apilens_model::MemorySink;
    use apilens_sim::KubeVersion;

    fn config(scenario: &str, start_unix_ms: i64) -> ScenarioConfig {
        ScenarioConfig {
            scenario: scenario.to_owned(),
            kubernetes_version: KubeVersion::parse("1.34").unwrap(),
            replicas: 2,
            seed: 1,
            start_unix_ms,
        }
    }

    #[tokio::test]
    async fn every_replica_and_etcd_is_stored_as_a_target_with_its_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let audit_log = dir.path().join("audit.log");
        let sink = Arc::new(MemorySink::new());
        let start = 1_767_229_200_000;
        let mut cluster = SimulatedCluster::start(
            config("chatty-daemonset", start),
            SimulatedOpts {
                audit_log: &audit_log,
                sink: sink.clone(),
                health: Health::new(),
                interval: Duration::from_secs(15),
            },
        )
        .unwrap();
        let appended = cluster
            .scrape_history(start + 15_000, start + 60_000, Duration::from_secs(15))
            .await
            .unwrap();
        assert!(appended > 1000, "{appended}");
        let up = sink.series(|l| l.metric_name() == Some("up"));
        let mut instances: Vec<_> = up
            .iter()
            .map(|s| {
                assert_eq!(s.samples.len(), 4, "{:?}", s.labels);
                assert!(s.samples.iter().all(|x| x.v == 1.0));
                s.labels.get("instance").unwrap().to_owned()
            })
            .collect();
        instances.sort();
        assert_eq!(
            instances,
            [
                "apiserver-0.sim:6443",
                "apiserver-1.sim:6443",
                "etcd-0.sim:2379"
            ]
        );
        let lines = std::fs::read_to_string(&audit_log).unwrap();
        assert!(lines.lines().count() > 100, "{}", lines.len());
        assert!(lines.contains("system:serviceaccount:logging:log-agent"));
    }

    #[tokio::test]
    async fn live_scrapes_follow_the_wall_clock_until_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(MemorySink::new());
        let mut cluster = SimulatedCluster::start(
            config("healthy", now_ms() - 2_000),
            SimulatedOpts {
                audit_log: &dir.path().join("audit.log"),
                sink: sink.clone(),
                health: Health::new(),
                interval: Duration::from_millis(100),
            },
        )
        .unwrap();
        let stop = tokio::time::sleep(Duration::from_millis(450));
        let before = now_ms();
        cluster
            .scrape_live(Duration::from_millis(100), async {
                stop.await;
                "stopped"
            })
            .await
            .map(|why| assert_eq!(why, "stopped"))
            .unwrap();
        let up = sink.series(|l| l.metric_name() == Some("up"));
        assert_eq!(up.len(), 3);
        for series in up {
            assert!((3..=5).contains(&series.samples.len()), "{series:?}");
            assert!(series.samples.iter().all(|s| s.t >= before));
        }
    }

    #[test]
    fn a_bad_scenario_and_an_unwritable_audit_log_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let opts = |audit_log| SimulatedOpts {
            audit_log,
            sink: Arc::new(MemorySink::new()),
            health: Health::new(),
            interval: Duration::from_secs(15),
        };
        let log = dir.path().join("audit.log");
        let err = SimulatedCluster::start(config("no-such", 0), opts(&log))
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with("simulator: unknown scenario"),
            "{err}"
        );
        let missing = dir.path().join("missing/audit.log");
        let err = SimulatedCluster::start(config("healthy", 0), opts(&missing))
            .err()
            .unwrap();
        assert!(err.to_string().contains("missing/audit.log"), "{err}");
    }
}
