//! Per-call figures: one row per (client, call shape, classification), the unit at which seats
//! are estimated and FlowSchema rules are written.

use super::call::{Call, Rv, Scope};
use apilens_audit::FxMap;
use std::collections::BTreeSet;

/// Namespaces remembered per call (beyond it the call is "in many namespaces").
pub(crate) const NAMESPACE_CAP: usize = 64;

/// Example URIs kept per call.
pub(crate) const EXAMPLES: usize = 3;

/// One call of one client.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallStats {
    /// The client row.
    pub(crate) client: u32,
    /// The shape key plus classification (see [`Call::write_key`]), the merge key with the
    /// client's key.
    pub(crate) key: String,
    pub(crate) verb: String,
    pub(crate) group: String,
    pub(crate) resource: String,
    pub(crate) subresource: String,
    pub(crate) scope: Option<Scope>,
    pub(crate) limit: Option<u64>,
    pub(crate) continue_token: bool,
    pub(crate) rv: Option<Rv>,
    pub(crate) selector: bool,
    pub(crate) name_selector: bool,
    pub(crate) send_initial_events: bool,
    pub(crate) from_cache: bool,
    /// Index of the FlowSchema in the configuration.
    pub(crate) schema: u16,
    /// Index of the priority level in the configuration.
    pub(crate) level: u16,
    /// The non-resource path, for non-resource calls.
    pub(crate) path: String,

    /// Requests.
    pub(crate) count: u64,
    /// Answered 429 by APF.
    pub(crate) rejected: u64,
    /// Answered 429 by something other than APF (the EventRateLimit admission plugin, an
    /// aggregated API's own limit), evictions left out.
    pub(crate) throttled_elsewhere: u64,
    /// Answered 5xx.
    pub(crate) errors_5xx: u64,
    /// Σ execution seconds of requests that ran.
    pub(crate) exec_s: f64,
    /// Requests that ran (not rejected).
    pub(crate) ran: u64,
    /// Σ APF queue wait seconds (annotated requests).
    pub(crate) wait_s: f64,
    /// Σ etcd milliseconds (annotated requests).
    pub(crate) etcd_ms: f64,
    /// Requests with an etcd annotation.
    pub(crate) etcd_annotated: u64,
    /// Requests that spent at least 500 ms in etcd.
    pub(crate) etcd_slow: u64,
    /// Requests answered 5xx after at least 5 s in etcd (etcd timed out).
    pub(crate) etcd_timeouts: u64,
    /// Σ admission webhook milliseconds (annotated requests).
    pub(crate) webhook_ms: f64,
    /// Requests with a webhook annotation.
    pub(crate) webhook_annotated: u64,
    /// Requests that spent at least 1 s in admission webhooks.
    pub(crate) webhook_slow: u64,
    /// Requests answered 5xx after at least 9 s in webhooks (a webhook timed out).
    pub(crate) webhook_timeouts: u64,
    /// Requests whose latency annotations exist (over 500 ms).
    pub(crate) annotated: u64,
    /// Completed watches and Σ their lifetimes in seconds.
    pub(crate) watches_closed: u64,
    pub(crate) watch_lifetime_s: f64,
    /// First and last request time, µs.
    pub(crate) first_us: i64,
    pub(crate) last_us: i64,
    /// Namespaces seen (up to [`NAMESPACE_CAP`]).
    pub(crate) namespaces: BTreeSet<String>,
    /// More namespaces than the cap.
    pub(crate) many_namespaces: bool,
    /// Example URIs.
    pub(crate) examples: Vec<String>,
}

impl CallStats {
    pub(crate) fn new(client: u32, key: &str, call: &Call<'_>, from_cache: bool) -> CallStats {
        CallStats {
            client,
            key: key.to_owned(),
            verb: call.verb.to_owned(),
            group: call.group.to_owned(),
            resource: call.resource.to_owned(),
            subresource: call.subresource.to_owned(),
            scope: Some(call.scope),
            limit: call.limit,
            continue_token: call.continue_token,
            rv: Some(call.rv),
            selector: call.selector,
            name_selector: call.name_selector,
            send_initial_events: call.send_initial_events,
            from_cache,
            path: if call.scope == Scope::NonResource {
                call.path.to_owned()
            } else {
                String::new()
            },
            first_us: i64::MAX,
            last_us: i64::MIN,
            ..CallStats::default()
        }
    }

    pub(crate) fn note_namespace(&mut self, ns: &str) {
        if ns.is_empty() || self.many_namespaces || self.namespaces.contains(ns) {
            return;
        }
        if self.namespaces.len() >= NAMESPACE_CAP {
            self.many_namespaces = true;
        } else {
            self.namespaces.insert(ns.to_owned());
        }
    }

    pub(crate) fn note_example(&mut self, uri: &str) {
        if self.examples.len() < EXAMPLES && !self.examples.iter().any(|u| u == uri) {
            self.examples.push(uri.to_owned());
        }
    }

    /// Folds in the same call seen by another worker.
    pub(crate) fn merge(&mut self, o: CallStats) {
        self.count += o.count;
        self.rejected += o.rejected;
        self.throttled_elsewhere += o.throttled_elsewhere;
        self.errors_5xx += o.errors_5xx;
        self.exec_s += o.exec_s;
        self.ran += o.ran;
        self.wait_s += o.wait_s;
        self.etcd_ms += o.etcd_ms;
        self.etcd_annotated += o.etcd_annotated;
        self.etcd_slow += o.etcd_slow;
        self.etcd_timeouts += o.etcd_timeouts;
        self.webhook_ms += o.webhook_ms;
        self.webhook_annotated += o.webhook_annotated;
        self.webhook_slow += o.webhook_slow;
        self.webhook_timeouts += o.webhook_timeouts;
        self.annotated += o.annotated;
        self.watches_closed += o.watches_closed;
        self.watch_lifetime_s += o.watch_lifetime_s;
        self.first_us = self.first_us.min(o.first_us);
        self.last_us = self.last_us.max(o.last_us);
        self.many_namespaces |= o.many_namespaces;
        for ns in o.namespaces {
            self.note_namespace(&ns);
        }
        for uri in o.examples {
            self.note_example(&uri);
        }
    }

    /// Mean execution seconds of the requests that ran.
    pub(crate) fn mean_exec_s(&self) -> f64 {
        if self.ran == 0 {
            0.0
        } else {
            self.exec_s / self.ran as f64
        }
    }

    /// `resource` or `resource.group`.
    pub(crate) fn resource_key(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// `resource` or `resource/subresource`.
    pub(crate) fn rule_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// The call table of one worker.
#[derive(Debug, Clone, Default)]
pub(crate) struct Calls {
    /// [`full_key`] → row.
    map: FxMap<String, u32>,
    pub(crate) rows: Vec<CallStats>,
}

/// The map key of a call: the client index, a record separator, the call key.
pub(crate) fn full_key(client: u32, key: &str, out: &mut String) {
    use std::fmt::Write as _;
    out.clear();
    let _ = write!(out, "{client}\u{1e}");
    out.push_str(key);
}

impl Calls {
    /// The row of `full` (see [`full_key`]), created by `make` when new.
    pub(crate) fn index(&mut self, full: &str, make: impl FnOnce() -> CallStats) -> u32 {
        if let Some(&i) = self.map.get(full) {
            return i;
        }
        let i = self.rows.len() as u32;
        self.rows.push(make());
        self.map.insert(full.to_owned(), i);
        i
    }

    /// Adds `rows` whose clients are mapped through `clients`, merging rows that meet; returns
    /// the map from the index of each added row to its row here.
    fn absorb(&mut self, rows: Vec<CallStats>, clients: &[u32]) -> Vec<u32> {
        let mut remap = Vec::with_capacity(rows.len());
        let mut full = String::new();
        for mut row in rows {
            row.client = clients[row.client as usize];
            full_key(row.client, &row.key, &mut full);
            match self.map.get(&full) {
                Some(&j) => {
                    self.rows[j as usize].merge(row);
                    remap.push(j);
                }
                None => {
                    let j = self.rows.len() as u32;
                    self.map.insert(full.clone(), j);
                    self.rows.push(row);
                    remap.push(j);
                }
            }
        }
        remap
    }

    /// Re-keys every call after the client table was purged; calls of clients that now share
    /// a row are merged. Returns the old-to-new call index map.
    pub(crate) fn remap_clients(&mut self, clients: &[u32]) -> Vec<u32> {
        let old = std::mem::take(&mut self.rows);
        self.map.clear();
        self.absorb(old, clients)
    }

    /// Merges another worker's calls, its clients mapped through `clients`; returns the map
    /// from `other`'s call indices to this table's.
    pub(crate) fn merge(&mut self, other: Calls, clients: &[u32]) -> Vec<u32> {
        self.absorb(other.rows, clients)
    }
}
