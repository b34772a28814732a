//! `slow`: the slowest requests with the apiserver's latency breakdown.

use super::{View, format_us, latency_ms};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::{Annotations, Request};
use crate::summary::Summary;
use crate::uri::Shape;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Requests slower than this carry `apiserver.latency.k8s.io/*` annotations.
const ANNOTATION_THRESHOLD_MS: f64 = 500.0;
/// Slowest requests kept per row shown, to group near-identical ones among them.
const KEPT_PER_ROW: usize = 25;

#[derive(Debug, Clone, PartialEq)]
struct SlowRequest {
    latency_ms: f64,
    audit_id: String,
    received_us: Option<i64>,
    verb: String,
    uri: String,
    client: String,
    code: Option<u16>,
    annotations: Annotations,
}

impl Eq for SlowRequest {}

impl PartialOrd for SlowRequest {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SlowRequest {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.latency_ms
            .total_cmp(&other.latency_ms)
            .then_with(|| other.audit_id.cmp(&self.audit_id))
    }
}

/// The `slow` view: the slowest requests, near-identical ones (same verb, path with the
/// namespace and name left out, query keys, client and code) grouped into one row.
pub struct Slow {
    limit: usize,
    /// How many of the slowest requests are kept to group.
    kept: usize,
    heap: BinaryHeap<Reverse<SlowRequest>>,
    over_threshold: u64,
    over_threshold_without_total: u64,
}

impl Slow {
    /// Shows `limit` rows: the slowest requests, near-identical ones grouped (among the
    /// `limit` × 25 slowest).
    pub fn new(limit: usize) -> Slow {
        let limit = limit.max(1);
        Slow {
            limit,
            kept: limit.saturating_mul(KEPT_PER_ROW),
            heap: BinaryHeap::new(),
            over_threshold: 0,
            over_threshold_without_total: 0,
        }
    }

    fn offer(&mut self, r: SlowRequest) {
        if self.heap.len() < self.kept {
            self.heap.push(Reverse(r));
        } else if self.heap.peek().is_some_and(|Reverse(min)| r > *min) {
            self.heap.pop();
            self.heap.push(Reverse(r));
        }
    }
}

impl View for Slow {
    fn add(&mut self, req: &Request<'_>) {
        let Some(ms) = latency_ms(req) else { return };
        let has_total = req
            .annotations
            .is_some_and(|a| a.contains("apiserver.latency.k8s.io/total"));
        if ms > ANNOTATION_THRESHOLD_MS {
            self.over_threshold += 1;
            if !has_total {
                self.over_threshold_without_total += 1;
            }
        }
        let admit = self.heap.len() < self.kept
            || self
                .heap
                .peek()
                .is_some_and(|Reverse(min)| ms > min.latency_ms);
        if !admit {
            return;
        }
        self.offer(SlowRequest {
            latency_ms: ms,
            audit_id: req.audit_id.to_string(),
            received_us: req.received_us,
            verb: req.verb.to_string(),
            uri: req.request_uri.to_string(),
            client: client_key(req),
            code: req.code,
            annotations: req.annotations(),
        });
    }

    fn merge(&mut self, other: Slow) {
        self.over_threshold += other.over_threshold;
        self.over_threshold_without_total += other.over_threshold_without_total;
        for Reverse(r) in other.heap {
            self.offer(r);
        }
    }

    fn finish(self, _summary: &Summary) -> Report {
        let mut slow: Vec<SlowRequest> = self.heap.into_iter().map(|Reverse(r)| r).collect();
        slow.sort_by(|a, b| b.cmp(a));
        // Slowest first, so each group's first member is its slowest.
        // (slowest, count, fastest latency, every member has the slowest one's URI)
        let mut groups: Vec<(SlowRequest, u64, f64, bool)> = Vec::new();
        let mut index: BTreeMap<(String, String, String, Option<u16>), usize> = BTreeMap::new();
        for r in slow {
            let key = (r.verb.clone(), template(&r.uri), r.client.clone(), r.code);
            match index.get(&key) {
                Some(&i) => {
                    let group = &mut groups[i];
                    group.1 += 1;
                    group.2 = group.2.min(r.latency_ms);
                    group.3 &= group.0.uri == r.uri;
                }
                None => {
                    index.insert(key, groups.len());
                    let fastest = r.latency_ms;
                    groups.push((r, 1, fastest, true));
                }
            }
        }
        groups.truncate(self.limit);
        let ms = |v: Option<f64>| v.map_or(Cell::Empty, |v| Cell::Float(v, 1));
        let rows = groups
            .into_iter()
            .map(|(r, count, fastest, same_uri)| {
                let a = &r.annotations;
                let webhooks = match (a.mutating_webhook_ms, a.validating_webhook_ms) {
                    (None, None) => None,
                    (m, v) => Some(m.unwrap_or(0.0) + v.unwrap_or(0.0)),
                };
                Row {
                    key: if same_uri {
                        r.uri.clone()
                    } else {
                        template(&r.uri)
                    },
                    count,
                    cells: vec![
                        Cell::Float(r.latency_ms, 1),
                        Cell::Float(fastest, 1),
                        Cell::Text(r.verb.clone()),
                        r.code.map_or(Cell::Empty, |c| Cell::Int(u64::from(c))),
                        Cell::Text(r.client.clone()),
                        ms(a.etcd_ms),
                        ms(a.apf_queue_wait_ms),
                        ms(webhooks),
                        ms(a.serialize_ms),
                        ms(a.transform_ms),
                        ms(a.decode_ms),
                        ms(a.response_write_ms),
                        ms(a.total_ms),
                        r.received_us
                            .map_or(Cell::Empty, |t| Cell::Text(format_us(t))),
                        Cell::Text(r.audit_id.clone()),
                    ],
                }
            })
            .collect();
        let mut notes = vec![
            "latency_ms is stageTimestamp - requestReceivedTimestamp (watches and exec/attach/proxy left out)".to_owned(),
            format!(
                "near-identical requests are one row: same verb, path (namespace and name as *), query keys, client and code; count says how many, latency_ms is the slowest and fastest_ms the fastest of them, the breakdown and audit id are the slowest one's (grouped among the {} slowest requests)",
                self.kept
            ),
            "the apiserver.latency.k8s.io/* breakdown (etcd, apf-queue-wait, webhooks, serialize, ...) is written only for requests over 500 ms (1.24+; apf-queue-wait 1.31+, decode 1.30+): faster requests show no breakdown, and statistics built on it only describe slow requests".to_owned(),
            "a slow request without an etcd figure was not slowed by etcd (served from the watch cache); apf_wait near 15 s means it queued for APF seats until timeout".to_owned(),
        ];
        if self.over_threshold_without_total > 0 {
            notes.push(format!(
                "{} of {} requests over 500 ms have no apiserver.latency.k8s.io/total annotation: the server may be 1.34.0-1.34.6 or 1.35.0-1.35.3, which dropped them (kubernetes#135684), or older than 1.24",
                self.over_threshold_without_total, self.over_threshold
            ));
        }
        Report {
            view: "slow".to_owned(),
            key_name: "request_uri".to_owned(),
            columns: [
                "latency_ms",
                "fastest_ms",
                "verb",
                "code",
                "client",
                "etcd_ms",
                "apf_wait_ms",
                "webhook_ms",
                "serialize_ms",
                "transform_ms",
                "decode_ms",
                "write_ms",
                "total_ms",
                "received",
                "audit_id",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            notes,
            approximate: false,
        }
    }
}

/// The request URI with what varies between near-identical requests left out: the namespace
/// and object name become `*`, query values too (except `limit`, which changes the request).
///
/// `/api/v1/namespaces/web/pods/api-7d9f?timeout=30s` becomes
/// `/api/v1/namespaces/*/pods/*?timeout=*`.
fn template(uri: &str) -> String {
    let shape = Shape::parse(uri);
    let mut out = String::new();
    if shape.non_resource {
        out.push_str(uri.split('?').next().unwrap_or(uri));
    } else {
        if shape.group.is_empty() {
            out.push_str("/api/");
        } else {
            out.push_str("/apis/");
            out.push_str(shape.group);
            out.push('/');
        }
        out.push_str(shape.version);
        if shape.watch_path {
            out.push_str("/watch");
        }
        if !shape.namespace.is_empty() {
            out.push_str("/namespaces/*");
        }
        if shape.resource == "namespaces" && !shape.namespace.is_empty() {
            // The namespace object itself: its name is the namespace.
        } else if !shape.resource.is_empty() {
            out.push('/');
            out.push_str(shape.resource);
            if !shape.name.is_empty() {
                out.push_str("/*");
            }
        }
        if !shape.subresource.is_empty() {
            out.push('/');
            out.push_str(shape.subresource);
        }
    }
    if !shape.query.is_empty() {
        let mut keys: Vec<String> = shape
            .query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some(("limit", v)) => format!("limit={v}"),
                Some((k, _)) => format!("{k}=*"),
                None => pair.to_owned(),
            })
            .collect();
        keys.sort();
        keys.dedup();
        out.push('?');
        out.push_str(&keys.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn templates_leave_out_what_varies() {
        for (uri, want) in [
            (
                "/api/v1/namespaces/web/pods/api-7d9f?timeout=30s",
                "/api/v1/namespaces/*/pods/*?timeout=*",
            ),
            (
                "/apis/apps/v1/namespaces/team-01/deployments/cart-3",
                "/apis/apps/v1/namespaces/*/deployments/*",
            ),
            (
                "/api/v1/nodes/ip-10-16-0-1/status",
                "/api/v1/nodes/*/status",
            ),
            (
                "/api/v1/pods?limit=500&resourceVersion=0",
                "/api/v1/pods?limit=500&resourceVersion=*",
            ),
            ("/api/v1/namespaces/kube-system", "/api/v1/namespaces/*"),
            ("/healthz", "/healthz"),
        ] {
            assert_eq!(template(uri), want, "{uri}");
        }
    }
}
