//! A zero-copy parser for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
//!
//! # Brief overview
//!
//! - [`Parser`] walks a byte slice and yields one [`Entry`] per line: a [`SeriesEntry`] for each
//!   sample, `HELP`, `TYPE`, `UNIT`, comments and `# EOF`. Entries borrow from the input; nothing
//!   is allocated per sample unless a value contains an escape sequence.
//! - [`SeriesEntry::labels`] decodes labels on demand, so a scraper that keys a cache on
//!   [`SeriesEntry::raw`] never pays for label decoding of series it has seen before (the design of
//!   Prometheus's `model/textparse`).
//! - [`families`] groups entries into metric families: counters, gauges, histograms (buckets keyed
//!   by the numeric value of `le`), summaries and untyped metrics.
//! - [`encode`] writes series back in the text format; the parser and the encoder round-trip.
//!
//! Every error carries the line and column and says what was expected. No input makes the parser
//! panic: it is fuzzed (`fuzz/`) and property-tested against the encoder.
//!
//! The parser is as strict as Prometheus: what it accepts, Prometheus stores, and what Prometheus
//! or `promtool check metrics` rejects (a label name given twice, a value out of the range of a
//! 64-bit float, a second TYPE line for a family) is an error here too (see [`Parser`] and
//! [`FamilyRules`]).
//!
//! ```
//! use apilens_textparse::{Entry, Format, Parser};
//!
//! let input = b"# TYPE up gauge\nup{job=\"apiserver\"} 1\n";
//! let mut values = Vec::new();
//! for entry in Parser::new(input, Format::PrometheusText) {
//!     if let Entry::Series(s) = entry? {
//!         values.push((s.name().to_string(), s.label("job").map(|v| v.into_owned()), s.value));
//!     }
//! }
//! assert_eq!(values, [("up".to_string(), Some("apiserver".to_string()), 1.0)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod entry;
mod error;
mod format;
mod lex;
mod parser;
mod rules;
mod stream;
mod unique;

pub mod encode;
pub mod families;

pub use crate::{
    entry::{Entry, Exemplar, LabelIter, MetricType, SeriesEntry},
    error::ParseError,
    format::Format,
    parser::Parser,
    rules::FamilyRules,
    stream::{MAX_LINE, StreamError, StreamStats, parse_reader},
};
