//! One batch of samples (one scrape), checked as it is built and committed as one WAL record.

use crate::Error;
use crate::db::{Db, lock, read, series_snapshot, write};
use crate::wal::Record;
use apilens_model::Labels;
use std::collections::HashMap;

enum Key {
    Ref(u64),
    New(usize),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Ref(r) => write!(f, "ref {r}"),
            Key::New(i) => write!(f, "new {i}"),
        }
    }
}

/// Collects one batch of samples (one scrape) and commits it atomically.
#[derive(Debug)]
pub struct Appender<'a> {
    db: &'a Db,
    new_series: Vec<Labels>,
    new_index: HashMap<Labels, usize>,
    samples: Vec<(Key, i64, f64)>,
}

impl<'a> Appender<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Appender {
            db,
            new_series: Vec::new(),
            new_index: HashMap::new(),
            samples: Vec::new(),
        }
    }

    /// Adds a sample to the batch.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyLabels`] for an empty label set, [`Error::OutOfBounds`] when `t_ms` falls
    /// before the head's range (that time is already persisted in a block),
    /// [`Error::OutOfOrder`] when the series already has a newer sample or a different value at
    /// the same time. Resending the newest sample with the same value is accepted and ignored,
    /// as in Prometheus.
    pub fn append(&mut self, labels: &Labels, t_ms: i64, v: f64) -> Result<(), Error> {
        if labels.is_empty() {
            return Err(Error::EmptyLabels { t_ms });
        }
        let head = read(&self.db.inner.head);
        if t_ms < head.min_valid_t {
            return Err(Error::OutOfBounds {
                series: labels.to_string(),
                t_ms,
                min_valid_ms: head.min_valid_t,
            });
        }
        if let Some(r) = head.get_ref(labels) {
            if let Some(s) = head.series.get(&r) {
                if t_ms < s.max_t || (t_ms == s.max_t && v.to_bits() != s.last_v) {
                    return Err(Error::OutOfOrder {
                        series: labels.to_string(),
                        t_ms,
                        last_ms: s.max_t,
                    });
                }
                if t_ms == s.max_t {
                    return Ok(());
                }
            }
            self.samples.push((Key::Ref(r), t_ms, v));
            return Ok(());
        }
        drop(head);
        let idx = match self.new_index.get(labels) {
            Some(i) => *i,
            None => {
                self.new_series.push(labels.clone());
                self.new_index
                    .insert(labels.clone(), self.new_series.len() - 1);
                self.new_series.len() - 1
            }
        };
        self.samples.push((Key::New(idx), t_ms, v));
        Ok(())
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Writes the batch as one WAL record, syncs it to disk, then makes the samples visible.
    /// Samples that another commit overtook in the meantime (not newer than their series' last
    /// sample) are dropped, identically on WAL replay. Persisting blocks and retention happen on
    /// the store's background thread, never here. Call it from a blocking context
    /// (`tokio::task::spawn_blocking`) in async code: it waits for `fdatasync`.
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only store; [`Error::Io`] when the WAL cannot be written
    /// (a full disk): the batch is then not applied, and the next commit starts a fresh
    /// segment, so nothing acknowledged before or after is lost.
    pub fn commit(self) -> Result<(), Error> {
        if self.samples.is_empty() {
            return Ok(());
        }
        let inner = &self.db.inner;
        inner.writable()?;
        let Some(wal) = &inner.wal else {
            return Ok(());
        };
        {
            let mut wal = lock(wal);
            if wal.needs_fresh_segment() {
                let snapshot = series_snapshot(&read(&inner.head));
                wal.roll(&snapshot)?;
            }
            let mut record = Record::default();
            {
                let mut head = write(&inner.head);
                let new_refs: Vec<u64> = self
                    .new_series
                    .iter()
                    .map(|l| head.get_or_create(l, None))
                    .collect();
                let mut declared = std::collections::HashSet::new();
                record.samples.reserve(self.samples.len());
                for (key, t, v) in &self.samples {
                    let r = match key {
                        Key::Ref(r) => *r,
                        Key::New(i) => new_refs[*i],
                    };
                    if let Some(s) = head.series.get(&r)
                        && !s.logged
                        && declared.insert(r)
                    {
                        record.series.push((r, (*s.labels).clone()));
                    }
                    record.samples.push((r, *t, *v));
                }
            }
            wal.log(&record)?;
            {
                let mut head = write(&inner.head);
                for (r, _) in &record.series {
                    if let Some(s) = head.series.get_mut(r) {
                        s.logged = true;
                    }
                }
                for (r, t, v) in &record.samples {
                    head.append(*r, *t, *v);
                }
            }
            if wal.needs_roll() {
                let snapshot = series_snapshot(&read(&inner.head));
                // The batch is durable already; a failed roll is retried by the next commit.
                if let Err(e) = wal.roll(&snapshot) {
                    tracing::warn!(error = %e, "cannot start a new WAL segment; the next commit retries");
                }
            }
        }
        let due = {
            let head = read(&inner.head);
            head.time_range()
                .is_some_and(|(mint, maxt)| maxt - mint > inner.block_ms / 2 * 3)
        };
        if due {
            self.db.wake_compactor();
        }
        Ok(())
    }
}
