//! Readings that need more than a panel's fixed thresholds: limits read per server (in-flight
//! requests against the real seat pool, seats against the pool), thresholds scaled to the
//! cluster's size (open WATCHes, memory), and quantiles the histogram cannot resolve.

use crate::build::{Evaluated, Reduced, series_of, severity_level};
use crate::context::Context;
use crate::format::format_value;
use crate::model::{Level, PanelSummary};
use apilens_panels::{Ceiling, Panel, Severity, Unit, watches_per_server_thresholds};
use std::collections::BTreeMap;

/// Share of a limit from which a panel turns to a warning, and to critical.
const LIMIT_WARNING: f64 = 0.8;
const LIMIT_CRITICAL: f64 = 1.0;

/// A server's memory against its own low in the range: the growth (peak over low) and the
/// bytes it grew by, from which it is a warning and critical. Both must hold, so the small
/// swings of a small server do not count.
const MEMORY_GROWTH: [(f64, f64); 2] = [(1.5, 512.0 * MIB), (2.5, 1024.0 * MIB)];
/// A server's memory against the etcd database (the watch cache holds every object, so memory
/// follows the stored data): the multiple and the absolute floor from which it is a warning and
/// critical.
const MEMORY_OVER_DATA: [(f64, f64); 2] = [(8.0, 4096.0 * MIB), (16.0, 8192.0 * MIB)];
const MIB: f64 = 1024.0 * 1024.0;

/// Applies the reading of `panel` that needs the context or per-series limits, then the
/// histogram ceiling; the generic threshold reading has already run.
pub(crate) fn special_reading(
    panel: &Panel,
    evaluated: &[Evaluated<'_>],
    context: &Context,
    summary: &mut PanelSummary,
) {
    match panel.id.as_str() {
        "inflight-vs-limit" => inflight(panel, evaluated, summary),
        "apf-seats-vs-pool" => seats(panel, evaluated, summary),
        "watches-per-server" => watches(panel, evaluated, context, summary),
        "apiserver-memory" => memory(panel, evaluated, context, summary),
        "apf-top-flows" => top_flows(context, summary),
        _ => {}
    }
    if let Some(ceiling) = &panel.ceiling {
        above_ceiling(panel, ceiling, summary);
    }
}

fn level_of_share(share: f64) -> Level {
    if share >= LIMIT_CRITICAL {
        Level::Critical
    } else if share >= LIMIT_WARNING {
        Level::Warning
    } else {
        Level::Ok
    }
}

fn instance(r: &Reduced) -> &str {
    r.labels.get("instance").unwrap_or("?")
}

/// The highest sum over `series` at one time (series of one server, such as readOnly and
/// mutating in flight).
fn peak_of_sum(series: &[&Reduced]) -> f64 {
    let mut at: BTreeMap<i64, f64> = BTreeMap::new();
    for r in series {
        for (t, v) in r.times.iter().zip(&r.values) {
            *at.entry(*t).or_default() += v;
        }
    }
    at.values().copied().fold(0.0, f64::max)
}

/// Requests in flight per server: against the APF seat pool where the server exposes it (the
/// two max-inflight flags together size that pool, and APF enforces it), else each kind against
/// its default flag value.
fn inflight(panel: &Panel, evaluated: &[Evaluated<'_>], summary: &mut PanelSummary) {
    let inflight = series_of(evaluated, "inflight");
    let pools: BTreeMap<&str, f64> = series_of(evaluated, "pool")
        .into_iter()
        .map(|r| (instance(r), r.peak()))
        .filter(|(_, pool)| *pool > 0.0)
        .collect();
    summary.series.retain(|s| s.query != "pool");
    // (what, used, limit)
    let mut uses: Vec<(String, f64, f64)> = Vec::new();
    if !pools.is_empty() {
        let mut by_instance: BTreeMap<&str, Vec<&Reduced>> = BTreeMap::new();
        for r in &inflight {
            by_instance.entry(instance(r)).or_default().push(r);
        }
        for (name, series) in by_instance {
            if let Some(&pool) = pools.get(name) {
                uses.push((format!("on {name}"), peak_of_sum(&series), pool));
            }
        }
        let metric = if summary
            .promql
            .iter()
            .any(|q| q.contains("nominal_limit_seats"))
        {
            "apiserver_flowcontrol_nominal_limit_seats"
        } else {
            "apiserver_flowcontrol_request_concurrency_limit"
        };
        summary.note = format!(
            "limit read from the server: its APF seat pool ({metric} summed over priority levels), which --max-requests-inflight and --max-mutating-requests-inflight size together; requests are counted, and a LIST may hold up to 10 seats (100 from 1.34): the seats panel reads seats"
        );
    } else {
        for r in &inflight {
            let kind = r.labels.get("request_kind").unwrap_or("");
            let Some(limit) = panel
                .limits
                .iter()
                .find(|l| !kind.is_empty() && l.label.starts_with(kind))
            else {
                continue;
            };
            uses.push((format!("{kind} on {}", instance(r)), r.peak(), limit.value));
        }
        summary.note = "limits are the defaults (--max-requests-inflight=400, --max-mutating-requests-inflight=200): the server exposes neither its flags nor an APF seat pool".to_owned();
    }
    let pooled = !pools.is_empty();
    let Some((what, used, limit)) = uses
        .into_iter()
        .filter(|(_, _, limit)| *limit > 0.0)
        .max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)))
    else {
        return;
    };
    summary.level = level_of_share(used / limit);
    summary.headline = if pooled {
        format!(
            "peak {} requests in flight {what}, of its {}-seat APF pool ({:.0}%)",
            format_value(used, Unit::Count),
            format_value(limit, Unit::Count),
            100.0 * used / limit
        )
    } else {
        format!(
            "peak {} of {} {what} ({:.0}%, default limit)",
            format_value(used, panel.unit),
            format_value(limit, panel.unit),
            100.0 * used / limit
        )
    };
}

/// Seats in use per server against that server's pool.
fn seats(panel: &Panel, evaluated: &[Evaluated<'_>], summary: &mut PanelSummary) {
    let pools: BTreeMap<&str, f64> = series_of(evaluated, "pool")
        .into_iter()
        .map(|r| (instance(r), r.peak()))
        .collect();
    let Some((name, used, pool)) = series_of(evaluated, "in-use")
        .into_iter()
        .filter_map(|r| {
            let pool = *pools.get(instance(r))?;
            (pool > 0.0).then(|| (instance(r), r.peak(), pool))
        })
        .max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)))
    else {
        return;
    };
    summary.level = level_of_share(used / pool);
    summary.headline = format!(
        "peak {} of {} seats on {name} ({:.0}%)",
        format_value(used, panel.unit),
        format_value(pool, panel.unit),
        100.0 * used / pool
    );
    summary.note =
        "the pool is the server's own: the priority levels' nominal seats summed".to_owned();
}

/// Open WATCHes per server against thresholds scaled to the nodes and replicas.
fn watches(
    panel: &Panel,
    evaluated: &[Evaluated<'_>],
    context: &Context,
    summary: &mut PanelSummary,
) {
    let Some(size) = context.size() else {
        summary.note = "no object count of nodes: WATCH thresholds cannot be scaled to the cluster, so none is applied".to_owned();
        return;
    };
    let thresholds = watches_per_server_thresholds(size);
    let Some(worst) = series_of(evaluated, "watches")
        .into_iter()
        .max_by(|a, b| a.peak().total_cmp(&b.peak()))
    else {
        return;
    };
    let peak = worst.peak();
    let crossed = thresholds.iter().rev().find(|t| peak >= t.value);
    summary.level = severity_level(crossed.map(|t| t.severity));
    let scale = format!(
        "{} nodes over {} servers",
        format_value(size.nodes, Unit::Count),
        context.replicas
    );
    summary.headline = match crossed {
        Some(t) => format!(
            "{} peaked at {} (threshold {} for {scale})",
            instance(worst),
            format_value(peak, panel.unit),
            format_value(t.value, panel.unit)
        ),
        None => format!(
            "peak: {} {} (a warning from {} for {scale})",
            instance(worst),
            format_value(peak, panel.unit),
            format_value(thresholds[0].value, panel.unit)
        ),
    };
    summary.note = format!(
        "thresholds scale with the cluster: {} and {} watches per node, shared over the servers, at least {} and {}",
        apilens_panels::WATCHES_PER_NODE[0],
        apilens_panels::WATCHES_PER_NODE[1],
        format_value(apilens_panels::WATCHES_PER_SERVER_FLOOR[0], Unit::Count),
        format_value(apilens_panels::WATCHES_PER_SERVER_FLOOR[1], Unit::Count)
    );
}

/// Resident memory per server against its own low in the range and against the stored data.
fn memory(
    panel: &Panel,
    evaluated: &[Evaluated<'_>],
    context: &Context,
    summary: &mut PanelSummary,
) {
    let mut worst: Option<(Level, &Reduced, f64, f64)> = None;
    for r in series_of(evaluated, "rss") {
        let (peak, low) = (r.peak(), r.low());
        let growth = if low > 0.0 { peak / low } else { 1.0 };
        let mut level = Level::Ok;
        for (i, (ratio, bytes)) in MEMORY_GROWTH.iter().enumerate() {
            if growth >= *ratio && peak - low >= *bytes {
                level = level.max(if i == 0 {
                    Level::Warning
                } else {
                    Level::Critical
                });
            }
        }
        if let Some(db) = context.etcd_db_bytes.filter(|db| *db > 0.0) {
            for (i, (ratio, floor)) in MEMORY_OVER_DATA.iter().enumerate() {
                if peak >= (ratio * db).max(*floor) {
                    level = level.max(if i == 0 {
                        Level::Warning
                    } else {
                        Level::Critical
                    });
                }
            }
        }
        if worst
            .as_ref()
            .is_none_or(|(l, w, _, _)| (level, peak) > (*l, w.peak()))
        {
            worst = Some((level, r, peak, growth));
        }
    }
    let Some((level, r, peak, growth)) = worst else {
        return;
    };
    summary.level = level;
    let data = context
        .etcd_db_bytes
        .map(|db| {
            format!(
                "; {:.1}x the etcd database ({})",
                peak / db,
                format_value(db, Unit::Bytes)
            )
        })
        .unwrap_or_default();
    summary.headline = format!(
        "{} peaked at {}, {:.1}x its low in range ({}){data}",
        instance(r),
        format_value(peak, panel.unit),
        growth,
        format_value(r.low(), panel.unit)
    );
    summary.note = "memory follows the stored data (the watch cache holds every object); growth within the range or a multiple of the database means objects in flight, usually unpaginated LIST responses".to_owned();
}

/// Top flows are the busiest server's peak: say which pool they compare with.
fn top_flows(context: &Context, summary: &mut PanelSummary) {
    if let Some(pool) = context.largest_pool() {
        summary.note = format!(
            "each figure is the busiest server's peak, comparable with one server's {}-seat pool",
            format_value(pool, Unit::Count)
        );
    }
}

/// A quantile above the panel's ceiling is interpolated between two coarse buckets: say what it
/// is ("above 10 s, the webhook timeout") instead of the interpolated figure.
fn above_ceiling(panel: &Panel, ceiling: &Ceiling, summary: &mut PanelSummary) {
    let Some(worst) = summary.series.first() else {
        return;
    };
    if worst.peak <= ceiling.value {
        return;
    }
    let level = severity_level(panel.severity_of(worst.peak).or(Some(Severity::Warning)));
    summary.level = summary.level.max(level);
    summary.headline = format!(
        "{} p99 above {}, {}",
        worst.legend,
        format_value(ceiling.value, panel.unit),
        ceiling.what
    );
    summary.note = format!(
        "the histogram's buckets jump from {} to {}: the {} p99 is interpolated between them, not measured",
        format_value(ceiling.value, panel.unit),
        format_value(ceiling.next_bucket, panel.unit),
        format_value(worst.peak, panel.unit)
    );
}
