//! The simulator: steps the workload through time one second at a time and keeps the metric
//! state of every API server replica and of etcd, plus the audit log.
//!
//! Each tick draws the requests of every client (Poisson arrivals), decides where each is
//! served (watch cache or etcd, by verb, query and version), how long it executes, what APF
//! does with it (seats, fair queuing per flow with water-filling, 15 s queue limit, 429s), and
//! then records the outcome in the replica's metrics and the audit log. The random stream of a
//! tick depends only on the seed and the tick number, so a simulation is reproducible however
//! it is advanced.

use crate::priority::{Priority, SimClass};
use crate::rng::Rng;
use crate::scenario::Scenario;
use crate::store::Store;
use crate::workload::{ClientSpec, RequestSpec, Resource, Scope, Verb};
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

mod audit_event;
mod draw;
mod gauges;
mod identity;
mod record;
mod schedule;
mod setup;
#[cfg(test)]
mod tests;

impl Simulator {
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
