//! `retry-storm-429`: a client that answers APF's 429 by sending the same request again at once,
//! from the same connection, instead of backing off: every rejection becomes more load on the
//! level that is already full.
//!
//! A retry is a request of the same call on the same connection arriving less than
//! [`RETRY_WITHIN_S`] after a 429 was answered, and sooner than a fifth of the connection's
//! median gap between arrivals. A busy client has a request that soon after some answers by
//! chance, so the same is measured after its successful answers: a storm needs at least
//! [`MIN_RETRIES`] retries, retries after at least [`MIN_RETRY_SHARE`] of its 429s, and after
//! 429s at least twice (plus 10 points) as often as after successes.

use super::{Candidate, SortedRecords, client_name, examples};
use crate::analysis::{Analysis, count};
use crate::finding::{Evidence, Kind};
use std::collections::BTreeMap;

/// Seconds after a 429 within which the next request is a retry without back-off.
const RETRY_WITHIN_S: f64 = 1.0;
/// Retries that make a storm.
const MIN_RETRIES: u64 = 20;
/// Share of the 429s followed by an immediate retry.
const MIN_RETRY_SHARE: f64 = 0.5;

pub(crate) fn detect(a: &Analysis<'_>, sorted: &SortedRecords<'_>) -> Vec<Candidate> {
    // client -> (429s, immediate retries, Σ retry gap seconds, calls, answers that were not
    // rejected, of them followed as closely)
    #[derive(Default)]
    struct Tally {
        rejected: u64,
        retries: u64,
        gaps: f64,
        calls: Vec<usize>,
        ok: u64,
        ok_followed: u64,
    }
    let mut per_client: BTreeMap<u32, Tally> = BTreeMap::new();
    for run in sorted.runs() {
        let client = run[0].client;
        if client == crate::ledger::clients::OTHER || !run.iter().any(|r| r.rejected) {
            continue;
        }
        let mut gaps: Vec<f64> = run
            .windows(2)
            .map(|w| (w[1].t_us - w[0].t_us) as f64 / 1e6)
            .collect();
        gaps.sort_by(f64::total_cmp);
        let median = gaps.get(gaps.len() / 2).copied().unwrap_or(f64::INFINITY);
        let within_us = (RETRY_WITHIN_S.min(median / 5.0) * 1e6) as i64;
        // The first arrival at or after `end`, if within the window.
        let next_after = |end: i64| -> Option<i64> {
            let i = run.partition_point(|r| r.t_us < end);
            run.get(i)
                .map(|r| r.t_us - end)
                .filter(|gap| *gap < within_us)
        };
        let e = per_client.entry(client).or_default();
        for r in run.iter() {
            // A request ends when it is answered: a rejected one after its queue wait.
            let end = r.t_us + i64::from(if r.rejected { r.wait_us } else { r.exec_us });
            let followed = next_after(end);
            if r.rejected {
                e.rejected += 1;
                if let Some(gap) = followed {
                    e.retries += 1;
                    e.gaps += gap as f64 / 1e6;
                    if !e.calls.contains(&(run[0].call as usize)) {
                        e.calls.push(run[0].call as usize);
                    }
                }
            } else {
                e.ok += 1;
                e.ok_followed += u64::from(followed.is_some());
            }
        }
    }
    let per_client: BTreeMap<u32, (u64, u64, f64, Vec<usize>)> = per_client
        .into_iter()
        .filter(|(_, t)| {
            let after_429 = t.retries as f64 / t.rejected.max(1) as f64;
            let after_ok = t.ok_followed as f64 / t.ok.max(1) as f64;
            after_429 >= 2.0 * after_ok + 0.1
        })
        .map(|(c, t)| (c, (t.rejected, t.retries, t.gaps, t.calls)))
        .collect();
    let mut out = Vec::new();
    for (client, (rejected, retries, gaps, calls)) in per_client {
        if retries < MIN_RETRIES || (retries as f64) < MIN_RETRY_SHARE * rejected as f64 {
            continue;
        }
        let mean_gap_ms = gaps / retries as f64 * 1e3;
        let mut c = Candidate::client(
            Kind::RetryStorm429,
            client,
            calls.clone(),
            format!(
                "{} retries at once after 429: {} of its {} rejections retried within {:.0} ms",
                client_name(a, client),
                count(retries as f64),
                count(rejected as f64),
                mean_gap_ms
            ),
        );
        c.figure(
            "retries",
            retries as f64,
            "requests",
            format!(
                "{} requests sent again on the same connection {:.0} ms (mean) after a 429, without back-off",
                count(retries as f64),
                mean_gap_ms
            ),
        );
        c.figure(
            "rejected",
            rejected as f64,
            "requests",
            format!(
                "{} of its requests were rejected by APF (429)",
                count(rejected as f64)
            ),
        );
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        c.advice.push(
            "honour Retry-After and back off exponentially with jitter after a 429 (client-go's rest client does; a hand-written loop around it must not retry at once)".to_owned(),
        );
        c.advice.push(
            "a client that is rejected is usually a victim of a full level: check the findings above it for what fills the level".to_owned(),
        );
        out.push(c);
    }
    out
}
