//! `watch-churn`: short-lived watches re-established without a resourceVersion. Each new watch
//! without one makes the server send every object first (initial events), so a watch that
//! lives seconds costs what a LIST costs, again and again.
//!
//! A call churns when its watches live under [`SHORT_S`] on average or each copy opens one a
//! minute or more; the client is a finding from [`MIN_WATCHES_PER_S`] new watches per second,
//! a warning from [`WARNING_WATCHES_PER_S`].

use super::{Candidate, by_client, client_name, examples};
use crate::analysis::{Analysis, count, rate, significant};
use crate::finding::{Evidence, Kind};
use crate::ledger::call::Rv;

/// Mean watch lifetime below which watches count as short-lived, seconds (client-go's
/// reflectors keep a watch 5 to 10 minutes).
const SHORT_S: f64 = 60.0;

/// New watches per copy per minute that count as churn whatever their lifetime.
const CHURN_PER_COPY_PER_MIN: f64 = 1.0;

/// New watches per second (all copies) worth a finding: each one without a resourceVersion
/// makes the server send the whole collection first, which seats do not show (a watch holds
/// seats only while it starts).
const MIN_WATCHES_PER_S: f64 = 0.2;

/// New watches per second worth a warning.
const WARNING_WATCHES_PER_S: f64 = 5.0;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let span = a.span_s();
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| {
        c.verb == "watch" && matches!(c.rv, Some(Rv::Absent | Rv::Zero)) && c.count >= 3
    }) {
        let churning: Vec<usize> = calls
            .into_iter()
            .filter(|&i| {
                let c = &l.calls[i];
                let copies = l.clients[client as usize].source_ips.count().max(1) as f64;
                let per_copy_per_min = c.count as f64 / copies / (span / 60.0);
                let short = c.watches_closed > 0
                    && c.watch_lifetime_s / (c.watches_closed as f64) < SHORT_S;
                short || per_copy_per_min >= CHURN_PER_COPY_PER_MIN
            })
            .collect();
        let watches: u64 = churning.iter().map(|&i| l.calls[i].count).sum();
        if churning.is_empty() || (watches as f64) / span < MIN_WATCHES_PER_S {
            continue;
        }
        let closed: u64 = churning.iter().map(|&i| l.calls[i].watches_closed).sum();
        let lifetime: f64 = churning.iter().map(|&i| l.calls[i].watch_lifetime_s).sum();
        let mut resources: Vec<String> = churning
            .iter()
            .map(|&i| l.calls[i].resource_key())
            .collect();
        resources.sort();
        resources.dedup();
        let mean_life = if closed > 0 {
            lifetime / closed as f64
        } else {
            0.0
        };
        let mut c = Candidate::client(
            Kind::WatchChurn,
            client,
            churning.clone(),
            format!(
                "{} re-opens watches on {} without a resourceVersion, {}{}",
                client_name(a, client),
                resources.join(", "),
                rate(watches as f64, span),
                if closed > 0 {
                    format!(", each lives {} s", significant(mean_life))
                } else {
                    String::new()
                }
            ),
        );
        if watches as f64 / span >= WARNING_WATCHES_PER_S {
            c.severity = Some(crate::finding::Severity::Warning);
        }
        c.figure(
            "watches",
            watches as f64,
            "requests",
            format!(
                "{} watches opened ({}) {}; each starts by sending every object (no resourceVersion)",
                count(watches as f64),
                rate(watches as f64, span),
                a.copies(client)
            ),
        );
        if closed > 0 {
            c.figure(
                "watch_lifetime_s",
                mean_life,
                "s",
                format!(
                    "mean lifetime {} s over {} closed watches",
                    significant(mean_life),
                    count(closed as f64)
                ),
            );
        }
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &churning),
        });
        c.advice.push(
            "resume each watch from the last resourceVersion seen, with allowWatchBookmarks=true so that version stays fresh: a client-go reflector does both".to_owned(),
        );
        if closed > 0 && mean_life < SHORT_S {
            c.advice.push(
                "watches closing this early are often cut by a proxy or load balancer idle timeout between the client and the API server: raise it above 10 minutes or set timeoutSeconds below it".to_owned(),
            );
        }
        out.push(c);
    }
    out
}
