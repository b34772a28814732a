//! Panels that explain rather than show a problem, and panels that disagree: said in words
//! beside the numbers, never as a level.

use crate::format::format_value;
use crate::model::{Level, PanelSummary, TableRow};
use apilens_panels::{Row, Unit};
use std::collections::BTreeSet;

/// Panels that explain a problem rather than show one, with the panels whose problem they
/// explain: a high etcd share of a fast API, a costly LIST on an idle APF level or a large
/// object count on a quick cluster are facts, not findings.
const EXPLANATIONS: [(&str, &[&str]); 3] = [
    (
        "etcd-share-of-latency",
        &["slowest-calls", "slo-view", "etcd-latency-by-operation"],
    ),
    (
        "apf-seat-cost",
        &[
            "apf-priority-level-utilisation",
            "apf-queue-wait",
            "apf-rejections",
        ],
    ),
    (
        "object-counts",
        &["list-response-sizes", "list-objects-returned"],
    ),
];

/// Whether the panel explains other findings rather than being one.
pub(crate) fn is_explanatory(id: &str) -> bool {
    EXPLANATIONS.iter().any(|(e, _)| *e == id)
}

/// Keeps explanatory panels at [`Level::Ok`] with a sentence on what they explain, and notes
/// why the SLO view and the slowest calls disagree.
pub(crate) fn explain(
    mut rows: Vec<(Row, Vec<PanelSummary>)>,
    context: &crate::context::Context,
) -> Vec<(Row, Vec<PanelSummary>)> {
    let flagged: BTreeSet<String> = rows
        .iter()
        .flat_map(|(_, panels)| panels)
        .filter(|p| p.level > Level::Ok)
        .map(|p| p.id.clone())
        .collect();
    let slowest = find(&rows, "slowest-calls").cloned();
    let slo = find(&rows, "slo-view").cloned();
    for panel in rows.iter_mut().flat_map(|(_, panels)| panels) {
        if let Some((_, explained)) = EXPLANATIONS.iter().find(|(id, _)| *id == panel.id) {
            // Object counts also explain slow calls when the slowest one is a LIST.
            let slow_list = panel.id == "object-counts"
                && flagged.contains("slowest-calls")
                && slowest.as_ref().is_some_and(|s| {
                    s.rows
                        .first()
                        .is_some_and(|r| r.labels.iter().any(|(n, v)| n == "verb" && v == "LIST"))
                });
            let explains = slow_list || explained.iter().any(|id| flagged.contains(*id));
            if panel.level > Level::Ok {
                panel.level = Level::Ok;
            }
            panel.note = match panel.id.as_str() {
                "etcd-share-of-latency" => etcd_share(panel, explains),
                "object-counts" => objects(panel, explains, context.nodes),
                _ => seat_cost(panel, explains),
            };
        }
        if panel.id == "slo-view"
            && let Some(slowest) = &slowest
        {
            slo_note(panel, slowest);
        }
        if panel.id == "slowest-calls"
            && let Some(slo) = &slo
        {
            slowest_note(panel, slo);
        }
    }
    rows
}

fn find<'a>(rows: &'a [(Row, Vec<PanelSummary>)], id: &str) -> Option<&'a PanelSummary> {
    rows.iter()
        .flat_map(|(_, panels)| panels)
        .find(|p| p.id == id)
}

fn etcd_share(panel: &PanelSummary, explains: bool) -> String {
    let Some(top) = panel.series.first() else {
        return String::new();
    };
    let share = format_value(top.peak, Unit::Percent);
    match (explains, top.peak >= 50.0) {
        (true, true) => format!(
            "etcd takes up to {share} of the time of {} requests: the slow calls wait on etcd",
            top.legend
        ),
        (true, false) => format!(
            "etcd takes at most {share} of the time ({}): the slow calls wait elsewhere (webhooks, APF queues, CPU)",
            top.legend
        ),
        (false, _) => {
            "explains nothing flagged: most of a fast write's time is etcd's in a healthy cluster"
                .to_owned()
        }
    }
}

fn objects(panel: &mut PanelSummary, explains: bool, nodes: Option<f64>) -> String {
    let Some(top) = panel.series.first().cloned() else {
        return String::new();
    };
    let count = top.last.unwrap_or(top.peak);
    if let Some(nodes) = nodes.filter(|n| *n > 0.0) {
        panel.headline = format!(
            "largest: {} {} ({} per node of {})",
            top.legend,
            format_value(count, Unit::Count),
            format_value((count / nodes).round(), Unit::Count),
            format_value(nodes, Unit::Count)
        );
    } else {
        panel.headline = format!(
            "largest: {} {}",
            top.legend,
            format_value(count, Unit::Count)
        );
    }
    if explains {
        format!(
            "explains the LIST cost: an unbounded LIST of {} returns all {} of them",
            top.legend.split_whitespace().next().unwrap_or(&top.legend),
            format_value(count, Unit::Count)
        )
    } else {
        "explains nothing flagged: object counts set the cost of LISTs, not a problem by themselves"
            .to_owned()
    }
}

fn seat_cost(panel: &PanelSummary, explains: bool) -> String {
    match (explains, panel.series.first()) {
        (true, Some(top)) => format!(
            "requests of {} cost up to {} seats each at p99: they fill their level faster than their number suggests",
            top.legend,
            format_value(top.peak, Unit::Seats)
        ),
        _ => "explains nothing flagged".to_owned(),
    }
}

/// The (verb, resource, subresource, scope) of a latency table row.
fn call(row: &TableRow) -> (String, String, String, String) {
    let get = |name: &str| {
        row.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (
        get("verb"),
        get("resource"),
        get("subresource"),
        get("scope"),
    )
}

fn value(row: &TableRow, id: &str) -> Option<f64> {
    row.values.iter().find(|(q, _)| q == id).map(|(_, v)| *v)
}

/// The top call of `panel` with its p99 there and in `other` when the client-side p99 (the
/// slowest calls) is over half as large again as the SLI's: the two tables disagree.
/// `panel_is_sli` says which of the two `panel` is. Returns (call, SLI p99, client p99).
fn disagreement(
    panel: &PanelSummary,
    other: &PanelSummary,
    panel_is_sli: bool,
) -> Option<(String, f64, f64)> {
    let top = panel.rows.first()?;
    let mine = value(top, "p99")?;
    let theirs = value(other.rows.iter().find(|r| call(r) == call(top))?, "p99")?;
    let (sli, client) = if panel_is_sli {
        (mine, theirs)
    } else {
        (theirs, mine)
    };
    (client > 1.5 * sli).then(|| (top.key.clone(), sli, client))
}

fn slo_note(slo: &mut PanelSummary, slowest: &PanelSummary) {
    if let Some((key, sli, client)) = disagreement(slo, slowest, true) {
        slo.note = format!(
            "the SLI leaves out APF queue wait and webhook time: {key} reads p99 {} here and {} as its clients waited (slowest calls)",
            format_value(sli, Unit::Seconds),
            format_value(client, Unit::Seconds)
        );
    }
}

fn slowest_note(slowest: &mut PanelSummary, slo: &PanelSummary) {
    if let Some((key, sli, _)) = disagreement(slowest, slo, false) {
        slowest.note = format!(
            "what clients waited, APF queue wait and webhooks included: without them (the SLO view) {key} takes p99 {}",
            format_value(sli, Unit::Seconds)
        );
    }
}
