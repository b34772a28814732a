//! The most likely cause of what the panels flag, the chain from it to what clients see, and
//! the order of the sections along that chain.
//!
//! Candidate causes are recognised from the panels that show them, upstream first: a slow or
//! failing admission webhook, a slow etcd (its disk, its leader), unbounded LISTs of large
//! collections, a WATCH fan-out storm, a priority level saturated by one class of requests,
//! API servers of different versions. The candidate with the worst level wins; among equals the
//! one further upstream (a webhook slows the writes that then queue in APF, not the other way
//! round). Its effects are the flagged panels downstream of it, nearest first.

use crate::format::format_value;
use crate::model::{Cause, CauseKind, Level, PanelSummary, Section, TableRow};
use apilens_panels::Unit;

/// The one-line verdict: the worst level, then the cause and its chain, or what is normal.
pub(crate) fn overall_line(level: Level, cause: Option<&Cause>) -> String {
    match (cause, level) {
        (Some(cause), Level::Warning | Level::Critical) => {
            format!("{}: {}", level.label(), cause.line())
        }
        (_, Level::Ok) => "OK: nothing crossed a threshold or a limit".to_owned(),
        (_, Level::NoData) => "NO DATA: no panel had data in range".to_owned(),
        (None, level) => level.label().to_owned(),
    }
}

/// Most effects named after the cause.
const CHAIN_LENGTH: usize = 3;

/// The most likely cause of the flagged panels, or `None` when nothing is flagged.
pub(crate) fn cause_of(sections: &[Section], versions: &[String]) -> Option<Cause> {
    let panels = Panels(sections);
    let candidates = [
        webhook(&panels),
        etcd(&panels),
        unbounded_lists(&panels),
        watch_fan_out(&panels),
        apf_saturation(&panels),
        version_skew(&panels, versions),
    ];
    // Upstream first: on equal levels the earlier candidate wins.
    let mut best: Option<(Level, Cause)> = None;
    for (level, cause) in candidates.into_iter().flatten() {
        if best.as_ref().is_none_or(|(l, _)| level > *l) {
            best = Some((level, cause));
        }
    }
    let mut cause = match best {
        Some((_, cause)) => cause,
        None => other(&panels)?,
    };
    let mut chain_panels = Vec::new();
    for (id, effect) in effects(&panels, &cause) {
        if cause.chain.len() >= CHAIN_LENGTH {
            break;
        }
        cause.chain.push(effect);
        chain_panels.push(id.to_owned());
    }
    cause.panels.extend(chain_panels);
    Some(cause)
}

/// Sections holding the cause first, then those of its chain in order, then the other flagged
/// ones worst first, then the rest as the catalog orders them.
pub(crate) fn order_sections(mut sections: Vec<Section>, cause: Option<&Cause>) -> Vec<Section> {
    let rank = |s: &Section| -> (usize, std::cmp::Reverse<Level>) {
        let along = cause.and_then(|c| {
            c.panels
                .iter()
                .position(|id| s.panels.iter().any(|p| &p.id == id && p.level > Level::Ok))
        });
        (
            along.unwrap_or(usize::MAX),
            std::cmp::Reverse(s.level.max(Level::Ok)),
        )
    };
    // A stable sort keeps the catalog order among equals.
    sections.sort_by_key(|s| rank(s));
    sections
}

struct Panels<'a>(&'a [Section]);

impl Panels<'_> {
    fn get(&self, id: &str) -> Option<&PanelSummary> {
        self.0.iter().flat_map(|s| &s.panels).find(|p| p.id == id)
    }

    /// The panel when it is flagged.
    fn flagged(&self, id: &str) -> Option<&PanelSummary> {
        self.get(id).filter(|p| p.level > Level::Ok)
    }

    fn level(&self, ids: &[&str]) -> Level {
        ids.iter()
            .filter_map(|id| self.flagged(id))
            .map(|p| p.level)
            .max()
            .unwrap_or(Level::NoData)
    }
}

fn cause(kind: CauseKind, what: String, panels: &[&str]) -> Cause {
    Cause {
        kind,
        what,
        chain: Vec::new(),
        panels: panels.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or(text)
}

/// The priority level named first in a legend such as `p99 workload-low` or `workload-low
/// 10.0.0.1:6443`.
fn priority_level(legend: &str) -> &str {
    let words: Vec<&str> = legend.split_whitespace().collect();
    match words.as_slice() {
        [q, level, ..] if q.starts_with('p') && q[1..].chars().all(|c| c.is_ascii_digit()) => level,
        [level, ..] => level,
        [] => legend,
    }
}

fn row_value(row: &TableRow, id: &str) -> Option<f64> {
    row.values.iter().find(|(q, _)| q == id).map(|(_, v)| *v)
}

fn row_label<'a>(row: &'a TableRow, name: &str) -> &'a str {
    row.labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `PATCH deployments`, `PATCH nodes/status`.
fn call_name(row: &TableRow) -> String {
    let sub = row_label(row, "subresource");
    let resource = row_label(row, "resource");
    if sub.is_empty() {
        format!("{} {resource}", row_label(row, "verb"))
    } else {
        format!("{} {resource}/{sub}", row_label(row, "verb"))
    }
}

fn webhook(p: &Panels<'_>) -> Option<(Level, Cause)> {
    const IDS: [&str; 2] = ["admission-webhook-latency", "admission-webhook-failures"];
    let level = p.level(&IDS);
    if level < Level::Warning {
        return None;
    }
    let what = match p
        .flagged(IDS[0])
        .and_then(|l| l.series.first().map(|s| (l, s)))
    {
        Some((latency, top)) => {
            let value = if latency.headline.contains(" p99 above ") {
                latency
                    .headline
                    .split(" p99 ")
                    .nth(1)
                    .and_then(|rest| rest.split(',').next())
                    .unwrap_or("")
                    .to_owned()
            } else {
                format_value(top.peak, Unit::Seconds)
            };
            format!("webhook {} p99 {value}", first_word(&top.legend))
        }
        None => {
            let failures = p.flagged(IDS[1])?;
            let top = failures.series.first()?;
            format!(
                "webhook {} failing ({} calls rejected)",
                first_word(&top.legend),
                format_value(top.peak, Unit::PerSecond)
            )
        }
    };
    Some((level, cause(CauseKind::Webhook, what, &IDS)))
}

fn etcd(p: &Panels<'_>) -> Option<(Level, Cause)> {
    const SERVER: [&str; 2] = ["etcd-disk-latency", "etcd-leader-and-proposals"];
    let server = p.level(&SERVER);
    // The API server's view counts only when the slowest operation is not a LIST: slow LISTs
    // of large collections are the LISTs' cost, not etcd's fault.
    let seen = p.flagged("etcd-latency-by-operation").filter(|e| {
        e.series
            .first()
            .is_some_and(|s| first_word(&s.legend) != "list")
    });
    let level = server.max(seen.map_or(Level::NoData, |e| e.level));
    if level < Level::Warning {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(disk) = p.flagged(SERVER[0]) {
        // WAL fsync first: every write waits for it.
        for (query, what) in [("fsync", "WAL fsync"), ("commit", "backend commit")] {
            if let Some(s) = disk.series.iter().find(|s| s.query == query) {
                parts.push(format!(
                    "{what} p99 {}",
                    format_value(s.peak, Unit::Seconds)
                ));
            }
        }
    }
    if let Some(leader) = p.flagged(SERVER[1]) {
        let changes: f64 = leader
            .series
            .iter()
            .filter(|s| s.query == "leader-changes")
            .map(|s| s.peak)
            .sum();
        if changes > 0.0 {
            parts.push("leader changes".to_owned());
        }
    }
    if parts.is_empty()
        && let Some(seen) = seen
        && let Some(top) = seen.series.first()
    {
        parts.push(format!(
            "{} p99 {}",
            top.legend,
            format_value(top.peak, Unit::Seconds)
        ));
    }
    let what = if parts.is_empty() {
        "etcd slow".to_owned()
    } else {
        format!("etcd slow: {}", parts.join(", "))
    };
    Some((
        level,
        cause(
            CauseKind::Etcd,
            what,
            &[SERVER[0], SERVER[1], "etcd-latency-by-operation"],
        ),
    ))
}

fn unbounded_lists(p: &Panels<'_>) -> Option<(Level, Cause)> {
    // Huge responses make the LISTs a cause; many small ones are a load, read as APF saturation.
    let sizes = p.flagged("list-response-sizes")?;
    let top = sizes.series.first()?;
    let resource = first_word(&top.legend);
    let objects = p
        .get("list-objects-returned")
        .and_then(|o| o.series.iter().find(|s| first_word(&s.legend) == resource))
        .map(|s| format!("{} objects, ", format_value(s.peak, Unit::Count)))
        .unwrap_or_default();
    let what = format!(
        "unbounded LISTs of {resource} ({objects}{} per response at p99)",
        format_value(top.peak, Unit::Bytes)
    );
    Some((
        sizes.level,
        cause(
            CauseKind::UnboundedLists,
            what,
            &["list-response-sizes", "list-objects-returned"],
        ),
    ))
}

fn watch_fan_out(p: &Panels<'_>) -> Option<(Level, Cause)> {
    const IDS: [&str; 2] = ["watch-events-per-server", "watches-per-server"];
    let level = p.level(&IDS);
    if level < Level::Warning {
        return None;
    }
    let events = p
        .get(IDS[0])
        .and_then(|e| e.series.first())
        .map(|s| format!("{} events/s per server", format_value(s.peak, Unit::Count)));
    let watches = p
        .get(IDS[1])
        .and_then(|w| w.series.first())
        .map(|s| format!("{} watches", format_value(s.peak, Unit::Count)));
    let most = p
        .get("watches-by-resource")
        .and_then(|w| w.series.first())
        .map(|s| format!(", most on {}", first_word(&s.legend)));
    let figures: Vec<String> = [events, watches].into_iter().flatten().collect();
    let what = format!(
        "watch fan-out: {}{}",
        figures.join(" to "),
        most.unwrap_or_default()
    );
    Some((level, cause(CauseKind::WatchFanOut, what, &IDS)))
}

fn apf_saturation(p: &Panels<'_>) -> Option<(Level, Cause)> {
    let rejections = p.flagged("apf-rejections");
    let full = p
        .flagged("apf-priority-level-utilisation")
        .filter(|u| u.level == Level::Critical);
    let queue = p.flagged("apf-queue-wait");
    // A level is saturated when it rejects, or when it is full and its requests queue.
    let evidence = rejections.or(full.filter(|_| queue.is_some()))?;
    let level = rejections
        .map(|r| r.level)
        .into_iter()
        .chain(full.map(|f| f.level))
        .max()?;
    let name = evidence
        .series
        .first()
        .map(|s| priority_level(&s.legend).to_owned())
        .unwrap_or_default();
    let by = p
        .flagged("slowest-calls")
        .or(p.get("slowest-calls"))
        .and_then(|s| {
            s.rows
                .iter()
                .find(|r| row_label(r, "verb") == "LIST")
                .or(s.rows.first())
        })
        .map(|r| {
            if row_label(r, "verb") == "LIST" {
                format!(" by LISTs of {}", row_label(r, "resource"))
            } else {
                format!(" by {}", call_name(r))
            }
        })
        .unwrap_or_default();
    Some((
        level,
        cause(
            CauseKind::ApfSaturation,
            format!("APF {name} saturated{by}"),
            &[
                "apf-rejections",
                "apf-priority-level-utilisation",
                "apf-queue-wait",
                "apf-top-flows",
            ],
        ),
    ))
}

fn version_skew(p: &Panels<'_>, versions: &[String]) -> Option<(Level, Cause)> {
    if versions.len() < 2 {
        return None;
    }
    let imbalance = p.flagged("replica-imbalance")?;
    let mut skew = cause(
        CauseKind::VersionSkew,
        format!(
            "version skew mid-upgrade: {} serve side by side",
            versions.join(" and ")
        ),
        &["replica-imbalance"],
    );
    if let Some(top) = imbalance.series.first() {
        let mut words = top.legend.split_whitespace();
        let server = words.next().unwrap_or("");
        let what = words.collect::<Vec<_>>().join(" ");
        skew.chain.push(format!(
            "{server} carries {} the mean {what}",
            format_value(top.peak, Unit::Ratio)
        ));
    }
    Some((imbalance.level, skew))
}

/// No known cause: the worst flagged panel, named as it reads.
fn other(p: &Panels<'_>) -> Option<Cause> {
    let worst =
        p.0.iter()
            .flat_map(|s| &s.panels)
            .filter(|p| p.level > Level::Ok)
            .max_by_key(|p| p.level)?;
    Some(cause(
        CauseKind::Other,
        format!("{}: {}", worst.title, worst.headline),
        &[worst.id.as_str()],
    ))
}

/// Flagged panels downstream of `cause`, nearest first, as (panel id, effect).
fn effects(p: &Panels<'_>, cause: &Cause) -> Vec<(&'static str, String)> {
    let mine = |id: &str| cause.panels.iter().any(|c| c == id);
    let mut out = Vec::new();
    if !mine("apiserver-memory")
        && let Some(memory) = p.flagged("apiserver-memory")
        && let Some(top) = memory.series.first()
    {
        out.push((
            "apiserver-memory",
            format!("API server memory {}", format_value(top.peak, Unit::Bytes)),
        ));
    }
    if let Some(slowest) = p.flagged("slowest-calls")
        && let Some(row) = slowest.rows.first()
    {
        let p99 =
            row_value(row, "p99").map(|v| format!(" (p99 {})", format_value(v, Unit::Seconds)));
        out.push((
            "slowest-calls",
            format!("{} slow{}", call_name(row), p99.unwrap_or_default()),
        ));
    }
    if cause.kind != CauseKind::ApfSaturation {
        let full = p
            .flagged("apf-priority-level-utilisation")
            .filter(|u| u.level == Level::Critical);
        let queue = p.flagged("apf-queue-wait");
        if let Some(evidence) = full.or(queue) {
            let name = evidence
                .series
                .first()
                .map(|s| priority_level(&s.legend).to_owned())
                .unwrap_or_default();
            let what = if full.is_some() { "full" } else { "queues" };
            out.push((
                "apf-priority-level-utilisation",
                format!("APF {name} {what}"),
            ));
        }
    }
    if let Some(throttled) = p.flagged("throttled-429")
        && let Some(top) = throttled.series.first()
    {
        out.push((
            "throttled-429",
            format!("429s ({})", format_value(top.peak, Unit::PerSecond)),
        ));
    }
    if let Some(errors) = p.flagged("error-ratio")
        && let Some(top) = errors.series.first()
    {
        out.push((
            "error-ratio",
            format!(
                "5xx on {} ({})",
                top.legend,
                format_value(top.peak, Unit::Percent)
            ),
        ));
    }
    out.retain(|(id, _)| !mine(id));
    out
}
