//! Printing a report, alone or with the clients behind its metrics (`report`, `demo`).

use crate::output::{ReportFormat, print_text};
use apilens_doctor::{
    clients_behind, render_report_json_with, render_who_markdown, render_who_text,
};
use apilens_report::{Report, render_json, render_markdown, render_text};
use std::path::PathBuf;

/// Prints `report` in `format` (`text`, `json` or `markdown`) on standard output; a closed pipe
/// is not an error.
pub(crate) fn print(report: &Report, format: ReportFormat) -> anyhow::Result<()> {
    print_text(&match format {
        ReportFormat::Json => render_json(report) + "\n",
        ReportFormat::Markdown => render_markdown(report),
        ReportFormat::Text => render_text(report),
    })
}

/// The clients behind the metrics, through the doctor's ranking (harm, never request counts):
/// the doctor runs over the audit logs with `report`'s metrics. Text and Markdown append a
/// section; JSON is the report's object with a `doctor` member beside its own.
pub(crate) fn print_report_with_clients(
    report: &Report,
    paths: &[PathBuf],
    format: ReportFormat,
) -> anyhow::Result<()> {
    let d = clients_behind(report, paths)?;
    print_text(&match format {
        ReportFormat::Json => render_report_json_with(report, &d) + "\n",
        ReportFormat::Markdown => render_markdown(report) + "\n" + &render_who_markdown(&d, 3),
        ReportFormat::Text => render_text(report) + &render_who_text(&d, 3),
    })
}
