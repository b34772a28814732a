//! The reads as audit scanner inputs: each [`AuditSource`] is an audit [`LineSource`], and a
//! scan's own filter decides what is asked of AWS.

use crate::aws::AwsOpts;
use crate::error::AwsError;
use crate::pattern::filter_pattern;
use crate::reads::{Places, Reads};
use crate::source::AuditSource;
use crate::window::Window;
use apilens_audit::{Filter, FilterSpec, Input, LineSource};
use std::io::Read;
use std::sync::Arc;

impl LineSource for AuditSource {
    fn name(&self) -> String {
        AuditSource::name(self).to_owned()
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(AuditSource::open(self))
    }
}

impl Reads {
    /// Plans the reads of `places` for a scan that keeps what `filter` (compiled from `spec`)
    /// keeps: its time range, widened so that every request it keeps is fetched, is sent as
    /// startTime/endTime, and `spec`'s verbs and users as a CloudWatch filter pattern where one
    /// keeps a superset of what the local filter keeps. Nothing but the listing is sent yet.
    ///
    /// # Errors
    ///
    /// As [`Reads::plan`].
    pub fn plan_for_scan(
        places: &Places,
        opts: &AwsOpts,
        filter: &Filter,
        spec: &FilterSpec,
    ) -> Result<Reads, AwsError> {
        let window = Window::for_requests(filter.since_us(), filter.until_us());
        Reads::plan(places, opts, window, filter_pattern(&spec.verb, &spec.user))
    }

    /// The planned sources as scanner inputs, in order; the reads keep their counters.
    pub fn inputs(&self) -> Vec<Input> {
        (self.sources.iter().cloned())
            .map(|s| Input::Source(Arc::new(s)))
            .collect()
    }
}

/// Runs `work` with the progress of `reads` on stderr ([`Reads::run_with_progress`]) when there
/// are any, else alone.
pub fn with_progress<T>(reads: Option<&Reads>, work: impl FnOnce() -> T) -> T {
    match reads {
        Some(reads) => reads.run_with_progress(work),
        None => work(),
    }
}
