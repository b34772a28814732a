//! The gauges and per-second series of every replica and of etcd, and the API server's own
//! controllers and loopback client.

use super::{ETCD_REQUEST_TIMEOUT, Pending, Replica, Simulator, TICK, self_fsync};
use crate::rng::Rng;
use crate::store::Store;
use crate::workload::{ClientSpec, Resource};
use std::collections::BTreeMap;

impl Simulator {
    /// Gauges and per-second derived series of every replica and of etcd.
    pub(super) fn update_gauges(
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
        let disk_factor = self.scenario.etcd_disk_factor;
        let webhook_hangs = self.scenario.webhook.as_ref().map_or(0.0, |w| w.hang_share);
        for (ri, rep) in self.replicas.iter_mut().enumerate() {
            let mine: Vec<&Pending> = pending.iter().filter(|p| p.replica == ri).collect();
            let inflight = load_gauges(rep, &self.scenario.clients, &mine, rng);
            watch_gauges(rep, writes, rng);
            storage_gauges(&mut rep.store, &objects, total_bytes, rng);
            process_gauges(rep, &mine, total_bytes, inflight, rng);
            loopback_and_controllers(&mut rep.store, rng, stalled, disk_factor, webhook_hangs);
        }
        self.etcd_gauges(rng, &objects, total_bytes, writes);
    }

    /// etcd's own gauges: its database, keys, watchers, proposals, disk latency (and the stall's
    /// leader change), gRPC watches and process.
    fn etcd_gauges(
        &mut self,
        rng: &mut Rng,
        objects: &BTreeMap<Resource, f64>,
        total_bytes: f64,
        writes: &BTreeMap<Resource, f64>,
    ) {
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

/// The load of one replica this tick: requests in flight and in queue, APF's executing and
/// queued requests and seats per level and FlowSchema (a level never above its current limit),
/// and the levels' limits. Returns the mean requests in flight, read-only then mutating.
fn load_gauges(
    rep: &mut Replica,
    clients: &[ClientSpec],
    mine: &[&Pending],
    rng: &mut Rng,
) -> [f64; 2] {
    let version = rep.version;
    let wait_limit = rep.apf.queue_wait_limit();
    let mut inflight = [0.0f64; 2];
    let mut inqueue = [0.0f64; 2];
    let mut executing: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
    let mut queued: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
    for p in mine {
        let spec = &clients[p.client].requests[p.spec];
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
    inflight
}

/// One replica's WATCHes: the long-running requests, the registered watchers, and the events
/// this tick's writes send to them (with their cost in CPU).
fn watch_gauges(rep: &mut Replica, writes: &BTreeMap<Resource, f64>, rng: &mut Rng) {
    let s = &mut rep.store;
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
}

/// The objects in storage, per resource, and the size of etcd's database as the API server
/// reports it.
fn storage_gauges(
    s: &mut Store,
    objects: &BTreeMap<Resource, f64>,
    total_bytes: f64,
    rng: &mut Rng,
) {
    for (resource, n) in objects {
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
}

/// One replica's process: CPU, resident memory (the heap follows the objects in flight) and
/// goroutines.
fn process_gauges(
    rep: &mut Replica,
    mine: &[&Pending],
    total_bytes: f64,
    inflight: [f64; 2],
    rng: &mut Rng,
) {
    let s = &mut rep.store;
    let watchers: f64 = rep.watchers.values().sum();
    rep.cpu_seconds += 0.08 + 0.02 * rng.f64();
    s.inc("process_cpu_seconds_total", &[], 0.0);
    s.set(
        "process_cpu_seconds_total",
        &[],
        (rep.cpu_seconds * 100.0).round() / 100.0,
    );
    let inflight_bytes: f64 = mine
        .iter()
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
