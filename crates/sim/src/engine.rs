//! The simulator: steps the workload through time one second at a time and keeps the metric
//! state of every API server replica and of etcd, plus the audit log.
//!
//! Each tick draws the requests of every client (Poisson arrivals), decides where each is
//! served (watch cache or etcd, by verb, query and version), how long it executes, what APF
//! does with it (seats, fair queuing per flow with water-filling, 15 s queue limit, 429s), and
//! then records the outcome in the replica's metrics and the audit log. The random stream of a
//! tick depends only on the seed and the tick number, so a simulation is reproducible however
//! it is advanced.

use crate::audit::{self, Event, ObjectRef, ResponseStatus, User};
use crate::catalog::Catalog;
use crate::priority::{Priority, SimClass};
use crate::rng::Rng;
use crate::scenario::{self, Scenario};
use crate::store::Store;
use crate::workload::{ClientSpec, Identity, RequestSpec, Resource, Scope, Verb};
use crate::{KubeVersion, SimError};
use apilens_apf::WorkEstimate;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct ScenarioConfig {
    /// Scenario name, one of [`crate::scenario_names`].
    pub scenario: String,
    /// Kubernetes version of the API servers; metric names follow the nearest real scrape.
    /// The patch matters for audit annotations (a version without one simulates a patch release without the 1.34/1.35 audit-annotation regression).
    pub kubernetes_version: KubeVersion,
    /// Number of kube-apiserver replicas (1 to 16).
    pub replicas: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Wall-clock time of simulated second zero, milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
}

impl ScenarioConfig {
    /// A configuration with 2 replicas, seed 1 and start time 2026-01-01T00:00:00Z.
    pub fn new(scenario: &str, kubernetes_version: KubeVersion) -> Self {
        Self {
            scenario: scenario.to_string(),
            kubernetes_version,
            replicas: 2,
            seed: 1,
            start_unix_ms: 1_767_225_600_000,
        }
    }
}

const TICK: f64 = 1.0;
const WATCH_MEAN_SECONDS: f64 = 450.0;
/// etcd's request timeout: 5 s plus twice the 1 s election timeout.
const ETCD_REQUEST_TIMEOUT: f64 = 7.0;
/// kube-apiserver `--request-timeout` for requests that are not long-running.
const REQUEST_TIMEOUT: f64 = 60.0;

/// Why a request that was not rejected by APF still failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// etcd did not answer within its request timeout: 500 `etcdserver: request timed out`.
    EtcdTimedOut,
    /// A validating webhook with `failurePolicy: Fail` hung until its timeout: 500.
    WebhookHung,
    /// The request ran past `--request-timeout`: the timeout filter answers 504 and counts a
    /// termination.
    Deadline,
}

/// One simulated kube-apiserver replica.
struct Replica {
    version: KubeVersion,
    store: Store,
    /// APF: levels, schemas, seats and their division, from `apilens-apf`.
    apf: Priority,
    current_limit: Vec<f64>,
    /// Queued seat-seconds per (priority level index, flow key).
    backlog: HashMap<(usize, String), f64>,
    cpu_seconds: f64,
    start_unix_s: f64,
    /// Open watches per resource.
    watchers: BTreeMap<Resource, f64>,
    /// Open watches per (resource, scope label), for the long-running gauge.
    longrunning: BTreeMap<(Resource, &'static str), f64>,
    /// Σ over watchers of the fraction of a resource's events each one receives.
    fanout: BTreeMap<Resource, f64>,
    /// Resident memory in bytes: the Go runtime grows the heap to the peak of the objects in
    /// flight and returns it to the system only slowly.
    rss: f64,
    /// Whether a deprecated API was requested (its gauge is set from then on).
    deprecated_seen: bool,
}

/// What fair queuing decided for one flow this tick: wait, rejection probability and
/// reason, and the queue length.
type FlowOutcome = (f64, f64, Option<&'static str>, f64);

/// A request drawn in the current tick.
struct Pending {
    client: usize,
    spec: usize,
    instance: u32,
    replica: usize,
    at_us: i64,
    namespace: Option<String>,
    name: Option<String>,
    from_cache: bool,
    returned: f64,
    fetched: f64,
    bytes: f64,
    etcd_s: f64,
    exec_s: f64,
    webhook_s: f64,
    class: SimClass,
    level: usize,
    work: WorkEstimate,
    wait_s: f64,
    queued: f64,
    rejected: Option<&'static str>,
    failure: Option<Failure>,
    code: u16,
    watch_s: f64,
}

/// The simulator. See the crate documentation for an example.
pub struct Simulator {
    config: ScenarioConfig,
    scenario: Scenario,
    tick: u64,
    replicas: Vec<Replica>,
    etcd: Store,
    audit: Option<Box<dyn Write + Send>>,
    audit_buf: Vec<(i64, String)>,
    etcd_read_bytes_last: f64,
    /// Replica of each instance of each client (connections are sticky).
    assignment: Vec<Vec<u8>>,
    /// Each client's groups, as authentication gives them (`priority::groups`).
    client_groups: Vec<Vec<String>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Builds the cluster of a scenario; simulated time starts at zero.
    ///
    /// # Errors
    /// [`SimError::UnknownScenario`] or [`SimError::InvalidConfig`] naming the bad setting.
    pub fn new(config: ScenarioConfig) -> Result<Self, SimError> {
        if config.replicas == 0 || config.replicas > 16 {
            return Err(SimError::InvalidConfig {
                what: format!("replicas must be between 1 and 16, got {}", config.replicas),
            });
        }
        if config.kubernetes_version.major != 1 || config.kubernetes_version.minor < 14 {
            return Err(SimError::InvalidConfig {
                what: format!(
                    "kubernetes version {} is not simulated: expected 1.14 or newer",
                    config.kubernetes_version
                ),
            });
        }
        let catalog = Catalog::apiserver_for(config.kubernetes_version);
        let build = catalog.family("kubernetes_build_info");
        let constant = |key: &str| {
            build
                .and_then(|f| {
                    f.constant
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default()
        };
        let commit_full = constant("git_commit");
        let commit: String = commit_full.chars().take(7).collect();
        let scenario = scenario::build(
            &config.scenario,
            config.kubernetes_version,
            config.replicas,
            &commit,
        )?;
        let start_s = config.start_unix_ms as f64 / 1000.0;
        let mut replicas = Vec::with_capacity(config.replicas);
        for (i, version) in scenario.replica_versions.iter().enumerate() {
            let apf = Priority::new(*version);
            let current_limit = (0..apf.capacity.levels.len())
                .map(|i| f64::from(apf.divider.limit(i)))
                .collect();
            // Replica 0 of upgrade-skew restarted recently; the others have run for days.
            let uptime = if scenario.replica_weights[i] < 0.5 / config.replicas as f64 {
                1_800.0
            } else {
                86_400.0 * 3.0 + 3_600.0 * i as f64
            };
            replicas.push(Replica {
                version: *version,
                store: Store::new(Catalog::apiserver_for(*version)),
                apf,
                current_limit,
                backlog: HashMap::new(),
                cpu_seconds: uptime * 0.4,
                start_unix_s: (start_s - uptime).floor(),
                watchers: BTreeMap::new(),
                longrunning: BTreeMap::new(),
                fanout: BTreeMap::new(),
                rss: 0.0,
                deprecated_seen: false,
            });
        }
        let mut sim = Self {
            etcd: Store::new(Catalog::etcd_for(config.kubernetes_version)),
            config,
            scenario,
            tick: 0,
            replicas,
            audit: None,
            audit_buf: Vec::new(),
            etcd_read_bytes_last: 0.0,
            assignment: Vec::new(),
            client_groups: Vec::new(),
        };
        sim.client_groups = sim
            .scenario
            .clients
            .iter()
            .map(|c| crate::priority::groups(&c.identity))
            .collect();
        sim.assign_connections();
        sim.init_metrics();
        Ok(sim)
    }

    /// Sends audit events to `sink` from now on (one JSON `Event` per line).
    pub fn set_audit_sink(&mut self, sink: Box<dyn Write + Send>) {
        self.audit = Some(sink);
    }

    /// The configuration.
    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }

    /// Number of API server replicas.
    pub fn replicas(&self) -> usize {
        self.replicas.len()
    }

    /// Kubernetes version replica `index` runs (replicas differ in `upgrade-skew`).
    ///
    /// # Errors
    /// [`SimError::NoSuchReplica`] when `index` is out of range.
    pub fn replica_version(&self, index: usize) -> Result<KubeVersion, SimError> {
        self.replica(index).map(|r| r.version)
    }

    /// Simulated time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_secs(self.tick)
    }

    /// Simulated wall-clock time, milliseconds since the Unix epoch.
    pub fn now_unix_ms(&self) -> i64 {
        self.config.start_unix_ms + self.tick as i64 * 1000
    }

    /// Advances simulated time by `by`, rounded down to whole seconds.
    ///
    /// # Errors
    /// [`SimError::AuditWrite`] when the audit sink fails; the metrics have advanced anyway.
    pub fn advance(&mut self, by: Duration) -> Result<(), SimError> {
        for _ in 0..by.as_secs() {
            self.step()?;
        }
        Ok(())
    }

    /// Advances simulated time until it reaches `unix_ms` (no-op when already there).
    ///
    /// # Errors
    /// As [`Simulator::advance`].
    pub fn advance_to(&mut self, unix_ms: i64) -> Result<(), SimError> {
        while self.now_unix_ms() + 1000 <= unix_ms {
            self.step()?;
        }
        Ok(())
    }

    /// The `/metrics` text of replica `index`, Prometheus text format 0.0.4.
    ///
    /// # Errors
    /// [`SimError::NoSuchReplica`] when `index` is out of range.
    pub fn render_metrics(&self, index: usize) -> Result<String, SimError> {
        let r = self.replica(index)?;
        let mut out = String::with_capacity(256 * 1024);
        r.store.render(&mut out);
        Ok(out)
    }

    /// The `/metrics` text of the etcd server.
    pub fn render_etcd_metrics(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        self.etcd.render(&mut out);
        out
    }

    /// Name of the real scrape whose catalog replica `index` follows.
    ///
    /// # Errors
    /// [`SimError::NoSuchReplica`] when `index` is out of range.
    pub fn catalog_source(&self, index: usize) -> Result<&str, SimError> {
        self.replica(index)
            .map(|r| r.store.catalog().source.as_str())
    }

    /// Name of the real etcd scrape whose catalog the etcd target follows.
    pub fn etcd_catalog_source(&self) -> &str {
        self.etcd.catalog().source.as_str()
    }

    fn replica(&self, index: usize) -> Result<&Replica, SimError> {
        self.replicas.get(index).ok_or(SimError::NoSuchReplica {
            index,
            replicas: self.replicas.len(),
        })
    }

    fn assign_connections(&mut self) {
        let weights = &self.scenario.replica_weights;
        let total: f64 = weights.iter().sum();
        let mut assignment = Vec::new();
        for (ci, client) in self.scenario.clients.iter().enumerate() {
            let mut v = Vec::with_capacity(client.instances as usize);
            for inst in 0..client.instances {
                let mut r = Rng::derive(self.config.seed, 0xC0FFEE + ci as u64, u64::from(inst));
                let mut x = r.f64() * total;
                let mut pick = weights.len() - 1;
                for (i, w) in weights.iter().enumerate() {
                    if x < *w {
                        pick = i;
                        break;
                    }
                    x -= w;
                }
                v.push(pick as u8);
            }
            assignment.push(v);
        }
        // Open watches per replica.
        for (ci, client) in self.scenario.clients.iter().enumerate() {
            for spec in client.requests.iter().filter(|s| s.verb == Verb::Watch) {
                let selectivity = self.selectivity(spec);
                for inst in 0..client.instances {
                    let rep = &mut self.replicas[assignment[ci][inst as usize] as usize];
                    *rep.watchers.entry(spec.resource).or_default() += spec.rate;
                    *rep.longrunning
                        .entry((spec.resource, scope_label(spec)))
                        .or_default() += spec.rate;
                    *rep.fanout.entry(spec.resource).or_default() += spec.rate * selectivity;
                }
            }
        }
        self.assignment = assignment;
    }

    fn objects(&self, r: Resource) -> f64 {
        self.scenario.objects.get(&r).copied().unwrap_or(0.0)
    }

    /// Fraction of a resource's objects (and events) a request sees.
    fn selectivity(&self, spec: &RequestSpec) -> f64 {
        let n = self.objects(spec.resource).max(1.0);
        if spec.name.is_some() {
            1.0 / n
        } else if spec.node_selector {
            1.0 / f64::from(self.scenario.nodes.max(1))
        } else {
            match spec.scope {
                Scope::Cluster => 1.0,
                _ if !spec.resource.info().namespaced => 1.0,
                _ => 1.0 / self.scenario.namespaces.len().max(1) as f64,
            }
        }
    }

    fn init_metrics(&mut self) {
        for rep in &mut self.replicas {
            let v = rep.version;
            let git_version = format!(
                "v{}.{}.{}",
                v.major,
                v.minor,
                crate::version::effective_patch(v)
            );
            let minor = v.minor.to_string();
            let major = v.major.to_string();
            let fam = rep.store.catalog().family("kubernetes_build_info").cloned();
            if let Some(f) = fam {
                let mut pairs: Vec<(&str, &str)> = f
                    .constant
                    .iter()
                    .map(|(k, val)| (k.as_str(), val.as_str()))
                    .collect();
                for (k, val) in [
                    ("git_version", git_version.as_str()),
                    ("minor", &minor),
                    ("major", &major),
                ] {
                    if let Some(p) = pairs.iter_mut().find(|(pk, _)| *pk == k) {
                        p.1 = val;
                    }
                }
                rep.store.set("kubernetes_build_info", &pairs, 1.0);
            }
            rep.store
                .set("process_start_time_seconds", &[], rep.start_unix_s);
        }
        if let Some(f) = self.etcd.catalog().family("etcd_server_version").cloned() {
            let pairs: Vec<(&str, &str)> = f
                .constant
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            self.etcd.set("etcd_server_version", &pairs, 1.0);
        }
        let etcd_start = (self.config.start_unix_ms as f64 / 1000.0 - 86_400.0 * 9.0).floor();
        self.etcd.set("process_start_time_seconds", &[], etcd_start);
        self.etcd.set("etcd_server_has_leader", &[], 1.0);
        self.etcd.set("etcd_server_is_leader", &[], 1.0);
        self.etcd
            .inc("etcd_server_leader_changes_seen_total", &[], 1.0);
        self.etcd
            .inc("etcd_server_proposals_failed_total", &[], 0.0);
        self.etcd
            .set("etcd_server_proposals_failed_total", &[], 0.0);
    }

    fn client(&self, ci: usize) -> &ClientSpec {
        &self.scenario.clients[ci]
    }

    /// etcd latency multiplier from the disk and from last second's read volume.
    fn etcd_factor(&self, mutating: bool) -> f64 {
        let disk = self.scenario.etcd_disk_factor;
        let load_mb = self.etcd_read_bytes_last / 1e6;
        let load = 1.0 + (load_mb / 300.0).powf(1.5).min(19.0);
        let disk_effect = if mutating {
            1.0
        } else {
            1.0 + 0.25 * (disk - 1.0)
        };
        load * disk_effect
    }

    fn fsync_median(&self) -> f64 {
        let load_mb = self.etcd_read_bytes_last / 1e6;
        0.002 * self.scenario.etcd_disk_factor * (1.0 + (load_mb / 600.0).min(10.0))
    }

    fn step(&mut self) -> Result<(), SimError> {
        let tick = self.tick;
        let mut rng = Rng::derive(self.config.seed, 1, tick);
        let tick_start_us = (self.config.start_unix_ms + tick as i64 * 1000) * 1000;
        let mut pending = Vec::new();
        for ci in 0..self.scenario.clients.len() {
            for si in 0..self.client(ci).requests.len() {
                let (instances, spec, ramp) = {
                    let c = self.client(ci);
                    let ramp = self
                        .scenario
                        .ramp_up_s
                        .get(&c.name)
                        .map_or(1.0, |ramp_s| ((tick + 1) as f64 / ramp_s).min(1.0));
                    (c.instances, c.requests[si].clone(), ramp)
                };
                let lambda = ramp
                    * if spec.verb == Verb::Watch {
                        f64::from(instances) * spec.rate * TICK / WATCH_MEAN_SECONDS
                    } else {
                        f64::from(instances) * spec.rate * TICK
                    };
                for _ in 0..rng.poisson(lambda) {
                    let instance = rng.below(u64::from(instances)) as u32;
                    let at_us = tick_start_us + rng.below(1_000_000) as i64;
                    let p = self.draw(&mut rng, ci, si, &spec, instance, at_us);
                    pending.push(p);
                }
            }
        }
        self.schedule(&mut rng, &mut pending);
        for p in &mut pending {
            let verb = self.scenario.clients[p.client].requests[p.spec].verb;
            if verb != Verb::Watch && p.rejected.is_none() && p.wait_s + p.exec_s > REQUEST_TIMEOUT
            {
                p.failure = Some(Failure::Deadline);
                p.code = 504;
            }
        }
        // Audit draws come from their own stream, so metrics are the same with or without a sink.
        let mut audit_rng = Rng::derive(self.config.seed, 2, tick);
        let mut etcd_read_bytes = 0.0;
        let mut writes: BTreeMap<Resource, f64> = BTreeMap::new();
        for p in &pending {
            let spec = self.client(p.client).requests[p.spec].clone();
            if p.rejected.is_none() && p.failure.is_none() && !p.from_cache {
                etcd_read_bytes += if spec.verb.is_mutating() {
                    0.0
                } else {
                    p.bytes.max(p.fetched * spec.resource.info().object_bytes)
                };
            }
            if p.rejected.is_none()
                && !matches!(
                    p.failure,
                    Some(Failure::EtcdTimedOut | Failure::WebhookHung)
                )
                && spec.verb.is_mutating()
            {
                *writes.entry(spec.resource).or_default() += 1.0;
            }
            self.record(&mut rng, &mut audit_rng, p, &spec);
        }
        self.etcd_read_bytes_last = etcd_read_bytes;
        self.update_gauges(&mut rng, &pending, &writes);
        self.tick += 1;
        self.flush_audit()
    }

    /// Draws one request: where it is served and how long it runs before APF.
    fn draw(
        &self,
        rng: &mut Rng,
        ci: usize,
        si: usize,
        spec: &RequestSpec,
        instance: u32,
        at_us: i64,
    ) -> Pending {
        let client = self.client(ci);
        let replica = self.assignment[ci][instance as usize] as usize;
        let version = self.replicas[replica].version;
        let info = spec.resource.info();
        let namespace = match &spec.scope {
            _ if !info.namespaced => None,
            Scope::Cluster => None,
            Scope::Namespace(ns) => Some(ns.clone()),
            Scope::AnyNamespace => {
                let n = self.scenario.namespaces.len() as u64;
                Some(self.scenario.namespaces[rng.below(n) as usize].clone())
            }
        };
        let node = node_name(instance);
        let name = spec.name.as_ref().map(|n| match n.as_str() {
            "{node}" => node.clone(),
            "{pod}" => format!("{}-{}", pick_app(rng), pod_suffix(rng.next_u64())),
            "{obj}" => format!("{}-{}", pick_app(rng), rng.below(40)),
            other => other.to_string(),
        });
        let name = if spec.verb == Verb::Create && spec.subresource.is_empty() {
            None
        } else {
            name
        };
        let total = self.objects(spec.resource);
        let in_scope = if namespace.is_some() && spec.name.is_none() {
            total / self.scenario.namespaces.len() as f64
        } else {
            total
        };
        let from_cache = match spec.verb {
            Verb::Watch => true,
            Verb::Get => spec.rv_zero,
            Verb::List => {
                spec.rv_zero || (version.at_least(1, 31) && self.scenario.progress_notify)
            }
            _ => false,
        };
        let matching = if spec.node_selector {
            in_scope / f64::from(self.scenario.nodes.max(1))
        } else {
            in_scope
        };
        let (returned, fetched) = match spec.verb {
            Verb::List => {
                let limit_honoured = !spec.rv_zero || version.at_least(1, 31);
                let returned = match spec.limit {
                    Some(l) if limit_honoured => matching.min(f64::from(l)),
                    _ => matching,
                };
                let fetched = if from_cache {
                    0.0
                } else if spec.node_selector {
                    in_scope
                } else {
                    returned
                };
                (returned.round(), fetched.round())
            }
            Verb::Watch => (0.0, 0.0),
            _ => (1.0, if from_cache { 0.0 } else { 1.0 }),
        };
        let bytes = if matches!(spec.verb, Verb::Get | Verb::List) {
            (returned * info.object_bytes * rng.lognormal(1.0, 0.1)).max(200.0) + 120.0
        } else {
            0.0
        };
        let mutating = spec.verb.is_mutating();
        let mut etcd_s = 0.0;
        if !from_cache {
            let base = match spec.verb {
                Verb::Get => 0.0012,
                Verb::List => 0.002,
                _ => 0.003,
            };
            etcd_s = base * rng.lognormal(1.0, 0.3) * self.etcd_factor(mutating)
                + fetched * info.object_bytes / 400e6 * self.etcd_factor(false)
                + if mutating {
                    2.0 * self.fsync_median() * rng.lognormal(1.0, 0.3)
                } else {
                    0.0
                };
        }
        let mut failure = None;
        if !from_cache && let Some(stalls) = self.scenario.etcd_stalls {
            let t = (at_us as f64 / 1e6) - self.config.start_unix_ms as f64 / 1000.0;
            if let Some(left) = stalls.remaining(t) {
                if left > ETCD_REQUEST_TIMEOUT {
                    etcd_s = ETCD_REQUEST_TIMEOUT + rng.lognormal(0.002, 0.3);
                    failure = Some(Failure::EtcdTimedOut);
                } else {
                    etcd_s += left;
                }
            }
        }
        // A request etcd failed decodes and serializes nothing.
        let served = if failure.is_some() { 0.0 } else { 1.0 };
        let decode = if from_cache {
            0.0
        } else {
            served * fetched * 8e-6
        };
        let scan = if from_cache && spec.verb == Verb::List {
            matching * 0.4e-6 + total * 0.05e-6
        } else {
            0.0
        };
        let serialize = served * bytes / 250e6;
        let overhead = rng.lognormal(0.0012, 0.35);
        let webhook_s = match &self.scenario.webhook {
            Some(w)
                if mutating
                    && w.resources.contains(&spec.resource)
                    && spec.subresource.is_empty() =>
            {
                if rng.chance(w.hang_share) {
                    failure = Some(Failure::WebhookHung);
                    // The write never reaches etcd.
                    etcd_s = 0.0;
                    w.timeout_seconds + rng.lognormal(0.002, 0.3)
                } else {
                    rng.lognormal(w.median_seconds, 0.35)
                }
            }
            _ => 0.0,
        };
        let exec_s = if spec.verb == Verb::Watch {
            0.002 + rng.lognormal(0.001, 0.3)
        } else {
            overhead + etcd_s + decode + scan + serialize + webhook_s
        };
        let username = username(client, instance);
        let rep = &self.replicas[replica];
        let class = rep.apf.classify(
            &self.client_groups[ci],
            &username,
            spec.verb,
            &info,
            spec.subresource,
            namespace.as_deref().unwrap_or(""),
            name.as_deref()
                .filter(|_| spec.verb != Verb::List)
                .unwrap_or(""),
        );
        let level = class.level;
        let work = rep.apf.estimate(
            spec,
            level,
            from_cache,
            total,
            info.object_bytes,
            rep.watchers.get(&spec.resource).copied().unwrap_or(0.0),
        );
        // APF estimated the work before the request ran; a failed one returns nothing.
        let (returned, fetched, bytes) = if failure.is_some() {
            (0.0, 0.0, 0.0)
        } else {
            (returned, fetched, bytes)
        };
        let code = match spec.verb {
            _ if failure.is_some() => 500,
            Verb::Create => 201,
            Verb::Get if rng.chance(0.004) => 404,
            Verb::Update if rng.chance(0.004) => 409,
            _ => 200,
        };
        Pending {
            client: ci,
            spec: si,
            instance,
            replica,
            at_us,
            namespace,
            name,
            from_cache,
            returned,
            fetched,
            bytes,
            etcd_s,
            exec_s,
            webhook_s,
            class,
            level,
            work,
            wait_s: 0.0,
            queued: 0.0,
            rejected: None,
            failure,
            code,
            watch_s: if spec.verb == Verb::Watch {
                300.0 + 300.0 * rng.f64()
            } else {
                0.0
            },
        }
    }

    /// APF: borrowing between levels, fair queuing between flows, queue limits and 429s.
    ///
    /// Levels, limits, the wait limit and the re-division of seats every 10 s come from
    /// `apilens-apf` (`SeatDivider`); the queueing within a one-second tick is the simulator's
    /// own water-filling of each level's seat-seconds over its flows (see ARCHITECTURE.md).
    #[allow(clippy::needless_range_loop)] // levels are indexed in several parallel vectors
    fn schedule(&mut self, rng: &mut Rng, pending: &mut [Pending]) {
        let now = self.tick as f64 * TICK;
        for (ri, rep) in self.replicas.iter_mut().enumerate() {
            let n_levels = rep.apf.capacity.levels.len();
            let wait_limit = rep.apf.queue_wait_limit();
            // Demand per level and per flow, in seat-seconds this tick.
            let mut flows: Vec<BTreeMap<String, (f64, f64)>> = vec![BTreeMap::new(); n_levels];
            for p in pending.iter().filter(|p| p.replica == ri) {
                let key = format!("{}|{}", p.class.schema, p.class.distinguisher);
                let e = flows[p.level].entry(key).or_insert((0.0, 0.0));
                e.0 += p.work.seat_seconds(p.exec_s);
                e.1 += 1.0;
            }
            let demand: Vec<f64> = (0..n_levels)
                .map(|l| {
                    let backlog: f64 = rep
                        .backlog
                        .iter()
                        .filter(|((li, _), _)| *li == l)
                        .map(|(_, b)| *b)
                        .sum();
                    flows[l].values().map(|(d, _)| d).sum::<f64>() + backlog
                })
                .collect();
            // Borrowing (1.26+): the server re-divides its seats every 10 s from the seat
            // demand it saw; this tick's demand holds for the whole tick.
            for l in 0..n_levels {
                rep.apf.divider.set_demand(l, now, demand[l] / TICK);
            }
            let period = apilens_apf::BORROWING_PERIOD_S;
            if rep.apf.divider.borrows() && self.tick > 0 && (now % period) < TICK {
                rep.apf.divider.adjust(now);
            }
            for l in 0..n_levels {
                rep.current_limit[l] = f64::from(rep.apf.divider.limit(l));
            }
            // Fair queuing: water-fill each level's capacity over its flows.
            let mut outcome: HashMap<(usize, String), FlowOutcome> = HashMap::new();
            for l in 0..n_levels {
                let level = rep.apf.level(l);
                if level.exempt
                    || flows[l].is_empty() && !rep.backlog.keys().any(|(li, _)| *li == l)
                {
                    continue;
                }
                let mut keys: Vec<(String, f64, f64, f64)> = flows[l]
                    .iter()
                    .map(|(k, (d, n))| {
                        let b = rep.backlog.get(&(l, k.clone())).copied().unwrap_or(0.0);
                        (k.clone(), *d, *n, b)
                    })
                    .collect();
                for ((li, k), b) in &rep.backlog {
                    if *li == l && !flows[l].contains_key(k) {
                        keys.push((k.clone(), 0.0, 0.0, *b));
                    }
                }
                keys.sort_by(|a, b| (a.1 + a.3).total_cmp(&(b.1 + b.3)).then(a.0.cmp(&b.0)));
                let capacity = rep.current_limit[l].max(1.0) * TICK;
                let total_demand: f64 = keys.iter().map(|k| k.1 + k.3).sum();
                let utilization = total_demand / capacity;
                let mut remaining = capacity;
                let mut left = keys.len();
                for (key, new, n, old_backlog) in keys {
                    let want = new + old_backlog;
                    let alloc = want.min(remaining / left as f64);
                    remaining -= alloc;
                    left -= 1;
                    let mut backlog = want - alloc;
                    let per_request = if n > 0.0 { new / n } else { 0.01 };
                    let mut reject_p = 0.0;
                    let mut reason = None;
                    let mut wait = 0.0;
                    if level.reject {
                        if backlog > 0.0 && new > 0.0 {
                            reject_p = (backlog / new).min(1.0);
                            reason = Some("concurrency-limit");
                        }
                        backlog = 0.0;
                    } else {
                        let rate = alloc.max(1e-3) / TICK;
                        wait = backlog / rate;
                        let queued = backlog / per_request.max(1e-3);
                        let queue_cap =
                            f64::from(level.hand_size) * f64::from(level.queue_length_limit);
                        if wait > wait_limit || queued > queue_cap {
                            let keep = (wait_limit * rate).min(queue_cap * per_request);
                            let excess = backlog - keep;
                            if new > 0.0 {
                                reject_p = (excess / new).clamp(0.0, 1.0);
                            }
                            reason = Some(if queued > queue_cap {
                                "queue-full"
                            } else {
                                "time-out"
                            });
                            backlog = keep;
                            wait = keep / rate;
                        }
                    }
                    if utilization < 1.0 {
                        wait += per_request * ((utilization - 0.5).max(0.0) * 2.0).powi(2);
                    }
                    let queued = backlog / per_request.max(1e-3);
                    if backlog > 1e-9 {
                        rep.backlog.insert((l, key.clone()), backlog);
                    } else {
                        rep.backlog.remove(&(l, key.clone()));
                    }
                    outcome.insert((l, key), (wait, reject_p, reason, queued));
                }
            }
            for p in pending.iter_mut().filter(|p| p.replica == ri) {
                let key = (
                    p.level,
                    format!("{}|{}", p.class.schema, p.class.distinguisher),
                );
                let Some((wait, reject_p, reason, queued)) = outcome.get(&key) else {
                    continue;
                };
                p.queued = *queued;
                if *reject_p > 0.0 && rng.chance(*reject_p) {
                    p.rejected = *reason;
                    p.code = 429;
                    p.wait_s = if *reason == Some("time-out") {
                        wait_limit + rng.f64() * 0.01
                    } else {
                        rng.lognormal(0.0003, 0.3)
                    };
                } else {
                    p.wait_s = wait * (0.5 + rng.f64()) + rng.lognormal(0.00002, 0.5);
                    // The filter waits at most its wait limit (apf's, by version): a request
                    // still queued then is rejected with reason time-out.
                    if p.wait_s > wait_limit {
                        p.rejected = Some("time-out");
                        p.code = 429;
                        p.wait_s = wait_limit + rng.f64() * 0.01;
                    }
                }
            }
        }
    }

    /// Records one finished request in its replica's metrics, etcd's metrics and the audit log.
    fn record(&mut self, rng: &mut Rng, audit_rng: &mut Rng, p: &Pending, spec: &RequestSpec) {
        let client = &self.scenario.clients[p.client];
        let rep = &mut self.replicas[p.replica];
        let version = rep.version;
        let info = spec.resource.info();
        let rejected = p.rejected.is_some();
        let watch = spec.verb == Verb::Watch;
        let latency = if watch {
            p.watch_s
        } else if rejected {
            p.wait_s
        } else if p.failure == Some(Failure::Deadline) {
            // The timeout filter answers at the deadline; the handler runs on.
            REQUEST_TIMEOUT
        } else {
            // Final seats are held after the response is sent: no client-visible latency.
            p.wait_s + p.exec_s
        };
        let scope = if (p.name.is_some() && !watch) || (watch && spec.name.is_some()) {
            "resource"
        } else if p.namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        let code = p.code.to_string();
        // 1.16 still declares `client`, but real servers of that era leave it empty.
        let client_label = "";
        let content_type = if matches!(client.identity, Identity::Node)
            || client.user_agent.contains("kubernetes/")
        {
            "application/vnd.kubernetes.protobuf"
        } else {
            "application/json"
        };
        let req: [(&str, &str); 11] = [
            ("verb", spec.verb.metric()),
            ("dry_run", ""),
            ("group", info.group),
            ("version", info.version),
            ("resource", info.resource),
            ("subresource", spec.subresource),
            ("scope", scope),
            ("component", "apiserver"),
            ("code", &code),
            ("client", client_label),
            ("contentType", content_type),
        ];
        let deprecated = is_deprecated(spec.resource, version);
        if deprecated && !rep.deprecated_seen {
            rep.deprecated_seen = true;
            rep.store.set(
                "apiserver_requested_deprecated_apis",
                &[
                    ("group", info.group),
                    ("version", info.version),
                    ("resource", info.resource),
                    ("subresource", spec.subresource),
                    ("removed_release", ""),
                ],
                1.0,
            );
        }
        let s = &mut rep.store;
        s.inc("apiserver_request_total", &req, 1.0);
        s.observe("apiserver_request_duration_seconds", &req, latency);
        if !watch && !rejected {
            let sli = (latency - p.wait_s - p.webhook_s).max(0.0);
            s.observe("apiserver_request_sli_duration_seconds", &req, sli);
            s.observe("apiserver_request_slo_duration_seconds", &req, sli);
        }
        if matches!(spec.verb, Verb::Get | Verb::List) && !rejected && p.failure.is_none() {
            s.observe("apiserver_response_sizes", &req, p.bytes);
        }
        // Requests cut short in self-defence: APF (or max-inflight) rejections and the
        // timeout filter's 504s.
        if rejected || p.failure == Some(Failure::Deadline) {
            s.inc("apiserver_request_terminations_total", &req, 1.0);
        }
        // APF.
        let pl = rep.apf.level_name(p.class.level);
        let fs = rep.apf.schema_name(p.class.schema);
        let apf_labels: [(&str, &str); 2] = [("priority_level", pl), ("flow_schema", fs)];
        if let Some(reason) = p.rejected {
            s.inc(
                "apiserver_flowcontrol_rejected_requests_total",
                &[
                    ("priority_level", pl),
                    ("flow_schema", fs),
                    ("reason", reason),
                ],
                1.0,
            );
            s.observe(
                "apiserver_flowcontrol_request_wait_duration_seconds",
                &[
                    ("priority_level", pl),
                    ("flow_schema", fs),
                    ("execute", "false"),
                ],
                p.wait_s,
            );
        } else if pl != "exempt" || version.at_least(1, 20) {
            s.inc(
                "apiserver_flowcontrol_dispatched_requests_total",
                &apf_labels,
                1.0,
            );
            s.observe(
                "apiserver_flowcontrol_request_wait_duration_seconds",
                &[
                    ("priority_level", pl),
                    ("flow_schema", fs),
                    ("execute", "true"),
                ],
                p.wait_s,
            );
            s.observe(
                "apiserver_flowcontrol_request_execution_seconds",
                &[
                    ("priority_level", pl),
                    ("flow_schema", fs),
                    ("type", if watch { "watch" } else { "regular" }),
                ],
                p.exec_s,
            );
            s.observe(
                "apiserver_flowcontrol_work_estimated_seats",
                &apf_labels,
                f64::from(p.work.max_seats()),
            );
            if p.wait_s > 0.001 {
                s.observe(
                    "apiserver_flowcontrol_request_queue_length_after_enqueue",
                    &apf_labels,
                    p.queued.round(),
                );
            }
        }
        if !rejected {
            // Storage.
            let group_resource: [(&str, &str); 2] =
                [("group", info.group), ("resource", info.resource)];
            if spec.verb == Verb::List {
                let index = if spec.node_selector && spec.resource == Resource::Pods {
                    "f:spec.nodeName"
                } else {
                    ""
                };
                if p.failure.is_some() {
                    // Nothing was returned.
                } else if p.from_cache {
                    let prefix = if info.group.contains('.')
                        && info.group != "discovery.k8s.io"
                        && info.group != "coordination.k8s.io"
                    {
                        format!("/{}/{}", info.group, info.resource)
                    } else {
                        format!("/{}", info.resource)
                    };
                    let l = [
                        ("group", info.group),
                        ("resource", info.resource),
                        ("resource_prefix", prefix.as_str()),
                        ("index", index),
                    ];
                    let scanned = if index.is_empty() {
                        self.scenario
                            .objects
                            .get(&spec.resource)
                            .copied()
                            .unwrap_or(0.0)
                    } else {
                        p.returned
                    };
                    s.inc("apiserver_cache_list_total", &l, 1.0);
                    s.inc("apiserver_cache_list_fetched_objects_total", &l, scanned);
                    s.inc(
                        "apiserver_cache_list_returned_objects_total",
                        &l,
                        p.returned,
                    );
                } else {
                    let qualified = spec.resource.qualified();
                    let l = [
                        ("group", info.group),
                        (
                            "resource",
                            if version.at_least(1, 34) {
                                info.resource
                            } else {
                                qualified.as_str()
                            },
                        ),
                    ];
                    s.inc("apiserver_storage_list_total", &l, 1.0);
                    s.inc(
                        "apiserver_storage_list_fetched_objects_total",
                        &l,
                        p.fetched,
                    );
                    s.inc(
                        "apiserver_storage_list_evaluated_objects_total",
                        &l,
                        p.fetched,
                    );
                    s.inc(
                        "apiserver_storage_list_returned_objects_total",
                        &l,
                        p.returned,
                    );
                }
            }
            let reaches_etcd = !p.from_cache && p.failure != Some(Failure::WebhookHung);
            if reaches_etcd {
                let qualified = spec.resource.qualified();
                let type_label = if version.at_least(1, 26) {
                    qualified.as_str()
                } else {
                    info.go_type
                };
                let op = spec.verb.etcd_operation();
                let l = [
                    ("operation", op),
                    ("type", type_label),
                    group_resource[0],
                    group_resource[1],
                ];
                s.observe("etcd_request_duration_seconds", &l, p.etcd_s);
                s.inc("etcd_requests_total", &l, 1.0);
            }
            if p.webhook_s > 0.0
                && let Some(w) = &self.scenario.webhook
            {
                s.observe(
                    "apiserver_admission_webhook_admission_duration_seconds",
                    &[
                        ("name", w.name),
                        ("operation", spec.verb.admission_operation()),
                        (
                            "rejected",
                            if p.failure == Some(Failure::WebhookHung) {
                                "true"
                            } else {
                                "false"
                            },
                        ),
                        ("type", "validating"),
                    ],
                    p.webhook_s,
                );
                if p.failure == Some(Failure::WebhookHung) {
                    // failurePolicy: Fail turns the call that timed out into a rejection
                    // (`validating/dispatcher.go`): no HTTP status, so code 0.
                    s.inc(
                        "apiserver_admission_webhook_rejection_count",
                        &[
                            ("name", w.name),
                            ("type", "validating"),
                            ("operation", spec.verb.admission_operation()),
                            ("error_type", "calling_webhook_error"),
                            ("rejection_code", "0"),
                        ],
                        1.0,
                    );
                }
            }
            rep.cpu_seconds += p.exec_s.min(2.0) * 0.15 + p.bytes * 4e-9 + 0.0002;
            // etcd server side.
            if reaches_etcd {
                let e = &mut self.etcd;
                let timed_out = p.failure == Some(Failure::EtcdTimedOut);
                let (method, mutating) = if spec.verb.is_mutating() {
                    ("Txn", true)
                } else {
                    ("Range", false)
                };
                let grpc = [
                    ("grpc_method", method),
                    ("grpc_service", "etcdserverpb.KV"),
                    ("grpc_type", "unary"),
                ];
                e.inc("grpc_server_started_total", &grpc, 1.0);
                e.inc(
                    "grpc_server_handled_total",
                    &[
                        grpc[0],
                        ("grpc_code", if timed_out { "Unavailable" } else { "OK" }),
                        grpc[1],
                        grpc[2],
                    ],
                    1.0,
                );
                if timed_out {
                    if mutating {
                        e.inc("etcd_server_proposals_failed_total", &[], 1.0);
                    }
                } else if mutating {
                    e.inc("etcd_mvcc_txn_total", &[], 1.0);
                    if spec.verb == Verb::Delete {
                        e.inc("etcd_mvcc_delete_total", &[], 1.0);
                    } else {
                        e.inc("etcd_mvcc_put_total", &[], 1.0);
                    }
                    e.inc(
                        "etcd_network_client_grpc_received_bytes_total",
                        &[],
                        info.object_bytes,
                    );
                    let fsync = rng.lognormal(
                        self_fsync(self.scenario.etcd_disk_factor, self.etcd_read_bytes_last),
                        0.35,
                    );
                    e.observe("etcd_disk_wal_fsync_duration_seconds", &[], fsync);
                    if fsync > 0.1 {
                        e.inc("etcd_server_slow_apply_total", &[], 1.0);
                    }
                } else {
                    e.inc("etcd_mvcc_range_total", &[], 1.0);
                    e.inc(
                        "etcd_network_client_grpc_sent_bytes_total",
                        &[],
                        p.fetched * info.object_bytes + 64.0,
                    );
                }
            }
        }
        if self.audit.is_some() {
            self.audit_event(audit_rng, p, spec, latency, scope);
        }
    }

    fn audit_event(
        &mut self,
        rng: &mut Rng,
        p: &Pending,
        spec: &RequestSpec,
        latency: f64,
        scope: &str,
    ) {
        let client = &self.scenario.clients[p.client];
        let version = self.replicas[p.replica].version;
        let info = spec.resource.info();
        let watch = spec.verb == Verb::Watch;
        let node = node_name(p.instance);
        let username = username(client, p.instance);
        // The groups APF classified the request with.
        let groups = self.client_groups[p.client].clone();
        let (extra, uid): (BTreeMap<&'static str, [String; 1]>, Option<String>) =
            match &client.identity {
                Identity::Node => (BTreeMap::new(), None),
                Identity::ServiceAccount { namespace, name } => {
                    let mut extra = BTreeMap::new();
                    let seed = hash2(p.client as u64, u64::from(p.instance));
                    let pod = format!("{}-{}", client.name, pod_suffix(seed));
                    extra.insert("authentication.kubernetes.io/pod-name", [pod]);
                    extra.insert(
                        "authentication.kubernetes.io/pod-uid",
                        [audit::uuid(seed, seed.rotate_left(17))],
                    );
                    extra.insert(
                        "authentication.kubernetes.io/credential-id",
                        [format!(
                            "JTI={}",
                            audit::uuid(seed.rotate_left(5), seed ^ 0x55)
                        )],
                    );
                    if version.at_least(1, 30) && client.per_node {
                        extra.insert("authentication.kubernetes.io/node-name", [node.clone()]);
                        extra.insert(
                            "authentication.kubernetes.io/node-uid",
                            [audit::uuid(hash2(7, u64::from(p.instance)), 11)],
                        );
                    }
                    let uid = audit::uuid(
                        hash2(namespace.len() as u64, p.client as u64),
                        hash2(name.len() as u64, 3),
                    );
                    (extra, Some(uid))
                }
                Identity::User { .. } => (BTreeMap::new(), None),
            };
        let source_ip = if client.per_node {
            node_ip(p.instance)
        } else {
            format!("10.244.{}.{}", (p.client * 7) % 250, 10 + p.instance % 200)
        };
        let mut uri = spec.resource.path(p.namespace.as_deref());
        if let (Some(name), false) = (&p.name, watch || spec.verb == Verb::List) {
            uri.push('/');
            uri.push_str(name);
        }
        if !spec.subresource.is_empty() {
            uri.push('/');
            uri.push_str(spec.subresource);
        }
        let mut query: Vec<String> = Vec::new();
        if watch {
            query.push("allowWatchBookmarks=true".into());
        }
        if spec.node_selector {
            query.push(format!("fieldSelector=spec.nodeName%3D{node}"));
        } else if watch && spec.name.is_some() {
            query.push(format!(
                "fieldSelector=metadata.name%3D{}",
                p.name.as_deref().unwrap_or("")
            ));
        }
        if let Some(l) = spec.limit {
            query.push(format!("limit={l}"));
        }
        if spec.rv_zero {
            query.push("resourceVersion=0".into());
        } else if watch {
            query.push(format!(
                "resourceVersion={}",
                48_000_000 + self.tick * 40 + rng.below(40)
            ));
        }
        if watch {
            query.push(format!("timeoutSeconds={}", p.watch_s.round() as u64));
            query.push("watch=true".into());
        }
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query.join("&"));
        }
        let mut annotations = BTreeMap::new();
        if is_deprecated(spec.resource, version) {
            annotations.insert("k8s.io/deprecated", "true".to_string());
        }
        if p.rejected.is_none() {
            annotations.insert("authorization.k8s.io/decision", "allow".to_string());
            annotations.insert("authorization.k8s.io/reason", authz_reason(client));
        }
        if !watch
            && latency > 0.5
            && version.at_least(1, 24)
            && !crate::version::drops_latency_annotations(version)
        {
            annotations.insert(
                "apiserver.latency.k8s.io/total",
                audit::go_duration(latency),
            );
            if p.rejected.is_none() {
                if p.etcd_s > 0.0 {
                    annotations.insert(
                        "apiserver.latency.k8s.io/etcd",
                        audit::go_duration(p.etcd_s),
                    );
                }
                if p.bytes > 0.0 {
                    annotations.insert(
                        "apiserver.latency.k8s.io/serialize-response-object",
                        audit::go_duration(p.bytes / 250e6),
                    );
                    annotations.insert(
                        "apiserver.latency.k8s.io/response-write",
                        audit::go_duration(p.bytes / 1e9 + 0.0001),
                    );
                    annotations.insert(
                        "apiserver.latency.k8s.io/transform-response-object",
                        audit::go_duration(3e-6 + p.returned * 2e-8),
                    );
                }
                if p.fetched > 0.0 && version.at_least(1, 30) {
                    annotations.insert(
                        "apiserver.latency.k8s.io/decode-response-object",
                        audit::go_duration(p.fetched * 8e-6),
                    );
                }
                if p.webhook_s > 0.0 {
                    annotations.insert(
                        "apiserver.latency.k8s.io/validating-webhook",
                        audit::go_duration(p.webhook_s),
                    );
                }
            }
            if p.wait_s > 0.001 && version.at_least(1, 31) {
                annotations.insert(
                    "apiserver.latency.k8s.io/apf-queue-wait",
                    audit::go_duration(p.wait_s),
                );
            }
        }
        let response_status = |code: u16| {
            let (status, reason, message) = match code {
                404 => (
                    Some("Failure"),
                    Some("NotFound"),
                    Some(format!(
                        "{} \"{}\" not found",
                        info.resource,
                        p.name.as_deref().unwrap_or("")
                    )),
                ),
                409 => (
                    Some("Failure"),
                    Some("Conflict"),
                    Some(format!(
                        "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                        spec.resource.qualified(),
                        p.name.as_deref().unwrap_or("")
                    )),
                ),
                500 | 504 => match p.failure {
                    // Not a Status from storage: the server wraps the raw error, reason Unknown.
                    Some(Failure::EtcdTimedOut) => (
                        Some("Failure"),
                        None,
                        Some("etcdserver: request timed out".to_string()),
                    ),
                    Some(Failure::WebhookHung) => (
                        Some("Failure"),
                        Some("InternalError"),
                        Some(format!(
                            "Internal error occurred: failed calling webhook \"{hook}\": failed to call webhook: Post \"https://policy-webhook.acme-system.svc:443/validate?timeout={secs}s\": context deadline exceeded",
                            hook = self.scenario.webhook.as_ref().map_or("", |w| w.name),
                            secs = self.scenario.webhook.as_ref().map_or(0.0, |w| w.timeout_seconds),
                        )),
                    ),
                    Some(Failure::Deadline) => (
                        Some("Failure"),
                        Some("Timeout"),
                        Some(
                            "Timeout: request did not complete within requested timeout - context deadline exceeded"
                                .to_string(),
                        ),
                    ),
                    None => (None, None, None),
                },
                _ => (None, None, None),
            };
            ResponseStatus {
                metadata: BTreeMap::new(),
                status,
                message,
                reason,
                code,
            }
        };
        let object_ref = ObjectRef {
            resource: info.resource,
            namespace: p.namespace.as_deref(),
            name: p.name.as_deref().filter(|_| spec.verb != Verb::List),
            api_group: info.group,
            api_version: info.version,
            subresource: spec.subresource,
        };
        let _ = scope;
        let end_us = p.at_us;
        let start_us = end_us - (latency * 1e6) as i64;
        let mut events = Vec::with_capacity(2);
        let id = audit::uuid(rng.next_u64(), rng.next_u64());
        events.push((
            end_us,
            Event {
                kind: "Event",
                api_version: "audit.k8s.io/v1",
                level: "Metadata",
                audit_id: id,
                stage: "ResponseComplete",
                request_uri: uri.clone(),
                verb: spec.verb.audit(),
                user: User {
                    username: &username,
                    uid: uid.clone(),
                    groups: &groups,
                    extra: extra.clone(),
                },
                source_ips: [source_ip.clone()],
                user_agent: &client.user_agent,
                object_ref: ObjectRef { ..object_ref },
                response_status: Some(response_status(p.code)),
                request_received_timestamp: audit::micro_time(start_us),
                stage_timestamp: audit::micro_time(end_us),
                annotations,
            },
        ));
        if watch {
            // The reconnect opens the next watch: its ResponseStarted event.
            let started = end_us + (p.exec_s * 1e6) as i64;
            let mut ann = BTreeMap::new();
            ann.insert("authorization.k8s.io/decision", "allow".to_string());
            ann.insert("authorization.k8s.io/reason", authz_reason(client));
            events.push((
                started,
                Event {
                    kind: "Event",
                    api_version: "audit.k8s.io/v1",
                    level: "Metadata",
                    audit_id: audit::uuid(rng.next_u64(), rng.next_u64()),
                    stage: "ResponseStarted",
                    request_uri: uri,
                    verb: "watch",
                    user: User {
                        username: &username,
                        uid,
                        groups: &groups,
                        extra,
                    },
                    source_ips: [source_ip],
                    user_agent: &client.user_agent,
                    object_ref: ObjectRef {
                        resource: info.resource,
                        namespace: p.namespace.as_deref(),
                        name: p.name.as_deref(),
                        api_group: info.group,
                        api_version: info.version,
                        subresource: spec.subresource,
                    },
                    response_status: Some(response_status(200)),
                    request_received_timestamp: audit::micro_time(end_us),
                    stage_timestamp: audit::micro_time(started),
                    annotations: ann,
                },
            ));
        }
        for (t, e) in events {
            if let Ok(line) = serde_json::to_string(&e) {
                self.audit_buf.push((t, line));
            }
        }
    }

    fn flush_audit(&mut self) -> Result<(), SimError> {
        let Some(sink) = self.audit.as_mut() else {
            self.audit_buf.clear();
            return Ok(());
        };
        self.audit_buf.sort_by_key(|(t, _)| *t);
        for (_, line) in self.audit_buf.drain(..) {
            sink.write_all(line.as_bytes())
                .map_err(SimError::AuditWrite)?;
            sink.write_all(b"\n").map_err(SimError::AuditWrite)?;
        }
        Ok(())
    }

    /// Gauges and per-second derived series of every replica and of etcd.
    fn update_gauges(
        &mut self,
        rng: &mut Rng,
        pending: &[Pending],
        writes: &BTreeMap<Resource, f64>,
    ) {
        let stalled = self
            .scenario
            .etcd_stalls
            .is_some_and(|st| st.remaining(self.tick as f64).is_some());
        let objects = self.scenario.objects.clone();
        let total_bytes: f64 = objects.iter().map(|(r, n)| n * r.info().object_bytes).sum();
        for (ri, rep) in self.replicas.iter_mut().enumerate() {
            let version = rep.version;
            let wait_limit = rep.apf.queue_wait_limit();
            let mine = || pending.iter().filter(move |p| p.replica == ri);
            let mut inflight = [0.0f64; 2];
            let mut inqueue = [0.0f64; 2];
            let mut executing: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
            let mut queued: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
            for p in mine() {
                let spec = &self.scenario.clients[p.client].requests[p.spec];
                let k = usize::from(spec.verb.is_mutating());
                inqueue[k] += p.wait_s.min(wait_limit) / TICK;
                if p.rejected.is_none() {
                    inflight[k] += p.exec_s / TICK;
                    let e = executing
                        .entry((
                            rep.apf.level_name(p.class.level),
                            rep.apf.schema_name(p.class.schema),
                        ))
                        .or_default();
                    e.0 += p.exec_s / TICK;
                    e.1 += p.work.seat_seconds(p.exec_s) / TICK;
                }
                if p.wait_s > 0.001 {
                    let q = queued
                        .entry((
                            rep.apf.level_name(p.class.level),
                            rep.apf.schema_name(p.class.schema),
                        ))
                        .or_default();
                    q.0 += p.wait_s.min(wait_limit) / TICK;
                    q.1 += p.wait_s.min(wait_limit) * f64::from(p.work.initial_seats) / TICK;
                }
            }
            let s = &mut rep.store;
            for (k, kind) in ["readOnly", "mutating"].iter().enumerate() {
                // The gauge is the maximum over the last second: above the mean.
                let peak = (inflight[k] * (1.0 + 0.4 * rng.f64())).ceil();
                s.set(
                    "apiserver_current_inflight_requests",
                    &[("request_kind", kind)],
                    peak,
                );
                s.set(
                    "apiserver_current_inqueue_requests",
                    &[("request_kind", kind)],
                    inqueue[k].round(),
                );
            }
            for fam in [
                "apiserver_flowcontrol_current_executing_requests",
                "apiserver_flowcontrol_current_executing_seats",
                "apiserver_flowcontrol_request_concurrency_in_use",
                "apiserver_flowcontrol_current_inqueue_requests",
                "apiserver_flowcontrol_current_inqueue_seats",
            ] {
                s.zero_family(fam);
            }
            // A level never executes more seats than its current limit: scale the per-second
            // averages down where the tick's draw overshoots.
            let mut per_level: BTreeMap<&str, f64> = BTreeMap::new();
            for ((pl, _), (_, seats)) in &executing {
                *per_level.entry(pl).or_default() += seats;
            }
            for ((pl, fs), (req, seats)) in &executing {
                let limit = rep
                    .apf
                    .capacity
                    .levels
                    .iter()
                    .position(|l| l.name == *pl)
                    .filter(|&i| !rep.apf.level(i).exempt)
                    .map(|i| rep.current_limit[i].round())
                    .unwrap_or(f64::INFINITY);
                let level_seats = per_level.get(pl).copied().unwrap_or(0.0);
                let scale = if level_seats > limit {
                    limit / level_seats
                } else {
                    1.0
                };
                let (req, seats) = (req * scale, (seats * scale).floor());
                let l = [("priority_level", *pl), ("flow_schema", *fs)];
                s.set(
                    "apiserver_flowcontrol_current_executing_requests",
                    &l,
                    (req * (0.8 + 0.4 * rng.f64())).round(),
                );
                s.set(
                    "apiserver_flowcontrol_current_executing_seats",
                    &l,
                    seats.round(),
                );
                s.set(
                    "apiserver_flowcontrol_request_concurrency_in_use",
                    &l,
                    seats.round(),
                );
            }
            for ((pl, fs), (req, seats)) in &queued {
                let l = [("priority_level", *pl), ("flow_schema", *fs)];
                s.set(
                    "apiserver_flowcontrol_current_inqueue_requests",
                    &l,
                    req.round(),
                );
                s.set(
                    "apiserver_flowcontrol_current_inqueue_seats",
                    &l,
                    seats.round(),
                );
            }
            if version.at_least(1, 18) {
                // The exempt level has gauges once it takes part in the division (1.28).
                for (i, l) in rep.apf.capacity.levels.iter().enumerate() {
                    if l.exempt && !version.at_least(1, 28) {
                        continue;
                    }
                    let pl = [("priority_level", l.name.as_str())];
                    let nominal = f64::from(l.nominal);
                    s.set(
                        "apiserver_flowcontrol_request_concurrency_limit",
                        &pl,
                        nominal,
                    );
                    s.set("apiserver_flowcontrol_nominal_limit_seats", &pl, nominal);
                    s.set(
                        "apiserver_flowcontrol_current_limit_seats",
                        &pl,
                        rep.current_limit[i].round(),
                    );
                    s.set(
                        "apiserver_flowcontrol_lower_limit_seats",
                        &pl,
                        f64::from(l.min_limit),
                    );
                    s.set(
                        "apiserver_flowcontrol_upper_limit_seats",
                        &pl,
                        f64::from(l.max_limit),
                    );
                }
            }
            // Long-running requests and watch events.
            for ((resource, scope), n) in &rep.longrunning {
                let info = resource.info();
                let l = [
                    ("verb", "WATCH"),
                    ("group", info.group),
                    ("version", info.version),
                    ("resource", info.resource),
                    ("subresource", ""),
                    ("scope", *scope),
                    ("component", "apiserver"),
                ];
                let jitter = (n * (1.0 + 0.01 * (rng.f64() - 0.5))).round();
                s.set("apiserver_longrunning_requests", &l, jitter);
                s.set("apiserver_longrunning_gauge", &l, jitter);
            }
            for (resource, n) in &rep.watchers {
                let info = resource.info();
                s.set(
                    "apiserver_registered_watchers",
                    &[
                        ("group", info.group),
                        ("version", info.version),
                        ("kind", info.kind),
                    ],
                    n.round(),
                );
            }
            for (resource, count) in writes {
                let fanout = rep.fanout.get(resource).copied().unwrap_or(0.0);
                let events = (count * fanout).round();
                if events <= 0.0 {
                    continue;
                }
                let info = resource.info();
                let l = [
                    ("group", info.group),
                    ("version", info.version),
                    ("kind", info.kind),
                    ("resource", info.resource),
                ];
                s.inc("apiserver_watch_events_total", &l, events);
                s.observe_n(
                    "apiserver_watch_events_sizes",
                    &l,
                    info.object_bytes,
                    events as u64,
                );
                rep.cpu_seconds += events * 2e-6;
            }
            // Storage object counts and size.
            for (resource, n) in &objects {
                if *n <= 0.0 {
                    continue;
                }
                let info = resource.info();
                let q = resource.qualified();
                let value = (n * (1.0 + 0.002 * (rng.f64() - 0.5))).round();
                s.set("etcd_object_counts", &[("resource", q.as_str())], value);
                s.set(
                    "apiserver_storage_objects",
                    &[("resource", q.as_str())],
                    value,
                );
                s.set(
                    "apiserver_resource_objects",
                    &[("group", info.group), ("resource", info.resource)],
                    value,
                );
            }
            let db = (total_bytes * 2.2 + 40e6).round();
            s.set(
                "etcd_db_total_size_in_bytes",
                &[("endpoint", "https://127.0.0.1:2379")],
                db,
            );
            s.set(
                "apiserver_storage_db_total_size_in_bytes",
                &[("endpoint", "https://127.0.0.1:2379")],
                db,
            );
            s.set(
                "apiserver_storage_size_bytes",
                &[("cluster", "etcd-0"), ("storage_cluster_id", "etcd-0")],
                db,
            );
            // Process.
            let watchers: f64 = rep.watchers.values().sum();
            rep.cpu_seconds += 0.08 + 0.02 * rng.f64();
            s.inc("process_cpu_seconds_total", &[], 0.0);
            s.set(
                "process_cpu_seconds_total",
                &[],
                (rep.cpu_seconds * 100.0).round() / 100.0,
            );
            let inflight_bytes: f64 = mine()
                .filter(|p| p.rejected.is_none())
                .map(|p| p.bytes * p.exec_s.min(TICK))
                .sum();
            // Objects in flight are decoded, converted and encoded: about three copies live at
            // once. The heap grows at once to what is needed and shrinks by about 1 % a second.
            let needed = 350e6 + total_bytes * 1.6 + watchers * 25e3 + inflight_bytes * 3.0;
            rep.rss = if rep.rss <= 0.0 {
                needed
            } else {
                needed.max(rep.rss * 0.99 + needed * 0.01)
            };
            s.set(
                "process_resident_memory_bytes",
                &[],
                (rep.rss * (1.0 + 0.01 * rng.f64())).round(),
            );
            s.set(
                "go_goroutines",
                &[],
                (600.0 + watchers * 2.0 + inflight[0] + inflight[1]).round(),
            );
            let webhook_hangs = self.scenario.webhook.as_ref().map_or(0.0, |w| w.hang_share);
            loopback_and_controllers(
                s,
                rng,
                stalled,
                self.scenario.etcd_disk_factor,
                webhook_hangs,
            );
        }
        // etcd server gauges.
        let keys: f64 = objects.values().sum::<f64>() + 1_500.0;
        let e = &mut self.etcd;
        let db = (total_bytes * 2.2 + 40e6).round();
        e.set("etcd_mvcc_db_total_size_in_bytes", &[], db);
        // --quota-backend-bytes default: 2 GiB.
        e.set("etcd_server_quota_backend_bytes", &[], 2_147_483_648.0);
        e.set(
            "etcd_mvcc_db_total_size_in_use_in_bytes",
            &[],
            (db * 0.82).round(),
        );
        e.set("etcd_debugging_mvcc_keys_total", &[], keys.round());
        e.set(
            "etcd_debugging_mvcc_watcher_total",
            &[],
            (Resource::ALL.len() * self.replicas.len()) as f64 + 4.0,
        );
        let n_writes: f64 = writes.values().sum();
        let committed = self.tick as f64 * 2.0 + n_writes;
        let _ = committed;
        let fsync = self_fsync(self.scenario.etcd_disk_factor, self.etcd_read_bytes_last);
        e.inc("etcd_server_proposals_committed_total", &[], 0.0);
        let prev = e_gauge_bump(e, "etcd_server_proposals_committed_total", n_writes + 1.0);
        e.set("etcd_server_proposals_applied_total", &[], prev);
        e.set(
            "etcd_server_proposals_pending",
            &[],
            (n_writes * fsync).round(),
        );
        for _ in 0..10 {
            // The backend commits every 100 ms.
            e.observe(
                "etcd_disk_backend_commit_duration_seconds",
                &[],
                rng.lognormal(fsync * 2.5, 0.3),
            );
        }
        if let Some(stalls) = self.scenario.etcd_stalls {
            let t = self.tick as f64;
            if stalls.remaining(t).is_some() && stalls.remaining(t + 1.0).is_none() {
                // The stalled fsync completes, and the missed heartbeats cost the leader.
                e.observe("etcd_disk_wal_fsync_duration_seconds", &[], stalls.length_s);
                e.observe(
                    "etcd_disk_backend_commit_duration_seconds",
                    &[],
                    stalls.length_s,
                );
                e.inc("etcd_server_leader_changes_seen_total", &[], 1.0);
            }
        }
        let watch_grpc = [
            ("grpc_method", "Watch"),
            ("grpc_service", "etcdserverpb.Watch"),
            ("grpc_type", "bidi_stream"),
        ];
        if self.tick == 0 {
            e.inc(
                "grpc_server_started_total",
                &watch_grpc,
                (Resource::ALL.len() * self.replicas.len()) as f64,
            );
        }
        e.set(
            "process_resident_memory_bytes",
            &[],
            (db * 1.3 + 80e6).round(),
        );
        e.inc("process_cpu_seconds_total", &[], 0.0);
        let cpu = 0.03 + n_writes * 0.0004 + self.etcd_read_bytes_last * 2e-9;
        e.inc(
            "process_cpu_seconds_total",
            &[],
            (cpu * 100.0).round() / 100.0 + 0.01,
        );
    }
}

/// The API server's own controllers (`workqueue_*`, names as a real 1.34 server reports them)
/// and its loopback client (`rest_client_requests_total`): quiet and fast, except while etcd
/// stalls, when their writes wait for it and fail with 500, and where a webhook hangs on the
/// ConfigMaps their writes touch (`webhook_hangs` of them fail with 500).
fn loopback_and_controllers(
    s: &mut Store,
    rng: &mut Rng,
    etcd_stalled: bool,
    disk_factor: f64,
    webhook_hangs: f64,
) {
    const HOST: &str = "[::1]:6443";
    for (method, code, rate) in [
        ("GET", "200", 1.6),
        ("GET", "404", 0.15),
        ("PUT", "200", 0.25),
        ("PATCH", "200", 0.03),
        ("POST", "201", 0.05),
        ("POST", "409", 0.004),
    ] {
        let n = rng.poisson(rate);
        let writes = method != "GET";
        let failed = if etcd_stalled && writes {
            n
        } else if writes && webhook_hangs > 0.0 {
            (0..n).filter(|_| rng.chance(webhook_hangs)).count() as u64
        } else {
            0
        };
        let (n, failed) = (n as f64, failed as f64);
        s.inc(
            "rest_client_requests_total",
            &[("code", code), ("host", HOST), ("method", method)],
            n - failed,
        );
        s.inc(
            "rest_client_requests_total",
            &[("code", "500"), ("host", HOST), ("method", method)],
            failed,
        );
    }
    // A controller that writes waits on etcd's disk; while etcd stalls it waits the stall out.
    let write_s = 0.004 * disk_factor.min(100.0);
    for (name, adds_per_s, writes) in WORKQUEUES {
        let l = [("name", *name)];
        // A writing controller always holds the item it is working on while etcd stalls, even
        // when nothing new is added in the second.
        let adds = match rng.poisson(*adds_per_s) {
            0 if *writes && etcd_stalled => 1,
            n => n,
        };
        s.inc("workqueue_adds_total", &l, adds as f64);
        let (work, depth) = if *writes && etcd_stalled {
            (
                ETCD_REQUEST_TIMEOUT * (0.8 + 0.4 * rng.f64()),
                adds as f64 + 1.0,
            )
        } else if *writes {
            (write_s * rng.lognormal(1.0, 0.4), 0.0)
        } else {
            (0.0002 * rng.lognormal(1.0, 0.4), 0.0)
        };
        s.set("workqueue_depth", &l, depth);
        for _ in 0..adds {
            let queued = if depth > 0.0 {
                work * rng.f64()
            } else {
                2e-5 * rng.lognormal(1.0, 0.5)
            };
            s.observe("workqueue_queue_duration_seconds", &l, queued);
            s.observe("workqueue_work_duration_seconds", &l, work);
        }
    }
    for name in AGGREGATED_APIS {
        s.set("aggregator_unavailable_apiservice", &[("name", name)], 0.0);
    }
}

/// Work queues of a kube-apiserver's own controllers: name (from a real 1.34 scrape), items
/// added per second, and whether their work writes to etcd.
const WORKQUEUES: &[(&str, f64, bool)] = &[
    ("APIServiceRegistrationController", 0.02, false),
    ("DiscoveryController", 0.02, false),
    ("DynamicServingCertificateController", 0.01, false),
    ("autoregister", 0.02, true),
    ("cluster_authentication_trust_controller", 0.01, true),
    ("crd_autoregistration_controller", 0.02, false),
    ("open_api_aggregation_controller", 0.02, false),
    ("priority_and_fairness_config_queue", 0.05, true),
    ("legacy_token_tracking_controller", 0.005, true),
];

/// APIService names of the simulated cluster, as `aggregator_unavailable_apiservice` labels them.
const AGGREGATED_APIS: &[&str] = &[
    "v1.",
    "v1.apps",
    "v1.coordination.k8s.io",
    "v1.discovery.k8s.io",
    "v1.acme.example.com",
    "v1beta1.metrics.k8s.io",
];

/// Adds to a gauge that behaves like a counter (etcd's proposals gauges) and returns it.
fn e_gauge_bump(store: &mut Store, family: &str, by: f64) -> f64 {
    store.inc(family, &[], by);
    store.current(family).unwrap_or(by)
}

fn self_fsync(disk_factor: f64, read_bytes: f64) -> f64 {
    let load_mb = read_bytes / 1e6;
    0.002 * disk_factor * (1.0 + (load_mb / 600.0).min(10.0))
}

/// Whether requests for `resource` use an API `version` deprecates: core/v1 Endpoints from
/// 1.33, in favour of EndpointSlices, with no removal release set.
fn is_deprecated(resource: Resource, version: KubeVersion) -> bool {
    resource == Resource::Endpoints && version.at_least(1, 33)
}

fn scope_label(spec: &RequestSpec) -> &'static str {
    if spec.name.is_some() {
        "resource"
    } else {
        match spec.scope {
            Scope::Cluster => "cluster",
            _ if !spec.resource.info().namespaced => "cluster",
            _ => "namespace",
        }
    }
}

fn hash2(a: u64, b: u64) -> u64 {
    Rng::derive(a, b, 0x5EED).next_u64()
}

/// EKS-style node names: `ip-10-0-3-17.ec2.internal`.
fn node_name(instance: u32) -> String {
    format!(
        "ip-10-{}-{}-{}.ec2.internal",
        16 + instance / 65_536,
        (instance / 256) % 256,
        instance % 256
    )
}

fn node_ip(instance: u32) -> String {
    format!(
        "10.{}.{}.{}",
        16 + instance / 65_536,
        (instance / 256) % 256,
        instance % 256
    )
}

fn username(client: &ClientSpec, instance: u32) -> String {
    match &client.identity {
        Identity::Node => format!("system:node:{}", node_name(instance)),
        Identity::ServiceAccount { namespace, name } => {
            format!("system:serviceaccount:{namespace}:{name}")
        }
        Identity::User { name, .. } => name.clone(),
    }
}

fn authz_reason(client: &ClientSpec) -> String {
    match &client.identity {
        Identity::Node => String::new(),
        Identity::ServiceAccount { namespace, name } => format!(
            "RBAC: allowed by ClusterRoleBinding \"{name}\" of ClusterRole \"{name}\" to ServiceAccount \"{name}/{namespace}\""
        ),
        Identity::User { name, .. } => {
            let short = name.trim_start_matches("system:");
            format!(
                "RBAC: allowed by ClusterRoleBinding \"system:{short}\" of ClusterRole \"system:{short}\" to User \"{name}\""
            )
        }
    }
}

const APPS: [&str; 8] = [
    "checkout", "cart", "search", "payments", "web", "api", "worker", "cache",
];

fn pick_app(rng: &mut Rng) -> &'static str {
    APPS[rng.below(APPS.len() as u64) as usize]
}

/// Five characters as Kubernetes generates pod name suffixes (no vowels, no confusables).
fn pod_suffix(seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = seed;
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(text: &str, prefix: &str, part: &str) -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix) && l.contains(part))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    #[test]
    fn requests_past_the_request_timeout_are_answered_504_and_terminated() {
        let mut sim =
            Simulator::new(ScenarioConfig::new("healthy", KubeVersion::new(1, 34, 0))).unwrap();
        // A disk so slow that every write takes minutes.
        sim.scenario.etcd_disk_factor = 20_000.0;
        sim.advance(Duration::from_secs(5)).unwrap();
        let text = sim.render_metrics(0).unwrap();
        let timeouts = sum(&text, "apiserver_request_total{", "code=\"504\"");
        assert!(timeouts > 10.0, "{timeouts} answers 504");
        assert_eq!(
            sum(
                &text,
                "apiserver_request_terminations_total{",
                "code=\"504\""
            ),
            timeouts
        );
        // The client hears back at the deadline, not when the handler finishes.
        let lease_puts = "resource=\"leases\",scope=\"resource\",subresource=\"\",verb=\"PUT\"";
        let at_60 = sum(
            &text,
            "apiserver_request_duration_seconds_bucket{",
            &format!("{lease_puts},version=\"v1\",le=\"60\""),
        );
        let all = sum(
            &text,
            "apiserver_request_duration_seconds_count{",
            lease_puts,
        );
        assert!(
            all > 0.0 && at_60 == all,
            "{at_60} of {all} lease PUTs within 60 s"
        );
    }
}
