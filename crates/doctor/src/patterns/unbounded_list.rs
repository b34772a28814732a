//! `unbounded-list`: cluster-wide LISTs without `limit` or selector, each returning the whole
//! collection in one response. One service account sending them from many source IPs is a DaemonSet, whose
//! every pod repeats the LIST.

use super::{Candidate, by_client, client_name, examples, material};
use crate::analysis::{Analysis, count, rate};
use crate::finding::{Evidence, Kind};
use crate::ledger::call::Scope;
use crate::ledger::result::CountSource;

/// LISTs of one call before it counts as a pattern rather than a one-off.
const MIN_LISTS: u64 = 2;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let span = a.span_s();
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| {
        c.verb == "list"
            && c.scope == Some(Scope::Cluster)
            && c.limit.is_none()
            && !c.selector
            && c.count >= MIN_LISTS
    }) {
        if !material(a, &calls) {
            continue;
        }
        let lists: u64 = calls.iter().map(|&i| l.calls[i].count).sum();
        let resources: Vec<String> = {
            let mut r: Vec<String> = calls.iter().map(|&i| l.calls[i].resource_key()).collect();
            r.sort();
            r.dedup();
            r
        };
        let daemonset = a.is_per_node(client);
        let name = client_name(a, client);
        let title = format!(
            "{name} LISTs all {} cluster-wide without limit, {}{}",
            resources.join(", "),
            rate(lists as f64, span),
            if daemonset {
                " from every node (a DaemonSet)"
            } else {
                ""
            }
        );
        let mut c = Candidate::client(Kind::UnboundedList, client, calls.clone(), title);
        c.figure(
            "lists",
            lists as f64,
            "requests",
            format!(
                "{} unbounded cluster-wide LISTs ({}) {}",
                count(lists as f64),
                rate(lists as f64, span),
                a.copies(client)
            ),
        );
        let biggest = calls
            .iter()
            .copied()
            .max_by(|&x, &y| l.costs[x].seat_seconds.total_cmp(&l.costs[y].seat_seconds))
            .expect("at least one call");
        let cost = &l.costs[biggest];
        if let Some(objects) = cost.objects {
            let source = match cost.count_source {
                CountSource::Metrics => "objects stored, from the metrics",
                CountSource::AuditPages => "estimated from paginated LISTs in the audit log",
                CountSource::WorstCase => "unknown",
            };
            c.figure(
                "objects_per_list",
                objects,
                "objects",
                format!(
                    "each returns about {} {} ({source})",
                    count(objects),
                    l.calls[biggest].resource
                ),
            );
        }
        c.figure(
            "seats_per_list",
            f64::from(cost.estimate.initial_seats),
            "seats",
            format!(
                "each occupies {} APF seats for {:.2} s on average",
                cost.estimate.initial_seats,
                l.calls[biggest].mean_exec_s()
            ),
        );
        if daemonset {
            c.note(
                "one service account from many pods: every copy of the DaemonSet repeats the same LIST, so the cost grows with the node count".to_owned(),
            );
        }
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        c.advice.push(
            "read the collection once and keep it current with a WATCH: a client-go shared informer (reflector) LISTs with resourceVersion=0 from the watch cache, then watches with bookmarks".to_owned(),
        );
        if daemonset && resources.iter().any(|r| r == "pods") {
            c.advice.push(
                "a per-node agent needs only its node's pods: add fieldSelector=spec.nodeName=$(NODE_NAME) (downward API), or read pod metadata from the local kubelet (GET https://$(NODE_IP):10250/pods), which costs the API server nothing".to_owned(),
            );
        }
        // The server ignores `limit` on a LIST with resourceVersion=0 (every release): paging
        // such a LIST needs another resourceVersion.
        let from_rv0 = calls
            .iter()
            .any(|&i| l.calls[i].rv == Some(crate::ledger::call::Rv::Zero));
        c.advice.push(if from_rv0 {
            "if a full LIST is unavoidable, page it with limit=500 and continue, without resourceVersion=0: the server ignores limit on a LIST with resourceVersion=0 and returns the whole collection".to_owned()
        } else {
            "if a full LIST is unavoidable, page it: limit=500 and continue, so no single response holds the whole collection".to_owned()
        });
        out.push(c);
    }
    out
}
