//! The report as text for a terminal (one screen), Markdown, or JSON.

use crate::model::{Level, PanelSummary, Report};
use std::fmt::Write as _;

/// Panels printed per section in the text form, worst first.
const TEXT_PANELS_PER_SECTION: usize = 3;
/// Width of the panel title column in the text form.
const TITLE_WIDTH: usize = 42;

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn duration(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn header_facts(report: &Report) -> String {
    let versions = if report.kubernetes_versions.is_empty() {
        "Kubernetes version unknown (no kubernetes_build_info)".to_owned()
    } else {
        format!("Kubernetes {}", report.kubernetes_versions.join(", "))
    };
    let targets = if report.targets.is_empty() {
        "no scrape targets in range".to_owned()
    } else {
        report
            .targets
            .iter()
            .map(|(job, n)| format!("{job} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{versions} · {targets} · source {}", report.source)
}

fn marker(level: Level) -> &'static str {
    match level {
        Level::Critical => "!!",
        Level::Warning => "! ",
        Level::Ok | Level::NoData => "  ",
    }
}

/// Panels worth a line in the short form: flagged ones worst first, else the first with data.
fn shown(panels: &[PanelSummary]) -> Vec<&PanelSummary> {
    let mut flagged: Vec<&PanelSummary> = panels.iter().filter(|p| p.level > Level::Ok).collect();
    flagged.sort_by_key(|p| std::cmp::Reverse(p.level));
    if flagged.is_empty() {
        flagged = panels.iter().filter(|p| p.level == Level::Ok).collect();
    }
    flagged.truncate(TEXT_PANELS_PER_SECTION);
    flagged
}

fn title_column(title: &str) -> String {
    let count = title.chars().count();
    if count > TITLE_WIDTH {
        let cut: String = title.chars().take(TITLE_WIDTH - 1).collect();
        format!("{cut}…")
    } else {
        format!("{title}{}", " ".repeat(TITLE_WIDTH - count))
    }
}

/// The report as a terminal page: a header, then per section its level, title and verdict
/// line, and the few panels that explain it.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "apilens report: {} to {} ({}, step {})",
        time(report.start_ms),
        time(report.end_ms),
        duration(report.end_ms - report.start_ms),
        duration(report.step_ms)
    );
    let _ = writeln!(out, "{}", header_facts(report));
    let _ = writeln!(out, "overall: {}", report.level().label());
    for section in &report.sections {
        let _ = writeln!(out);
        let _ = writeln!(out, "[{}] {}", section.level.label(), section.title);
        let _ = writeln!(out, "  verdict: {}", section.verdict);
        for panel in shown(&section.panels) {
            let _ = writeln!(
                out,
                "  {} {} {}",
                marker(panel.level),
                title_column(&panel.title),
                panel.headline
            );
        }
        let missing = section
            .panels
            .iter()
            .filter(|p| p.level == Level::NoData)
            .count();
        if missing > 0 && section.level != Level::NoData {
            let _ = writeln!(
                out,
                "     ({missing} of {} panels without data)",
                section.panels.len()
            );
        }
    }
    out
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The report as Markdown: one heading per section with its verdict and a table of every panel.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# apilens report: {}\n", report.level().label());
    let _ = writeln!(
        out,
        "- Range: {} to {} ({}, step {})",
        time(report.start_ms),
        time(report.end_ms),
        duration(report.end_ms - report.start_ms),
        duration(report.step_ms)
    );
    let _ = writeln!(out, "- {}", header_facts(report));
    for section in &report.sections {
        let _ = writeln!(out, "\n## {}: {}\n", section.level.label(), section.title);
        let _ = writeln!(out, "**Verdict:** {}\n", md_escape(&section.verdict));
        let _ = writeln!(out, "| Panel | Level | Reading |");
        let _ = writeln!(out, "|---|---|---|");
        for panel in &section.panels {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md_escape(&panel.title),
                panel.level.label(),
                md_escape(&panel.headline)
            );
        }
    }
    out
}

/// The report as pretty-printed JSON (every figure, row and query).
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
