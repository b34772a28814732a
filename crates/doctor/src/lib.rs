//! The doctor: names the client that hurts the Kubernetes API server, costs it in APF seats,
//! shows the evidence and writes the fix.
//!
//! # Brief overview
//!
//! [`diagnose`] takes any combination of [`DoctorInputs`]: audit logs, the troubleshooter
//! report of the metrics (`apilens_report::build_report` over a store or a remote engine), the
//! cluster's APF objects ([`ApfObjects`]) and the debug dumps of each replica
//! ([`ReplicaDumps`]). An audit log alone is enough.
//!
//! 1. **Cost, not count.** The audit log streams through the cost ledger (an audit `View`,
//!    bounded memory: exact per client up to 20,000 clients, lighter ones folded, the output
//!    says so). Every request is classified with `apilens_apf::ApfConfig::classify` under
//!    today's configuration, its seats estimated with `apilens_apf::estimate` (object counts
//!    from the metrics; else from `limit` × pages of `continue` chains in the log; else the
//!    estimator's worst case, said so), its execution time is its latency less the
//!    `apf-queue-wait` annotation, and seat-seconds are seats × execution time. Per client
//!    (effective user + user agent, kubelets folded with a node count) and per call: requests,
//!    seat-seconds, share of the level, 429s and wait received, etcd time and estimated bytes.
//! 2. **Patterns.** One module per `kind`: `unbounded-list`, `list-from-etcd`, `polling-loop`,
//!    `paginated-relist`, `watch-churn`, `watch-fanout`, `retry-storm-429`,
//!    `huge-list-response`, `apf-exempt-application`, `apf-jail-in-catch-all`,
//!    `apf-dangling-flowschema`, `apf-starved-level`, and the server-side `etcd-slow`,
//!    `webhook-slow` and `version-skew`. Cheap clients never become findings, however many
//!    requests they send.
//! 3. **Harm to others.** The busiest window is replayed through `apilens_apf::replay` as it
//!    happened and without each of the heaviest candidates; the difference in everyone else's
//!    429s and queue wait is the harm the candidate causes. The metrics confirm (or not) that
//!    its level was saturated.
//! 4. **Severity** (from the harm figures; a detector may judge higher). Others' 429s and wait
//!    count only for a client holding a tenth or more of its level's seat-seconds (in a full
//!    level every light client, often a victim itself, pushes the others out a little):
//!    - `critical`: it causes 10 or more 429s of others; or 30 s or more of others' queue wait
//!      while its worst victim's p99 wait grows by 1 s or more; or it holds half or more of a
//!      level's seat-seconds while that level is saturated (at its seat limit, queuing a second
//!      or more at p99, or rejecting, in the metrics or the replay). Detectors: a watch fan-out
//!      of 100,000 events/s or more; exempt application traffic reading 10 MB/s from etcd or
//!      holding a tenth of the server's seats; etcd or a webhook timing requests out, or slow
//!      for 5 % of single-object requests (etcd) or 1 s on average (webhooks); catch-all
//!      rejecting jailed clients; a starved level rejecting.
//!    - `warning`: a real but contained cost: any 429s or 5 s of wait caused; a fifth of its
//!      level with one seat or more busy on average; 10 MB/s read from etcd; a watch fan-out of
//!      20,000 events/s.
//!    - `info`: a pattern worth fixing with no measurable harm now.
//! 5. **Order**: severity, then a client that measurably hurts others before a server-side
//!    cause before clients that hurt nobody measurably (so when etcd or a webhook is slow and
//!    no client stands out, it comes first), then others' 429s caused, others' wait caused,
//!    share of the level, etcd bytes, etcd time, watch events, seat-seconds. Never request
//!    counts.
//! 6. **Fix**: a PriorityLevelConfiguration and a FlowSchema (`apilens_apf::to_yaml_v1`) that
//!    contain exactly the client's offending requests (see the `fix` module for the rules), with
//!    comments computed by `apilens-apf` (sizing, dilution of other levels, per-replica limits,
//!    one-service-account DaemonSets), and the client-side change.
//!
//! [`what_if`] replays the window under today's configuration and with a fix applied
//! (`ApfConfig::with_objects`). [`render_text`], [`render_markdown`] and [`render_json`] print
//! a diagnosis. [`synth`] writes busy-cluster audit logs built to fool a naive ranking.
//!
//! ```no_run
//! use apilens_audit::Input;
//! use apilens_doctor::{DoctorInputs, diagnose, render_text};
//!
//! let inputs = DoctorInputs {
//!     audit: vec![Input::Path("audit.log".into())],
//!     ..DoctorInputs::default()
//! };
//! let diagnosis = diagnose(&inputs)?;
//! print!("{}", render_text(&diagnosis, false));
//! # Ok::<(), apilens_doctor::DoctorError>(())
//! ```
#![deny(missing_docs)]

mod analysis;
mod beside_report;
mod diagnose;
mod distinct;
mod dumps;
mod error;
mod finding;
mod fix;
mod gather;
mod harm;
mod hash;
mod identity;
mod inputs;
mod ledger;
mod live;
mod metrics;
mod outcome;
mod patterns;
mod rank;
mod render;
pub mod synth;
mod whatif;

pub use crate::{
    beside_report::{clients_behind, render_report_json_with},
    diagnose::{ApfObjects, Diagnosis, DoctorInputs, audit_span, costs, diagnose},
    dumps::ReplicaDumps,
    error::DoctorError,
    finding::{Culprit, Evidence, Finding, Fix, Harm, Kind, Severity, Window},
    fix::OffendingCall,
    gather::{LiveInputs, metrics_report, metrics_window, readable_report, release_from_flag},
    inputs::{AuditSummary, ClientCost, InputsSummary, LevelShare, Missing},
    live::{LiveApf, read_live_apf},
    render::{render_json, render_markdown, render_text, render_who_markdown, render_who_text},
    whatif::{Outcome, WhatIf, render_what_if, what_if},
};
