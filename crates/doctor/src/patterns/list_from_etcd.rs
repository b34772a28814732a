//! `list-from-etcd`: LISTs the server reads from etcd rather than the watch cache. Whether a
//! LIST reaches etcd follows the audit crate's version rules (`served_from`), overridden by what
//! the event itself shows (an `apiserver.latency.k8s.io/etcd` annotation).

use super::{Candidate, by_client, client_name, examples, material};
use crate::analysis::{Analysis, bytes, count, rate};
use crate::finding::{Evidence, Kind};
use crate::ledger::call::Rv;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let span = a.span_s();
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| c.verb == "list" && !c.from_cache && c.count >= 2) {
        if !material(a, &calls) {
            continue;
        }
        let lists: u64 = calls.iter().map(|&i| l.calls[i].count).sum();
        let etcd_bytes: f64 = calls.iter().map(|&i| l.costs[i].etcd_bytes).sum();
        let etcd_ms: f64 = calls.iter().map(|&i| l.calls[i].etcd_ms).sum();
        let observed: u64 = calls.iter().map(|&i| l.calls[i].etcd_annotated).sum();
        let no_rv = calls.iter().any(|&i| l.calls[i].rv == Some(Rv::Absent));
        let mut resources: Vec<String> = calls.iter().map(|&i| l.calls[i].resource_key()).collect();
        resources.sort();
        resources.dedup();
        let title = format!(
            "{} LISTs {} from etcd, not the watch cache ({}{})",
            client_name(a, client),
            resources.join(", "),
            rate(lists as f64, span),
            if etcd_bytes > 0.0 {
                format!(", ~{}/s read from etcd", bytes(etcd_bytes / span))
            } else {
                String::new()
            }
        );
        let mut c = Candidate::client(Kind::ListFromEtcd, client, calls.clone(), title);
        c.figure(
            "etcd_lists",
            lists as f64,
            "requests",
            format!(
                "{} LISTs served by etcd{}",
                count(lists as f64),
                if observed > 0 {
                    format!(
                        " ({} of them carry an etcd latency annotation, {} in etcd in total)",
                        count(observed as f64),
                        crate::render::seconds(etcd_ms / 1e3)
                    )
                } else {
                    format!(
                        " (by the Kubernetes {}.{} rules: no resourceVersion means a consistent read)",
                        a.version.major, a.version.minor
                    )
                }
            ),
        );
        if etcd_bytes > 0.0 {
            c.figure(
                "etcd_bytes",
                etcd_bytes,
                "bytes",
                format!(
                    "about {} read from etcd ({}/s): objects per LIST x average object size",
                    bytes(etcd_bytes),
                    bytes(etcd_bytes / span)
                ),
            );
        }
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        if no_rv {
            c.advice.push(
                "add resourceVersion=0 to the LIST (any recent state will do): the watch cache answers it without touching etcd".to_owned(),
            );
            if a.version.at_least(1, 31) && observed > 0 {
                c.advice.push(
                    "from 1.31 consistent LISTs are served from the watch cache only when etcd supports progress notifications (etcd 3.4.31+/3.5.13+ with --experimental-watch-progress-notify-interval): this cluster's LISTs still reach etcd".to_owned(),
                );
            }
        }
        c.advice
            .push("better: a shared informer, which LISTs once and then WATCHes".to_owned());
        out.push(c);
    }
    out
}
