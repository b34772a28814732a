//! A frame from the report's panels and the doctor's diagnosis: no query and no rule of its own.

use crate::frame::{
    ClientRow, FindingLine, FlowRow, Frame, LevelRow, PanelRow, PanelTable, SectionLine,
};
use apilens_doctor::{ClientCost, Diagnosis, Evidence, Finding};
use apilens_panels::Row;
use apilens_report::{PanelSummary, Report, format_value};
use std::collections::BTreeMap;

/// Series or rows the report keeps per panel for the view: enough for every priority level of
/// every replica of a large cluster (the seats panel has five series per level and replica).
pub const SERIES_PER_PANEL: usize = 160;

/// Builds a frame from `report` and, when the doctor ran (over an audit log, live APF state, or
/// both), its `diagnosis`.
pub fn build_frame(source: &str, report: &Report, diagnosis: Option<&Diagnosis>) -> Frame {
    let mut frame = Frame {
        source: source.to_owned(),
        end_ms: report.end_ms,
        window_s: u64::try_from((report.end_ms - report.start_ms) / 1000).unwrap_or(0),
        level: report.level().label().to_owned(),
        overall: report.overall.clone(),
        sections: report.sections.iter().map(section_line).collect(),
        levels: levels(report),
        flows: flows(report),
        calls: tables(report, &[Row::Latency, Row::Traffic]),
        watches: tables(report, &[Row::Watches]),
        etcd: tables(report, &[Row::Etcd, Row::EtcdServer, Row::Storage]),
        ..Frame::default()
    };
    match diagnosis {
        Some(d) => {
            frame.clients_end_ms = Some(report.end_ms);
            frame.clients = clients(d);
            frame.culprit = frame
                .clients
                .first()
                .filter(|c| !c.severity.is_empty())
                .cloned();
            frame.findings = d.findings.iter().map(finding_line).collect();
            match &d.inputs.audit {
                Some(audit) => {
                    frame.notes.extend(audit.approximations.iter().cloned());
                    frame.notes.extend(audit.read_errors.iter().cloned());
                }
                None => frame.notes.push(NO_AUDIT_LOG.to_owned()),
            }
            frame.notes.extend(d.inputs.notes.iter().cloned());
        }
        None => frame.notes.push(NO_AUDIT_LOG.to_owned()),
    }
    frame
}

/// The note of a frame read without an audit log.
const NO_AUDIT_LOG: &str =
    "no audit log: clients come from the audit log (--audit-log FILE, or --sim)";

fn finding_line(f: &Finding) -> FindingLine {
    FindingLine {
        severity: f.severity.label().to_owned(),
        kind: f.kind.slug().to_owned(),
        title: f.title.clone(),
        client: f
            .culprit
            .as_ref()
            .map(|c| c.user.clone())
            .unwrap_or_default(),
        evidence: evidence_texts(f),
        fix_yaml: f.fix.yaml.clone(),
        advice: f.fix.advice.clone(),
    }
}

/// A finding's evidence as sentences.
fn evidence_texts(f: &Finding) -> Vec<String> {
    f.evidence
        .iter()
        .map(|e| match e {
            Evidence::Figure { text, .. }
            | Evidence::Window { text, .. }
            | Evidence::Panels { text, .. }
            | Evidence::Note { text } => text.clone(),
            Evidence::Examples { uris } => format!("e.g. {}", uris.join("  ")),
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn section_line(s: &apilens_report::Section) -> SectionLine {
    let worst = s.panels.iter().max_by_key(|p| p.level);
    SectionLine {
        title: s.title.clone(),
        level: s.level.label().to_owned(),
        verdict: s.verdict.clone(),
        figure: worst
            .and_then(|p| p.series.first())
            .map(|f| f.last.unwrap_or(f.peak)),
        trend: worst
            .and_then(|p| p.series.first())
            .map(|f| f.trend.clone())
            .unwrap_or_default(),
    }
}

fn panel<'r>(report: &'r Report, id: &str) -> Option<&'r PanelSummary> {
    report
        .sections
        .iter()
        .flat_map(|s| &s.panels)
        .find(|p| p.id == id)
}

/// The words of a legend (`workload-low 10.0.0.1:6443`); an empty label leaves no word.
fn words(legend: &str) -> Vec<&str> {
    legend.split_whitespace().collect()
}

/// A level's queue wait p99, rejections per second and dispatches per second.
type LevelFigures = (Option<f64>, Option<f64>, Option<f64>);

/// Per level and replica: utilisation; per level: wait p99, rejections, dispatch rate.
fn levels(report: &Report) -> Vec<LevelRow> {
    let mut rows: BTreeMap<(String, String), LevelRow> = BTreeMap::new();
    let mut per_level: BTreeMap<String, LevelFigures> = BTreeMap::new();
    if let Some(p) = panel(report, "apf-priority-level-utilisation") {
        for s in &p.series {
            let w = words(&s.legend);
            let (level, instance) = match w.as_slice() {
                [level, instance, ..] => ((*level).to_owned(), (*instance).to_owned()),
                [level] => ((*level).to_owned(), String::new()),
                [] => continue,
            };
            rows.insert(
                (level.clone(), instance.clone()),
                LevelRow {
                    utilisation_pct: s.last,
                    utilisation_peak_pct: Some(s.peak),
                    ..LevelRow::new(level, instance)
                },
            );
        }
    }
    if let Some(p) = panel(report, "apf-seats") {
        for s in &p.series {
            let w = words(&s.legend);
            let key = match w.as_slice() {
                [level, instance, ..] => ((*level).to_owned(), (*instance).to_owned()),
                [level] => ((*level).to_owned(), String::new()),
                [] => continue,
            };
            let row = rows
                .entry(key.clone())
                .or_insert_with(|| LevelRow::new(key.0, key.1));
            let figure = match s.query.as_str() {
                "in-use" => &mut row.seats_in_use,
                "limit" => &mut row.seats_limit,
                "borrowed" => &mut row.seats_borrowed,
                "lower" => &mut row.seats_lower,
                "upper" => &mut row.seats_upper,
                _ => continue,
            };
            *figure = s.last;
        }
    }
    if let Some(p) = panel(report, "apf-queue-wait") {
        for s in p.series.iter().filter(|s| s.query == "p99") {
            if let [_, level, ..] = words(&s.legend).as_slice() {
                per_level.entry((*level).to_owned()).or_default().0 = s.last;
            }
        }
    }
    if let Some(p) = panel(report, "apf-rejections") {
        for s in &p.series {
            if let Some(level) = words(&s.legend).first() {
                let e = per_level.entry((*level).to_owned()).or_default();
                e.1 = Some(e.1.unwrap_or(0.0) + s.last.unwrap_or(0.0));
            }
        }
    }
    if let Some(p) = panel(report, "apf-dispatch-rate") {
        for s in &p.series {
            if let Some(level) = words(&s.legend).first() {
                per_level.entry((*level).to_owned()).or_default().2 = s.last;
            }
        }
    }
    for (level, (wait, rejected, dispatched)) in &per_level {
        if !rows.keys().any(|(l, _)| l == level) {
            rows.insert(
                (level.clone(), String::new()),
                LevelRow::new(level.clone(), String::new()),
            );
        }
        for row in rows.values_mut().filter(|r| &r.level == level) {
            row.wait_p99_s = *wait;
            row.rejected_per_s = *rejected;
            row.dispatched_per_s = *dispatched;
        }
    }
    let mut out: Vec<LevelRow> = rows.into_values().collect();
    // The fullest level first: the one an operator looks at.
    out.sort_by(|a, b| {
        let key = |r: &LevelRow| r.utilisation_pct.unwrap_or(-1.0);
        key(b)
            .total_cmp(&key(a))
            .then_with(|| a.level.cmp(&b.level))
    });
    out
}

/// Rows of the view's levels merged over replicas: the fullest replica's utilisation, the
/// seats (in use, limits, borrowed, bounds) summed over the replicas.
pub fn merge_replicas(rows: &[LevelRow]) -> Vec<LevelRow> {
    let mut merged: Vec<LevelRow> = Vec::new();
    for r in rows {
        match merged.iter_mut().find(|m| m.level == r.level) {
            Some(m) => {
                m.utilisation_pct = max_opt(m.utilisation_pct, r.utilisation_pct);
                m.utilisation_peak_pct = max_opt(m.utilisation_peak_pct, r.utilisation_peak_pct);
                m.seats_in_use = sum_opt(m.seats_in_use, r.seats_in_use);
                m.seats_limit = sum_opt(m.seats_limit, r.seats_limit);
                m.seats_borrowed = sum_opt(m.seats_borrowed, r.seats_borrowed);
                m.seats_lower = sum_opt(m.seats_lower, r.seats_lower);
                m.seats_upper = sum_opt(m.seats_upper, r.seats_upper);
            }
            None => merged.push(LevelRow {
                instance: String::new(),
                ..r.clone()
            }),
        }
    }
    merged
}

fn sum_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn flows(report: &Report) -> Vec<FlowRow> {
    let Some(p) = panel(report, "apf-top-flows") else {
        return Vec::new();
    };
    p.rows
        .iter()
        .map(|r| {
            let label = |name: &str| {
                r.labels
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            FlowRow {
                flow_schema: label("flow_schema"),
                priority_level: label("priority_level"),
                seats: r.values.iter().find(|(q, _)| q == "seats").map(|(_, v)| *v),
            }
        })
        .collect()
}

fn tables(report: &Report, rows: &[Row]) -> Vec<PanelTable> {
    report
        .sections
        .iter()
        .filter(|s| rows.contains(&s.row))
        .flat_map(|s| &s.panels)
        .map(|p| PanelTable {
            id: p.id.clone(),
            title: p.title.clone(),
            level: p.level.label().to_owned(),
            headline: p.headline.clone(),
            rows: panel_rows(p),
            errors: p.errors.clone(),
        })
        .collect()
}

fn panel_rows(p: &PanelSummary) -> Vec<PanelRow> {
    if !p.rows.is_empty() {
        return p
            .rows
            .iter()
            .map(|r| {
                let mut values = r.values.iter().map(|(q, v)| (q, format_value(*v, p.unit)));
                let now = values.next().map(|(_, v)| v).unwrap_or_default();
                PanelRow {
                    name: r.key.clone(),
                    now,
                    peak: values
                        .map(|(q, v)| format!("{q} {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })
            .collect();
    }
    p.series
        .iter()
        .map(|s| PanelRow {
            name: s.legend.clone(),
            now: s
                .last
                .map(|v| format_value(v, p.unit))
                .unwrap_or_else(|| "-".to_owned()),
            peak: format_value(s.peak, p.unit),
        })
        .collect()
}

/// The clients the doctor names first (in its order: harm, never request counts), then the
/// others by seat-seconds.
fn clients(d: &Diagnosis) -> Vec<ClientRow> {
    let span_s = audit_span_s(d);
    let mut out: Vec<ClientRow> = Vec::new();
    for f in &d.findings {
        let Some(c) = &f.culprit else { continue };
        if out
            .iter()
            .any(|r| r.user == c.user && r.user_agent == c.user_agent)
        {
            continue;
        }
        let cost = d
            .clients
            .iter()
            .find(|k| k.user == c.user && k.user_agent == c.user_agent);
        let mut row = cost
            .map(|k| cost_row(k, span_s))
            .unwrap_or_else(|| ClientRow {
                user: c.user.clone(),
                user_agent: c.user_agent.clone(),
                priority_level: c.priority_level.clone(),
                source_ips: c.source_ips,
                level_share_pct: f.harm.level_share * 100.0,
                seat_s_per_s: f.harm.seat_seconds / span_s,
                ..ClientRow::default()
            });
        add_finding(&mut row, f);
        out.push(row);
    }
    for k in &d.clients {
        if !out
            .iter()
            .any(|r| r.user == k.user && r.user_agent == k.user_agent)
        {
            out.push(cost_row(k, span_s));
        }
    }
    out
}

fn add_finding(row: &mut ClientRow, f: &Finding) {
    row.severity = f.severity.label().to_owned();
    row.finding = f.title.clone();
    if let Some(c) = &f.culprit {
        row.verb_resource = format!("{} {}", c.verb, c.resource).trim().to_owned();
        row.flow_schema = c.flow_schema.clone();
        if row.priority_level.is_empty() {
            row.priority_level = c.priority_level.clone();
        }
    }
    row.evidence = evidence_texts(f);
    row.fix_yaml = f.fix.yaml.clone();
    row.advice = f.fix.advice.clone();
}

fn cost_row(k: &ClientCost, span_s: f64) -> ClientRow {
    let top = k.levels.first();
    ClientRow {
        user: k.user.clone(),
        user_agent: k.user_agent.clone(),
        req_per_s: k.requests as f64 / span_s,
        seat_s_per_s: k.seat_seconds / span_s,
        priority_level: top.map(|l| l.level.clone()).unwrap_or_default(),
        level_share_pct: top.map_or(0.0, |l| l.share * 100.0),
        rejected_per_s: k.rejected_429 as f64 / span_s,
        source_ips: k.source_ips,
        ..ClientRow::default()
    }
}

/// Seconds between the first and the last request of the audit log read, at least one.
fn audit_span_s(d: &Diagnosis) -> f64 {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
    };
    let span_ms = d
        .inputs
        .audit
        .as_ref()
        .and_then(|a| Some(parse(&a.end)? - parse(&a.start)?))
        .unwrap_or(0);
    (span_ms as f64 / 1000.0).max(1.0)
}
