//! `etcd-slow`: etcd itself is slow, the server-side cause. Single-object requests (a GET, a
//! write) cost etcd milliseconds when it is healthy; when many of them, from many clients, spend
//! half a second or more in etcd (the `apiserver.latency.k8s.io/etcd` annotation), or fail after
//! etcd's request timeout, etcd is the bottleneck and no client is to blame.
//!
//! Detected when at least [`MIN_SLOW`] single-object requests from at least [`MIN_CLIENTS`]
//! clients spent 500 ms or more in etcd and they are at least [`MIN_SHARE`] of those requests,
//! or when the metrics show a p99 of a single-object etcd operation of 1 s or more. Severity:
//! critical when requests failed on an etcd timeout, at least 5 % were slow, or the metrics'
//! p99 reached 1 s; warning otherwise. The finding says whether a client stands out (its share
//! of the slow requests is more than twice its share of the traffic).

use super::Candidate;
use crate::analysis::{Analysis, count, significant};
use crate::finding::{Evidence, Kind, Severity};
use crate::metrics::panel;
use std::collections::BTreeMap;

const MIN_SLOW: u64 = 20;
const MIN_CLIENTS: usize = 3;
const MIN_SHARE: f64 = 0.01;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let mut total = 0u64;
    let mut slow = 0u64;
    let mut timeouts = 0u64;
    let mut etcd_ms = 0.0;
    let mut by_client: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut worst: Vec<(u64, usize)> = Vec::new();
    for (i, c) in a.calls().iter().enumerate() {
        let single = matches!(c.scope, Some(crate::ledger::call::Scope::Object))
            || (c.verb == "create" && c.scope != Some(crate::ledger::call::Scope::NonResource));
        if !single || c.from_cache || c.verb == "watch" {
            continue;
        }
        total += c.ran;
        slow += c.etcd_slow;
        timeouts += c.etcd_timeouts;
        etcd_ms += c.etcd_ms;
        let e = by_client.entry(c.client).or_default();
        e.0 += c.ran;
        e.1 += c.etcd_slow;
        if c.etcd_slow > 0 {
            worst.push((c.etcd_slow, i));
        }
    }
    let slow_clients = by_client.values().filter(|(_, s)| *s > 0).count();
    let share = if total > 0 {
        slow as f64 / total as f64
    } else {
        0.0
    };
    let metrics_slow: Vec<(String, String, f64)> = a
        .facts
        .map(|f| {
            f.etcd_latency
                .iter()
                .filter(|(op, _, v)| {
                    matches!(
                        op.as_str(),
                        "get" | "create" | "update" | "delete" | "guaranteedUpdate"
                    ) && v.peak >= 1.0
                })
                .map(|(op, res, v)| (op.clone(), res.clone(), v.peak))
                .collect()
        })
        .unwrap_or_default();
    let audit_says = slow >= MIN_SLOW && slow_clients >= MIN_CLIENTS && share >= MIN_SHARE;
    if !audit_says && metrics_slow.is_empty() {
        return Vec::new();
    }
    let severity = if timeouts > 0 || share >= 0.05 || !metrics_slow.is_empty() {
        Severity::Critical
    } else {
        Severity::Warning
    };
    // Does one client stand out?
    let standout = by_client
        .iter()
        .filter(|(_, (_, s))| *s > 0)
        .max_by_key(|(_, (_, s))| *s)
        .filter(|(_, (n, s))| {
            let slow_share = *s as f64 / slow.max(1) as f64;
            let traffic_share = *n as f64 / total.max(1) as f64;
            slow_share > 0.5 && slow_share > 2.0 * traffic_share
        })
        .map(|(c, _)| *c);
    let mut c = Candidate::server(
        Kind::EtcdSlow,
        if standout.is_none() {
            "etcd is slow: single-object reads and writes from every client wait on it (no client stands out)".to_owned()
        } else {
            "etcd is slow: single-object reads and writes wait on it".to_owned()
        },
        severity,
    );
    if total > 0 {
        c.figure(
            "slow_single_object_share",
            100.0 * share,
            "%",
            format!(
                "{} of {} single-object requests served by etcd ({:.1}%), from {} clients, spent 500 ms or more in etcd ({} s on average)",
                count(slow as f64),
                count(total as f64),
                100.0 * share,
                count(slow_clients as f64),
                significant(if slow > 0 { etcd_ms / 1e3 / slow as f64 } else { 0.0 })
            ),
        );
    }
    if timeouts > 0 {
        c.figure(
            "etcd_timeouts",
            timeouts as f64,
            "requests",
            format!(
                "{} requests failed with 5xx after 5 s or more in etcd (etcd's request timeout is 7 s)",
                count(timeouts as f64)
            ),
        );
    }
    if !metrics_slow.is_empty() {
        c.evidence.push(Evidence::Panels {
            ids: vec![panel::ETCD_LATENCY.to_owned(), panel::ETCD_SHARE.to_owned()],
            text: format!(
                "etcd p99 per operation: {}",
                metrics_slow
                    .iter()
                    .take(4)
                    .map(|(op, res, p)| format!("{op} {res} {}", crate::render::seconds(*p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    match standout.and_then(|s| a.ledger.map(|l| (s, l))) {
        None => c.note(
            "the slow requests are spread over the clients in proportion to their traffic: the cause is etcd (disk, network, size), not a client".to_owned(),
        ),
        Some((client, _)) => c.note(format!(
            "{} has most of the slow requests: check the client findings",
            super::client_name(a, client)
        )),
    }
    worst.sort_by_key(|w| std::cmp::Reverse(w.0));
    let calls: Vec<usize> = worst.iter().take(3).map(|w| w.1).collect();
    let uris = super::examples(a, &calls);
    if !uris.is_empty() {
        c.evidence.push(Evidence::Examples { uris });
    }
    c.advice.push(
        "check etcd's disk: WAL fsync p99 (etcd_disk_wal_fsync_duration_seconds) should stay under 10 ms and backend commit under 25 ms; etcd wants a dedicated SSD".to_owned(),
    );
    c.advice.push(
        "check etcd's database size against its quota and defragment after compaction; check the network between the API servers and etcd".to_owned(),
    );
    c.advice
        .push("APF cannot fix this: throttling clients only hides a slow etcd".to_owned());
    vec![c]
}
