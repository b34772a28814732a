//! `webhook-slow`: an admission webhook slows every write it intercepts, the server-side cause.
//! Writes from many clients spend a second or more in admission webhooks
//! (`apiserver.latency.k8s.io/validating-webhook` and `mutating-webhook`), holding their APF
//! seats all the while; those that hit the webhook's timeout fail. The metrics name the webhook
//! (`apiserver_admission_webhook_admission_duration_seconds`); the audit log alone does not.
//!
//! Detected when at least [`MIN_SLOW`] writes from at least [`MIN_CLIENTS`] clients spent 1 s
//! or more in webhooks, or when a webhook's p99 in the metrics reaches 1 s. Severity: critical
//! when writes failed on a webhook timeout or the mean webhook time is 1 s or more; warning
//! otherwise.

use super::Candidate;
use crate::analysis::{Analysis, count, significant};
use crate::finding::{Evidence, Kind, Severity};
use crate::metrics::panel;
use std::collections::BTreeSet;

const MIN_SLOW: u64 = 20;
const MIN_CLIENTS: usize = 2;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let mut annotated = 0u64;
    let mut slow = 0u64;
    let mut timeouts = 0u64;
    let mut hook_ms = 0.0;
    let mut held = 0.0;
    let mut clients: BTreeSet<u32> = BTreeSet::new();
    let mut resources: BTreeSet<String> = BTreeSet::new();
    let mut worst: Vec<(u64, usize)> = Vec::new();
    if let Some(l) = a.ledger {
        for (i, c) in l.calls.iter().enumerate() {
            if c.webhook_annotated == 0 {
                continue;
            }
            annotated += c.webhook_annotated;
            slow += c.webhook_slow;
            timeouts += c.webhook_timeouts;
            hook_ms += c.webhook_ms;
            held += l.costs[i].seat_seconds - l.costs[i].own_seat_seconds;
            if c.webhook_slow > 0 {
                clients.insert(c.client);
                resources.insert(c.rule_resource());
                worst.push((c.webhook_slow, i));
            }
        }
    }
    let named: Vec<(String, String, f64)> = a
        .facts
        .map(|f| {
            let mut w: Vec<(String, String, f64)> = f
                .webhooks
                .iter()
                .filter(|(_, _, v)| v.peak >= 1.0)
                .map(|(n, t, v)| (n.clone(), t.clone(), v.peak))
                .collect();
            w.sort_by(|x, y| y.2.total_cmp(&x.2));
            w
        })
        .unwrap_or_default();
    if (slow < MIN_SLOW || clients.len() < MIN_CLIENTS) && named.is_empty() {
        return Vec::new();
    }
    let mean_s = if annotated > 0 {
        hook_ms / 1e3 / annotated as f64
    } else {
        0.0
    };
    let severity = if timeouts > 0 || mean_s >= 1.0 || named.iter().any(|w| w.2 >= 2.0) {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let who = match named.first() {
        Some((name, kind, _)) => format!("{kind} admission webhook {name}"),
        None => "an admission webhook (give --data-dir or --prometheus to name it)".to_owned(),
    };
    let mut c = Candidate::server(
        Kind::WebhookSlow,
        format!(
            "{who} is slow: writes{} wait on it{}",
            if resources.is_empty() {
                String::new()
            } else {
                format!(
                    " of {}",
                    resources
                        .iter()
                        .take(4)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if clients.len() > 1 {
                format!(" from {} clients (no client stands out)", clients.len())
            } else {
                String::new()
            }
        ),
        severity,
    );
    if annotated > 0 {
        c.figure(
            "webhook_mean_s",
            mean_s,
            "s",
            format!(
                "{} writes spent {} s in admission webhooks on average ({} of them 1 s or more)",
                count(annotated as f64),
                significant(mean_s),
                count(slow as f64)
            ),
        );
    }
    if held > 0.0 {
        c.figure(
            "webhook_seat_seconds",
            held,
            "seat-s",
            format!(
                "the webhook held {} APF seat-seconds of its callers' priority levels while they waited",
                count(held)
            ),
        );
    }
    if timeouts > 0 {
        c.figure(
            "webhook_timeouts",
            timeouts as f64,
            "requests",
            format!(
                "{} writes failed with 5xx after 9 s or more in the webhook (its timeout)",
                count(timeouts as f64)
            ),
        );
    }
    if !named.is_empty() {
        c.evidence.push(Evidence::Panels {
            ids: vec![
                panel::WEBHOOK_LATENCY.to_owned(),
                panel::SLOWEST_CALLS.to_owned(),
            ],
            text: format!(
                "webhook p99: {}",
                named
                    .iter()
                    .take(3)
                    .map(|(n, t, p)| format!("{n} ({t}) {}", crate::render::seconds(*p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    worst.sort_by_key(|w| std::cmp::Reverse(w.0));
    let calls: Vec<usize> = worst.iter().take(3).map(|w| w.1).collect();
    let uris = super::examples(a, &calls);
    if !uris.is_empty() {
        c.evidence.push(Evidence::Examples { uris });
    }
    c.advice.push(format!(
        "fix or scale the webhook's backend; until then narrow what {} intercepts (rules, namespaceSelector, objectSelector) and lower timeoutSeconds so a hang costs less",
        named.first().map_or("the webhook", |w| w.0.as_str())
    ));
    c.advice.push(
        "with failurePolicy: Fail a timed-out call fails the write; Ignore lets it through (only where the policy allows it)".to_owned(),
    );
    c.advice.push(
        "APF cannot fix this: the callers hold their seats while the webhook runs, so throttling them only adds queueing".to_owned(),
    );
    vec![c]
}
