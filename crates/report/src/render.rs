//! The report as text for a terminal (one screen), Markdown, or JSON.

use crate::model::{Level, PanelSummary, Report};
use std::fmt::Write as _;

/// Panels printed per section in the text form, worst first.
const TEXT_PANELS_PER_SECTION: usize = 3;
/// Width of the panel title column in the text form.
const TITLE_WIDTH: usize = 40;
/// Width of the text form: every line fits this many columns, long words aside.
const TEXT_WIDTH: usize = 100;

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

/// The mark in front of a panel line: `!!` for what crossed a limit or a critical threshold,
/// `! ` for a warning.
fn marker(level: Level) -> &'static str {
    match level {
        Level::Critical => "!!",
        Level::Warning => "! ",
        Level::Ok | Level::NoData => "  ",
    }
}

/// Whether a note says what an explanatory panel explains (rather than that it explains
/// nothing flagged).
fn explains_something(panel: &PanelSummary) -> bool {
    crate::explain::is_explanatory(&panel.id)
        && !panel.note.is_empty()
        && !panel.note.starts_with("explains nothing")
}

/// Panels worth a line in the short form: flagged ones worst first (those on the cause's chain
/// first among equals), then an OK panel that explains one of them.
fn shown<'a>(panels: &'a [PanelSummary], report: &Report) -> Vec<&'a PanelSummary> {
    let on_chain = |p: &PanelSummary| {
        report
            .cause
            .as_ref()
            .and_then(|c| c.panels.iter().position(|id| *id == p.id))
            .unwrap_or(usize::MAX)
    };
    let mut flagged: Vec<&PanelSummary> = panels.iter().filter(|p| p.level > Level::Ok).collect();
    flagged.sort_by_key(|p| (std::cmp::Reverse(p.level), on_chain(p)));
    flagged.truncate(TEXT_PANELS_PER_SECTION);
    if let Some(explaining) = panels
        .iter()
        .find(|p| p.level == Level::Ok && explains_something(p))
    {
        flagged.push(explaining);
    }
    flagged
}

/// `title` in a column of `width`, cut at a word boundary with an ellipsis when too long.
fn title_column(title: &str, width: usize) -> String {
    let count = title.chars().count();
    if count <= width {
        return format!("{title}{}", " ".repeat(width - count));
    }
    let mut cut = String::new();
    for word in title.split(' ') {
        let next = if cut.is_empty() {
            word.chars().count()
        } else {
            cut.chars().count() + 1 + word.chars().count()
        };
        if next + 1 > width {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    if cut.is_empty() {
        cut = title.chars().take(width - 1).collect();
    }
    cut.push('…');
    let n = cut.chars().count();
    format!("{cut}{}", " ".repeat(width.saturating_sub(n)))
}

/// `text` broken into lines of at most `width` characters at spaces (a longer word stands on
/// its own line).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Writes `first` then `text` wrapped to `TEXT_WIDTH`, continuation lines indented to the
/// width of `first`.
fn write_wrapped(out: &mut String, first: &str, text: &str) {
    let indent = first.chars().count();
    let width = TEXT_WIDTH.saturating_sub(indent).max(20);
    for (i, line) in wrap(text, width).iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{first}{line}");
        } else {
            let _ = writeln!(out, "{}{line}", " ".repeat(indent));
        }
    }
}

fn cluster_facts(report: &Report) -> String {
    let mut facts = Vec::new();
    if let Some(nodes) = report.cluster.nodes {
        facts.push(format!(
            "{} nodes",
            crate::format_value(nodes, apilens_panels::Unit::Count)
        ));
    }
    facts.push(format!(
        "{} API server{}",
        report.cluster.replicas,
        if report.cluster.replicas == 1 {
            ""
        } else {
            "s"
        }
    ));
    facts.join(", ")
}

/// The report as a terminal page of at most 100 columns: the verdict with its cause first, a
/// header, then per section its level and title; flagged sections list the panels behind them
/// (worst first, with what explains them) and the notes that keep the numbers honest.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    write_wrapped(&mut out, "overall: ", &report.overall);
    let _ = writeln!(
        out,
        "apilens report: {} to {} ({}, step {})",
        time(report.start_ms),
        time(report.end_ms),
        duration(report.end_ms - report.start_ms),
        duration(report.step_ms)
    );
    write_wrapped(
        &mut out,
        "",
        &format!("{} · {}", header_facts(report), cluster_facts(report)),
    );
    let mut quiet = false;
    for section in &report.sections {
        // Sections where nothing is flagged take one line each, together at the end.
        if section.level <= Level::Ok {
            if !quiet {
                let _ = writeln!(out);
                quiet = true;
            }
            let _ = writeln!(out, "[{}] {}", section.level.label(), section.title);
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "[{}] {}", section.level.label(), section.title);
        for panel in shown(&section.panels, report) {
            let first = format!(
                "  {} {} ",
                marker(panel.level),
                title_column(&panel.title, TITLE_WIDTH)
            );
            write_wrapped(&mut out, &first, &panel.headline);
            if !panel.note.is_empty() && (panel.level > Level::Ok || explains_something(panel)) {
                write_wrapped(&mut out, "       note: ", &panel.note);
            }
        }
        let missing = section
            .panels
            .iter()
            .filter(|p| p.level == Level::NoData)
            .count();
        if missing > 0 {
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
    let _ = writeln!(out, "**Verdict:** {}\n", md_escape(&report.overall));
    let _ = writeln!(
        out,
        "- Range: {} to {} ({}, step {})",
        time(report.start_ms),
        time(report.end_ms),
        duration(report.end_ms - report.start_ms),
        duration(report.step_ms)
    );
    let _ = writeln!(out, "- {}", header_facts(report));
    let _ = writeln!(out, "- Cluster: {}", cluster_facts(report));
    for section in &report.sections {
        let _ = writeln!(out, "\n## {}: {}\n", section.level.label(), section.title);
        let _ = writeln!(out, "**Verdict:** {}\n", md_escape(&section.verdict));
        let _ = writeln!(out, "| Panel | Level | Reading |");
        let _ = writeln!(out, "|---|---|---|");
        for panel in &section.panels {
            let reading = if panel.note.is_empty() {
                md_escape(&panel.headline)
            } else {
                format!(
                    "{} <br>*{}*",
                    md_escape(&panel.headline),
                    md_escape(&panel.note)
                )
            };
            let _ = writeln!(
                out,
                "| {} | {} | {reading} |",
                md_escape(&panel.title),
                panel.level.label(),
            );
        }
    }
    out
}

/// The report as pretty-printed JSON (every figure, row and query).
pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
