//! One refresh of `top` from any source: the report through a cache kept between refreshes
//! (a refresh at the same end as the previous one evaluates nothing again), and the doctor
//! over the audit log on a cadence of its own, its clients shown with the time they are as of.

use super::settings::Settings;
use crate::build::{SERIES_PER_PANEL, build_frame};
use crate::frame::Frame;
use apilens_audit::{Filter, FilterSpec, Input};
use apilens_doctor::{Diagnosis, DoctorInputs};
use apilens_promapi::QueryEngine;
use apilens_report::{QueryCache, ReportOpts, build_report};
use std::path::PathBuf;
use std::time::Instant;

/// What one source keeps from a refresh to the next.
pub(super) struct Refresher {
    cache: QueryCache,
    /// The last live diagnosis: when it was made, the end of its window, and the diagnosis.
    doctor: Option<(Instant, i64, Diagnosis)>,
    settings: Settings,
}

impl Refresher {
    /// A refresher for a source read with `settings`.
    pub(super) fn new(settings: &Settings) -> Refresher {
        Refresher {
            cache: QueryCache::new(),
            doctor: None,
            settings: settings.clone(),
        }
    }

    /// One frame: the report over the window ending at `end_ms`, and the doctor over the audit
    /// logs of the same window and the cluster's APF state `apf` when there is one. `live` frames reuse the doctor's last diagnosis while it is
    /// younger than the doctor's interval; a frame of history always runs it.
    pub(super) fn read_frame(
        &mut self,
        name: &str,
        queries: &dyn QueryEngine,
        audit: &[PathBuf],
        end_ms: i64,
        apf: Option<&DoctorInputs>,
        live: bool,
    ) -> Result<Frame, String> {
        let opts = ReportOpts {
            end_ms,
            range: self.settings.window,
            selector: self.settings.selector.clone(),
            top: SERIES_PER_PANEL,
        };
        let report = build_report(&self.cache.source(queries, end_ms), &opts).map_err(|e| {
            let e = e.to_string();
            if e.starts_with(name) {
                e
            } else {
                format!("{name}: {e}")
            }
        })?;
        if audit.is_empty() && apf.is_none() {
            let mut frame = build_frame(name, &report, None);
            if self.settings.follow {
                frame.notes =
                    vec!["following the audit log from its end: no request seen yet".to_owned()];
            }
            return Ok(frame);
        }
        let now = Instant::now();
        if let Some((at, doctor_end, diagnosis)) = self.doctor.as_ref().filter(|_| live)
            && now.duration_since(*at) < self.settings.doctor_interval
            && *doctor_end <= end_ms
        {
            let mut frame = build_frame(name, &report, Some(diagnosis));
            frame.clients_end_ms = Some(*doctor_end);
            return Ok(frame);
        }
        let diagnosis = diagnose(&report, &self.settings, audit, end_ms, apf)?;
        let frame = build_frame(name, &report, Some(&diagnosis));
        self.doctor = live.then_some((now, end_ms, diagnosis));
        Ok(frame)
    }
}

/// The doctor over the audit logs' requests of the window ending at `end_ms`, with the report
/// and the cluster's APF state `apf` when there is one.
fn diagnose(
    report: &apilens_report::Report,
    settings: &Settings,
    audit: &[PathBuf],
    end_ms: i64,
    apf: Option<&DoctorInputs>,
) -> Result<Diagnosis, String> {
    let window_ms = i64::try_from(settings.window.as_millis()).unwrap_or(i64::MAX);
    let rfc3339 = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    };
    let filter = Filter::new(&FilterSpec {
        since: Some(rfc3339(end_ms - window_ms)?),
        until: Some(rfc3339(end_ms)?),
        ..FilterSpec::default()
    })
    .map_err(|e| e.to_string())?;
    let inputs = DoctorInputs {
        audit: audit.iter().cloned().map(Input::Path).collect(),
        filter,
        metrics: Some(report.clone()),
        ..apf.cloned().unwrap_or_default()
    };
    apilens_doctor::diagnose(&inputs).map_err(|e| {
        let input = if audit.is_empty() {
            "doctor"
        } else {
            "audit log"
        };
        format!("{input}: {e}")
    })
}
