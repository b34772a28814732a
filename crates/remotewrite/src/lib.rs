//! Prometheus remote write: forwards scraped samples to Prometheus, Mimir, Thanos,
//! VictoriaMetrics or Amazon Managed Service for Prometheus.
//!
//! # Brief overview
//!
//! - [`RemoteWriter`]: an [`apilens_model::Sink`] that encodes each scrape as remote-write
//!   1.0 requests (protobuf [`WriteRequest`], snappy block format, at most
//!   [`RemoteWriteOpts::max_samples_per_send`] samples each), appends them to a bounded
//!   on-disk queue, and posts them from a sender thread with `Content-Encoding: snappy`,
//!   `Content-Type: application/x-protobuf` and `X-Prometheus-Remote-Write-Version: 0.1.0`.
//!   Retries with exponential back-off and jitter on 5xx, 429 (honouring `Retry-After`) and
//!   network errors; drops a request refused with another 4xx, with a warning naming the
//!   status and the start of the body.
//! - The queue: numbered segment files of records with a CRC each, a cap in bytes (when full
//!   the oldest segment is dropped and counted), and the acknowledged position in a file, so
//!   a restart sends only what the receiver has not acknowledged.
//! - [`WriteAuth`]: bearer token file, basic auth with a password file, or AWS SigV4
//!   (`apilens_sigv4`) for Amazon Managed Service for Prometheus.
//! - [`Tee`]: feeds each scrape to several sinks, such as the embedded store and a writer.
//! - [`RemoteWriteSpec`]: the writer as a command line asks for it (receiver, queue cap,
//!   credentials), started with [`RemoteWriteSpec::start`].
//!
//! ```
//! use std::sync::Arc;
//! use apilens_model::{Labels, Sample};
//! use apilens_remotewrite::{RemoteWriteOpts, RemoteWriter};
//! use apilens_model::{Batch, Sink};
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Nothing listens on port 1: the samples wait in the queue.
//! let writer = RemoteWriter::start(RemoteWriteOpts::new(
//!     "http://127.0.0.1:1/api/v1/write",
//!     dir.path().join("queue"),
//! ))
//! .unwrap();
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "apiserver")]);
//! writer.append(&Batch { samples: vec![(up, Sample { t: 1_700_000_000_000, v: 1.0 })] }).unwrap();
//! assert_eq!(writer.stats().samples_pending, 1);
//! writer.shutdown();
//! ```
#![deny(missing_docs)]

mod error;
mod prompb;
mod queue;
mod spec;
mod writer;

pub use crate::{
    error::Error,
    prompb::{PbLabel, PbSample, TimeSeries, WriteRequest, decode_write_request},
    spec::RemoteWriteSpec,
    writer::{RemoteWriteOpts, RemoteWriteStats, RemoteWriter, Tee, WriteAuth},
};
