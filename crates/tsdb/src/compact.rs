//! Persisting the head as blocks, merging blocks, retention and import, on a background thread.
//!
//! None of this runs on the commit path: a commit only writes its WAL record, so a slow or
//! failing block write (a full disk) never delays or fails a scrape. The thread wakes when a
//! commit finds the head due, and once a minute.

use crate::Error;
use crate::block::{Block, BlockCursor};
use crate::db::{ImportStats, Inner, lock, ms, read, series_snapshot, write};
use crate::head::range_start;
use crate::recover::quarantine;
use apilens_model::{Labels, Sample};
use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the background thread looks even when nothing woke it.
const PERIOD: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Wake {
    due: bool,
    stop: bool,
}

/// The background compaction thread of a writable store.
pub(crate) struct Compactor {
    signal: Arc<(Mutex<Wake>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Compactor {
    pub(crate) fn start(inner: Arc<Inner>) -> Compactor {
        let signal: Arc<(Mutex<Wake>, Condvar)> = Arc::default();
        let theirs = signal.clone();
        let handle = std::thread::Builder::new()
            .name("tsdb-compact".into())
            .spawn(move || {
                let (state, cv) = &*theirs;
                loop {
                    {
                        let mut s = lock(state);
                        if !s.due && !s.stop {
                            s = cv
                                .wait_timeout(s, PERIOD)
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                        if s.stop {
                            return;
                        }
                        s.due = false;
                    }
                    if let Err(e) = inner.compact() {
                        tracing::error!(dir = %inner.dir.display(), error = %e, "compaction failed; retrying later");
                    }
                }
            })
            .ok();
        if handle.is_none() {
            tracing::error!(
                "cannot start the compaction thread; blocks are persisted only on request"
            );
        }
        Compactor { signal, handle }
    }

    pub(crate) fn notify(&self) {
        let (state, cv) = &*self.signal;
        lock(state).due = true;
        cv.notify_one();
    }

    /// Stops the thread after the step it is in and waits for it.
    pub(crate) fn stop(mut self) {
        let (state, cv) = &*self.signal;
        lock(state).stop = true;
        cv.notify_one();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Inner {
    /// Persists the head, merges blocks and applies retention, one caller at a time.
    pub(crate) fn compact(&self) -> Result<(), Error> {
        let _guard = lock(&self.compaction);
        self.compact_head()?;
        self.compact_blocks()?;
        self.apply_retention().map(|_| ())
    }

    pub(crate) fn import(
        &self,
        series: BTreeMap<Labels, Vec<Sample>>,
    ) -> Result<ImportStats, Error> {
        let mut stats = ImportStats::default();
        let mut ranges: BTreeMap<i64, Vec<(Labels, Vec<Sample>)>> = BTreeMap::new();
        for (labels, mut samples) in series {
            samples.sort_by_key(|s| s.t);
            let before = samples.len();
            let mut first_dup: Option<i64> = None;
            let mut conflicting = 0usize;
            samples.dedup_by(|later, kept| {
                let dup = later.t == kept.t;
                if dup {
                    first_dup.get_or_insert(kept.t);
                    conflicting += usize::from(later.v.to_bits() != kept.v.to_bits());
                }
                dup
            });
            stats.duplicates += before - samples.len();
            stats.conflicting_duplicates += conflicting;
            if let Some(t) = first_dup
                && stats.first_duplicate.is_none()
            {
                stats.first_duplicate = Some((labels.clone(), t));
            }
            if samples.is_empty() {
                continue;
            }
            stats.series += 1;
            stats.samples += samples.len();
            let mut start = 0;
            while start < samples.len() {
                let r = range_start(samples[start].t, self.block_ms);
                let end = start + samples[start..].partition_point(|s| s.t < r + self.block_ms);
                ranges
                    .entry(r)
                    .or_default()
                    .push((labels.clone(), samples[start..end].to_vec()));
                start = end;
            }
        }
        let _guard = lock(&self.compaction);
        for (start, series) in ranges {
            let block = Block::write(
                &self.dir.join("blocks"),
                start,
                start + self.block_ms,
                i64::MIN,
                1,
                series.into_iter().map(Ok),
            )?;
            let mut blocks = write(&self.blocks);
            blocks.push(Arc::new(block));
            blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
            stats.blocks += 1;
        }
        self.compact_blocks()?;
        let (n, samples) = self.apply_retention()?;
        stats.retention_removed_blocks = n;
        stats.retention_removed_samples = samples;
        Ok(stats)
    }

    fn compact_head(&self) -> Result<(), Error> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        loop {
            let Some((mint, maxt)) = read(&self.head).time_range() else {
                return Ok(());
            };
            // Prometheus's rule (`Head.compactable`): keep half a block of slack for late scrapes.
            if maxt - mint <= self.block_ms / 2 * 3 {
                return Ok(());
            }
            let start = range_start(mint, self.block_ms);
            let end = start + self.block_ms;
            let mut order: Vec<(Arc<Labels>, u64)> = {
                let head = read(&self.head);
                head.series
                    .iter()
                    .map(|(r, s)| (s.labels.clone(), *r))
                    .collect()
            };
            order.sort();
            let head = &self.head;
            let series = order.into_iter().filter_map(move |(labels, r)| {
                match read(head).read(&[r], start, end - 1) {
                    Ok(mut v) => v.pop().map(|(_, samples)| Ok(((*labels).clone(), samples))),
                    Err(e) => Some(Err(e)),
                }
            });
            let block = Block::write(&self.dir.join("blocks"), start, end, end, 1, series)?;
            tracing::debug!(block = %block.path.display(), samples = block.meta.num_samples, "persisted head block");
            let mut wal = lock(wal);
            let snapshot = {
                let mut head = write(&self.head);
                let mut blocks = write(&self.blocks);
                blocks.push(Arc::new(block));
                blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
                head.truncate(end);
                series_snapshot(&head)
            };
            // A new segment that declares only the live series, so that the older ones can go.
            let rolled = wal.roll(&snapshot);
            wal.remove_before(end)?;
            rolled?;
        }
    }

    fn ranges(&self) -> Vec<i64> {
        let max = self
            .opts
            .max_block_duration
            .map(ms)
            .unwrap_or_else(|| (ms(self.opts.retention) / 10).min(31 * 24 * 3_600_000))
            .max(self.block_ms);
        let mut out = Vec::new();
        let mut r = self.block_ms.saturating_mul(3);
        while r <= max {
            out.push(r);
            r = r.saturating_mul(3);
        }
        out
    }

    /// Merges blocks that share a closed range of the next compaction level (or overlap), as
    /// Prometheus's leveled compactor does with ranges of 3× the block duration per level.
    fn compact_blocks(&self) -> Result<(), Error> {
        'again: loop {
            let blocks = read(&self.blocks).clone();
            let newest = blocks.iter().map(|b| b.meta.maxt).max().unwrap_or(i64::MIN);
            for r in self.ranges() {
                let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
                for b in &blocks {
                    let start = range_start(b.meta.mint, r);
                    if b.meta.maxt <= start + r {
                        groups.entry(start).or_default().push(b.clone());
                    }
                }
                for (start, group) in groups {
                    if group.len() < 2 || start + r > newest {
                        continue;
                    }
                    self.merge(&group)?;
                    continue 'again;
                }
            }
            return Ok(());
        }
    }

    /// Merges `group` into one block. A source that turns out damaged is quarantined instead
    /// (the merge is then planned again without it), so one bad block never stops compaction.
    fn merge(&self, group: &[Arc<Block>]) -> Result<(), Error> {
        let mut cursors = Vec::with_capacity(group.len());
        let mut heads: Vec<Option<(Labels, Vec<Sample>)>> = Vec::with_capacity(group.len());
        for (i, b) in group.iter().enumerate() {
            let first = BlockCursor::new(b).and_then(|mut c| {
                let first = c.next_series()?;
                Ok((c, first))
            });
            match first {
                Ok((c, first)) => {
                    cursors.push(c);
                    heads.push(first);
                }
                Err(e) => return self.quarantine_source(&group[i], e),
            }
        }
        let mut failed: Option<(usize, Error)> = None;
        let series = std::iter::from_fn(|| {
            let min = heads.iter().flatten().map(|(l, _)| l).min()?.clone();
            let mut samples = Vec::new();
            let mut n_sources = 0;
            for (i, slot) in heads.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|(l, _)| *l == min) {
                    let (_, s) = slot.take()?;
                    samples.extend(s);
                    n_sources += 1;
                    match cursors[i].next_series() {
                        Ok(next) => *slot = next,
                        Err(e) => {
                            failed = Some((i, e));
                            return None;
                        }
                    }
                }
            }
            if n_sources > 1 {
                samples.sort_by_key(|s| s.t);
                samples.dedup_by_key(|s| s.t);
            }
            Some(Ok((min, samples)))
        });
        let mint = group.iter().map(|b| b.meta.mint).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta.maxt).max().unwrap_or(0);
        let wal_cut = group
            .iter()
            .map(|b| b.meta.wal_cut)
            .max()
            .unwrap_or(i64::MIN);
        let level = group.iter().map(|b| b.meta.level).max().unwrap_or(1) + 1;
        let merged = Block::write(&self.dir.join("blocks"), mint, maxt, wal_cut, level, series)?;
        if let Some((i, e)) = failed {
            let _ = fs::remove_file(&merged.path);
            return self.quarantine_source(&group[i], e);
        }
        tracing::debug!(block = %merged.path.display(), sources = group.len(), "compacted blocks");
        {
            let mut blocks = write(&self.blocks);
            blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(b, g)));
            blocks.push(Arc::new(merged));
            blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
        }
        for b in group {
            fs::remove_file(&b.path).map_err(|e| Error::io(&b.path, e))?;
        }
        Ok(())
    }

    /// Takes a block found damaged during a merge out of service. I/O errors (a full disk) are
    /// not damage and are returned instead.
    fn quarantine_source(&self, block: &Arc<Block>, err: Error) -> Result<(), Error> {
        if !matches!(err, Error::Corrupt { .. } | Error::Block { .. }) {
            return Err(err);
        }
        write(&self.blocks).retain(|b| !Arc::ptr_eq(b, block));
        let d = quarantine(
            &self.dir,
            &block.path,
            &err.to_string(),
            Some(block.meta.num_samples as u64),
            true,
        )?;
        lock(&self.damage).push(d);
        Ok(())
    }

    /// Deletes blocks past the retention time, then the oldest blocks while the store is over
    /// its size limit; logs each deletion with its range, its size and the reason. Returns the
    /// number of blocks and samples removed.
    fn apply_retention(&self) -> Result<(usize, u64), Error> {
        let head_max = read(&self.head).time_range().map_or(i64::MIN, |r| r.1);
        let mut removed: Vec<(Arc<Block>, String)> = Vec::new();
        {
            let mut blocks = write(&self.blocks);
            let newest = blocks
                .iter()
                .map(|b| b.meta.maxt - 1)
                .fold(head_max, i64::max);
            let cutoff = newest.saturating_sub(ms(self.opts.retention));
            blocks.retain(|b| {
                let keep = b.meta.maxt > cutoff;
                if !keep {
                    removed.push((
                        b.clone(),
                        format!(
                            "it ends before {} = the newest sample ({}) minus the retention ({})",
                            time(cutoff),
                            time(newest),
                            humanize(self.opts.retention)
                        ),
                    ));
                }
                keep
            });
            if let Some(max) = self.opts.max_bytes {
                let wal_bytes = crate::wal::dir_bytes(&self.dir.join("wal"));
                let mut total: u64 = blocks.iter().map(|b| b.size).sum::<u64>() + wal_bytes;
                while total > max && !blocks.is_empty() {
                    let b = blocks.remove(0);
                    removed.push((
                        b.clone(),
                        format!(
                            "the store takes {total} bytes, over its limit of {max} bytes (oldest block first)"
                        ),
                    ));
                    total -= b.size;
                }
            }
        }
        let mut samples = 0u64;
        for (b, why) in &removed {
            tracing::info!(
                block = %b.path.display(),
                from = %time(b.meta.mint),
                to = %time(b.meta.maxt),
                series = b.meta.num_series,
                samples = b.meta.num_samples,
                bytes = b.size,
                "retention deleted a block: {why}"
            );
            samples += b.meta.num_samples as u64;
            fs::remove_file(&b.path).map_err(|e| Error::io(&b.path, e))?;
        }
        Ok((removed.len(), samples))
    }
}

/// A millisecond timestamp as RFC 3339, or where it lies when out of that range.
pub(crate) fn time(t_ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(t_ms) {
        Ok(t) => t.to_string(),
        Err(_) if t_ms > 0 => "past the year 9999".into(),
        Err(_) => "before the year -9999".into(),
    }
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}
