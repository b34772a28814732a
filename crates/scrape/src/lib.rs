//! Scraping Prometheus-format targets into a store.
//!
//! # Brief overview
//!
//! - [`Target`]: what to scrape and under which `job` and `instance`: an HTTP(S) URL
//!   ([`Target::http`], with [`HttpOpts`] for a CA file, client certificate and bearer token
//!   file, as etcd needs), one Kubernetes API server replica ([`Target::api_server`],
//!   [`api_server_targets`] finds them all), or recorded scrapes to replay ([`replay_targets`]).
//! - [`ScrapeLoop`]: scrapes one target every interval within a timeout, honours HTTP 429 and
//!   `Retry-After`, caps body size and sample count, and appends each scrape as one [`Batch`]
//!   to a [`Sink`] with the synthetic series `up`, `scrape_duration_seconds`,
//!   `scrape_samples_scraped`, `scrape_series_added` and staleness markers. [`Scraper`] runs one
//!   loop per target; a failing target never stops the others, and [`Health`] shows each
//!   target's state and last error.
//! - [`BundleWriter`] and [`Bundle`]: support bundles of raw scrapes with a manifest, which
//!   replay as targets.
//! - [`TargetSources`]: every target a command line names (URLs, recorded files, etcd, the
//!   replicas of a kubeconfig); [`record_bundle`] records rounds of their scrapes as a bundle.
//! - [`SimulatedCluster`]: the simulator (`apilens_sim`) in-process, every replica and etcd
//!   scraped through a [`ScrapeLoop`] into a [`Sink`] as a live cluster is, its audit log beside.
//! - [`open_input`]: a one-shot read of a file, a pipe, standard input or a URL (the same request
//!   and [`HttpOpts`] as a scrape), gzip undone, streamed within one deadline.
//!
//! Every error names its target (`job instance (url)`) and never carries a credential.
//!
//! ```
//! use std::sync::Arc;
//! use apilens_scrape::{Health, MemorySink, ScrapeLoop, ScrapeOpts, Target, ReplayScrape};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let file = dir.path().join("metrics.txt");
//! std::fs::write(&file, "apiserver_storage_objects{resource=\"pods\"} 42\n")?;
//! let target = Target::replay("apiserver", "recorded", vec![ReplayScrape { path: file, timestamp_ms: Some(1_700_000_000_000) }]);
//! let sink = Arc::new(MemorySink::new());
//! let mut scrape_loop = ScrapeLoop::new(target, ScrapeOpts::default(), sink.clone(), Health::new());
//! let report = scrape_loop.scrape_once().await;
//! assert!(report.up);
//! let pods = sink.series(|l| l.metric_name() == Some("apiserver_storage_objects"));
//! assert_eq!(pods[0].labels.get("job"), Some("apiserver"));
//! assert_eq!(pods[0].samples[0].v, 42.0);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bundle;
mod error;
mod fetch;
mod health;
mod ingest;
mod input;
mod kube_targets;
mod record;
mod scrape_loop;
mod simulated;
mod sources;
mod target;

pub use crate::{
    bundle::{
        BUNDLE_FORMAT, BUNDLE_VERSION, Bundle, BundleWriter, MANIFEST, Manifest, RecordedScrape,
        replay_targets,
    },
    error::ScrapeError,
    fetch::Fetched,
    health::{Health, TargetHealth},
    input::{DEFAULT_INPUT_TIMEOUT, Input, open_input},
    kube_targets::api_server_targets,
    record::{RecordOpts, RecordSummary, record_bundle},
    scrape_loop::{ScrapeLoop, ScrapeOpts, ScrapeReport, Scraper},
    simulated::{SimulatedCluster, SimulatedOpts},
    sources::TargetSources,
    target::{HttpOpts, JOB_APISERVER, JOB_ETCD, ReplayScrape, Target, TargetKind},
};
pub use apilens_model::{Batch, MemorySink, Sink, SinkError};
