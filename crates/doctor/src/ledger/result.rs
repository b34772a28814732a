//! The ledger after the scan: seats estimated per call with `apilens_apf::estimate`, seat-seconds
//! per call, client and priority level.

use super::call::{Rv, Scope};
use super::calls::CallStats;
use super::clients::ClientStats;
use super::records::Records;
use super::{Context, Ledger};
use apilens_apf::{ObjectStats, ResourceVersionParam, WorkEstimate, WorkRequest};
use apilens_audit::{Cell, Report, Row, Summary};
use std::collections::BTreeMap;

/// Where object counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountSource {
    /// `apiserver_resource_objects` / `apiserver_storage_objects` in the metrics.
    Metrics,
    /// `limit` × pages of `continue` chains in the audit log.
    AuditPages,
    /// Unknown: the estimator's worst case.
    WorstCase,
}

/// The cost of one call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallCost {
    /// Seats of one request.
    pub(crate) estimate: WorkEstimate,
    /// Seat-seconds of all its requests.
    pub(crate) seat_seconds: f64,
    /// Seat-seconds less those held while an admission webhook ran (the webhook's, not the
    /// client's).
    pub(crate) own_seat_seconds: f64,
    /// Estimated bytes read from etcd (object count × average size) by its LISTs.
    pub(crate) etcd_bytes: f64,
    /// Objects per request used for the estimate, and where the count came from.
    pub(crate) objects: Option<f64>,
    pub(crate) count_source: CountSource,
}

/// Totals of one priority level.
#[derive(Debug, Clone, Default)]
pub(crate) struct LevelTotals {
    pub(crate) name: String,
    pub(crate) requests: u64,
    pub(crate) seat_seconds: f64,
    pub(crate) rejected: u64,
    pub(crate) wait_s: f64,
    pub(crate) exempt: bool,
}

/// Object counts and sizes known before seats are estimated.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectFacts {
    /// Objects per resource key (`pods`, `widgets.acme.example.com`).
    pub(crate) counts: BTreeMap<String, f64>,
    /// Average object bytes per resource key.
    pub(crate) sizes: BTreeMap<String, f64>,
}

/// The average object size of a call's resource: the metrics' size estimate, else a typical
/// size.
pub(crate) fn object_bytes(sizes: &BTreeMap<String, f64>, call: &CallStats) -> f64 {
    sizes
        .get(&call.resource_key())
        .copied()
        .unwrap_or_else(|| typical_object_bytes(&call.resource))
}

/// Typical serialised object sizes (bytes) for resources whose size no metric gave, used only to
/// turn object counts into byte estimates (never for seats); the output says when it is used.
fn typical_object_bytes(resource: &str) -> f64 {
    match resource {
        "pods" => 4_000.0,
        "nodes" => 12_000.0,
        "leases" => 350.0,
        "events" => 900.0,
        "configmaps" => 3_000.0,
        "secrets" => 2_500.0,
        _ => 2_000.0,
    }
}

/// Everything the scan booked, with costs.
pub(crate) struct LedgerResult<'a> {
    pub(crate) ctx: &'a Context<'a>,
    pub(crate) clients: Vec<ClientStats>,
    pub(crate) calls: Vec<CallStats>,
    pub(crate) costs: Vec<CallCost>,
    pub(crate) records: Records,
    pub(crate) levels: Vec<LevelTotals>,
    pub(crate) summary: Summary,
    /// Clients folded into the "other clients" row.
    pub(crate) folded_clients: u64,
    pub(crate) unclassified: u64,
    /// Successful writes per second per resource key.
    pub(crate) write_rate: BTreeMap<String, f64>,
    /// Average object bytes per resource key from the metrics.
    pub(crate) sizes: BTreeMap<String, f64>,
    /// Seconds between the first and last request that is not long-running (at least 1).
    pub(crate) span_s: f64,
}

impl LedgerResult<'_> {
    /// Sorts records in the order the replay takes them: by arrival, then by what the request
    /// was (client and call keys, figures), never by row indices, which depend on how the
    /// workers' results were merged. So the replay, and every figure from it, is the same
    /// whatever the number of threads.
    pub(crate) fn sort_for_replay(&self, records: &mut [&super::records::Record]) {
        records.sort_by(|a, b| {
            a.t_us
                .cmp(&b.t_us)
                .then_with(|| {
                    self.clients[a.client as usize]
                        .key
                        .cmp(&self.clients[b.client as usize].key)
                })
                .then_with(|| {
                    self.calls[a.call as usize]
                        .key
                        .cmp(&self.calls[b.call as usize].key)
                })
                .then_with(|| {
                    (a.exec_us, a.wait_us, a.conn, a.rejected, a.flow)
                        .cmp(&(b.exec_us, b.wait_us, b.conn, b.rejected, b.flow))
                })
        });
    }
}

impl<'a> LedgerResult<'a> {
    pub(crate) fn new(ledger: Ledger<'a>, summary: &Summary) -> LedgerResult<'a> {
        Self::with_objects(ledger, summary, &ObjectFacts::default())
    }

    /// Ends the scan with object counts from the metrics.
    pub(crate) fn with_objects(
        ledger: Ledger<'a>,
        summary: &Summary,
        objects: &ObjectFacts,
    ) -> LedgerResult<'a> {
        let ctx = ledger.ctx;
        let span = if ledger.last_us > ledger.first_us {
            (ledger.last_us - ledger.first_us) as f64 / 1e6
        } else {
            summary.span_seconds()
        }
        .max(1.0);
        let calls = ledger.calls.rows;
        let mut watchers: BTreeMap<String, f64> = BTreeMap::new();
        let mut write_rate: BTreeMap<String, f64> = BTreeMap::new();
        for c in &calls {
            let key = c.resource_key();
            if c.verb == "watch" {
                let mean = if c.watches_closed > 0 {
                    c.watch_lifetime_s / c.watches_closed as f64
                } else {
                    450.0
                };
                *watchers.entry(key).or_default() += (c.count as f64 * mean / span).max(0.0);
            } else if matches!(c.verb.as_str(), "create" | "update" | "patch" | "delete")
                && c.subresource != "binding"
            {
                let ok = c.count.saturating_sub(c.rejected + c.errors_5xx);
                *write_rate.entry(key).or_default() += ok as f64 / span;
            }
        }
        let paged_counts = paged_counts(&calls);
        let capacity = ctx
            .config
            .capacity(ctx.version, apilens_apf::DEFAULT_SERVER_CONCURRENCY_LIMIT);
        let costs: Vec<CallCost> = calls
            .iter()
            .map(|c| {
                let level = &ctx.config.levels()[c.level as usize].name;
                let max_seats = capacity
                    .levels
                    .iter()
                    .find(|l| &l.name == level)
                    .map_or(10, |l| l.max_seats_per_request.max(1));
                let key = c.resource_key();
                let (count, source) = match (objects.counts.get(&key), paged_counts.get(&key)) {
                    (Some(n), _) => (Some(*n), CountSource::Metrics),
                    (None, Some(n)) => (Some(*n), CountSource::AuditPages),
                    (None, None) => (None, CountSource::WorstCase),
                };
                let size = objects.sizes.get(&key).copied();
                cost_of(
                    ctx,
                    c,
                    ObjectStats {
                        count,
                        avg_object_bytes: size,
                    },
                    watchers.get(&key).copied().unwrap_or(0.0),
                    max_seats,
                    source,
                    size.unwrap_or_else(|| typical_object_bytes(&c.resource)),
                )
            })
            .collect();
        let mut levels: Vec<LevelTotals> = ctx
            .config
            .levels()
            .iter()
            .map(|l| LevelTotals {
                name: l.name.clone(),
                exempt: matches!(l.spec, apilens_apf::LevelSpec::Exempt { .. }),
                ..LevelTotals::default()
            })
            .collect();
        for (c, cost) in calls.iter().zip(&costs) {
            let l = &mut levels[c.level as usize];
            l.requests += c.count;
            l.seat_seconds += cost.seat_seconds;
            l.rejected += c.rejected;
            l.wait_s += c.wait_s;
        }
        LedgerResult {
            ctx,
            clients: ledger.clients.rows,
            folded_clients: ledger.clients.folded,
            calls,
            costs,
            records: ledger.records,
            levels,
            summary: summary.clone(),
            unclassified: ledger.unclassified,
            write_rate,
            sizes: objects.sizes.clone(),
            span_s: span,
        }
    }

    /// Seat-seconds of a client over all its calls.
    pub(crate) fn client_seat_seconds(&self, client: u32) -> f64 {
        self.calls
            .iter()
            .zip(&self.costs)
            .filter(|(c, _)| c.client == client)
            .map(|(_, k)| k.seat_seconds)
            .sum()
    }

    /// The level a call lands in.
    pub(crate) fn level_name(&self, call: &CallStats) -> &str {
        &self.ctx.config.levels()[call.level as usize].name
    }

    /// The FlowSchema a call matches.
    pub(crate) fn schema_name(&self, call: &CallStats) -> &str {
        &self.ctx.config.schemas()[call.schema as usize].name
    }

    /// The span of the counted requests in seconds (at least 1), long-running ones aside.
    pub(crate) fn span_s(&self) -> f64 {
        self.span_s
    }

    /// The clients by seat-seconds as an audit report (the view's own `finish`).
    pub(crate) fn cost_report(&self) -> Report {
        let mut per: Vec<(u32, f64, u64)> = (0..self.clients.len() as u32)
            .map(|i| {
                (
                    i,
                    self.client_seat_seconds(i),
                    self.clients[i as usize].requests,
                )
            })
            .filter(|(_, _, n)| *n > 0)
            .collect();
        per.sort_by(|a, b| b.1.total_cmp(&a.1));
        Report {
            view: "cost".to_owned(),
            key_name: "client".to_owned(),
            columns: vec!["seat_s".to_owned()],
            rows: per
                .into_iter()
                .take(20)
                .map(|(i, s, n)| Row {
                    key: self.clients[i as usize]
                        .key
                        .replace(crate::identity::KEY_SEP, " | "),
                    count: n,
                    cells: vec![Cell::Float(s, 2)],
                })
                .collect(),
            notes: vec![
                "seat_s: APF seats x execution seconds, seats as apilens-apf estimates them"
                    .to_owned(),
            ],
            approximate: self.folded_clients > 0,
        }
    }
}

/// Objects per resource from `continue` chains: a client that reads a collection with
/// `limit=L` in `P` pages per chain on average saw about `P x L` objects.
fn paged_counts(calls: &[CallStats]) -> BTreeMap<String, f64> {
    let mut first: BTreeMap<(u32, String, u64), u64> = BTreeMap::new();
    let mut next: BTreeMap<(u32, String, u64), u64> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.verb == "list") {
        let Some(limit) = c.limit else { continue };
        let key = (c.client, c.resource_key(), limit);
        if c.continue_token {
            *next.entry(key).or_default() += c.count;
        } else {
            *first.entry(key).or_default() += c.count;
        }
    }
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for ((client, res, limit), n_next) in next {
        let Some(&n_first) = first.get(&(client, res.clone(), limit)) else {
            continue;
        };
        if n_first == 0 {
            continue;
        }
        let pages = 1.0 + n_next as f64 / n_first as f64;
        let objects = (pages - 0.5) * limit as f64;
        let e = out.entry(res).or_default();
        *e = e.max(objects);
    }
    out
}

fn cost_of(
    ctx: &Context<'_>,
    c: &CallStats,
    stats: ObjectStats,
    watchers: f64,
    max_seats: u32,
    source: CountSource,
    object_bytes: f64,
) -> CallCost {
    let req = WorkRequest {
        verb: &c.verb,
        resource: &c.resource,
        subresource: &c.subresource,
        named: c.scope == Some(Scope::Object) || c.name_selector,
        has_selector: c.selector,
        limit: c.limit,
        resource_version: match c.rv {
            Some(Rv::Zero) => ResourceVersionParam::Zero,
            Some(Rv::Exact) => ResourceVersionParam::Exact,
            _ => ResourceVersionParam::Absent,
        },
        continue_token: c.continue_token,
        send_initial_events: c.send_initial_events,
        served_from_cache: c.from_cache,
    };
    let count = stats.count;
    let estimate = apilens_apf::estimate(ctx.version, &req, stats, watchers, max_seats);
    let webhook_s = c.webhook_ms / 1e3;
    let seat_seconds = estimate.seat_seconds(c.exec_s)
        + f64::from(estimate.final_seats)
            * estimate.additional_latency_s
            * (c.ran.max(1) - 1) as f64;
    let own = estimate.seat_seconds((c.exec_s - webhook_s).max(0.0))
        + f64::from(estimate.final_seats)
            * estimate.additional_latency_s
            * (c.ran.max(1) - 1) as f64;
    // Objects one LIST reads from etcd: the collection (a namespace's share of it for a
    // namespaced LIST is unknown, so the whole is an upper bound), or its page.
    let objects = if c.verb == "list" {
        count.map(|n| match c.limit {
            Some(l) => n.min(l as f64),
            None => n,
        })
    } else {
        None
    };
    let etcd_bytes = if c.verb == "list" && !c.from_cache {
        objects.unwrap_or(0.0) * object_bytes * c.ran as f64
    } else {
        0.0
    };
    CallCost {
        estimate,
        seat_seconds: if c.ran == 0 { 0.0 } else { seat_seconds },
        own_seat_seconds: if c.ran == 0 { 0.0 } else { own },
        etcd_bytes,
        objects,
        count_source: source,
    }
}
