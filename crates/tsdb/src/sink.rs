//! The store as a scrape [`Sink`]: each batch becomes one WAL record.

use apilens_model::{Batch, Sink, SinkError};

use crate::{Db, Error};

/// The embedded store: each batch becomes one WAL record, fsynced before `append` returns.
///
/// Samples the store refuses one by one (out of order, or older than its head, as after a
/// restart with recorded data) are dropped and counted in a warning, as Prometheus counts them;
/// the rest of the batch is still stored.
impl Sink for Db {
    fn append(&self, batch: &Batch) -> Result<(), SinkError> {
        let mut appender = self.appender();
        let mut dropped = 0usize;
        let mut first_drop = None;
        for (labels, sample) in &batch.samples {
            match appender.append(labels, sample.t, sample.v) {
                Ok(()) => {}
                Err(err @ (Error::OutOfOrder { .. } | Error::OutOfBounds { .. })) => {
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
