//! What one scrape says about the server now and since it started, gathered family by family.

use crate::Catalog;
use apilens_model::Labels;
use apilens_textparse::families::{Bucket, Family, Histogram, Metric};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Default `--max-requests-inflight` of kube-apiserver.
pub const READ_LIMIT: f64 = 400.0;
/// Default `--max-mutating-requests-inflight` of kube-apiserver.
pub const WRITE_LIMIT: f64 = 200.0;
/// Rows kept in each top list.
const TOP: usize = 10;

/// In-flight requests of one kind against its limit.
#[derive(Debug, Clone, Serialize)]
pub struct Inflight {
    /// `readOnly`, `mutating`, or `all` (both kinds against the APF seat pool they share).
    pub kind: String,
    /// Requests in flight at scrape time.
    pub value: f64,
    /// The limit: the server's APF seat pool for `all`, else the default flag of the kind.
    pub limit: Option<f64>,
    /// Where the limit comes from: the metric summed for the seat pool, or the default flag.
    pub limit_source: String,
}

/// A named value in a top list.
#[derive(Debug, Clone, Serialize)]
pub struct Named {
    /// What is counted: a resource, a kind.
    pub name: String,
    /// The value.
    pub value: f64,
}

/// The APF state of one priority level.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PriorityLevel {
    /// Priority level name.
    pub name: String,
    /// Requests executing.
    pub executing_requests: Option<f64>,
    /// Requests waiting in queues.
    pub queued_requests: Option<f64>,
    /// Seats occupied by executing requests.
    pub executing_seats: Option<f64>,
    /// The seat limit (current after borrowing, else nominal).
    pub limit_seats: Option<f64>,
    /// Requests rejected since start, by reason.
    pub rejected: BTreeMap<String, f64>,
}

/// Latency quantiles of one kind of call, estimated from a histogram since process start.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Verb or etcd operation.
    pub verb: String,
    /// Resource, with its API group after a dot when it has one.
    pub resource: String,
    /// Subresource, empty when none.
    pub subresource: String,
    /// `cluster`, `namespace` or `resource` for API calls; empty for etcd.
    pub scope: String,
    /// Number of calls observed.
    pub count: f64,
    /// Median in seconds.
    pub p50: f64,
    /// 90th percentile in seconds.
    pub p90: f64,
    /// 99th percentile in seconds.
    pub p99: f64,
}

/// The family names the snapshot reads, taken from the catalog's signals: where a signal
/// has had several names, the figures of each are kept apart and the preferred one present is
/// shown.
#[derive(Debug, Clone, Default)]
struct Names {
    inflight: &'static str,
    queued: &'static str,
    rejected: &'static str,
    executing_requests: &'static str,
    calls: &'static str,
    etcd: &'static str,
    /// `watches`, preferred first.
    watches: Vec<&'static str>,
    /// `apf_limit`: the limit after borrowing first, then the nominal limits (the seat pool).
    limits: Vec<&'static str>,
    /// `apf_executing` counted in seats, preferred first.
    seats: Vec<&'static str>,
    /// `object_counts`, preferred first.
    objects: Vec<&'static str>,
    /// `db_size`, preferred first.
    db_size: Vec<&'static str>,
}

impl Names {
    fn of(catalog: &Catalog) -> Names {
        let all = |id: &str| -> Vec<&'static str> {
            catalog
                .signal(id)
                .map(|s| s.families().collect())
                .unwrap_or_default()
        };
        let first = |id: &str| all(id).first().copied().unwrap_or_default();
        let executing = all("apf_executing");
        // Requests executing are counted apart from seats (one request may hold several seats).
        let (requests, seats): (Vec<_>, Vec<_>) = executing
            .into_iter()
            .partition(|n| n.ends_with("_requests"));
        Names {
            inflight: first("inflight"),
            queued: first("apf_queued"),
            rejected: first("apf_rejected"),
            executing_requests: requests.first().copied().unwrap_or_default(),
            calls: first("slow_calls"),
            etcd: first("etcd_latency"),
            watches: all("watches"),
            limits: all("apf_limit"),
            seats,
            objects: all("object_counts"),
            db_size: all("db_size"),
        }
    }

    fn every(&self) -> HashSet<&'static str> {
        let mut out: HashSet<&'static str> = [
            BUILD_INFO,
            self.inflight,
            self.queued,
            self.rejected,
            self.executing_requests,
            self.calls,
            self.etcd,
        ]
        .into_iter()
        .collect();
        for list in [
            &self.watches,
            &self.limits,
            &self.seats,
            &self.objects,
            &self.db_size,
        ] {
            out.extend(list.iter().copied());
        }
        out.remove("");
        out
    }
}

const BUILD_INFO: &str = "kubernetes_build_info";

fn position(names: &[&'static str], family: &str) -> Option<usize> {
    names.iter().position(|n| *n == family)
}

/// Everything the snapshot gathered.
#[derive(Debug, Default)]
pub struct Snapshot {
    names: Names,
    /// The labels of `kubernetes_build_info`, when the scrape has it.
    pub build_info: Option<Labels>,
    inflight: BTreeMap<String, f64>,
    watches: Vec<BTreeMap<String, f64>>,
    apf: BTreeMap<String, PriorityLevel>,
    limits: Vec<BTreeMap<String, f64>>,
    seats: Vec<BTreeMap<String, f64>>,
    objects: Vec<BTreeMap<String, f64>>,
    db_size: Vec<Option<f64>>,
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
    /// An empty snapshot that reads the families of `catalog`'s signals.
    pub fn new(catalog: &Catalog) -> Snapshot {
        let names = Names::of(catalog);
        Snapshot {
            watches: vec![BTreeMap::new(); names.watches.len()],
            limits: vec![BTreeMap::new(); names.limits.len()],
            seats: vec![BTreeMap::new(); names.seats.len()],
            objects: vec![BTreeMap::new(); names.objects.len()],
            db_size: vec![None; names.db_size.len()],
            names,
            ..Snapshot::default()
        }
    }

    /// The names of the families the snapshot reads; every other family is only counted.
    pub fn wanted(&self) -> HashSet<&'static str> {
        self.names.every()
    }

    /// Reads the metrics of one family the snapshot wants.
    pub fn observe(&mut self, family: &Family) {
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
        let n = &self.names;
        if family == BUILD_INFO {
            self.build_info = Some(l.clone());
        } else if family == n.inflight {
            let kind = l
                .get("request_kind")
                .or_else(|| l.get("requestKind"))
                .unwrap_or("");
            sum_into(&mut self.inflight, kind.to_owned(), v);
        } else if let Some(i) = position(&n.watches, family) {
            // The long-running gauges count CONNECT-type requests too; the watcher gauge is by kind.
            if l.get("verb").is_some_and(|verb| verb != "WATCH") {
                return;
            }
            let resource = l.get("resource").or_else(|| l.get("kind")).unwrap_or("");
            let key = with_group(resource, &label(l, "group"));
            sum_into(&mut self.watches[i], key, v);
        } else if family == n.executing_requests {
            let e = self.level(pl());
            *e.executing_requests.get_or_insert(0.0) += v;
        } else if family == n.queued {
            let e = self.level(pl());
            *e.queued_requests.get_or_insert(0.0) += v;
        } else if let Some(i) = position(&n.seats, family) {
            sum_into(&mut self.seats[i], pl(), v);
        } else if let Some(i) = position(&n.limits, family) {
            sum_into(&mut self.limits[i], pl(), v);
        } else if family == n.rejected {
            let reason = label(l, "reason");
            let e = self.level(pl());
            sum_into(&mut e.rejected, reason, v);
        } else if let Some(i) = position(&n.objects, family) {
            let key = with_group(&label(l, "resource"), &label(l, "group"));
            sum_into(&mut self.objects[i], key, v);
        } else if let Some(i) = position(&n.db_size, family) {
            self.max_db(i, v);
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
        if family == self.names.calls {
            {
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
        } else if family == self.names.etcd {
            {
                let resource = match l.get("resource") {
                    Some(r) => with_group(r, &label(l, "group")),
                    None => label(l, "type"),
                };
                let key = [label(l, "operation"), resource];
                merge(self.etcd.entry(key).or_default(), &h.buckets);
            }
        }
    }

    /// The server's APF seat pool, and the metric it was summed from: the nominal limits (every
    /// `apf_limit` name after the first, which is the limit after borrowing), over every
    /// priority level.
    pub fn seat_pool(&self) -> Option<(f64, &'static str)> {
        self.limits
            .iter()
            .zip(&self.names.limits)
            .skip(1)
            .find(|(m, _)| !m.is_empty())
            .map(|(m, metric)| (m.values().sum(), *metric))
    }

    /// In-flight requests by kind. Where the server exposes its APF seat pool, both kinds
    /// together are read against it (APF enforces that pool, which the two max-inflight flags
    /// size together); otherwise each kind against its default flag.
    pub fn inflight(&self) -> Vec<Inflight> {
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
    pub fn watches(&self) -> (Option<&'static str>, f64, Vec<Named>) {
        match self.watches.iter().position(|m| !m.is_empty()) {
            Some(i) => (
                Some(self.names.watches[i]),
                self.watches[i].values().sum(),
                top(&self.watches[i]),
            ),
            None => (None, 0.0, Vec::new()),
        }
    }

    /// APF priority levels with seats and limits filled from the newest metrics present.
    pub fn priority_levels(&self) -> Vec<PriorityLevel> {
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
    pub fn objects(&self) -> Vec<Named> {
        self.objects
            .iter()
            .find(|m| !m.is_empty())
            .map(top)
            .unwrap_or_default()
    }

    /// The etcd database size in bytes, from the newest metric present.
    pub fn db_size(&self) -> Option<f64> {
        self.db_size.iter().find_map(|v| *v)
    }

    /// The slowest API calls by p99 (then p90), WATCH and CONNECT excluded.
    pub fn slowest_calls(&self) -> Vec<Latency> {
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
    pub fn slowest_etcd(&self) -> Vec<Latency> {
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
