//! `polling-loop`: the same read repeated at a steady period from each copy of a client, where a
//! WATCH would deliver only the changes.
//!
//! Per call and connection (source IP and user), the gaps between consecutive requests are
//! steady when their coefficient of variation is at most [`MAX_CV`]; a call polls when most of
//! its connections with at least [`MIN_REPEATS`] requests are steady.

use super::{Candidate, SortedRecords, client_name, examples, material};
use crate::analysis::{Analysis, count, rate, significant};
use crate::finding::{Evidence, Kind};
use std::collections::BTreeMap;

/// Requests of one connection needed to judge its period.
const MIN_REPEATS: usize = 6;

/// Largest coefficient of variation of the gaps that reads as a timer.
const MAX_CV: f64 = 0.25;

/// Longest period that reads as a poll, seconds.
const MAX_PERIOD_S: f64 = 600.0;

pub(crate) fn detect(a: &Analysis<'_>, sorted: &SortedRecords<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    // call -> (connections judged, steady ones, their periods)
    let mut per_call: BTreeMap<u32, (u32, u32, Vec<f64>)> = BTreeMap::new();
    for run in sorted.runs() {
        let call = &l.calls[run[0].call as usize];
        if !matches!(call.verb.as_str(), "get" | "list")
            || call.group == "coordination.k8s.io"
            || run.len() < MIN_REPEATS
        {
            continue;
        }
        let gaps: Vec<f64> = run
            .windows(2)
            .map(|w| (w[1].t_us - w[0].t_us) as f64 / 1e6)
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        if mean <= 0.0 {
            continue;
        }
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        let e = per_call.entry(run[0].call).or_default();
        e.0 += 1;
        if cv <= MAX_CV && mean <= MAX_PERIOD_S {
            e.1 += 1;
            e.2.push(mean);
        }
    }
    let mut by_client: BTreeMap<u32, Vec<(usize, u32, f64)>> = BTreeMap::new();
    for (call, (judged, steady, mut periods)) in per_call {
        if steady == 0 || steady * 2 < judged {
            continue;
        }
        periods.sort_by(f64::total_cmp);
        let median = periods[periods.len() / 2];
        let c = &l.calls[call as usize];
        if c.client == crate::ledger::clients::OTHER {
            continue;
        }
        by_client
            .entry(c.client)
            .or_default()
            .push((call as usize, steady, median));
    }
    let span = a.span_s();
    let mut out = Vec::new();
    for (client, polls) in by_client {
        let calls: Vec<usize> = polls.iter().map(|p| p.0).collect();
        if !material(a, &calls) {
            continue;
        }
        let (top, steady, period) = *polls
            .iter()
            .max_by_key(|p| l.calls[p.0].count)
            .expect("one poll at least");
        let tc = &l.calls[top];
        let requests: u64 = calls.iter().map(|&i| l.calls[i].count).sum();
        let title = format!(
            "{} polls {} {} every {} s from each of {} copies",
            client_name(a, client),
            tc.verb.to_uppercase(),
            tc.rule_resource(),
            significant(period),
            count(f64::from(steady))
        );
        let mut c = Candidate::client(Kind::PollingLoop, client, calls.clone(), title);
        c.figure(
            "period_s",
            period,
            "s",
            format!(
                "the same request every {} s (steady: gaps vary by at most {:.0}%) from {} connections; {} requests in all ({})",
                significant(period),
                MAX_CV * 100.0,
                count(f64::from(steady)),
                count(requests as f64),
                rate(requests as f64, span)
            ),
        );
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        c.advice.push(
            "replace the timer with a WATCH (a client-go informer): the server then sends only changes, and the cache answers reads locally".to_owned(),
        );
        c.advice.push(
            "if polling must stay, read with resourceVersion=0 (served from the watch cache) and lengthen the period".to_owned(),
        );
        out.push(c);
    }
    out
}
