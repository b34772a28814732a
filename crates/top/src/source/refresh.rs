//! One refresh of `top` from any source: the report through a cache kept between refreshes
//! (a refresh at the same end as the previous one evaluates nothing again), and the doctor
//! over the audit log on a cadence of its own, its clients shown with the time they are as of.

use super::recent::{Recent, WithRecent};
use super::settings::Settings;
use crate::build::{SERIES_PER_PANEL, build_frame};
use crate::frame::{EventRow, Frame, RequestRow};
use apilens_audit::{Filter, FilterSpec, Input, ScanOpts, Top, TopKey, View as _, scan};
use apilens_doctor::{Diagnosis, DoctorInputs};
use apilens_promapi::QueryEngine;
use apilens_report::{QueryCache, ReportOpts, build_report};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What one source keeps from a refresh to the next.
pub(super) struct Refresher {
    cache: QueryCache,
    /// The last live diagnosis: when it was made, the end of its window, the diagnosis, and
    /// every client's requests by verb and resource and last events.
    doctor: Option<(Instant, i64, Diagnosis, Calls)>,
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
        let audit_log =
            !audit.is_empty() || self.settings.follow || !self.settings.audit_logs.is_empty();
        if audit.is_empty() && apf.is_none() {
            let mut frame = build_frame(name, &report, None);
            frame.audit_log = audit_log;
            if self.settings.follow {
                frame.notes =
                    vec!["following the audit log from its end: no request seen yet".to_owned()];
            }
            return Ok(frame);
        }
        let now = Instant::now();
        if let Some((at, doctor_end, diagnosis, calls)) = self.doctor.as_ref().filter(|_| live)
            && now.duration_since(*at) < self.settings.doctor_interval
            && *doctor_end <= end_ms
        {
            let mut frame = build_frame(name, &report, Some(diagnosis));
            frame.audit_log = audit_log;
            frame.clients_end_ms = Some(*doctor_end);
            attach_calls(&mut frame, calls);
            return Ok(frame);
        }
        let diagnosis = diagnose(&report, &self.settings, audit, end_ms, apf)?;
        let mut frame = build_frame(name, &report, Some(&diagnosis));
        frame.audit_log = audit_log;
        let shown: HashSet<String> = frame
            .clients
            .iter()
            .chain(frame.culprit.iter())
            .map(|c| c.user.clone())
            .collect();
        let calls = client_calls(&self.settings, audit, end_ms, shown)?;
        attach_calls(&mut frame, &calls);
        self.doctor = live.then_some((now, end_ms, diagnosis, calls));
        Ok(frame)
    }
}

/// Per user, its requests by verb and resource (`list pods`, count), the most frequent first,
/// and the last events of the users on screen, the newest first.
#[derive(Default)]
struct Calls {
    by_user: BTreeMap<String, Vec<(String, u64)>>,
    events: HashMap<String, Vec<EventRow>>,
}

/// Audit events kept for each client on screen.
const EVENTS_PER_CLIENT: usize = 20;

/// Distinct (user, verb, resource) kept exactly by the requests view.
const CALLS_CAP: usize = 20_000;

/// Every user's requests of the window ending at `end_ms` by verb and resource, in one pass of
/// the audit view `apilens audit top --by user,verb,resource` runs; in the same pass, the last
/// [`EVENTS_PER_CLIENT`] events of each of the users `shown`.
fn client_calls(
    settings: &Settings,
    audit: &[PathBuf],
    end_ms: i64,
    shown: HashSet<String>,
) -> Result<Calls, String> {
    if audit.is_empty() {
        return Ok(Calls::default());
    }
    let shown = Arc::new(shown);
    let filter = window_filter(settings, end_ms)?;
    let inputs: Vec<Input> = audit.iter().cloned().map(Input::Path).collect();
    let keys = [TopKey::User, TopKey::Verb, TopKey::Resource];
    let (both, summary) = scan(&inputs, &filter, &ScanOpts::default(), || WithRecent {
        view: Top::new(&keys, CALLS_CAP, CALLS_CAP),
        recent: Recent::new(Arc::clone(&shown), EVENTS_PER_CLIENT),
    })
    .map_err(|e| format!("audit log: {e}"))?;
    let mut calls = Calls {
        events: both.recent.finish(),
        ..Calls::default()
    };
    for row in both.view.finish(&summary).rows {
        let mut parts = row.key.splitn(3, " | ");
        let (Some(user), Some(verb), Some(resource)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        calls
            .by_user
            .entry(user.to_owned())
            .or_default()
            .push((format!("{verb} {resource}").trim().to_owned(), row.count));
    }
    for rows in calls.by_user.values_mut() {
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    Ok(calls)
}

/// Gives every client row of `frame` its requests by verb and resource and its last events.
fn attach_calls(frame: &mut Frame, calls: &Calls) {
    let window_s = frame.window_s.max(1) as f64;
    for client in &mut frame.clients {
        if let Some(events) = calls.events.get(&client.user) {
            client.events = events.clone();
        }
        if let Some(rows) = calls.by_user.get(&client.user) {
            client.requests = rows
                .iter()
                .map(|(call, count)| RequestRow {
                    call: call.clone(),
                    count: *count,
                    per_s: *count as f64 / window_s,
                })
                .collect();
        }
    }
    if let Some(culprit) = &mut frame.culprit
        && let Some(row) = frame.clients.iter().find(|c| c.user == culprit.user)
    {
        culprit.requests = row.requests.clone();
        culprit.events = row.events.clone();
    }
}

/// The audit filter of the window ending at `end_ms`.
fn window_filter(settings: &Settings, end_ms: i64) -> Result<Filter, String> {
    let window_ms = i64::try_from(settings.window.as_millis()).unwrap_or(i64::MAX);
    let rfc3339 = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    };
    Filter::new(&FilterSpec {
        since: Some(rfc3339(end_ms - window_ms)?),
        until: Some(rfc3339(end_ms)?),
        ..FilterSpec::default()
    })
    .map_err(|e| e.to_string())
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
    let filter = window_filter(settings, end_ms)?;
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
