//! Where scraped batches go: the [`Sink`] trait that the store and the remote writer implement,
//! and a sink in memory for tests.

use std::sync::Mutex;

use crate::{Labels, Sample, Series};

/// One scrape's samples, appended to a sink as one batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The samples, each with its full label set (`job` and `instance` included).
    pub samples: Vec<(Labels, Sample)>,
}

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
