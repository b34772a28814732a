//! The short form for the troubleshooter report and the demo: who is behind the metrics,
//! through the doctor's ranking (harm, never request counts), or that the cause is inside the
//! server and no client stands out.

use super::wrap;
use crate::analysis::{count, significant};
use crate::diagnose::Diagnosis;
use crate::finding::{Finding, Severity};

const WIDTH: usize = 100;

/// The clients behind the metrics as a report section (text): the top findings, then the
/// costliest clients by seat-seconds.
/// Control characters in names from the log are shown escaped.
pub fn render_who_text(d: &Diagnosis, findings: usize) -> String {
    super::escape_controls(&render_who_text_raw(d, findings), true)
}

fn render_who_text_raw(d: &Diagnosis, findings: usize) -> String {
    let requests = d.inputs.audit.as_ref().map_or(0, |a| a.requests);
    let mut out = format!(
        "\n[WHO] the clients behind the metrics ({} audited requests, ranked by harm)\n",
        count(requests as f64)
    );
    out.push_str(&wrap(&lead(d), WIDTH, "  ", "    "));
    for f in d.findings.iter().take(findings) {
        let mark = match f.severity {
            Severity::Critical => "!!",
            Severity::Warning => "! ",
            Severity::Info => "  ",
        };
        out.push_str(&wrap(
            &format!("{} [{}] {}", f.severity.label(), f.kind.slug(), f.title),
            WIDTH,
            &format!("  {mark} "),
            "       ",
        ));
        if let Some(first) = f.fix.advice.first() {
            out.push_str(&wrap(first, WIDTH, "       fix: ", "            "));
        }
    }
    // When the cause is inside the server and no client stands out, the heaviest clients are
    // its victims (their seats are held by the slow server): they are not listed.
    if !d.clients.is_empty() && !server_side_alone(d) {
        out.push_str("  costliest clients (seat-seconds, share of their priority level):\n");
        for c in d.clients.iter().take(3) {
            let level = c
                .levels
                .first()
                .map(|l| format!("{:.0}% of {}", 100.0 * l.share, l.level))
                .unwrap_or_default();
            out.push_str(&wrap(
                &format!(
                    "{:>12} seat-s  {:<16} {} ({}), {} requests",
                    count(c.seat_seconds),
                    level,
                    c.user_agent,
                    c.user,
                    count(c.requests as f64)
                ),
                WIDTH,
                "    ",
                "      ",
            ));
        }
    }
    out.push_str("  the fix and the evidence: apilens doctor --audit-log ... (--format markdown for a ticket)\n");
    out
}

/// The same as Markdown.
/// Control characters in names from the log are shown escaped.
pub fn render_who_markdown(d: &Diagnosis, findings: usize) -> String {
    super::escape_controls(&render_who_markdown_raw(d, findings), true)
}

fn render_who_markdown_raw(d: &Diagnosis, findings: usize) -> String {
    let mut out = format!("## Who: the clients behind the metrics\n\n{}\n\n", lead(d));
    for f in d.findings.iter().take(findings) {
        out.push_str(&format!(
            "- **{}** `{}`: {}\n",
            f.severity.label(),
            f.kind.slug(),
            f.title
        ));
    }
    if !d.clients.is_empty() && !server_side_alone(d) {
        out.push_str("\n| client | user | seat-seconds | level share | requests |\n|---|---|---:|---:|---:|\n");
        for c in d.clients.iter().take(5) {
            let level = c
                .levels
                .first()
                .map(|l| format!("{:.0}% of {}", 100.0 * l.share, l.level))
                .unwrap_or_default();
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                c.user_agent,
                c.user,
                count(c.seat_seconds),
                level,
                count(c.requests as f64)
            ));
        }
    }
    out.push('\n');
    out
}

/// True when the first harmful finding is server-side and no client finding is harmful.
fn server_side_alone(d: &Diagnosis) -> bool {
    let mut harmful = d
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning);
    harmful.clone().next().is_some_and(|f| f.culprit.is_none())
        && !harmful.any(|f| f.culprit.is_some())
}

/// The one sentence that says who: the top client, or the server-side cause with no client
/// standing out.
fn lead(d: &Diagnosis) -> String {
    let harmful: Vec<&Finding> = d
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    match harmful.first() {
        None => {
            "no client costs the server enough to matter, and no server-side cause shows".to_owned()
        }
        Some(f) if f.culprit.is_none() => {
            let client = harmful.iter().any(|f| f.culprit.is_some());
            format!(
                "the cause is inside the server: {}{}",
                f.title,
                if client || f.title.contains("no client stands out") {
                    ""
                } else {
                    "; no client stands out (the slow clients are its victims)"
                }
            )
        }
        Some(f) => {
            let c = f.culprit.as_ref().expect("client finding");
            format!(
                "{} ({}) hurts the API server most: {} seat-seconds, {:.0}% of {}",
                c.user_agent,
                c.user,
                count(f.harm.seat_seconds),
                100.0 * f.harm.level_share,
                c.priority_level
            ) + &if f.harm.others_429 >= 1.0 || f.harm.others_wait_s >= 1.0 {
                format!(
                    ", causing {} 429s and {} s of queue wait to others",
                    count(f.harm.others_429),
                    significant(f.harm.others_wait_s)
                )
            } else {
                String::new()
            }
        }
    }
}
