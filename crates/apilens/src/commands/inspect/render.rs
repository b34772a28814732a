//! Printing an inspection: aligned text for a person, one JSON object for a program.

use super::snapshot::{Inflight, Latency, Named, PriorityLevel};
use super::{Inspection, coverage, version};
use crate::output::{Table, bytes, number, seconds};
use serde::Serialize;
use std::fmt::Write;

/// The JSON document of `inspect --format json`.
#[derive(Serialize)]
struct Report<'a> {
    source: &'a str,
    kubernetes_version: Option<String>,
    version_source: String,
    families: usize,
    series: usize,
    samples: usize,
    coverage: Vec<coverage::Coverage>,
    inflight: Vec<Inflight>,
    watches: Watches,
    priority_levels: Vec<PriorityLevel>,
    objects: Vec<Named>,
    etcd_db_size_bytes: Option<f64>,
    slowest_calls: Vec<Latency>,
    slowest_etcd: Vec<Latency>,
}

#[derive(Serialize)]
struct Watches {
    metric: Option<&'static str>,
    total: f64,
    by_resource: Vec<Named>,
}

fn report(i: &Inspection) -> Report<'_> {
    let has = |n: &str| i.family_names.contains(n);
    let detected = version::detect(i.snapshot.build_info.as_ref(), has);
    let (metric, total, by_resource) = i.snapshot.watches();
    Report {
        source: &i.source,
        kubernetes_version: detected.version,
        version_source: detected.source,
        families: i.families,
        series: i.series,
        samples: i.samples,
        coverage: coverage::evaluate(has),
        inflight: i.snapshot.inflight(),
        watches: Watches {
            metric,
            total,
            by_resource,
        },
        priority_levels: i.snapshot.priority_levels(),
        objects: i.snapshot.objects(),
        etcd_db_size_bytes: i.snapshot.db_size(),
        slowest_calls: i.snapshot.slowest_calls(),
        slowest_etcd: i.snapshot.slowest_etcd(),
    }
}

/// The inspection as pretty-printed JSON.
pub(crate) fn json(i: &Inspection) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(&report(i))?;
    s.push('\n');
    Ok(s)
}

/// Several inspections (one per target of a bundle) as a pretty-printed JSON array.
pub(crate) fn json_list(list: &[Inspection]) -> anyhow::Result<String> {
    let reports: Vec<Report<'_>> = list.iter().map(report).collect();
    let mut s = serde_json::to_string_pretty(&reports)?;
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

/// The inspection as aligned text sections.
pub(crate) fn text(i: &Inspection) -> String {
    let r = report(i);
    let mut out = String::new();
    let version = match (&r.kubernetes_version, r.version_source.as_str()) {
        (Some(v), "kubernetes_build_info") => format!("{v} (from kubernetes_build_info)"),
        (Some(v), src) => format!("{v} (inferred: {src} exists)"),
        (None, _) => "unknown (no kubernetes_build_info, no known apiserver metric)".to_owned(),
    };
    let _ = writeln!(out, "Source:              {}", r.source);
    let _ = writeln!(out, "Kubernetes version:  {version}");
    let _ = writeln!(
        out,
        "Families: {}   Series: {}   Samples: {}",
        r.families, r.series, r.samples
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

    let _ = writeln!(
        out,
        "\nIn-flight requests now (default limits: --max-requests-inflight=400, --max-mutating-requests-inflight=200 per server)"
    );
    let mut t = Table::new(&["kind", "in flight", "limit", "used"]);
    for f in &r.inflight {
        t.row(vec![
            f.kind.clone(),
            number(f.value),
            number(f.limit),
            format!("{:.1}%", 100.0 * f.value / f.limit),
        ]);
    }
    section(
        &mut out,
        &t,
        "no apiserver_current_inflight_requests in this scrape",
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

    let _ = writeln!(out, "\nAPI Priority and Fairness by priority level now");
    let mut t = Table::new(&[
        "priority level",
        "executing",
        "queued",
        "seats in use",
        "seat limit",
        "used",
        "rejected",
    ]);
    for p in &r.priority_levels {
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
            p.name.clone(),
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
    out
}

fn section(out: &mut String, t: &Table, empty: &str) {
    if t.is_empty() {
        let _ = writeln!(out, "  {empty}");
    } else {
        out.push_str(&t.render("  "));
    }
}
