//! The scrape loop of one target and the set of loops of a running scraper.

use apilens_model::now_ms;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apilens_model::Sample;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::fetch::Fetched;
use crate::health::{Health, TargetHealth};
use crate::ingest::{IngestError, SeriesCache, format_of};
use crate::target::TargetKind;
use crate::{Batch, ScrapeError, Sink, Target};

/// How often and how far a target is scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeOpts {
    /// Time between the starts of two scrapes.
    pub interval: Duration,
    /// Deadline of one scrape, body included; kept at or below `interval`.
    pub timeout: Duration,
    /// Cap on the (decompressed) body size.
    pub body_limit: usize,
    /// Cap on the samples of one scrape (Prometheus's `sample_limit`).
    pub sample_limit: usize,
    /// Longest wait a `Retry-After` may impose before the next scrape.
    pub max_retry_after: Duration,
}

impl Default for ScrapeOpts {
    /// 15 s interval, 10 s timeout, 128 MiB body, one million samples, `Retry-After` capped at
    /// five minutes.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            body_limit: 128 << 20,
            sample_limit: 1_000_000,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What one scrape did.
#[derive(Debug)]
pub struct ScrapeReport {
    /// The timestamp its samples got, in milliseconds since the epoch.
    pub t: i64,
    /// Whether the target answered with a valid exposition.
    pub up: bool,
    /// Samples in the body.
    pub samples_scraped: usize,
    /// Series not seen in the previous scrape.
    pub series_added: usize,
    /// Staleness markers written.
    pub stale_markers: usize,
    /// Samples appended to the sink, synthetic series and staleness markers included.
    pub appended: usize,
    /// Why the scrape failed, naming the target.
    pub error: Option<ScrapeError>,
    /// Why the batch could not be stored, naming the target.
    pub store_error: Option<ScrapeError>,
    /// How long the target asked to be left alone (HTTP 429 `Retry-After`).
    pub retry_after: Option<Duration>,
    /// A replay target has no scrape left (its series were marked stale).
    pub finished: bool,
}

/// The scrape loop of one target: fetch, parse, add `job`/`instance`, the synthetic series and
/// staleness markers, and append the whole scrape to the sink as one batch.
///
/// # Prometheus compatibility
///
/// Follows `scrape/scrape.go` of Prometheus 3: the synthetic series `up`,
/// `scrape_duration_seconds`, `scrape_samples_scraped` and `scrape_series_added`; target labels
/// override scraped ones, which are kept as `exported_job`/`exported_instance`; a body that does
/// not parse or passes the sample limit is discarded whole and counts as a failed scrape; after a
/// failed scrape, or when a target ends, every series of the previous scrape gets a staleness
/// marker; series with their own timestamps are never marked stale.
pub struct ScrapeLoop {
    target: Target,
    opts: ScrapeOpts,
    sink: Arc<dyn Sink>,
    health: Health,
    key: String,
    cache: Option<SeriesCache>,
    last_t: Option<i64>,
    synthetic_written: bool,
}

impl ScrapeLoop {
    /// A loop for `target`; its state appears in `health` as soon as it is created.
    pub fn new(target: Target, opts: ScrapeOpts, sink: Arc<dyn Sink>, health: Health) -> Self {
        let key = format!("{}/{}", target.job, target.instance);
        health.insert(
            key.clone(),
            TargetHealth {
                job: target.job.clone(),
                instance: target.instance.clone(),
                scrape_url: target.source(),
                health: "unknown",
                last_error: String::new(),
                last_scrape_ms: 0,
                last_scrape_duration: 0.0,
                samples: 0,
                failures: 0,
            },
        );
        let mut opts = opts;
        opts.timeout = opts.timeout.min(opts.interval);
        Self {
            cache: Some(SeriesCache::new(&target.job, &target.instance)),
            target,
            opts,
            sink,
            health,
            key,
            last_t: None,
            synthetic_written: false,
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Performs one scrape and appends it.
    pub async fn scrape_once(&mut self) -> ScrapeReport {
        let started = Instant::now();
        let now = now_ms();
        let fetched = self
            .target
            .fetch(self.opts.timeout, self.opts.body_limit)
            .await;
        let duration = started.elapsed();
        let fetched = match fetched {
            Ok(None) => {
                let t = self.last_t.map_or(now, |t| {
                    t + i64::try_from(self.opts.interval.as_millis()).unwrap_or(0)
                });
                let (appended, store_error) = self.finish_at(t).await;
                return ScrapeReport {
                    t,
                    up: false,
                    samples_scraped: 0,
                    series_added: 0,
                    stale_markers: appended,
                    appended,
                    error: None,
                    store_error,
                    retry_after: None,
                    finished: true,
                };
            }
            Ok(Some(f)) => Ok(f),
            Err(e) => Err(e),
        };
        let t = fetched
            .as_ref()
            .ok()
            .and_then(|f| f.timestamp_ms)
            .unwrap_or(now);
        self.process(fetched, t, duration).await
    }

    /// Appends a body obtained by other means (an in-process simulator, a file read by the
    /// caller) as this target's scrape at `fetched.timestamp_ms` (default: now), as a fetched
    /// one is stored: target labels, the sample limit, staleness of vanished series, `up` and the
    /// other synthetic series (the body size cap belongs to fetching and is not applied).
    /// `duration` is reported as `scrape_duration_seconds`.
    pub async fn ingest(&mut self, fetched: Fetched, duration: Duration) -> ScrapeReport {
        let t = fetched.timestamp_ms.unwrap_or_else(now_ms);
        self.process(Ok(fetched), t, duration).await
    }

    async fn process(
        &mut self,
        fetched: Result<Fetched, ScrapeError>,
        t: i64,
        duration: Duration,
    ) -> ScrapeReport {
        let mut cache = self
            .cache
            .take()
            .unwrap_or_else(|| SeriesCache::new(&self.target.job, &self.target.instance));
        let name = self.target.name();
        let sample_limit = self.opts.sample_limit;
        let sink = Arc::clone(&self.sink);
        let work = move || {
            let mut samples = Vec::new();
            let mut report = ScrapeReport {
                t,
                up: false,
                samples_scraped: 0,
                series_added: 0,
                stale_markers: 0,
                appended: 0,
                error: None,
                store_error: None,
                retry_after: None,
                finished: false,
            };
            match fetched {
                Ok(f) => {
                    let format = format_of(f.content_type.as_deref(), &f.body);
                    match cache.ingest(&f.body, format, t, sample_limit, &mut samples) {
                        Ok(stats) => {
                            report.up = true;
                            report.samples_scraped = stats.scraped;
                            report.series_added = stats.added;
                            report.stale_markers = stats.stale;
                            if stats.duplicates > 0 {
                                tracing::warn!(target = %name, duplicates = stats.duplicates, "duplicate series in one scrape, kept the first of each");
                            }
                        }
                        Err(IngestError::Parse { position, message }) => {
                            // The parser quotes the body, which may carry a credential.
                            report.error = Some(ScrapeError::Parse {
                                target: name.clone(),
                                position,
                                message: apilens_model::body_excerpt(message.as_bytes(), &[]),
                            });
                        }
                        Err(IngestError::TooManySamples { count }) => {
                            report.error = Some(ScrapeError::TooManySamples {
                                target: name.clone(),
                                count,
                                limit: sample_limit,
                            });
                        }
                    }
                }
                Err(e) => {
                    if let ScrapeError::TooManyRequests { retry_after_ms, .. } = &e {
                        report.retry_after = retry_after_ms.map(Duration::from_millis);
                    }
                    report.error = Some(e);
                }
            }
            if !report.up {
                report.stale_markers = cache.stale_all(t, &mut samples);
            }
            let mut synthetic = |name: &str, v: f64| {
                samples.push((cache.synthetic(name), Sample { t, v }));
            };
            synthetic("up", if report.up { 1.0 } else { 0.0 });
            synthetic("scrape_duration_seconds", duration.as_secs_f64());
            synthetic("scrape_samples_scraped", report.samples_scraped as f64);
            synthetic("scrape_series_added", report.series_added as f64);
            report.appended = samples.len();
            let batch = Batch { samples };
            if let Err(e) = sink.append(&batch) {
                report.store_error = Some(ScrapeError::Store {
                    target: name.clone(),
                    reason: e.to_string(),
                });
            }
            (cache, report)
        };
        let (cache, report) = match tokio::task::spawn_blocking(work).await {
            Ok(done) => done,
            Err(join) => {
                // Only a panic in the parser or the sink lands here; keep the loop alive.
                let report = ScrapeReport {
                    t,
                    up: false,
                    samples_scraped: 0,
                    series_added: 0,
                    stale_markers: 0,
                    appended: 0,
                    error: Some(ScrapeError::Store {
                        target: self.target.name(),
                        reason: format!("scrape processing failed: {join}"),
                    }),
                    store_error: None,
                    retry_after: None,
                    finished: false,
                };
                (
                    SeriesCache::new(&self.target.job, &self.target.instance),
                    report,
                )
            }
        };
        self.cache = Some(cache);
        self.last_t = Some(t);
        self.synthetic_written = true;
        self.health.update(&self.key, |h| {
            h.health = if report.up { "up" } else { "down" };
            h.last_error = report
                .error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            h.last_scrape_ms = t;
            h.last_scrape_duration = duration.as_secs_f64();
            if report.up {
                h.samples = report.samples_scraped;
                h.failures = 0;
            } else {
                h.failures += 1;
            }
            h.scrape_url = self.target.source();
        });
        report
    }

    /// Marks every series of the target stale at `t`, synthetic ones included: the target is
    /// gone. Returns the markers written and any store error.
    async fn finish_at(&mut self, t: i64) -> (usize, Option<ScrapeError>) {
        let mut cache = self
            .cache
            .take()
            .unwrap_or_else(|| SeriesCache::new(&self.target.job, &self.target.instance));
        let mut samples = Vec::new();
        cache.stale_all(t, &mut samples);
        if self.synthetic_written {
            for name in [
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_series_added",
            ] {
                samples.push((
                    cache.synthetic(name),
                    Sample {
                        t,
                        v: apilens_model::STALE_NAN,
                    },
                ));
            }
        }
        self.cache = Some(cache);
        let n = samples.len();
        if n == 0 {
            return (0, None);
        }
        let sink = Arc::clone(&self.sink);
        let name = self.target.name();
        let res = tokio::task::spawn_blocking(move || sink.append(&Batch { samples })).await;
        let err = match res {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(ScrapeError::Store {
                target: name,
                reason: e.to_string(),
            }),
            Err(join) => Some(ScrapeError::Store {
                target: name,
                reason: join.to_string(),
            }),
        };
        self.synthetic_written = false;
        (n, err)
    }

    /// Ends the target: staleness markers for all its series at the current time (or, for a
    /// replay, one interval after its last scrape), and its entry leaves the health registry.
    pub async fn finish(mut self) {
        let t = match (&self.target.kind, self.last_t) {
            (TargetKind::Replay { .. }, Some(last)) => {
                last + i64::try_from(self.opts.interval.as_millis()).unwrap_or(0)
            }
            _ => now_ms(),
        };
        if let (_, Some(err)) = self.finish_at(t).await {
            tracing::warn!(error = %err, "cannot store the staleness markers of a removed target");
        }
        self.health.remove(&self.key);
    }

    /// Scrapes every interval until `shutdown` turns true or a replay ends.
    ///
    /// Failures never stop the loop. A target that goes down is logged once, on one line with
    /// its address and the reason, then retried with back-off (the interval doubling up to two
    /// minutes, or the interval when longer) without another line until its state changes: a different kind of
    /// failure, or back up (logged with how long it was down). After HTTP 429 the next scrape
    /// waits for `Retry-After` (at most [`ScrapeOpts::max_retry_after`]). Replayed scrapes with
    /// recorded timestamps follow each other without waiting.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let name = self.target.name();
        tracing::info!(target = %name, interval_ms = self.opts.interval.as_millis() as u64, "scraping");
        let mut outage: Option<Outage> = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let started = tokio::time::Instant::now();
            let report = self.scrape_once().await;
            if let Some(err) = &report.error {
                match &mut outage {
                    Some(o) if o.kind == err.kind() => {
                        o.failures += 1;
                        tracing::debug!(kind = err.kind(), failures = o.failures, "{err}");
                    }
                    _ => {
                        tracing::warn!(
                            kind = err.kind(),
                            "{err}; retrying with back-off, quiet until that changes"
                        );
                        let since = outage.as_ref().map_or_else(Instant::now, |o| o.since);
                        outage = Some(Outage {
                            kind: err.kind(),
                            failures: 1,
                            since,
                        });
                    }
                }
            } else if report.finished {
                tracing::info!(target = %name, "replay finished");
            } else {
                if let Some(o) = outage.take() {
                    tracing::info!(
                        target = %name,
                        failed_scrapes = o.failures,
                        down_s = o.since.elapsed().as_secs(),
                        "back up"
                    );
                }
                tracing::debug!(target = %name, samples = report.samples_scraped, added = report.series_added, stale = report.stale_markers, "scraped");
            }
            if let Some(err) = &report.store_error {
                tracing::error!("{err}");
            }
            if report.finished {
                self.health.remove(&self.key);
                return;
            }
            let replaying_history = matches!(self.target.kind, TargetKind::Replay { .. })
                && report.up
                && self.last_t.is_some_and(|t| t < now_ms() - 1000);
            let mut next = if replaying_history {
                started
            } else {
                let backoff = outage.as_ref().map_or(self.opts.interval, |o| {
                    backoff(self.opts.interval, o.failures)
                });
                started + backoff
            };
            if let Some(wait) = report.retry_after {
                let wait = wait.min(self.opts.max_retry_after);
                tracing::info!(target = %name, wait_ms = wait.as_millis() as u64, "honouring Retry-After");
                next = next.max(tokio::time::Instant::now() + wait);
            }
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// A target that is down: since when, how, and how many scrapes failed in a row.
struct Outage {
    kind: &'static str,
    failures: u64,
    since: Instant,
}

/// The longest wait between two scrapes of a target that is down: two minutes, or the interval
/// when that is longer.
fn max_backoff(interval: Duration) -> Duration {
    interval.max(Duration::from_secs(120))
}

/// The wait after `failures` failed scrapes in a row: the interval, doubled after each further
/// failure, at most [`max_backoff`].
fn backoff(interval: Duration, failures: u64) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    interval
        .saturating_mul(1u32 << doublings)
        .min(max_backoff(interval))
}

/// A running set of scrape loops, one task per target.
pub struct Scraper {
    tasks: JoinSet<()>,
    shutdown: watch::Sender<bool>,
    health: Health,
}

impl Scraper {
    /// Starts one loop per target on the current tokio runtime.
    pub fn start(
        targets: Vec<Target>,
        opts: ScrapeOpts,
        sink: Arc<dyn Sink>,
        health: Health,
    ) -> Self {
        let (tx, rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for target in targets {
            let scrape_loop = ScrapeLoop::new(target, opts, Arc::clone(&sink), health.clone());
            tasks.spawn(scrape_loop.run(rx.clone()));
        }
        Self {
            tasks,
            shutdown: tx,
            health,
        }
    }

    /// The health registry the loops update.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Asks every loop to stop after its current scrape and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn waits_double_up_to_two_minutes() {
        let s = Duration::from_secs;
        let waits: Vec<Duration> = (1..=7).map(|n| backoff(s(15), n)).collect();
        assert_eq!(waits, [s(15), s(30), s(60), s(120), s(120), s(120), s(120)]);
        assert_eq!(backoff(s(300), 3), s(300));
        assert_eq!(backoff(s(1), 1_000), s(120));
    }
}
