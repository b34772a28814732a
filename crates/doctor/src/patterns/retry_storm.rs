//! `retry-storm-429`: a client that answers APF's 429 by sending the same request again at once,
//! from the same connection, instead of backing off: every rejection becomes more load on the
//! level that is already full.
//!
//! A retry is a request of the same call on the same connection less than [`RETRY_WITHIN_S`]
//! after a 429 was answered, and sooner than a fifth of the connection's median gap between
//! arrivals (a busy client's next request is not a retry). A storm needs at least
//! [`MIN_RETRIES`] retries and retries after at least [`MIN_RETRY_SHARE`] of the client's 429s.

use super::{Candidate, SortedRecords, client_name, examples};
use crate::analysis::{Analysis, count};
use crate::finding::{Evidence, Kind};
use crate::ledger::records::Record;
use std::collections::BTreeMap;

/// Seconds after a 429 within which the next request is a retry without back-off.
const RETRY_WITHIN_S: f64 = 1.0;
/// Retries that make a storm.
const MIN_RETRIES: u64 = 20;
/// Share of the 429s followed by an immediate retry. A client that does not retry but sends
/// often still has a request soon after some 429s by chance: about 1 in 5 with the window
/// below, so a storm needs far more.
const MIN_RETRY_SHARE: f64 = 0.5;

pub(crate) fn detect(a: &Analysis<'_>, sorted: &SortedRecords<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    // client -> (429s, immediate retries, Σ gap seconds, calls)
    let mut per_client: BTreeMap<u32, (u64, u64, f64, Vec<usize>)> = BTreeMap::new();
    for run in sorted.runs() {
        let client = run[0].client;
        if client == crate::ledger::clients::OTHER {
            continue;
        }
        let mut rejected = 0;
        let mut retries = 0;
        let mut gaps = 0.0;
        if !run.iter().any(|r| r.rejected) {
            continue;
        }
        // A rejected request ends when it is answered; its retry comes after.
        let gap_after = |w: &[&Record]| {
            (w[1].t_us - w[0].t_us) as f64 / 1e6
                - if w[0].rejected {
                    f64::from(w[0].wait_us) / 1e6
                } else {
                    0.0
                }
        };
        let mut all: Vec<f64> = run
            .windows(2)
            .map(|w| (w[1].t_us - w[0].t_us) as f64 / 1e6)
            .collect();
        all.sort_by(f64::total_cmp);
        let median = all.get(all.len() / 2).copied().unwrap_or(f64::INFINITY);
        let within = RETRY_WITHIN_S.min(median / 5.0);
        for w in run.windows(2) {
            if w[0].rejected {
                rejected += 1;
                let gap = gap_after(w);
                if (0.0..within).contains(&gap) {
                    retries += 1;
                    gaps += gap.max(0.0);
                }
            }
        }
        if run.last().is_some_and(|r| r.rejected) {
            rejected += 1;
        }
        if rejected == 0 {
            continue;
        }
        let e = per_client.entry(client).or_default();
        e.0 += rejected;
        e.1 += retries;
        e.2 += gaps;
        if retries > 0 && !e.3.contains(&(run[0].call as usize)) {
            e.3.push(run[0].call as usize);
        }
    }
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
        let _ = l;
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
