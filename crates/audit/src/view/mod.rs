//! The analyses: each view folds requests into bounded state, merges across workers, and ends in
//! a [`crate::Report`].

pub(crate) mod lists;
pub(crate) mod slow;
pub(crate) mod throttled;
pub(crate) mod timeline;
pub(crate) mod top;
pub(crate) mod watches;

use crate::apf::estimated_seats;
use crate::report::Report;
use crate::request::Request;
use crate::sketch::{Latency, Stat};
use crate::summary::Summary;

/// An analysis fed one request at a time by [`crate::scan`].
///
/// Each worker thread owns one instance; the instances are merged at the end, so `merge` must
/// give the same result as if one instance had seen every request.
pub trait View: Send {
    /// Folds in one counted request.
    fn add(&mut self, req: &Request<'_>);
    /// Folds in an instance that saw other requests.
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
    /// Ends the analysis.
    fn finish(self, summary: &Summary) -> Report
    where
        Self: Sized;
}

/// Separator of composite keys inside the sketches (never in audit text).
pub(crate) const KEY_SEP: char = '\u{1f}';

/// True for a response code that counts as an error (4xx and 5xx).
pub(crate) fn is_error(code: Option<u16>) -> bool {
    code.is_some_and(|c| c >= 400)
}

/// The request latency in milliseconds, for requests whose duration is a latency (final stage,
/// not long-running).
pub(crate) fn latency_ms(req: &Request<'_>) -> Option<f64> {
    if !req.stage.is_final() || req.is_long_running() {
        return None;
    }
    req.latency_us().map(|us| us as f64 / 1000.0)
}

/// Request count, errors, latency quantiles and seat-seconds of one key.
#[derive(Clone, Default)]
pub(crate) struct RequestStats {
    pub(crate) count: u64,
    pub(crate) errors: u64,
    pub(crate) latency: Latency,
    pub(crate) seat_seconds: f64,
}

impl RequestStats {
    /// Folds in one request, its seats estimated for the newest version apf knows.
    pub(crate) fn add(&mut self, req: &Request<'_>) {
        self.add_for(req, crate::apf::DEFAULT_VERSION);
    }

    /// Folds in one request, its seats estimated as a server of `version` would.
    pub(crate) fn add_for(&mut self, req: &Request<'_>, version: apilens_apf::KubeVersion) {
        self.count += 1;
        if is_error(req.code) {
            self.errors += 1;
        }
        if let Some(ms) = latency_ms(req) {
            self.latency.add(ms);
            self.seat_seconds += f64::from(estimated_seats(req, version)) * ms / 1000.0;
        }
    }
}

impl Stat for RequestStats {
    fn merge(&mut self, other: Self) {
        self.count += other.count;
        self.errors += other.errors;
        self.latency.merge(other.latency);
        self.seat_seconds += other.seat_seconds;
    }

    fn weight(&self) -> u64 {
        self.count
    }
}

/// A bare request count.
#[derive(Clone, Default)]
pub(crate) struct Count(pub(crate) u64);

impl Stat for Count {
    fn merge(&mut self, other: Self) {
        self.0 += other.0;
    }

    fn weight(&self) -> u64 {
        self.0
    }
}

/// Formats microseconds since the epoch as RFC 3339.
pub(crate) fn format_us(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The note every view with latency quantiles carries.
pub(crate) const QUANTILE_NOTE: &str = "p50/p99 are DDSketch estimates (1 % relative error) of stageTimestamp - requestReceivedTimestamp; watches and exec/attach/proxy are left out";
