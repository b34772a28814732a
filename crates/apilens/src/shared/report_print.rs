//! Printing a report, alone or with the clients behind its metrics (`report`, `demo`).

use crate::output::{ReportFormat, print_text};
use apilens_report::{Report, render_json, render_markdown, render_text};
use std::path::PathBuf;

/// Prints `report` in `format` (`text`, `json` or `markdown`) on standard output; a closed pipe
/// is not an error.
pub(crate) fn print(report: &Report, format: ReportFormat) -> anyhow::Result<()> {
    let text = match format {
        ReportFormat::Json => render_json(report) + "\n",
        ReportFormat::Markdown => render_markdown(report),
        ReportFormat::Text => render_text(report),
    };
    print_text(&text)
}

/// The clients behind the metrics, through the doctor's ranking (harm, never request counts):
/// the doctor runs over the audit logs with `report`'s metrics. Text and Markdown append a
/// section; JSON is the report's object with a `doctor` member beside its own.
pub(crate) fn print_report_with_clients(
    report: &Report,
    paths: &[PathBuf],
    format: ReportFormat,
) -> anyhow::Result<()> {
    let d = diagnose_clients(report, paths)?;
    let text = match format {
        ReportFormat::Json => {
            let mut value: serde_json::Value = serde_json::from_str(&render_json(report))?;
            value["doctor"] = serde_json::to_value(&d)?;
            value["doctor"]["clients"] = serde_json::to_value(&d.clients)?;
            serde_json::to_string(&value)? + "\n"
        }
        ReportFormat::Markdown => {
            render_markdown(report) + "\n" + &apilens_doctor::render_who_markdown(&d, 3)
        }
        ReportFormat::Text => render_text(report) + &apilens_doctor::render_who_text(&d, 3),
    };
    print_text(&text)
}

/// Runs the doctor over `paths` with the report's metrics.
pub(crate) fn diagnose_clients(
    report: &Report,
    paths: &[PathBuf],
) -> anyhow::Result<apilens_doctor::Diagnosis> {
    let inputs = apilens_doctor::DoctorInputs {
        audit: paths
            .iter()
            .cloned()
            .map(apilens_audit::Input::Path)
            .collect(),
        metrics: Some(report.clone()),
        ..apilens_doctor::DoctorInputs::default()
    };
    Ok(apilens_doctor::diagnose(&inputs)?)
}
