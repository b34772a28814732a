//! The cost ledger: an audit [`View`] that classifies every request with today's APF
//! configuration and books its cost per client and per call, in bounded memory.
//!
//! Per request it finds the client (effective user + user agent, kubelets folded), the call
//! shape, where the server reads it from (the watch cache or etcd: the latency annotations when
//! the event has them, else the audit crate's version rules), its FlowSchema and priority level
//! (through `apilens_apf::ApfConfig::classify`, cached per distinct request shape), its
//! execution time (latency minus the APF queue wait annotation) and its etcd and webhook time,
//! and keeps a compact record for the time-resolved analyses. Seats are estimated per call at
//! the end ([`LedgerResult`]), once object counts are known.

pub(crate) mod call;
pub(crate) mod calls;
pub(crate) mod clients;
pub(crate) mod records;
pub(crate) mod result;

pub(crate) use result::LedgerResult;

use crate::identity::{self, EXTRA_NODE_NAME, EXTRA_POD_NAME, KEY_SEP};
use apilens_apf::{ApfConfig, KubeVersion, RequestDigest, ResourceAttributes};
use apilens_audit::{FxMap, Report, Request, Stage, Summary, ThrottleCause, View};
use call::{Call, Rv, Scope};
use calls::{CallStats, Calls, full_key};
use clients::Clients;
use records::{Record, Records};

/// Entries of each per-worker cache kept before it is cleared.
const CACHE_CAP: usize = 200_000;

/// What every worker's ledger shares: the configuration and how to name its objects.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub(crate) config: &'a ApfConfig,
    pub(crate) version: KubeVersion,
    schema_index: FxMap<String, u16>,
    level_index: FxMap<String, u16>,
    /// Records each worker may keep.
    pub(crate) record_budget: usize,
}

impl<'a> Context<'a> {
    pub(crate) fn new(config: &'a ApfConfig, version: KubeVersion, workers: usize) -> Context<'a> {
        Context {
            config,
            version,
            schema_index: config
                .schemas()
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), i as u16))
                .collect(),
            level_index: config
                .levels()
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.clone(), i as u16))
                .collect(),
            record_budget: records::RECORD_BUDGET / workers.max(1),
        }
    }
}

/// How one request was classified.
#[derive(Debug, Clone, Copy)]
struct Class {
    schema: u16,
    level: u16,
    flow: u64,
}

/// The ledger of one worker; merged at the end.
pub(crate) struct Ledger<'a> {
    ctx: &'a Context<'a>,
    pub(crate) clients: Clients,
    pub(crate) calls: Calls,
    pub(crate) records: Records,
    /// Hash of (user, raw user agent) to client row: skips normalising the agent and building
    /// the key string for a client seen before.
    client_cache: FxMap<u128, u32>,
    /// Hash of (client, request shape, namespace) to call row and classification: skips the
    /// key strings and FlowSchema matching for a shape seen before.
    call_cache: FxMap<u128, (u32, Class)>,
    /// Requests the configuration could not place (a schema or level unknown to it).
    pub(crate) unclassified: u64,
    /// First and last arrival of a request that is not long-running, µs: the span rates are
    /// measured over (a watch's arrival may lie long before the log's window).
    pub(crate) first_us: i64,
    pub(crate) last_us: i64,
    key: String,
    call_key: String,
    full: String,
}

impl<'a> Ledger<'a> {
    pub(crate) fn new(ctx: &'a Context<'a>) -> Ledger<'a> {
        Ledger {
            ctx,
            clients: Clients::default(),
            calls: Calls::default(),
            records: Records::new(ctx.record_budget),
            client_cache: FxMap::default(),
            call_cache: FxMap::default(),
            unclassified: 0,
            first_us: i64::MAX,
            last_us: i64::MIN,
            key: String::new(),
            call_key: String::new(),
            full: String::new(),
        }
    }

    /// Where the server reads the request from: observed (an etcd latency annotation, or
    /// annotations without one) when the event says, else by the version's rules.
    fn served_from_cache(&self, call: &Call<'_>, ann: Option<&apilens_audit::Annotations>) -> bool {
        match call.verb {
            "watch" => true,
            "get" => call.rv == Rv::Zero,
            "list" => match ann {
                Some(a) if a.etcd_ms.is_some() => false,
                Some(a) if a.total_ms.is_some() => true,
                _ => apilens_audit::served_from(&call.shape.params(), Some(self.ctx.version))
                    .starts_with("cache"),
            },
            _ => false,
        }
    }

    /// The request's FlowSchema, level and flow, as kube-apiserver matches them.
    fn classify(&self, req: &Request<'_>, user: &str, call: &Call<'_>) -> Option<Class> {
        // An impersonated user never has the impersonator's groups: with none named, apf gives
        // it those the server's impersonation filter gives (as the audit crate does).
        let groups = match req.impersonated_user.as_deref() {
            Some(imp) if !imp.is_empty() => Vec::new(),
            _ => req.groups(),
        };
        let digest = RequestDigest {
            user,
            groups: &groups,
            verb: call.verb,
            resource: (call.scope != Scope::NonResource).then_some(ResourceAttributes {
                api_group: call.group,
                resource: call.resource,
                subresource: call.subresource,
                namespace: call.namespace,
                name: call.name,
            }),
            path: call.path,
        };
        let m = self.ctx.config.match_request(&digest);
        Some(Class {
            schema: self.ctx.schema_index.get(&m.schema.name).copied()?,
            level: self.ctx.level_index.get(&m.level.name).copied()?,
            flow: m.flow_hash(),
        })
    }

    fn remap_clients(&mut self, remap: &[u32]) {
        // The caches hold client and call indices.
        self.client_cache.clear();
        self.call_cache.clear();
        let calls = self.calls.remap_clients(remap);
        self.records.remap_clients(remap);
        self.records.remap_calls(&calls);
    }
}

/// The finder of the latency annotations' prefix (built once).
fn latency_finder() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("apiserver.latency.k8s.io/"));
    &FINDER
}

/// A 128-bit hash of strings, each followed by a separator.
pub(crate) fn hash_parts(parts: &[&str]) -> u128 {
    let mut h = crate::hash::Hash128::default();
    for p in parts {
        h.part(p);
    }
    h.finish()
}

/// The first value of `key` in a raw `user.extra` object, read without decoding the whole
/// object (this runs for every request); anything unusual goes through the audit crate.
fn extra_value<'r>(req: &'r Request<'_>, key: &str) -> Option<std::borrow::Cow<'r, str>> {
    let raw = req.extra?;
    let at = memchr::memmem::find(raw.as_bytes(), key.as_bytes())?;
    let rest = &raw[at + key.len()..];
    let rest = rest.strip_prefix("\":[\"")?;
    let end = rest.find('"')?;
    let value = &rest[..end];
    if value.contains('\\') {
        return req.extra_value(key).map(std::borrow::Cow::Owned);
    }
    Some(std::borrow::Cow::Borrowed(value))
}

impl View for Ledger<'_> {
    fn add(&mut self, req: &Request<'_>) {
        let user = identity::effective_user(req);
        let node_user = user.strip_prefix(identity::NODE_USER_PREFIX);
        let client_hash = hash_parts(&[
            if node_user.is_some() {
                identity::FOLDED_NODES
            } else {
                user
            },
            &req.user_agent,
        ]);
        let ci = match self.client_cache.get(&client_hash) {
            Some(&ci) => ci,
            None => {
                identity::write_client_key(req, &mut self.key);
                let (ci, remap) = self.clients.index(&self.key);
                if let Some(remap) = remap {
                    self.remap_clients(&remap);
                }
                if self.client_cache.len() >= CACHE_CAP {
                    self.client_cache.clear();
                }
                self.client_cache.insert(client_hash, ci);
                let c = &mut self.clients.rows[ci as usize];
                if c.raw_agent.is_empty() {
                    c.raw_agent = req.user_agent.to_string();
                }
                if c.groups.is_empty()
                    && let Some(g) = req.groups
                {
                    c.groups = g.to_owned();
                }
                ci
            }
        };
        let call = Call::of(req);
        // The server writes latency annotations only for requests over 500 ms.
        let slow = req.latency_us().is_none_or(|us| us >= 400_000);
        let ann = req
            .annotations
            .filter(|a| slow && latency_finder().find(a.as_bytes()).is_some())
            .map(|_| req.annotations());
        let from_cache = self.served_from_cache(&call, ann.as_ref());
        let shape_hash = call.hash(ci, node_user.map(|_| user), from_cache);
        let (idx, class) = match self.call_cache.get(&shape_hash) {
            Some(&hit) => hit,
            None => {
                let Some(class) = self.classify(req, user, &call) else {
                    self.unclassified += 1;
                    return;
                };
                self.call_key.clear();
                call.write_key(from_cache, &mut self.call_key);
                {
                    use std::fmt::Write as _;
                    let _ = write!(
                        self.call_key,
                        "{KEY_SEP}{}{KEY_SEP}{}",
                        class.schema, class.level
                    );
                }
                full_key(ci, &self.call_key, &mut self.full);
                let (call_key, full) = (&self.call_key, &self.full);
                let idx = self.calls.index(full, || {
                    let mut s = CallStats::new(ci, call_key, &call, from_cache);
                    s.schema = class.schema;
                    s.level = class.level;
                    s
                });
                // The cache key holds the namespace: a hit means it was noted.
                self.calls.rows[idx as usize].note_namespace(call.namespace);
                if self.call_cache.len() >= CACHE_CAP {
                    self.call_cache.clear();
                }
                self.call_cache.insert(shape_hash, (idx, class));
                (idx, class)
            }
        };
        let ip_hash = crate::hash::hash64(&req.source_ip);
        {
            let c = &mut self.clients.rows[ci as usize];
            c.requests += 1;
            let new_ip = !req.source_ip.is_empty() && c.source_ips.add_hashed(ip_hash);
            match node_user {
                Some(node) => {
                    let _ = c.nodes.add(node);
                }
                // A pod keeps its IP: its token's pod and node names are read when a client
                // shows a new source IP, not on every request.
                None if new_ip && req.extra.is_some() => {
                    if let Some(pod) = extra_value(req, EXTRA_POD_NAME) {
                        let _ = c.pods.add(&pod);
                    }
                    if let Some(node) = extra_value(req, EXTRA_NODE_NAME) {
                        let _ = c.nodes.add(&node);
                    }
                }
                None => {}
            }
        }
        let t_us = req.received_us.or(req.stage_us).unwrap_or(0);
        let cause = (req.code == Some(429)).then(|| ThrottleCause::of(req));
        let rejected = cause == Some(ThrottleCause::Apf);
        let watch = call.verb == "watch";
        let latency_s = req.latency_us().map(|us| us as f64 / 1e6);
        let wait_s = ann
            .as_ref()
            .and_then(|a| a.apf_queue_wait_ms)
            .map_or(0.0, |ms| ms / 1e3);
        let exec_s = if rejected {
            0.0
        } else if watch || req.is_long_running() {
            // A watch holds its seats only while it starts; the events it then sends cost
            // CPU, not seats (see the watch fan-out pattern).
            WATCH_START_S
        } else {
            latency_s.map_or(0.0, |l| (l - wait_s).max(0.0))
        };
        if !watch && t_us > 0 {
            self.first_us = self.first_us.min(t_us);
            self.last_us = self.last_us.max(t_us);
        }
        let s = &mut self.calls.rows[idx as usize];
        s.count += 1;
        s.first_us = s.first_us.min(t_us);
        s.last_us = s.last_us.max(t_us);
        if s.examples.len() < calls::EXAMPLES {
            s.note_example(&req.request_uri);
        }
        if matches!(
            cause,
            Some(ThrottleCause::EventRateLimit | ThrottleCause::Other)
        ) {
            s.throttled_elsewhere += 1;
        }
        if rejected {
            s.rejected += 1;
        } else {
            s.ran += 1;
            s.exec_s += exec_s;
        }
        if req.code.is_some_and(|c| c >= 500) {
            s.errors_5xx += 1;
        }
        if watch
            && req.stage.is_final()
            && req.stage != Stage::Unknown
            && let Some(l) = latency_s
        {
            s.watches_closed += 1;
            s.watch_lifetime_s += l;
        }
        if let Some(a) = &ann {
            s.annotated += 1;
            s.wait_s += wait_s;
            let failed = req.code.is_some_and(|c| c >= 500);
            if let Some(ms) = a.etcd_ms {
                s.etcd_ms += ms;
                s.etcd_annotated += 1;
                s.etcd_slow += u64::from(ms >= 500.0);
                s.etcd_timeouts += u64::from(failed && ms >= 5_000.0);
            }
            let hook =
                a.validating_webhook_ms.unwrap_or(0.0) + a.mutating_webhook_ms.unwrap_or(0.0);
            if hook > 0.0 {
                s.webhook_ms += hook;
                s.webhook_annotated += 1;
                s.webhook_slow += u64::from(hook >= 1_000.0);
                s.webhook_timeouts += u64::from(failed && hook >= 9_000.0);
            }
        }
        self.clients.rows[ci as usize].exec_ms += exec_s * 1e3;
        self.records.push(Record {
            t_us,
            flow: class.flow,
            exec_us: (exec_s * 1e6).min(f64::from(u32::MAX)) as u32,
            wait_us: (wait_s * 1e6).min(f64::from(u32::MAX)) as u32,
            client: ci,
            call: idx,
            conn: conn_hash(ip_hash, client_hash as u64),
            rejected,
        });
    }

    fn merge(&mut self, other: Ledger<'_>) {
        let clients = self.clients.merge(other.clients);
        let calls = self.calls.merge(other.calls, &clients);
        self.records.merge(other.records, &clients, &calls);
        self.unclassified += other.unclassified;
        self.first_us = self.first_us.min(other.first_us);
        self.last_us = self.last_us.max(other.last_us);
    }

    fn finish(self, summary: &Summary) -> Report {
        self.into_result(summary).cost_report()
    }
}

/// Seconds a watch holds its seats while it starts.
pub(crate) const WATCH_START_S: f64 = 0.002;

/// Which connection a request most likely used: its source IP and its client, both hashed
/// (never a row index, which differs between the workers that read parts of the log).
fn conn_hash(ip_hash: u64, client_hash: u64) -> u32 {
    let h = ip_hash ^ client_hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h ^ (h >> 32)) as u32
}

impl<'a> Ledger<'a> {
    /// Ends the scan: estimates seats per call and totals per level.
    pub(crate) fn into_result(self, summary: &Summary) -> LedgerResult<'a> {
        LedgerResult::new(self, summary)
    }
}
