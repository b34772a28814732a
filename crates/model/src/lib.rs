//! The vocabulary every apilens crate meets on.
//!
//! # Brief overview
//!
//! - [`Labels`]: a sorted, de-duplicated set of label pairs that names one series, metric name
//!   included as `__name__`, like Prometheus's `model/labels`.
//! - [`Matcher`]: one label matcher (`=`, `!=`, `=~`, `!~`) with Prometheus's anchored regex rules.
//! - [`Sample`] and [`Series`]: timestamped float values (milliseconds since the epoch) and the
//!   series that own them; [`STALE_NAN`] is Prometheus's staleness marker.
//! - [`Queryable`]: select series by matchers over a time range. The embedded store and remote
//!   Prometheus-compatible engines implement it; the PromQL engine consumes it.
//! - [`error_chain`]: an error and its causes on one line, for messages people read.
//! - [`body_excerpt`] and [`redact`]: what a remote body may show in a log or an API answer,
//!   short, printable and without credentials.
//! - [`parse_byte_size`]: the one byte-size syntax (`512MiB`, `2GB`, `4096`) of every flag.
//! - [`parse_duration`]: the one duration syntax (`15s`, `1h30m`, `1.5h`, `7d`) of every flag,
//!   API parameter and audit-log latency; [`format_duration`] writes one back.
//! - `install_crypto_provider` (feature `tls`): the process's one rustls crypto provider.
//! - [`Sink`] and [`Batch`]: where one scrape's samples go (the store, a remote writer).
//! - [`KubeVersion`]: a Kubernetes release as servers and providers print it (`v1.34.2-eks-…`),
//!   and [`KubeRange`], a range of releases as catalogs write them (`>=1.17`, `1.20-1.35`).
//!
//! ```
//! use apilens_model::{Labels, Matcher, MatchOp};
//!
//! let series = Labels::from_pairs([("__name__", "up"), ("job", "apiserver")]);
//! let matcher = Matcher::new(MatchOp::RegexMatch, "job", "api.*")?;
//! assert!(matcher.matches(series.get("job").unwrap_or("")));
//! assert_eq!(series.metric_name(), Some("up"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod byte_size;
mod clock;
mod duration;
mod error_chain;
mod kube_range;
mod kube_version;
mod labels;
mod matcher;
mod queryable;
mod read_cache;
mod redact;
mod sample;
mod sink;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "tls")]
pub use crate::tls::install_crypto_provider;
pub use crate::{
    byte_size::{ByteSizeError, parse_byte_size},
    clock::now_ms,
    duration::{DurationError, format_duration, parse_duration},
    error_chain::error_chain,
    kube_range::{KubeRange, RangeError},
    kube_version::{KubeVersion, VersionError},
    labels::{Label, Labels, METRIC_NAME},
    matcher::{MatchOp, Matcher, MatcherError},
    queryable::{Queryable, SelectError, SelectHints},
    read_cache::ReadCache,
    redact::{EXCERPT_CHARS, REDACTED, body_excerpt, redact},
    sample::{STALE_NAN, Sample, Series, is_stale_nan},
    sink::{Batch, MemorySink, Sink, SinkError},
};
