//! Printing an inspection: aligned text for a person (`apilens_textout`'s tables, 120 columns
//! at most), one JSON object for a program.

use super::snapshot::{Latency, PriorityLevel};
use super::{Inspection, Summary as Report};
use crate::{Catalog, InspectError};
use apilens_textout::{Table, bytes, number, seconds};
use std::fmt::Write;

/// The inspection as pretty-printed JSON: its [`Report`] under `catalog`.
///
/// # Errors
///
/// A summary that cannot be written as JSON.
pub fn json(i: &Inspection, catalog: &Catalog) -> Result<String, InspectError> {
    pretty(&i.summary(catalog), &i.source)
}

/// The inspections of one input (one per target of a bundle) as pretty-printed JSON: the
/// object of [`json`] for a single one, an array of them for several.
///
/// # Errors
///
/// A summary that cannot be written as JSON.
pub fn json_list(list: &[Inspection], catalog: &Catalog) -> Result<String, InspectError> {
    if let [one] = list {
        return json(one, catalog);
    }
    let reports: Vec<Report> = list.iter().map(|i| i.summary(catalog)).collect();
    pretty(&reports, "the inspections")
}

/// The inspections of one input as [`text`], one after the other with a blank line between.
pub fn text_list(list: &[Inspection], catalog: &Catalog) -> String {
    let texts: Vec<String> = list.iter().map(|i| text(i, catalog)).collect();
    texts.join("\n")
}

fn pretty<T: serde::Serialize>(value: &T, name: &str) -> Result<String, InspectError> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| InspectError::Json {
        name: name.to_owned(),
        why: e.to_string(),
    })?;
    s.push('\n');
    Ok(s)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), number)
}

fn latency_table(rows: &[Latency], api: bool) -> Table {
    let mut t = if api {
        Table::new(&[
            "verb",
            "resource",
            "subresource",
            "scope",
            "count",
            "p50",
            "p90",
            "p99",
        ])
    } else {
        Table::new(&["operation", "resource", "count", "p50", "p90", "p99"])
    };
    for r in rows {
        let mut cells = vec![r.verb.clone(), r.resource.clone()];
        if api {
            cells.push(if r.subresource.is_empty() {
                "-".into()
            } else {
                r.subresource.clone()
            });
            cells.push(if r.scope.is_empty() {
                "-".into()
            } else {
                r.scope.clone()
            });
        }
        cells.extend([
            number(r.count),
            seconds(r.p50),
            seconds(r.p90),
            seconds(r.p99),
        ]);
        t.row(cells);
    }
    t
}

/// How a figure reads against its limit: `!!` at or over it, `! ` from 80 %.
fn mark(used: f64, limit: f64) -> &'static str {
    if limit <= 0.0 {
        "  "
    } else if used >= limit {
        "!!"
    } else if used >= 0.8 * limit {
        "! "
    } else {
        "  "
    }
}

/// A row name with its mark in front when any row of the table has one.
fn marked_name(any: bool, mark: &str, name: &str) -> String {
    if any {
        format!("{mark} {name}")
    } else {
        name.to_owned()
    }
}

/// What in this scrape is at or near a limit, worst first, as (mark, sentence).
fn findings(r: &Report) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for f in &r.inflight {
        if let Some(limit) = f.limit {
            let m = mark(f.value, limit);
            if m != "  " {
                out.push((
                    m,
                    format!(
                        "{} {} requests in flight of {} ({})",
                        number(f.value),
                        f.kind,
                        number(limit),
                        f.limit_source
                    ),
                ));
            }
        }
    }
    for p in &r.priority_levels {
        if let (Some(used), Some(limit)) =
            (p.executing_seats.or(p.executing_requests), p.limit_seats)
        {
            let m = mark(used, limit);
            if m != "  " {
                out.push((
                    m,
                    format!(
                        "priority level {} uses {} of its {} seats",
                        p.name,
                        number(used),
                        number(limit)
                    ),
                ));
            }
        }
        // APF queues only when a level's seats are taken: requests waiting say it is full.
        if let Some(queued) = p.queued_requests.filter(|q| *q > 0.0) {
            out.push((
                "! ",
                format!(
                    "{} requests wait in the queues of priority level {}",
                    number(queued),
                    p.name
                ),
            ));
        }
        let rejected: f64 = p.rejected.values().sum();
        if rejected > 0.0 {
            out.push((
                "! ",
                format!(
                    "priority level {} rejected {} requests since the server started",
                    p.name,
                    number(rejected)
                ),
            ));
        }
    }
    out.sort_by_key(|(m, _)| std::cmp::Reverse(*m == "!!"));
    out
}

/// The inspection as aligned text sections: the verdict first, then the load (in flight, APF,
/// watches, the slowest calls), the stored data, and the troubleshooter's coverage last. Every
/// line fits 120 columns; `--format json` keeps every value whole.
pub fn text(i: &Inspection, catalog: &Catalog) -> String {
    let r = i.summary(catalog);
    let mut out = String::new();
    let found = findings(&r);
    let verdict = match found.first() {
        None => "OK: nothing in this scrape is at or near a limit (requests in flight, APF seats)"
            .to_owned(),
        Some(("!!", _)) => format!(
            "CRITICAL: {}",
            found
                .iter()
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Some(_) => format!(
            "WARNING: {}",
            found
                .iter()
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    let version = match (&r.kubernetes_version, r.version_source.as_str()) {
        (Some(v), "kubernetes_build_info") => format!("{v} (from kubernetes_build_info)"),
        (Some(v), src) => format!("{v} (inferred from {src})"),
        (None, _) => "unknown (no kubernetes_build_info, no known apiserver metric)".to_owned(),
    };
    // The verdict wraps under itself to stay within the 120 columns of the tables.
    let mut first = true;
    let mut line = String::new();
    for word in verdict.split(' ') {
        if !line.is_empty() && 21 + line.chars().count() + 1 + word.chars().count() > 120 {
            let head = if first { "Verdict:" } else { "" };
            let _ = writeln!(out, "{head:<21}{line}");
            first = false;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let head = if first { "Verdict:" } else { "" };
    let _ = writeln!(out, "{head:<21}{line}");
    let _ = writeln!(out, "Source:              {}", r.source);
    let _ = writeln!(out, "Kubernetes version:  {version}");
    let _ = writeln!(
        out,
        "Families: {}   Series: {}   Samples: {}",
        r.families, r.series, r.samples
    );

    let _ = writeln!(
        out,
        "\nIn-flight requests now (!! at or over the limit, ! from 80 % or with requests queued)"
    );
    let mut t = Table::new(&["kind", "in flight", "limit", "used", "limit from"]);
    let marked = r
        .inflight
        .iter()
        .any(|f| f.limit.is_some_and(|l| mark(f.value, l) != "  "));
    for f in &r.inflight {
        let (used, m) = match f.limit {
            Some(l) if l > 0.0 => (format!("{:.1}%", 100.0 * f.value / l), mark(f.value, l)),
            _ => ("-".to_owned(), "  "),
        };
        t.row(vec![
            marked_name(marked, m, &f.kind),
            number(f.value),
            opt(f.limit),
            used,
            f.limit_source.clone(),
        ]);
    }
    section(
        &mut out,
        &t,
        "no apiserver_current_inflight_requests in this scrape",
    );

    let _ = writeln!(
        out,
        "\nAPI Priority and Fairness by priority level now (! at 80 % of the seats, queuing, or having rejected)"
    );
    let mut t = Table::new(&[
        "priority level",
        "executing",
        "queued",
        "seats in use",
        "seat limit",
        "used",
        "rejected",
    ]);
    let level_mark = |p: &PriorityLevel| -> &'static str {
        match (p.executing_seats.or(p.executing_requests), p.limit_seats) {
            (Some(u), Some(l)) if mark(u, l) != "  " => mark(u, l),
            _ if p.queued_requests.is_some_and(|q| q > 0.0) => "! ",
            // A level that rejected requests was full at some point since the server started.
            _ if p.rejected.values().sum::<f64>() > 0.0 => "! ",
            _ => "  ",
        }
    };
    let marked = r.priority_levels.iter().any(|p| level_mark(p) != "  ");
    for p in &r.priority_levels {
        let m = level_mark(p);
        let used = match (p.executing_seats.or(p.executing_requests), p.limit_seats) {
            (Some(u), Some(l)) if l > 0.0 => format!("{:.1}%", 100.0 * u / l),
            _ => "-".to_owned(),
        };
        let rejected = if p.rejected.is_empty() {
            "0".to_owned()
        } else {
            p.rejected
                .iter()
                .map(|(reason, n)| format!("{reason}={}", number(*n)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        t.row(vec![
            marked_name(marked, m, &p.name),
            opt(p.executing_requests),
            opt(p.queued_requests),
            opt(p.executing_seats),
            opt(p.limit_seats),
            used,
            rejected,
        ]);
    }
    section(
        &mut out,
        &t,
        "no APF metrics (APF off, or Kubernetes older than 1.20)",
    );

    match r.watches.metric {
        Some(m) => {
            let _ = writeln!(
                out,
                "\nWATCH connections now: {} in all (from {m}), top {} by resource",
                number(r.watches.total),
                r.watches.by_resource.len()
            );
        }
        None => {
            let _ = writeln!(out, "\nWATCH connections now");
        }
    }
    let mut t = Table::new(&["resource", "watches"]);
    for w in &r.watches.by_resource {
        t.row(vec![w.name.clone(), number(w.value)]);
    }
    section(&mut out, &t, "no long-running WATCH gauge in this scrape");

    let _ = writeln!(
        out,
        "\nSlowest API calls since process start (from apiserver_request_duration_seconds; WATCH and CONNECT excluded)"
    );
    section(
        &mut out,
        &latency_table(&r.slowest_calls, true),
        "no request duration histogram with observations",
    );

    let _ = writeln!(
        out,
        "\nSlowest etcd operations since process start (from etcd_request_duration_seconds)"
    );
    section(
        &mut out,
        &latency_table(&r.slowest_etcd, false),
        "no etcd latency histogram with observations",
    );

    let _ = writeln!(out, "\nLargest object counts");
    let mut t = Table::new(&["resource", "objects"]);
    for o in &r.objects {
        t.row(vec![o.name.clone(), number(o.value)]);
    }
    section(&mut out, &t, "no object count metric in this scrape");

    let _ = writeln!(
        out,
        "\netcd database size: {}",
        r.etcd_db_size_bytes
            .map_or_else(|| "not exposed".to_owned(), bytes)
    );

    let _ = writeln!(out, "\nTroubleshooter coverage");
    let mut t = Table::new(&["question", "metric", "versions / note"]);
    for c in &r.coverage {
        t.row(vec![
            c.question.to_owned(),
            c.metric.unwrap_or("absent").to_owned(),
            c.note.clone(),
        ]);
    }
    out.push_str(&t.render("  "));
    out
}

fn section(out: &mut String, t: &Table, empty: &str) {
    if t.is_empty() {
        let _ = writeln!(out, "  {empty}");
    } else {
        out.push_str(&t.render("  "));
    }
}
