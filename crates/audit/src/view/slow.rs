//! `slow`: the slowest requests with the apiserver's latency breakdown.

use super::{View, format_us, latency_ms};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::{Annotations, Request};
use crate::scan::Summary;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Requests slower than this carry `apiserver.latency.k8s.io/*` annotations.
const ANNOTATION_THRESHOLD_MS: f64 = 500.0;

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

/// The `slow` view.
pub struct Slow {
    limit: usize,
    heap: BinaryHeap<Reverse<SlowRequest>>,
    over_threshold: u64,
    over_threshold_without_total: u64,
}

impl Slow {
    /// Keeps the `limit` slowest requests.
    pub fn new(limit: usize) -> Slow {
        Slow {
            limit: limit.max(1),
            heap: BinaryHeap::new(),
            over_threshold: 0,
            over_threshold_without_total: 0,
        }
    }

    fn offer(&mut self, r: SlowRequest) {
        if self.heap.len() < self.limit {
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
        let admit = self.heap.len() < self.limit
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
        let ms = |v: Option<f64>| v.map_or(Cell::Empty, |v| Cell::Float(v, 1));
        let rows = slow
            .into_iter()
            .map(|r| {
                let a = &r.annotations;
                let webhooks = match (a.mutating_webhook_ms, a.validating_webhook_ms) {
                    (None, None) => None,
                    (m, v) => Some(m.unwrap_or(0.0) + v.unwrap_or(0.0)),
                };
                Row {
                    key: r.uri.clone(),
                    count: 1,
                    cells: vec![
                        Cell::Float(r.latency_ms, 1),
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
