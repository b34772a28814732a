//! `level-hog`: a client that holds most of its priority level's seat-seconds while that level
//! rejects or queues, whatever its requests are (lease renewals from too many leader-election
//! candidates, a write storm, GETs in a tight loop). It is the cost-based net under the narrower
//! patterns: a client one of them names is named there (it is preferred), and a client that
//! shares a level that never pushes back is no finding.
//!
//! Per client and level: its share of the level's seat-seconds is at least [`MIN_SHARE`], it
//! keeps material seats busy, and the server pushed back in the window: others of the level were
//! answered 429 or waited [`MIN_OTHERS_WAIT_S`] in queues, or the client itself was answered 429
//! (by APF, or by a rate limit such as the EventRateLimit admission plugin) on at least
//! [`MIN_OWN_REJECTED_SHARE`] of its requests.

use super::{Candidate, client_name, examples, material};
use crate::analysis::{Analysis, count, rate};
use crate::finding::{Evidence, Kind};
use std::collections::BTreeMap;

/// Share of the level's seat-seconds that makes a client the level's hog.
const MIN_SHARE: f64 = 0.5;

/// Seconds of queue wait of the level's other clients that show the level pushing back.
const MIN_OTHERS_WAIT_S: f64 = 10.0;

/// Share of its own requests answered 429 that shows the level pushing back on the client.
const MIN_OWN_REJECTED_SHARE: f64 = 0.01;

/// One client's part of one level.
#[derive(Default)]
struct Part {
    calls: Vec<usize>,
    seat_seconds: f64,
    requests: u64,
    rejected: u64,
    throttled_elsewhere: u64,
    wait_s: f64,
}

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(l) = a.ledger else { return Vec::new() };
    let mut parts: BTreeMap<(u16, u32), Part> = BTreeMap::new();
    for (i, c) in l.calls.iter().enumerate() {
        if c.client == crate::ledger::clients::OTHER {
            continue;
        }
        let p = parts.entry((c.level, c.client)).or_default();
        p.calls.push(i);
        p.seat_seconds += l.costs[i].seat_seconds;
        p.requests += c.count;
        p.rejected += c.rejected;
        p.throttled_elsewhere += c.throttled_elsewhere;
        p.wait_s += c.wait_s;
    }
    let span = a.span_s();
    let mut out = Vec::new();
    for ((level, client), p) in parts {
        // A control-plane component busy in a full level is working through what others cause
        // (endpoints after pod churn, leases while etcd stalls), not a client to confine.
        if is_control_plane(l.clients[client as usize].user()) {
            continue;
        }
        let Some(totals) = l.levels.get(usize::from(level)) else {
            continue;
        };
        if totals.exempt || totals.seat_seconds <= 0.0 || !material(a, &p.calls) {
            continue;
        }
        let share = p.seat_seconds / totals.seat_seconds;
        let others_rejected = totals.rejected.saturating_sub(p.rejected);
        let others_wait_s = (totals.wait_s - p.wait_s).max(0.0);
        let own_rejected_share =
            (p.rejected + p.throttled_elsewhere) as f64 / p.requests.max(1) as f64;
        let pushed_back = others_rejected > 0
            || others_wait_s >= MIN_OTHERS_WAIT_S
            || own_rejected_share >= MIN_OWN_REJECTED_SHARE;
        if share < MIN_SHARE || !pushed_back {
            continue;
        }
        // The call that costs most names what the client does.
        let top = *p
            .calls
            .iter()
            .max_by(|&&x, &&y| l.costs[x].seat_seconds.total_cmp(&l.costs[y].seat_seconds))
            .expect("a part has calls");
        let tc = &l.calls[top];
        let title = format!(
            "{} holds {:.0}% of priority level {}'s seats, mostly {} {} ({})",
            client_name(a, client),
            share * 100.0,
            totals.name,
            tc.verb.to_uppercase(),
            tc.rule_resource(),
            rate(p.requests as f64, span)
        );
        let mut c = Candidate::client(Kind::LevelHog, client, p.calls.clone(), title);
        c.figure(
            "level_share",
            share,
            "ratio",
            format!(
                "{:.0}% of {}'s seat-seconds ({} requests); the level answered 429 to {} requests of others and {} of this client's, others waited {} in its queues{}",
                share * 100.0,
                totals.name,
                count(p.requests as f64),
                count(others_rejected as f64),
                count(p.rejected as f64),
                crate::render::seconds(others_wait_s),
                if p.throttled_elsewhere > 0 {
                    format!(
                        ", and a rate limit outside APF (such as EventRateLimit) answered 429 to {} of its requests",
                        count(p.throttled_elsewhere as f64)
                    )
                } else {
                    String::new()
                }
            ),
        );
        c.evidence.push(Evidence::Examples {
            uris: examples(a, &p.calls),
        });
        c.advice.extend(advice(&tc.verb, &tc.group, &tc.resource));
        out.push(c);
    }
    out
}

/// The control plane, and the controllers kube-controller-manager runs under their own service
/// accounts (`--use-service-account-credentials`: `kube-system:*-controller`, the garbage
/// collector).
fn is_control_plane(user: &str) -> bool {
    crate::identity::is_control_plane(user)
        || user
            .strip_prefix("system:serviceaccount:kube-system:")
            .is_some_and(|sa| sa.ends_with("-controller") || sa == "generic-garbage-collector")
}

/// The client-side change for what the hog mostly does.
fn advice(verb: &str, group: &str, resource: &str) -> Vec<String> {
    let writes = matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    );
    if group == "coordination.k8s.io" && resource == "leases" {
        vec![
            "leader election: keep the client-go defaults (leaseDuration 15 s, renewDeadline 10 s, retryPeriod 2 s); only the leader renews, the other candidates read the lease once per retryPeriod".to_owned(),
            "run fewer candidates (replicas that are not the leader only wait), or one lease per component rather than per replica".to_owned(),
        ]
    } else if writes {
        vec![
            "rate-limit the writes in the client (client-go's QPS and Burst, a rate-limited workqueue) and batch what can be batched".to_owned(),
            "after a 429, honour Retry-After and back off exponentially with jitter".to_owned(),
        ]
    } else {
        vec![
            "read from a shared informer's cache instead of asking the API server each time"
                .to_owned(),
            "lower the client's QPS and Burst (client-go rest.Config) to what it needs".to_owned(),
        ]
    }
}
