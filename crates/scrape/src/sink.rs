//! Where scraped batches go: the store, or memory in tests.

use std::sync::Mutex;

use apilens_model::{Labels, Sample, Series};

use crate::Batch;

/// The error a [`Sink`] reports.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Receives each scrape as one batch. The embedded store implements it with one WAL record per
/// batch, fsynced before `append` returns; the scrape loop calls it from a blocking thread.
pub trait Sink: Send + Sync {
    /// Appends every sample of `batch`, all or nothing.
    ///
    /// # Errors
    ///
    /// Whatever the store reports; the scrape loop logs it with the target's name and goes on.
    fn append(&self, batch: &Batch) -> Result<(), SinkError>;
}

/// A [`Sink`] that keeps every batch in memory, for tests and small tools.
#[derive(Debug, Default)]
pub struct MemorySink {
    batches: Mutex<Vec<Batch>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every batch received, in order.
    pub fn batches(&self) -> Vec<Batch> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Every series whose labels satisfy `keep`, with its samples in arrival order.
    pub fn series(&self, keep: impl Fn(&Labels) -> bool) -> Vec<Series> {
        let mut found: Vec<Series> = Vec::new();
        let mut index = std::collections::HashMap::<Labels, usize>::new();
        for batch in self.batches() {
            for (labels, sample) in batch.samples {
                if !keep(&labels) {
                    continue;
                }
                let idx = *index.entry(labels.clone()).or_insert_with(|| {
                    found.push(Series {
                        labels,
                        samples: Vec::new(),
                    });
                    found.len() - 1
                });
                found[idx].samples.push(Sample {
                    t: sample.t,
                    v: sample.v,
                });
            }
        }
        found
    }
}

impl Sink for MemorySink {
    fn append(&self, batch: &Batch) -> Result<(), SinkError> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(batch.clone());
        Ok(())
    }
}

/// The embedded store: each batch becomes one WAL record, fsynced before `append` returns.
///
/// Samples the store refuses one by one (out of order, or older than its head, as after a
/// restart with recorded data) are dropped and counted in a warning, as Prometheus counts them;
/// the rest of the batch is still stored.
impl Sink for apilens_tsdb::Db {
    fn append(&self, batch: &Batch) -> Result<(), SinkError> {
        let mut appender = self.appender();
        let mut dropped = 0usize;
        let mut first_drop = None;
        for (labels, sample) in &batch.samples {
            match appender.append(labels, sample.t, sample.v) {
                Ok(()) => {}
                Err(
                    err @ (apilens_tsdb::Error::OutOfOrder { .. }
                    | apilens_tsdb::Error::OutOfBounds { .. }),
                ) => {
                    dropped += 1;
                    first_drop.get_or_insert_with(|| err.to_string());
                }
                Err(err) => return Err(Box::new(err)),
            }
        }
        appender.commit()?;
        if let Some(first) = first_drop {
            tracing::warn!(dropped, first = %first, "store refused samples of a scrape");
        }
        Ok(())
    }
}
