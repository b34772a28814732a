//! Recording a support bundle: rounds of scrapes of every target at once, each body or error
//! written to a [`BundleWriter`].

use crate::{BundleWriter, MANIFEST, ScrapeError, TargetSources};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a bundle is recorded.
#[derive(Debug, Clone)]
pub struct RecordOpts {
    /// Rounds of scrapes (at least 1).
    pub count: usize,
    /// Time between the starts of two rounds.
    pub interval: Duration,
    /// Deadline of one scrape.
    pub timeout: Duration,
    /// Largest body accepted from one target, in bytes (after decompression).
    pub body_limit: usize,
}

/// What a recording stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSummary {
    /// Scrapes whose bodies were written.
    pub ok: usize,
    /// Scrapes that failed (their errors are in the manifest).
    pub failed: usize,
    /// Targets scraped in each round.
    pub targets: usize,
}

/// Records `opts.count` rounds of the targets of `sources` into a new bundle at `out`. Every
/// target of a round is scraped at once, so replicas are compared at one moment; each failure
/// and each round's totals are handed to `progress` as a line for a person.
///
/// # Errors
///
/// [`ScrapeError::Record`] when `opts.count` is 0 (before any target is looked for), as
/// [`TargetSources::build`] for the targets, [`ScrapeError::File`] when the bundle cannot be
/// written. Failed scrapes are not errors: they are counted and kept in the manifest.
pub async fn record_bundle(
    sources: &TargetSources,
    out: &Path,
    opts: &RecordOpts,
    mut progress: impl FnMut(&str),
) -> Result<RecordSummary, ScrapeError> {
    if opts.count == 0 {
        return Err(ScrapeError::Record("--count must be at least 1".to_owned()));
    }
    let mut targets = sources.build().await?;
    let interval_ms = u64::try_from(opts.interval.as_millis()).unwrap_or(u64::MAX);
    let mut writer = BundleWriter::create(out, interval_ms)?;
    let mut summary = RecordSummary {
        ok: 0,
        failed: 0,
        targets: targets.len(),
    };
    for round in 0..opts.count {
        let started = tokio::time::Instant::now();
        let t = apilens_model::now_ms();
        let fetches = targets.iter_mut().map(|target| async move {
            let t0 = Instant::now();
            let res = target.fetch(opts.timeout, opts.body_limit).await;
            (res, t0.elapsed())
        });
        let results = futures_util::future::join_all(fetches).await;
        for (target, (res, took)) in targets.iter().zip(results) {
            let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
            match res {
                Ok(Some(fetched)) => {
                    let at = fetched.timestamp_ms.unwrap_or(t);
                    writer.add(target, at, took_ms, Ok(&fetched))?;
                    summary.ok += 1;
                }
                Ok(None) => {}
                Err(err) => {
                    progress(&format!("warning: {err}"));
                    writer.add(target, t, took_ms, Err(&err))?;
                    summary.failed += 1;
                }
            }
        }
        progress(&format!(
            "round {}/{}: {} targets, {} scrapes recorded, {} failed",
            round + 1,
            opts.count,
            summary.targets,
            summary.ok,
            summary.failed
        ));
        if round + 1 < opts.count {
            tokio::time::sleep_until(started + opts.interval).await;
        }
    }
    Ok(summary)
}

impl RecordSummary {
    /// The error of a recording in which no scrape succeeded, pointing at the manifest of the
    /// bundle at `out` that holds the reasons.
    pub fn nothing_recorded(&self, out: &Path) -> Option<ScrapeError> {
        (self.ok == 0).then(|| {
            ScrapeError::Record(format!(
                "no scrape succeeded; the reasons are in {}",
                out.join(MANIFEST).display()
            ))
        })
    }
}
