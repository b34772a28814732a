//! `watch-fanout`: a client on every node watching whole collections cluster-wide. Every change
//! of the collection is sent to every copy, so the events the server serialises and sends grow
//! with nodes × writes; APF seats do not show it (a watch holds seats only while it starts).
//!
//! Events per second sent to the client = its open cluster-wide watches on a resource (from
//! the watch lifetimes in the audit log) × the successful writes per second of that resource
//! (also from the audit log). Watches of services, endpoints and endpointslices are left out:
//! service routing on every node (kube-proxy, CNI agents) needs them cluster-wide. Severity: critical from [`CRITICAL_EVENTS_PER_S`], warning from
//! [`WARNING_EVENTS_PER_S`], info from [`INFO_EVENTS_PER_S`].

use super::{Candidate, by_client, client_name, examples};
use crate::analysis::{Analysis, count, significant};
use crate::finding::{Evidence, Kind, Severity};
use crate::ledger::call::Scope;
use crate::metrics::panel;

/// Events per second sent to one client that saturate a core of the API server.
pub(crate) const CRITICAL_EVENTS_PER_S: f64 = 100_000.0;
/// Events per second worth a warning.
pub(crate) const WARNING_EVENTS_PER_S: f64 = 20_000.0;
/// Events per second worth mentioning.
pub(crate) const INFO_EVENTS_PER_S: f64 = 5_000.0;

/// Resources every node's service routing watches cluster-wide by design.
const SERVICE_ROUTING: [&str; 3] = ["services", "endpoints", "endpointslices"];

/// Mean watch lifetime assumed when no watch of the call closed in the window (client-go
/// picks 5 to 10 minutes).
const DEFAULT_LIFETIME_S: f64 = 450.0;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let span = a.span_s();
    let mut out = Vec::new();
    for (client, calls) in by_client(a, |c| {
        c.verb == "watch"
            && c.scope == Some(Scope::Cluster)
            && !c.selector
            && !c.name_selector
            && !SERVICE_ROUTING.contains(&c.resource.as_str())
    }) {
        if !a.is_per_node(client) {
            continue;
        }
        let mut per_resource: Vec<(String, f64, f64)> = Vec::new();
        for &i in &calls {
            let c = &l.calls[i];
            let life = if c.watches_closed > 0 {
                c.watch_lifetime_s / c.watches_closed as f64
            } else {
                DEFAULT_LIFETIME_S
            };
            let open = c.count as f64 * life.min(span) / span;
            let writes = l.write_rate.get(&c.resource_key()).copied().unwrap_or(0.0);
            per_resource.push((c.resource_key(), open, open * writes));
        }
        let events: f64 = per_resource.iter().map(|r| r.2).sum();
        let severity = if events >= CRITICAL_EVENTS_PER_S {
            Severity::Critical
        } else if events >= WARNING_EVENTS_PER_S {
            Severity::Warning
        } else if events >= INFO_EVENTS_PER_S {
            Severity::Info
        } else {
            continue;
        };
        per_resource.sort_by(|x, y| y.2.total_cmp(&x.2));
        let open: f64 = per_resource.iter().map(|r| r.1).sum();
        let mut c = Candidate::client(
            Kind::WatchFanout,
            client,
            calls.clone(),
            format!(
                "{} watches {} cluster-wide from every node: ~{} events/s sent to it",
                client_name(a, client),
                per_resource
                    .iter()
                    .map(|r| r.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                count(events)
            ),
        );
        c.severity = Some(severity);
        c.figure(
            "events_per_s",
            events,
            "per-s",
            format!(
                "~{} watch events/s: {} open cluster-wide watches {} x the writes of what they watch ({})",
                count(events),
                count(open),
                a.copies(client),
                per_resource
                    .iter()
                    .take(4)
                    .map(|(r, o, e)| format!("{r}: {} watches, {} events/s", count(*o), count(*e)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        );
        if let Some(f) = a.facts {
            let total: f64 = per_resource
                .iter()
                .filter_map(|(r, _, _)| f.watch_events.get(r).map(|v| v.peak))
                .sum();
            if total > 0.0 {
                c.evidence.push(Evidence::Panels {
                    ids: vec![
                        panel::WATCH_EVENTS.to_owned(),
                        panel::WATCHES_BY_RESOURCE.to_owned(),
                    ],
                    text: format!(
                        "the metrics show up to {} watch events/s sent for these resources",
                        count(total)
                    ),
                });
            }
        }
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &calls),
        });
        c.note(format!(
            "a watch holds APF seats only while it starts ({} s), so the cost is CPU and memory spent serialising and sending events, which seats do not count",
            significant(crate::ledger::WATCH_START_S)
        ));
        c.advice.push(
            "watch only what the node needs: fieldSelector=spec.nodeName=$(NODE_NAME) for pods; drop cluster-wide watches the agent does not use (configmaps, services)".to_owned(),
        );
        c.advice.push(
            "if every copy needs the same cluster-wide view, run one copy (a Deployment) that watches and serves the others, instead of one watch per node".to_owned(),
        );
        c.advice.push(
            "the FlowSchema below only paces how fast the watches can be re-opened (after an API server restart every copy reconnects at once); the event fan-out itself is fixed on the client".to_owned(),
        );
        out.push(c);
    }
    out
}
