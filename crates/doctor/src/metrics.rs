//! What the metrics say, read from the troubleshooter report's panels (the catalog is the one
//! home of PromQL; the doctor reads the figures the report already reduced).

use apilens_report::{PanelSummary, Report};
use std::collections::BTreeMap;

/// Panel ids the doctor reads and cites as evidence.
pub(crate) mod panel {
    /// Seats in use over each level's limit.
    pub(crate) const LEVEL_UTILISATION: &str = "apf-priority-level-utilisation";
    /// Queue wait p90/p99 per level.
    pub(crate) const QUEUE_WAIT: &str = "apf-queue-wait";
    /// Rejections per level, schema and reason.
    pub(crate) const REJECTIONS: &str = "apf-rejections";
    /// Seats in use against the pool, per server.
    pub(crate) const SEATS_VS_POOL: &str = "apf-seats-vs-pool";
    /// Objects stored per resource.
    pub(crate) const OBJECT_COUNTS: &str = "object-counts";
    /// LIST response size p99 per resource and scope.
    pub(crate) const LIST_SIZES: &str = "list-response-sizes";
    /// etcd latency p99 per operation and resource.
    pub(crate) const ETCD_LATENCY: &str = "etcd-latency-by-operation";
    /// etcd's share of API latency.
    pub(crate) const ETCD_SHARE: &str = "etcd-share-of-latency";
    /// Webhook latency p99 per webhook.
    pub(crate) const WEBHOOK_LATENCY: &str = "admission-webhook-latency";
    /// WATCH events sent per resource.
    pub(crate) const WATCH_EVENTS: &str = "watch-events-by-resource";
    /// Open watches per resource.
    pub(crate) const WATCHES_BY_RESOURCE: &str = "watches-by-resource";
    /// Per-replica load against the mean.
    pub(crate) const REPLICA_IMBALANCE: &str = "replica-imbalance";
    /// The slowest calls.
    pub(crate) const SLOWEST_CALLS: &str = "slowest-calls";
}

/// Peak and mean of one level's figure over the range.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct PeakMean {
    pub(crate) peak: f64,
    pub(crate) mean: f64,
}

/// The figures the doctor takes from the metrics.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricsFacts {
    /// `kubernetes_build_info` git versions.
    pub(crate) versions: Vec<String>,
    /// API server replicas scraped.
    pub(crate) replicas: Option<u32>,
    /// Objects stored per resource (`pods`, `widgets.acme.example.com`), the peak.
    pub(crate) objects: BTreeMap<String, f64>,
    /// The seat pool per server (sum of nominal limit seats), when exposed.
    pub(crate) seat_pool: Option<f64>,
    /// Utilisation of each level's seats, percent, worst server.
    pub(crate) utilisation: BTreeMap<String, PeakMean>,
    /// Queue wait p99 per level, seconds.
    pub(crate) wait_p99: BTreeMap<String, PeakMean>,
    /// Rejections per second per level (summed over schemas and reasons).
    pub(crate) rejections: BTreeMap<String, PeakMean>,
    /// Rejections per (level, schema, reason).
    pub(crate) rejection_rows: Vec<(String, String, String, PeakMean)>,
    /// Webhook p99 latency per (webhook name, type), seconds.
    pub(crate) webhooks: Vec<(String, String, PeakMean)>,
    /// etcd p99 latency per (operation, resource), seconds.
    pub(crate) etcd_latency: Vec<(String, String, PeakMean)>,
    /// WATCH events per second per resource.
    pub(crate) watch_events: BTreeMap<String, PeakMean>,
    /// Panels that failed (their errors), to say so.
    pub(crate) errors: Vec<String>,
}

impl MetricsFacts {
    /// Reads the panels of `report`.
    pub(crate) fn from_report(report: &Report) -> MetricsFacts {
        let mut f = MetricsFacts {
            versions: report.kubernetes_versions.clone(),
            replicas: report
                .targets
                .iter()
                .find(|(job, _)| job == "apiserver")
                .map(|(_, n)| *n as u32)
                .filter(|n| *n > 0),
            ..MetricsFacts::default()
        };
        let panels: BTreeMap<&str, &PanelSummary> = report
            .sections
            .iter()
            .flat_map(|s| &s.panels)
            .map(|p| (p.id.as_str(), p))
            .collect();
        for p in panels.values() {
            for e in &p.errors {
                f.errors.push(format!("{}: {e}", p.id));
            }
        }
        let series = |id: &str, query: &str| -> Vec<(Vec<String>, PeakMean)> {
            panels
                .get(id)
                .map(|p| {
                    p.series
                        .iter()
                        .filter(|s| s.query == query)
                        .filter(|s| s.peak.is_finite())
                        .map(|s| {
                            (
                                s.legend.split_whitespace().map(str::to_owned).collect(),
                                PeakMean {
                                    peak: s.peak,
                                    mean: if s.mean.is_finite() { s.mean } else { 0.0 },
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for (words, v) in series(panel::OBJECT_COUNTS, "objects") {
            if let Some(resource) = words.first() {
                let key = match words.get(1) {
                    Some(group) => format!("{resource}.{group}"),
                    None => resource.clone(),
                };
                let e = f.objects.entry(key).or_default();
                *e = e.max(v.peak);
            }
        }
        for (words, v) in series(panel::SEATS_VS_POOL, "pool") {
            let _ = words;
            f.seat_pool = Some(f.seat_pool.unwrap_or(0.0).max(v.peak));
        }
        for (words, v) in series(panel::LEVEL_UTILISATION, "utilisation") {
            if let Some(level) = words.first() {
                worst(&mut f.utilisation, level, v);
            }
        }
        for (words, v) in series(panel::QUEUE_WAIT, "p99") {
            // Legend `p99 <level>`.
            if let Some(level) = words.get(1) {
                worst(&mut f.wait_p99, level, v);
            }
        }
        for (words, v) in series(panel::REJECTIONS, "rejections") {
            if let [level, schema, reason, ..] = &words[..] {
                let e = f.rejections.entry(level.clone()).or_default();
                e.peak += v.peak;
                e.mean += v.mean;
                f.rejection_rows
                    .push((level.clone(), schema.clone(), reason.clone(), v));
            }
        }
        for (words, v) in series(panel::WEBHOOK_LATENCY, "p99") {
            if let Some(name) = words.first() {
                let kind = words.get(1).cloned().unwrap_or_default();
                f.webhooks.push((name.clone(), kind, v));
            }
        }
        for (words, v) in series(panel::ETCD_LATENCY, "p99") {
            if let Some(op) = words.first() {
                let resource = words.get(1).cloned().unwrap_or_default();
                f.etcd_latency.push((op.clone(), resource, v));
            }
        }
        for (words, v) in series(panel::WATCH_EVENTS, "events") {
            if let Some(resource) = words.first() {
                let key = match words.get(1) {
                    Some(group) => format!("{resource}.{group}"),
                    None => resource.clone(),
                };
                worst(&mut f.watch_events, &key, v);
            }
        }
        f
    }

    /// True when `level` ran at its seat limit (utilisation peak ≥ 100 %), queued past
    /// `wait_s` at p99, or rejected requests.
    pub(crate) fn level_saturated(&self, level: &str, wait_s: f64) -> bool {
        self.utilisation.get(level).is_some_and(|v| v.peak >= 99.5)
            || self.wait_p99.get(level).is_some_and(|v| v.peak >= wait_s)
            || self.rejections.get(level).is_some_and(|v| v.peak > 0.0)
    }

    /// A sentence of what the metrics say about `level`, and the panels that say it.
    pub(crate) fn level_sentence(&self, level: &str) -> Option<(String, Vec<String>)> {
        let mut parts = Vec::new();
        let mut ids = Vec::new();
        if let Some(v) = self.utilisation.get(level) {
            parts.push(format!(
                "{level} peaked at {:.0}% of its seats (mean {:.0}%)",
                v.peak, v.mean
            ));
            ids.push(panel::LEVEL_UTILISATION.to_owned());
        }
        if let Some(v) = self.wait_p99.get(level).filter(|v| v.peak >= 0.1) {
            parts.push(format!(
                "queue wait p99 peaked at {}",
                crate::render::seconds(v.peak)
            ));
            ids.push(panel::QUEUE_WAIT.to_owned());
        }
        if let Some(v) = self.rejections.get(level).filter(|v| v.peak > 0.0) {
            parts.push(format!(
                "it rejected up to {:.2}/s (mean {:.2}/s)",
                v.peak, v.mean
            ));
            ids.push(panel::REJECTIONS.to_owned());
        }
        (!parts.is_empty()).then(|| (parts.join(", "), ids))
    }
}

fn worst(map: &mut BTreeMap<String, PeakMean>, key: &str, v: PeakMean) {
    let e = map.entry(key.to_owned()).or_default();
    e.peak = e.peak.max(v.peak);
    e.mean = e.mean.max(v.mean);
}
