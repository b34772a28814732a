//! The built-in catalog: every family apilens reads, per Kubernetes release, and the renames.
//!
//! This file is where a new Kubernetes minor goes: bump `NEWEST`, add the families it introduces
//! (a marker among them if an idle server shows one), end the ranges of the families it hides,
//! and put each renamed family first in its signal. Ranges are the releases whose servers expose
//! the family, checked against the real scrapes of each release (`tests/fixtures.rs`) and the
//! `k8s.io/apiserver` source at each tag; `marks_since` families are the first of their release
//! on an idle server.

use crate::catalog::{Catalog, Family, Signal, SignalName};
use apilens_model::{KubeRange, KubeVersion};

/// The oldest release covered: the oldest real scrape.
const OLDEST: u32 = 16;
/// The newest release covered.
const NEWEST: u32 = 36;

const ANY: KubeRange = KubeRange::ANY;

const fn from(minor: u32) -> KubeRange {
    KubeRange::from_minor(minor)
}

const fn minors(since: u32, until: u32) -> KubeRange {
    KubeRange::minors(since, until)
}

const fn up_to(minor: u32) -> KubeRange {
    KubeRange::up_to_minor(minor)
}

fn families() -> Vec<Family> {
    vec![
        // Requests and latency.
        Family::new("kubernetes_build_info", ANY),
        Family::new("apiserver_request_count", up_to(16)).replaced_by("apiserver_request_total"),
        Family::new("apiserver_request_total", from(14)),
        Family::new("apiserver_request_latencies", up_to(16))
            .histogram()
            .replaced_by("apiserver_request_duration_seconds"),
        Family::new("apiserver_request_latencies_summary", up_to(16))
            .replaced_by("apiserver_request_duration_seconds"),
        Family::new("apiserver_request_duration_seconds", from(14)).histogram(),
        Family::new("apiserver_request_slo_duration_seconds", minors(23, 27))
            .histogram()
            .replaced_by("apiserver_request_sli_duration_seconds"),
        Family::new("apiserver_request_sli_duration_seconds", from(26)).histogram(),
        Family::new("apiserver_response_sizes", ANY).histogram(),
        Family::new("apiserver_request_terminations_total", ANY).emergent(),
        Family::new("apiserver_request_aborts_total", from(20)).emergent(),
        Family::new("apiserver_current_inflight_requests", ANY),
        Family::new("apiserver_tls_handshake_errors_total", from(19)).marks_since(),
        Family::new(
            "apiserver_envelope_encryption_dek_cache_fill_percent",
            from(18),
        )
        .marks_since(),
        Family::new("apiserver_request_body_size_bytes", from(29))
            .histogram()
            .marks_since(),
        Family::new("apiserver_authorization_decisions_total", from(30)).marks_since(),
        Family::new("kubernetes_feature_enabled", from(26)).marks_since(),
        // Long-running requests and watches.
        Family::new("apiserver_longrunning_gauge", up_to(23))
            .replaced_by("apiserver_longrunning_requests")
            .deprecated_in(23),
        Family::new("apiserver_registered_watchers", up_to(23))
            .replaced_by("apiserver_longrunning_requests")
            .deprecated_in(23),
        Family::new("apiserver_longrunning_requests", from(23)),
        Family::new("apiserver_watch_events_total", ANY),
        Family::new("apiserver_terminated_watchers_total", from(21)).emergent(),
        Family::new("apiserver_watch_list_duration_seconds", from(32))
            .histogram()
            .marks_since(),
        Family::new("apiserver_watch_cache_events_dispatched_total", from(24)).marks_since(),
        Family::new("apiserver_watch_cache_events_received_total", from(27)).marks_since(),
        Family::new("apiserver_watch_cache_consistent_read_total", from(31)).marks_since(),
        // API Priority and Fairness.
        Family::new(
            "apiserver_flowcontrol_request_concurrency_limit",
            minors(18, 30),
        )
        .replaced_by("apiserver_flowcontrol_nominal_limit_seats")
        .deprecated_in(30),
        Family::new("apiserver_flowcontrol_nominal_limit_seats", from(26)),
        Family::new("apiserver_flowcontrol_current_limit_seats", from(26)),
        Family::new("apiserver_flowcontrol_lower_limit_seats", from(26)),
        Family::new("apiserver_flowcontrol_upper_limit_seats", from(26)),
        Family::new(
            "apiserver_flowcontrol_request_concurrency_in_use",
            minors(22, 31),
        )
        .replaced_by("apiserver_flowcontrol_current_executing_seats")
        .deprecated_in(31)
        .marks_since(),
        Family::new("apiserver_flowcontrol_current_executing_seats", from(28)),
        Family::new("apiserver_flowcontrol_current_executing_requests", from(18)),
        Family::new("apiserver_flowcontrol_current_inqueue_requests", from(18)),
        Family::new(
            "apiserver_flowcontrol_request_wait_duration_seconds",
            from(18),
        )
        .histogram(),
        Family::new("apiserver_flowcontrol_request_execution_seconds", from(18)).histogram(),
        Family::new(
            "apiserver_flowcontrol_request_queue_length_after_enqueue",
            from(18),
        )
        .histogram(),
        Family::new("apiserver_flowcontrol_rejected_requests_total", from(18)).emergent(),
        Family::new("apiserver_flowcontrol_dispatched_requests_total", from(20)).marks_since(),
        Family::new("apiserver_flowcontrol_work_estimated_seats", from(24)).histogram(),
        // Storage and etcd as the API server sees it.
        Family::new("etcd_object_counts", up_to(22))
            .replaced_by("apiserver_storage_objects")
            .deprecated_in(22),
        Family::new("apiserver_storage_objects", from(21))
            .replaced_by("apiserver_resource_objects")
            .deprecated_in(34)
            .marks_since(),
        Family::new("apiserver_resource_objects", from(34)).marks_since(),
        Family::new("etcd_db_total_size_in_bytes", minors(19, 25))
            .replaced_by("apiserver_storage_db_total_size_in_bytes"),
        Family::new("apiserver_storage_db_total_size_in_bytes", minors(26, 28))
            .replaced_by("apiserver_storage_size_bytes")
            .deprecated_in(28),
        Family::new("apiserver_storage_size_bytes", from(28)),
        Family::new("etcd_request_latencies_summary", up_to(16))
            .replaced_by("etcd_request_duration_seconds"),
        Family::new("etcd_request_duration_seconds", from(14)).histogram(),
        Family::new("etcd_requests_total", from(28)).marks_since(),
        Family::new("apiserver_storage_list_total", from(23)).marks_since(),
        Family::new("apiserver_storage_list_returned_objects_total", from(23)),
        Family::new("apiserver_cache_list_total", from(23)),
        Family::new("etcd_bookmark_counts", from(25))
            .replaced_by("etcd_bookmark_total")
            .deprecated_in(36)
            .marks_since(),
        // 1.36: the bookmark gauge became a counter (k8s.io/apiserver
        // pkg/storage/etcd3/metrics/metrics.go at kubernetes-1.36.0); both are incremented by
        // the same call, so the counter shows wherever the gauge does.
        Family::new("etcd_bookmark_total", from(36)).marks_since(),
        // Admission webhooks, aggregated APIs, deprecated APIs.
        Family::new(
            "apiserver_admission_webhook_admission_duration_seconds",
            ANY,
        )
        .histogram()
        .emergent(),
        Family::new("apiserver_admission_webhook_rejection_count", from(16)).emergent(),
        Family::new("apiserver_admission_webhook_fail_open_count", from(24)).emergent(),
        Family::new("apiserver_requested_deprecated_apis", from(19)).emergent(),
        Family::new("aggregator_unavailable_apiservice", ANY),
        // Every Kubernetes component and etcd expose these; the panels keep API servers only.
        Family::new("process_resident_memory_bytes", ANY),
        Family::new("process_cpu_seconds_total", ANY),
        Family::new("process_start_time_seconds", ANY),
        Family::new("go_goroutines", ANY),
        Family::new("workqueue_depth", ANY),
        Family::new("workqueue_queue_duration_seconds", ANY).histogram(),
        Family::new("workqueue_work_duration_seconds", ANY).histogram(),
        Family::new("rest_client_requests_total", ANY),
        // etcd's own /metrics, by etcd release rather than Kubernetes release.
        Family::new("etcd_disk_backend_commit_duration_seconds", ANY).histogram(),
        Family::new("etcd_disk_wal_fsync_duration_seconds", ANY).histogram(),
        Family::new("etcd_mvcc_db_total_size_in_bytes", ANY),
        Family::new("etcd_server_leader_changes_seen_total", ANY),
        Family::new("etcd_server_proposals_failed_total", ANY),
        Family::new("etcd_server_quota_backend_bytes", ANY),
    ]
}

fn name(family: &'static str, detail: &'static str) -> SignalName {
    SignalName { family, detail }
}

fn signals() -> Vec<Signal> {
    vec![
        Signal {
            id: "watches",
            question: "Long-running WATCH connections",
            names: vec![
                name("apiserver_longrunning_requests", ""),
                name("apiserver_longrunning_gauge", ""),
                name("apiserver_registered_watchers", " (by kind)"),
            ],
            absent: "no long-running request gauge exposed",
        },
        Signal {
            id: "inflight",
            question: "In-flight read/write requests vs 400/200 limits",
            names: vec![name(
                "apiserver_current_inflight_requests",
                "; label requestKind up to 1.18, request_kind from 1.19",
            )],
            absent: "no in-flight gauge exposed",
        },
        Signal {
            id: "apf_limit",
            question: "APF concurrency limit per priority level",
            names: vec![
                name(
                    "apiserver_flowcontrol_current_limit_seats",
                    " (after borrowing)",
                ),
                name("apiserver_flowcontrol_nominal_limit_seats", ""),
                name(
                    "apiserver_flowcontrol_request_concurrency_limit",
                    ", hidden from 1.31",
                ),
            ],
            absent: "APF off or older than 1.20",
        },
        Signal {
            id: "apf_executing",
            question: "APF seats / requests executing",
            names: vec![
                name("apiserver_flowcontrol_current_executing_seats", ""),
                name("apiserver_flowcontrol_request_concurrency_in_use", ""),
                name(
                    "apiserver_flowcontrol_current_executing_requests",
                    " (requests, not seats)",
                ),
            ],
            absent: "APF off or older than 1.20",
        },
        Signal {
            id: "apf_queued",
            question: "APF requests waiting in queues",
            names: vec![name("apiserver_flowcontrol_current_inqueue_requests", "")],
            absent: "APF off or older than 1.20",
        },
        Signal {
            id: "apf_wait",
            question: "APF time waited in queue",
            names: vec![name(
                "apiserver_flowcontrol_request_wait_duration_seconds",
                "",
            )],
            absent: "APF off or older than 1.20",
        },
        Signal {
            id: "apf_rejected",
            question: "APF rejections (429) by reason",
            names: vec![name(
                "apiserver_flowcontrol_rejected_requests_total",
                ", only once a request was rejected",
            )],
            absent: "no rejection so far (the counter appears with the first one): read as 0",
        },
        Signal {
            id: "request_rate",
            question: "Request rate by verb, resource and code",
            names: vec![
                name("apiserver_request_total", ""),
                name("apiserver_request_count", ""),
            ],
            absent: "no request counter exposed",
        },
        Signal {
            id: "slow_calls",
            question: "Slowest calls: request duration histogram",
            names: vec![
                name("apiserver_request_duration_seconds", ""),
                name("apiserver_request_latencies", " (microseconds)"),
            ],
            absent: "no request latency histogram exposed",
        },
        Signal {
            id: "sli_latency",
            question: "SLI latency (excludes webhook and APF wait)",
            names: vec![
                name("apiserver_request_sli_duration_seconds", ""),
                name("apiserver_request_slo_duration_seconds", ""),
            ],
            absent: "older than 1.23",
        },
        Signal {
            id: "etcd_latency",
            question: "etcd request latency seen by the API server",
            names: vec![
                name(
                    "etcd_request_duration_seconds",
                    "; labels {operation,type} up to 1.33, {operation,group,resource} from 1.34",
                ),
                name("etcd_request_latencies_summary", ""),
            ],
            absent: "no etcd latency exposed",
        },
        Signal {
            id: "object_counts",
            question: "Stored object counts by resource",
            names: vec![
                name("apiserver_resource_objects", " {group,resource}"),
                name("apiserver_storage_objects", ""),
                name("etcd_object_counts", ""),
            ],
            absent: "no object count exposed",
        },
        Signal {
            id: "db_size",
            question: "etcd database size",
            names: vec![
                name("apiserver_storage_size_bytes", ""),
                name("apiserver_storage_db_total_size_in_bytes", ""),
                name("etcd_db_total_size_in_bytes", ""),
            ],
            absent: "older than 1.20, or the storage metrics are off",
        },
        Signal {
            id: "terminations",
            question: "Requests terminated by the server (timeouts, overload)",
            names: vec![name(
                "apiserver_request_terminations_total",
                ", only after a termination",
            )],
            absent: "no termination so far: read as 0",
        },
        Signal {
            id: "webhook_latency",
            question: "Admission webhook latency",
            names: vec![name(
                "apiserver_admission_webhook_admission_duration_seconds",
                ", once a webhook is called",
            )],
            absent: "no admission webhook called so far",
        },
        Signal {
            id: "response_sizes",
            question: "Response sizes (large LISTs)",
            names: vec![name("apiserver_response_sizes", "")],
            absent: "no response size histogram exposed",
        },
    ]
}

/// The built-in catalog, built once.
pub fn catalog() -> &'static Catalog {
    static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(build);
    &CATALOG
}

/// The built-in catalog's value, from the lists above.
fn build() -> Catalog {
    Catalog {
        oldest: KubeVersion::minor(1, OLDEST),
        newest: KubeVersion::minor(1, NEWEST),
        families: families(),
        signals: signals(),
    }
}
