//! The simulator stored as a live cluster would be: one scrape loop per simulated replica and
//! etcd, fed the simulator's bodies through `ScrapeLoop::ingest` (`demo`, `top --sim`), and its
//! audit log written as it runs.

use anyhow::{Context as _, bail};
use apilens_scrape::{
    Fetched, Health, JOB_APISERVER, JOB_ETCD, ScrapeLoop, ScrapeOpts, Sink, Target,
};
use apilens_sim::Simulator;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One simulated scrape target: the loop that stores it and what renders its body.
pub(crate) struct SimTarget {
    scrape_loop: ScrapeLoop,
    /// `Some(i)` for API server replica `i`, `None` for etcd.
    replica: Option<usize>,
}

/// The simulated audit log, shared between the simulator that writes it and the demo that
/// flushes it so `apilens audit` can read it while the demo runs.
#[derive(Clone)]
pub(crate) struct AuditFile(Arc<std::sync::Mutex<std::io::BufWriter<std::fs::File>>>);

impl AuditFile {
    /// Creates (or truncates) the file at `path`.
    pub(crate) fn create(path: &Path) -> anyhow::Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(Arc::new(std::sync::Mutex::new(
            std::io::BufWriter::with_capacity(1 << 16, file),
        ))))
    }
}

impl std::io::Write for AuditFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

/// The scrape loops of every simulated replica and of etcd, storing into `sink`, as `serve`
/// stores external targets.
pub(crate) fn sim_targets(
    sim: &Simulator,
    sink: &Arc<dyn Sink>,
    health: &Health,
    interval: Duration,
) -> Vec<SimTarget> {
    let opts = ScrapeOpts {
        interval,
        ..ScrapeOpts::default()
    };
    let mut targets: Vec<SimTarget> = (0..sim.replicas())
        .map(|i| SimTarget {
            scrape_loop: ScrapeLoop::new(
                Target::external(
                    JOB_APISERVER,
                    &format!("apiserver-{i}.sim:6443"),
                    &format!("simulated API server replica {i}"),
                ),
                opts,
                Arc::clone(sink),
                health.clone(),
            ),
            replica: Some(i),
        })
        .collect();
    targets.push(SimTarget {
        scrape_loop: ScrapeLoop::new(
            Target::external(JOB_ETCD, "etcd-0.sim:2379", "simulated etcd"),
            opts,
            Arc::clone(sink),
            health.clone(),
        ),
        replica: None,
    });
    targets
}

/// Advances the simulation to `t` and stores one scrape of every target at `t`.
pub(crate) async fn scrape_all(
    sim: &mut Simulator,
    targets: &mut [SimTarget],
    t: i64,
) -> anyhow::Result<usize> {
    sim.advance_to(t)?;
    let mut appended = 0;
    for target in targets.iter_mut() {
        let started = Instant::now();
        let body = match target.replica {
            Some(i) => sim.render_metrics(i)?,
            None => sim.render_etcd_metrics(),
        };
        let fetched = Fetched {
            content_type: None,
            body: body.into(),
            timestamp_ms: Some(t),
        };
        let report = target.scrape_loop.ingest(fetched, started.elapsed()).await;
        if let Some(e) = report.error.or(report.store_error) {
            bail!("{e}");
        }
        appended += report.appended;
    }
    Ok(appended)
}
