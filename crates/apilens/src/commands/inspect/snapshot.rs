//! What one scrape says about the server now and since it started, gathered family by family.

use apilens_model::Labels;
use apilens_textparse::families::{Bucket, Family, Histogram, Metric};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Default `--max-requests-inflight` of kube-apiserver.
pub(crate) const READ_LIMIT: f64 = 400.0;
/// Default `--max-mutating-requests-inflight` of kube-apiserver.
pub(crate) const WRITE_LIMIT: f64 = 200.0;
/// Rows kept in each top list.
const TOP: usize = 10;

/// Families whose metrics the snapshot reads; every other family is only counted.
pub(crate) fn wanted(name: &str) -> bool {
    matches!(
        name,
        "kubernetes_build_info"
            | "apiserver_current_inflight_requests"
            | "apiserver_longrunning_requests"
            | "apiserver_longrunning_gauge"
            | "apiserver_registered_watchers"
            | "apiserver_flowcontrol_current_executing_requests"
            | "apiserver_flowcontrol_current_inqueue_requests"
            | "apiserver_flowcontrol_current_executing_seats"
            | "apiserver_flowcontrol_request_concurrency_in_use"
            | "apiserver_flowcontrol_current_limit_seats"
            | "apiserver_flowcontrol_nominal_limit_seats"
            | "apiserver_flowcontrol_request_concurrency_limit"
            | "apiserver_flowcontrol_rejected_requests_total"
            | "apiserver_resource_objects"
            | "apiserver_storage_objects"
            | "etcd_object_counts"
            | "apiserver_storage_size_bytes"
            | "apiserver_storage_db_total_size_in_bytes"
            | "etcd_db_total_size_in_bytes"
            | "apiserver_request_duration_seconds"
            | "etcd_request_duration_seconds"
    )
}

/// In-flight requests of one kind against its limit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Inflight {
    /// `readOnly`, `mutating`, or `all` (both kinds against the APF seat pool they share).
    pub(crate) kind: String,
    /// Requests in flight at scrape time.
    pub(crate) value: f64,
    /// The limit: the server's APF seat pool for `all`, else the default flag of the kind.
    pub(crate) limit: Option<f64>,
    /// Where the limit comes from: the metric summed for the seat pool, or the default flag.
    pub(crate) limit_source: String,
}

/// A named value in a top list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Named {
    /// What is counted: a resource, a kind.
    pub(crate) name: String,
    /// The value.
    pub(crate) value: f64,
}

/// The APF state of one priority level.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PriorityLevel {
    /// Priority level name.
    pub(crate) name: String,
    /// Requests executing.
    pub(crate) executing_requests: Option<f64>,
    /// Requests waiting in queues.
    pub(crate) queued_requests: Option<f64>,
    /// Seats occupied by executing requests.
    pub(crate) executing_seats: Option<f64>,
    /// The seat limit (current after borrowing, else nominal).
    pub(crate) limit_seats: Option<f64>,
    /// Requests rejected since start, by reason.
    pub(crate) rejected: BTreeMap<String, f64>,
}

/// Latency quantiles of one kind of call, estimated from a histogram since process start.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    /// Verb or etcd operation.
    pub(crate) verb: String,
    /// Resource, with its API group after a dot when it has one.
    pub(crate) resource: String,
    /// Subresource, empty when none.
    pub(crate) subresource: String,
    /// `cluster`, `namespace` or `resource` for API calls; empty for etcd.
    pub(crate) scope: String,
    /// Number of calls observed.
    pub(crate) count: f64,
    /// Median in seconds.
    pub(crate) p50: f64,
    /// 90th percentile in seconds.
    pub(crate) p90: f64,
    /// 99th percentile in seconds.
    pub(crate) p99: f64,
}

/// Everything the snapshot gathered.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) build_info: Option<BTreeMap<String, String>>,
    inflight: BTreeMap<String, f64>,
    watches: [BTreeMap<String, f64>; 3],
    apf: BTreeMap<String, PriorityLevel>,
    limits: [BTreeMap<String, f64>; 3],
    seats: [BTreeMap<String, f64>; 2],
    objects: [BTreeMap<String, f64>; 3],
    db_size: [Option<f64>; 3],
    calls: HashMap<[String; 4], Vec<Bucket>>,
    etcd: HashMap<[String; 2], Vec<Bucket>>,
}

fn sum_into(map: &mut BTreeMap<String, f64>, key: String, v: f64) {
    *map.entry(key).or_default() += v;
}

fn label(labels: &Labels, name: &str) -> String {
    labels.get(name).unwrap_or("").to_owned()
}

fn with_group(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

/// Adds `buckets` into `into`, bucket by bucket, matching bounds by value.
fn merge(into: &mut Vec<Bucket>, buckets: &[Bucket]) {
    for b in buckets {
        match into.binary_search_by(|x| x.le.total_cmp(&b.le)) {
            Ok(i) => into[i].count += b.count,
            Err(i) => into.insert(i, *b),
        }
    }
}

impl Snapshot {
    /// Reads the metrics of one family the snapshot wants.
    pub(crate) fn observe(&mut self, family: &Family) {
        for metric in &family.metrics {
            match metric {
                Metric::Sample(s) => self.observe_sample(&family.name, &s.labels, s.value),
                Metric::Histogram(h) => self.observe_histogram(&family.name, h),
                Metric::Summary(_) => {}
            }
        }
    }

    fn observe_sample(&mut self, family: &str, l: &Labels, v: f64) {
        let pl = || label(l, "priority_level");
        match family {
            "kubernetes_build_info" => {
                self.build_info = Some(
                    l.iter()
                        .map(|x| (x.name.clone(), x.value.clone()))
                        .collect(),
                );
            }
            "apiserver_current_inflight_requests" => {
                let kind = l
                    .get("request_kind")
                    .or_else(|| l.get("requestKind"))
                    .unwrap_or("");
                sum_into(&mut self.inflight, kind.to_owned(), v);
            }
            "apiserver_longrunning_requests" | "apiserver_longrunning_gauge"
                if l.get("verb") == Some("WATCH") =>
            {
                let idx = usize::from(family == "apiserver_longrunning_gauge");
                let key = with_group(&label(l, "resource"), &label(l, "group"));
                sum_into(&mut self.watches[idx], key, v);
            }
            "apiserver_registered_watchers" => {
                let key = with_group(&label(l, "kind"), &label(l, "group"));
                sum_into(&mut self.watches[2], key, v);
            }
            "apiserver_flowcontrol_current_executing_requests" => {
                let e = self.level(pl());
                *e.executing_requests.get_or_insert(0.0) += v;
            }
            "apiserver_flowcontrol_current_inqueue_requests" => {
                let e = self.level(pl());
                *e.queued_requests.get_or_insert(0.0) += v;
            }
            "apiserver_flowcontrol_current_executing_seats" => {
                sum_into(&mut self.seats[0], pl(), v)
            }
            "apiserver_flowcontrol_request_concurrency_in_use" => {
                sum_into(&mut self.seats[1], pl(), v)
            }
            "apiserver_flowcontrol_current_limit_seats" => sum_into(&mut self.limits[0], pl(), v),
            "apiserver_flowcontrol_nominal_limit_seats" => sum_into(&mut self.limits[1], pl(), v),
            "apiserver_flowcontrol_request_concurrency_limit" => {
                sum_into(&mut self.limits[2], pl(), v)
            }
            "apiserver_flowcontrol_rejected_requests_total" => {
                let reason = label(l, "reason");
                let e = self.level(pl());
                sum_into(&mut e.rejected, reason, v);
            }
            "apiserver_resource_objects" => {
                let key = with_group(&label(l, "resource"), &label(l, "group"));
                sum_into(&mut self.objects[0], key, v);
            }
            "apiserver_storage_objects" => sum_into(&mut self.objects[1], label(l, "resource"), v),
            "etcd_object_counts" => sum_into(&mut self.objects[2], label(l, "resource"), v),
            "apiserver_storage_size_bytes" => self.max_db(0, v),
            "apiserver_storage_db_total_size_in_bytes" => self.max_db(1, v),
            "etcd_db_total_size_in_bytes" => self.max_db(2, v),
            _ => {}
        }
    }

    fn max_db(&mut self, idx: usize, v: f64) {
        let slot = &mut self.db_size[idx];
        *slot = Some(slot.map_or(v, |old| old.max(v)));
    }

    fn level(&mut self, name: String) -> &mut PriorityLevel {
        self.apf
            .entry(name.clone())
            .or_insert_with(|| PriorityLevel {
                name,
                ..PriorityLevel::default()
            })
    }

    fn observe_histogram(&mut self, family: &str, h: &Histogram) {
        let l = &h.labels;
        match family {
            "apiserver_request_duration_seconds" => {
                let verb = label(l, "verb");
                // WATCH and CONNECT durations are connection lifetimes, not latency.
                if matches!(verb.as_str(), "WATCH" | "WATCHLIST" | "CONNECT") {
                    return;
                }
                let key = [
                    verb,
                    with_group(&label(l, "resource"), &label(l, "group")),
                    label(l, "subresource"),
                    label(l, "scope"),
                ];
                merge(self.calls.entry(key).or_default(), &h.buckets);
            }
            "etcd_request_duration_seconds" => {
                let resource = match l.get("resource") {
                    Some(r) => with_group(r, &label(l, "group")),
                    None => label(l, "type"),
                };
                let key = [label(l, "operation"), resource];
                merge(self.etcd.entry(key).or_default(), &h.buckets);
            }
            _ => {}
        }
    }

    /// The server's APF seat pool, and the metric it was summed from: nominal seats (1.26+) or
    /// the concurrency limit (1.20-1.30), over every priority level.
    pub(crate) fn seat_pool(&self) -> Option<(f64, &'static str)> {
        [
            (&self.limits[1], "apiserver_flowcontrol_nominal_limit_seats"),
            (
                &self.limits[2],
                "apiserver_flowcontrol_request_concurrency_limit",
            ),
        ]
        .into_iter()
        .find(|(m, _)| !m.is_empty())
        .map(|(m, metric)| (m.values().sum(), metric))
    }

    /// In-flight requests by kind. Where the server exposes its APF seat pool, both kinds
    /// together are read against it (APF enforces that pool, which the two max-inflight flags
    /// size together); otherwise each kind against its default flag.
    pub(crate) fn inflight(&self) -> Vec<Inflight> {
        match self.seat_pool() {
            Some((pool, metric)) => {
                let mut rows: Vec<Inflight> = self
                    .inflight
                    .iter()
                    .map(|(kind, &value)| Inflight {
                        kind: kind.clone(),
                        value,
                        limit: None,
                        limit_source: "shares the APF seat pool".to_owned(),
                    })
                    .collect();
                if !rows.is_empty() {
                    rows.push(Inflight {
                        kind: "all".to_owned(),
                        value: self.inflight.values().sum(),
                        limit: Some(pool),
                        limit_source: format!("APF seat pool: {metric} summed"),
                    });
                }
                rows
            }
            None => self
                .inflight
                .iter()
                .map(|(kind, &value)| Inflight {
                    kind: kind.clone(),
                    value,
                    limit: Some(if kind == "mutating" {
                        WRITE_LIMIT
                    } else {
                        READ_LIMIT
                    }),
                    limit_source: if kind == "mutating" {
                        "default --max-mutating-requests-inflight".to_owned()
                    } else {
                        "default --max-requests-inflight".to_owned()
                    },
                })
                .collect(),
        }
    }

    /// WATCH connections by resource from the newest metric present, the largest first, with
    /// the metric used and the total.
    pub(crate) fn watches(&self) -> (Option<&'static str>, f64, Vec<Named>) {
        const NAMES: [&str; 3] = [
            "apiserver_longrunning_requests",
            "apiserver_longrunning_gauge",
            "apiserver_registered_watchers",
        ];
        match self.watches.iter().position(|m| !m.is_empty()) {
            Some(i) => (
                Some(NAMES[i]),
                self.watches[i].values().sum(),
                top(&self.watches[i]),
            ),
            None => (None, 0.0, Vec::new()),
        }
    }

    /// APF priority levels with seats and limits filled from the newest metrics present.
    pub(crate) fn priority_levels(&self) -> Vec<PriorityLevel> {
        let mut levels = self.apf.clone();
        let first =
            |maps: &[BTreeMap<String, f64>], pl: &str| maps.iter().find_map(|m| m.get(pl).copied());
        let names: Vec<String> = self
            .limits
            .iter()
            .chain(self.seats.iter())
            .flat_map(|m| m.keys().cloned())
            .collect();
        for name in names {
            levels.entry(name.clone()).or_insert_with(|| PriorityLevel {
                name,
                ..PriorityLevel::default()
            });
        }
        for (name, level) in &mut levels {
            level.limit_seats = first(&self.limits, name);
            level.executing_seats = first(&self.seats, name);
        }
        let mut levels: Vec<_> = levels.into_values().collect();
        levels.sort_by(|a, b| {
            let used =
                |l: &PriorityLevel| l.executing_seats.or(l.executing_requests).unwrap_or(0.0);
            used(b)
                .total_cmp(&used(a))
                .then_with(|| a.name.cmp(&b.name))
        });
        levels
    }

    /// Stored objects by resource, the largest first.
    pub(crate) fn objects(&self) -> Vec<Named> {
        self.objects
            .iter()
            .find(|m| !m.is_empty())
            .map(top)
            .unwrap_or_default()
    }

    /// The etcd database size in bytes, from the newest metric present.
    pub(crate) fn db_size(&self) -> Option<f64> {
        self.db_size.iter().find_map(|v| *v)
    }

    /// The slowest API calls by p99 (then p90), WATCH and CONNECT excluded.
    pub(crate) fn slowest_calls(&self) -> Vec<Latency> {
        slowest(self.calls.iter().map(|(k, b)| {
            (
                k[0].clone(),
                k[1].clone(),
                k[2].clone(),
                k[3].clone(),
                b.as_slice(),
            )
        }))
    }

    /// The slowest etcd operations by p99 (then p90).
    pub(crate) fn slowest_etcd(&self) -> Vec<Latency> {
        slowest(self.etcd.iter().map(|(k, b)| {
            (
                k[0].clone(),
                k[1].clone(),
                String::new(),
                String::new(),
                b.as_slice(),
            )
        }))
    }
}

fn top(map: &BTreeMap<String, f64>) -> Vec<Named> {
    let mut rows: Vec<Named> = map
        .iter()
        .map(|(name, &value)| Named {
            name: name.clone(),
            value,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.value
            .total_cmp(&a.value)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows.truncate(TOP);
    rows
}

fn slowest<'a>(
    rows: impl Iterator<Item = (String, String, String, String, &'a [Bucket])>,
) -> Vec<Latency> {
    let mut out: Vec<Latency> = rows
        .filter_map(|(verb, resource, subresource, scope, buckets)| {
            let h = Histogram {
                labels: Labels::new(),
                buckets: buckets.to_vec(),
                sum: None,
                count: None,
                created: None,
            };
            let count = h.total()?;
            if count <= 0.0 {
                return None;
            }
            Some(Latency {
                verb,
                resource,
                subresource,
                scope,
                count,
                p50: h.quantile(0.5)?,
                p90: h.quantile(0.9)?,
                p99: h.quantile(0.99)?,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.p99
            .total_cmp(&a.p99)
            .then(b.p90.total_cmp(&a.p90))
            .then(b.count.total_cmp(&a.count))
            .then_with(|| (&a.verb, &a.resource).cmp(&(&b.verb, &b.resource)))
    });
    out.truncate(TOP);
    out
}
