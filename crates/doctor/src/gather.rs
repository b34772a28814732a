//! Turning what a caller read into [`DoctorInputs`](crate::DoctorInputs): the release whose APF
//! applies, `--apf-config` objects on top of the defaults, the metrics window, and whether a
//! troubleshooter report read anything at all. Callers open files, stores and clusters; these
//! take what they read.

use crate::diagnose::{ApfObjects, audit_span};
use crate::error::DoctorError;
use apilens_apf::{KubeVersion, LoadedObjects, NEWEST, OLDEST};
use apilens_audit::{Filter, Input, ScanOpts};
use apilens_report::{PanelSummary, Report};
use std::time::Duration;

/// The release whose APF applies when `--kubernetes-version` says `given` (written `text`), and
/// what said so: outside the releases apilens knows, the nearest one's, and the reason says it.
pub fn release_from_flag(given: KubeVersion, text: &str) -> (KubeVersion, String) {
    let release = KubeVersion::minor(given.major, given.minor);
    let known = release.clamp(OLDEST, NEWEST);
    if known == release {
        (given, "--kubernetes-version".to_owned())
    } else {
        let from = format!(
            "--kubernetes-version {text}, outside the releases apilens knows ({OLDEST} to {NEWEST}): the nearest one's APF"
        );
        (known, from)
    }
}

impl ApfObjects {
    /// No object yet; those added go on top of the version's defaults, as `--apf-config` files do.
    pub fn over_defaults() -> Self {
        Self {
            over_defaults: true,
            ..Self::default()
        }
    }

    /// Adds the objects read from the file `name`.
    pub fn add_file(&mut self, name: &str, (schemas, levels, notes): LoadedObjects) {
        if !self.source.is_empty() {
            self.source.push_str(", ");
        }
        self.source.push_str(name);
        self.schemas.extend(schemas);
        self.levels.extend(levels);
        self.notes.extend(notes);
    }
}

/// The metrics range, as its end in milliseconds and its length: the filter's window (at least a
/// minute), else the audit log's span widened to whole minutes (at least 5), else the last hour
/// before `now_ms`.
///
/// # Errors
///
/// [`DoctorError::Audit`] when an audit input cannot be opened.
pub fn metrics_window(
    filter: &Filter,
    audit: &[Input],
    scan: &ScanOpts,
    now_ms: i64,
) -> Result<(i64, Duration), DoctorError> {
    let end_ms = filter.until_us().map_or(now_ms, |us| us / 1000);
    if let Some(since) = filter.since_us() {
        let range = Duration::from_millis((end_ms - since / 1000).max(60_000) as u64);
        return Ok((end_ms, range));
    }
    if !audit.is_empty()
        && filter.until_us().is_none()
        && let Some((first, last)) = audit_span(audit, filter, scan)?
    {
        let end = last / 1000 + 30_000;
        let range = Duration::from_millis(((last - first) / 1000 + 60_000).max(300_000) as u64);
        return Ok((end, range));
    }
    Ok((end_ms, Duration::from_secs(3600)))
}

/// The report when it read something: one whose every panel failed is why, in words (the first
/// panel's first error).
///
/// # Errors
///
/// `no panel could be read (...)` when every panel failed.
pub fn readable_report(report: Report) -> Result<Report, String> {
    let panels: Vec<&PanelSummary> = report.sections.iter().flat_map(|s| &s.panels).collect();
    if !panels.is_empty() && panels.iter().all(|p| !p.errors.is_empty()) {
        return Err(format!(
            "no panel could be read ({})",
            panels[0].errors.first().cloned().unwrap_or_default()
        ));
    }
    Ok(report)
}
