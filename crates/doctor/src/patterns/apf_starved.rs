//! `apf-starved-level`: a level that queues or rejects while a neighbour sits idle with seats it
//! could lend, because the starved level may not borrow (`borrowingLimitPercent: 0`, or a
//! server older than 1.26 where nothing is lent) or the idle one lends nothing
//! (`lendablePercent: 0`).
//!
//! Pressure comes from the metrics (rejections, or queue wait p99 of at least [`WAIT_S`]) or
//! from the dumps (waiting or rejected requests); idleness from the metrics (mean utilisation
//! under [`IDLE_PERCENT`]) or the dumps (`IsIdle`). Severity: critical when the starved level
//! rejected requests, warning when it only queued.

use super::Candidate;
use crate::analysis::Analysis;
use crate::finding::{Evidence, Kind, Severity};
use crate::metrics::panel;
use std::collections::BTreeSet;

/// Queue wait p99 that counts as pressure, seconds.
const WAIT_S: f64 = 1.0;
/// Mean utilisation under which a level is idle, percent.
const IDLE_PERCENT: f64 = 30.0;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let mut pressed: Vec<(String, bool, String)> = Vec::new();
    let mut idle: BTreeSet<String> = BTreeSet::new();
    if let Some(f) = a.facts {
        for l in &a.capacity.levels {
            let rejects = f.rejections.get(&l.name).is_some_and(|v| v.peak > 0.0);
            let waits = f.wait_p99.get(&l.name).is_some_and(|v| v.peak >= WAIT_S);
            if rejects || waits {
                pressed.push((l.name.clone(), rejects, "metrics".to_owned()));
            }
            if f.utilisation
                .get(&l.name)
                .is_some_and(|v| v.mean < IDLE_PERCENT)
            {
                idle.insert(l.name.clone());
            }
        }
    }
    for d in a.dumps {
        for (name, waiting, rejected, is_idle) in d.level_pressure() {
            if (waiting > 0 || rejected > 0) && !pressed.iter().any(|p| p.0 == name) {
                pressed.push((name.clone(), rejected > 0, format!("dump of {}", d.replica)));
            }
            if is_idle {
                idle.insert(name);
            }
        }
    }
    let mut out = Vec::new();
    for (name, rejects, source) in pressed {
        let Some(cap) = a.capacity.level(&name) else {
            continue;
        };
        if cap.exempt {
            continue;
        }
        let lenders: Vec<&apilens_apf::LevelCapacity> = a
            .capacity
            .levels
            .iter()
            .filter(|l| l.name != name && !l.exempt && idle.contains(&l.name))
            .collect();
        if lenders.is_empty() {
            continue;
        }
        let can_borrow = a.version.at_least(1, 26) && cap.borrowing_limit > 0;
        let lendable: u32 = lenders.iter().map(|l| l.lendable).sum();
        let (why, advice) = if !can_borrow {
            (
                if a.version.at_least(1, 26) {
                    format!("{name} may not borrow (borrowingLimitPercent 0)")
                } else {
                    format!(
                        "levels do not lend seats before 1.26 (this server runs {}.{})",
                        a.version.major, a.version.minor
                    )
                },
                format!(
                    "raise {name}'s nominalConcurrencyShares, or allow it to borrow (borrowingLimitPercent above 0, 1.26+)"
                ),
            )
        } else if lendable == 0 {
            (
                format!(
                    "its idle neighbours ({}) lend nothing (lendablePercent 0)",
                    lenders.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
                "let the idle levels lend (lendablePercent above 0), or move shares to the starved level".to_owned(),
            )
        } else {
            continue;
        };
        let mut c = Candidate::server(
            Kind::ApfStarvedLevel,
            format!(
                "priority level {name} {} while idle levels keep their seats: {why}",
                if rejects { "rejects" } else { "queues" }
            ),
            if rejects {
                Severity::Critical
            } else {
                Severity::Warning
            },
        );
        c.figure(
            "nominal_seats",
            f64::from(cap.nominal),
            "seats",
            format!(
                "{name} has {} nominal seats per replica and may borrow {}; idle: {} with {} lendable seats",
                cap.nominal,
                if can_borrow { cap.borrowing_limit } else { 0 },
                lenders.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
                lendable
            ),
        );
        c.evidence.push(Evidence::Panels {
            ids: vec![
                panel::LEVEL_UTILISATION.to_owned(),
                panel::QUEUE_WAIT.to_owned(),
                panel::REJECTIONS.to_owned(),
            ],
            text: format!("pressure seen in the {source}"),
        });
        c.advice.push(advice);
        out.push(c);
    }
    out
}
