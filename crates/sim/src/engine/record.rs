//! One finished request recorded: its replica's metrics, etcd's and the audit log.

use super::{Failure, Pending, REQUEST_TIMEOUT, Simulator, is_deprecated, self_fsync};
use crate::KubeVersion;
use crate::rng::Rng;
use crate::scenario::Webhook;
use crate::store::Store;
use crate::workload::{Identity, RequestSpec, Resource, Verb};
use std::collections::BTreeMap;

impl Simulator {
    /// Records one finished request in its replica's metrics, etcd's metrics and the audit log.
    pub(super) fn record(
        &mut self,
        rng: &mut Rng,
        audit_rng: &mut Rng,
        p: &Pending,
        spec: &RequestSpec,
    ) {
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
        apf_metrics(s, (pl, fs), p, version, watch);
        if !rejected {
            if spec.verb == Verb::List {
                list_metrics(s, spec, p, version, &self.scenario.objects);
            }
            let reaches_etcd = !p.from_cache && p.failure != Some(Failure::WebhookHung);
            if reaches_etcd {
                etcd_request_metrics(s, spec, p, version);
            }
            if p.webhook_s > 0.0
                && let Some(w) = &self.scenario.webhook
            {
                webhook_metrics(s, w, spec, p);
            }
            rep.cpu_seconds += p.exec_s.min(2.0) * 0.15 + p.bytes * 4e-9 + 0.0002;
            if reaches_etcd {
                let fsync_median =
                    self_fsync(self.scenario.etcd_disk_factor, self.etcd_read_bytes_last);
                etcd_server_metrics(&mut self.etcd, spec, p, fsync_median, rng);
            }
        }
        if self.audit.is_some() {
            self.audit_event(audit_rng, p, spec, latency);
        }
    }
}

/// APF's view of one request: rejected (with its reason) or dispatched, its wait in queue and
/// its execution.
fn apf_metrics(
    s: &mut Store,
    (pl, fs): (&str, &str),
    p: &Pending,
    version: KubeVersion,
    watch: bool,
) {
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
}

/// One LIST: served by the watch cache (objects scanned and returned, per index) or by etcd
/// (objects fetched, evaluated and returned); nothing when it failed.
fn list_metrics(
    s: &mut Store,
    spec: &RequestSpec,
    p: &Pending,
    version: KubeVersion,
    objects: &BTreeMap<Resource, f64>,
) {
    let info = spec.resource.info();
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
            objects.get(&spec.resource).copied().unwrap_or(0.0)
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

/// One request the API server sends to etcd, as the API server measures it.
fn etcd_request_metrics(s: &mut Store, spec: &RequestSpec, p: &Pending, version: KubeVersion) {
    let info = spec.resource.info();
    let group_resource: [(&str, &str); 2] = [("group", info.group), ("resource", info.resource)];
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

/// One call of the validating webhook: its duration, and the rejection of a call that hung
/// under `failurePolicy: Fail`.
fn webhook_metrics(s: &mut Store, w: &Webhook, spec: &RequestSpec, p: &Pending) {
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

/// One request as etcd serves it: gRPC calls, transactions or ranges, bytes, and the WAL fsync
/// of a write (lognormal around `fsync_median`).
fn etcd_server_metrics(
    e: &mut Store,
    spec: &RequestSpec,
    p: &Pending,
    fsync_median: f64,
    rng: &mut Rng,
) {
    let info = spec.resource.info();
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
        let fsync = rng.lognormal(fsync_median, 0.35);
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
