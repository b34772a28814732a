//! Streaming analysis of Kubernetes audit logs: who is hurting the API server.
//!
//! Metrics cannot name a client (the `client` label left `apiserver_request_total` in 1.18);
//! audit logs can. This crate reads them in one streaming, parallel pass with bounded memory and
//! folds every request into a view.
//!
//! # Brief overview
//!
//! - [`collect_inputs`] turns arguments into [`Input`]s: files, directories (recursively), `-` for
//!   stdin; gzip is detected by its magic bytes. A [`LineSource`] brings event lines from
//!   elsewhere (a CloudWatch log stream, an S3 object) into the same scan.
//! - [`scan`] reads the inputs in newline-aligned chunks on worker threads (large plain files
//!   are mapped into memory a window at a time, so no byte is copied), decodes every line
//!   (native `audit.k8s.io` v1/v1beta1 events, old layouts with only `timestamp`, `EventList`s,
//!   `host {json}` lines, EKS CloudWatch records, AKS diagnostic records, GKE Cloud Audit Log
//!   entries), keeps one event per request (the final stage, de-duplicated by auditID), applies
//!   the [`Filter`] and feeds a [`View`]. Malformed lines are counted in [`Summary::malformed`].
//! - [`decode_record`] is the per-line step on its own. Native events go through a scanner that
//!   reads only the fields the analyses use and skips (while validating) everything else; the
//!   envelopes and anything unusual go through serde, which the scanner is tested against.
//! - [`Request`] is one request, borrowing from its line; [`Shape`] is its `requestURI` parsed
//!   the way the apiserver does.
//! - The views: [`Top`], [`Lists`], [`Watches`], [`Throttled`], [`Slow`], [`Timeline`]. Each ends
//!   in a [`Report`] rendered as a table, JSON, CSV or Markdown.
//!
//! ```
//! use apilens_audit::{Filter, FilterSpec, Format, Input, ScanOpts, Top, TopKey, View, scan};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.log");
//! std::fs::write(&path, concat!(
//!     r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"alice"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2024-05-01T10:00:00.000000Z","stageTimestamp":"2024-05-01T10:00:00.250000Z"}"#, "\n",
//!     "not json\n",
//! ))?;
//! let filter = Filter::new(&FilterSpec::default())?;
//! let (top, summary) = scan(&[Input::Path(path)], &filter, &ScanOpts::default(), || Top::new(&[TopKey::User], 10, 10_000))?;
//! let report = top.finish(&summary);
//! assert_eq!(summary.events, 1);
//! assert_eq!(summary.malformed.count, 1);
//! assert_eq!(report.rows[0].key, "alice");
//! assert!(report.render(&summary, Format::Table).contains("alice"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why the design
//!
//! Prior tools hold every event in memory and silently stop at the first line over 64 KiB. Here
//! a line may be any length, an input is never held whole (except a pretty-printed multi-line
//! JSON document, which cannot be split), and per-key state is exact up to a cap and a
//! heavy-hitters sketch beyond it, with latency quantiles from DDSketch; reports say when a figure
//! is approximate. Stages of one request are folded inside each chunk first, and only requests
//! still open at a chunk's end (cut by the boundary, or long-running) are kept, in a table shared
//! by the workers and applied in input order, so memory does not grow with the input.
//!
//! Most of an audit line is text no analysis reads (request and response bodies, the RBAC
//! reason), so the decoder's cost is finding where strings end: 16 bytes per step with SSE2 on
//! x86_64, 8 with plain integer arithmetic elsewhere.
#![deny(missing_docs)]

mod apf;
mod client;
mod error;
mod event;
mod fast;
#[cfg(test)]
mod fast_agrees;
mod filter;
mod input;
mod list_serving;
mod native;
mod plausible;
mod progress;
mod read;
mod report;
mod request;
mod scan;
mod sketch;
mod summary;
mod synth;
mod uri;
mod view;

pub use crate::{
    apf::{default_flow, estimated_seats},
    client::{client_key, normalize_user_agent, push_normalized_user_agent},
    error::AuditError,
    event::decode_record,
    filter::{Filter, FilterSpec, parse_time},
    input::{Input, LineSource, collect_inputs},
    list_serving::{
        CACHE_IF_PROGRESS_NOTIFY, SNAPSHOT_ELSE_ETCD, served_from, served_with_evidence,
    },
    progress::scan_with_progress,
    report::{Cell, Format, Report, Row},
    request::{
        Annotations, OwnedRequest, Request, Stage, parse_go_duration_ms, parse_timestamp_us,
    },
    scan::{DEFAULT_MAX_LINE_BYTES, ScanOpts, scan},
    sketch::{FxHasher, FxMap},
    summary::{MALFORMED_EXAMPLES, Malformed, Summary},
    synth::{SynthOpts, SynthStats, write_synthetic},
    uri::{ListParams, Shape},
    view::{
        View,
        lists::{Lists, paging, rv_class},
        slow::Slow,
        throttled::{ThrottleCause, Throttled},
        timeline::{Timeline, parse_step},
        top::{Top, TopKey},
        watches::Watches,
    },
};
pub use apilens_apf::KubeVersion;
