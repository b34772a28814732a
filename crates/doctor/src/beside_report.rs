//! The doctor beside a report (`apilens report --audit-log`, `apilens demo`): the clients
//! behind the report's metrics, ranked by the harm they cause, and the report's JSON with the
//! diagnosis in it.

use crate::{Diagnosis, DoctorError, DoctorInputs, diagnose};
use apilens_audit::Input;
use apilens_report::{Report, render_json};
use std::path::PathBuf;

/// Runs the doctor over the audit logs at `paths` with `report`'s metrics: the clients behind
/// them, ranked by harm (never by request counts).
///
/// # Errors
///
/// As [`diagnose`]: an audit log that cannot be read.
pub fn clients_behind(report: &Report, paths: &[PathBuf]) -> Result<Diagnosis, DoctorError> {
    let inputs = DoctorInputs {
        audit: paths.iter().cloned().map(Input::Path).collect(),
        metrics: Some(report.clone()),
        ..DoctorInputs::default()
    };
    diagnose(&inputs)
}

/// `report`'s JSON object with a `doctor` member beside its own: the diagnosis `d`, its
/// clients included; one line.
pub fn render_report_json_with(report: &Report, d: &Diagnosis) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(&render_json(report)).unwrap_or_default();
    value["doctor"] = serde_json::to_value(d).unwrap_or_default();
    value["doctor"]["clients"] = serde_json::to_value(&d.clients).unwrap_or_default();
    value.to_string()
}
