//! Which metric answers each troubleshooter question in this scrape, across renames.

use serde::Serialize;

/// One troubleshooter question and the metric names that have answered it over the releases,
/// preferred first.
struct Question {
    id: &'static str,
    question: &'static str,
    alternatives: &'static [(&'static str, &'static str)],
    /// What an absence means when no alternative is present.
    absent_note: &'static str,
}

/// The questions of the API troubleshooter dashboard. Version ranges are those observed in the
/// real scrapes of each release (see the metric inventory by version).
const QUESTIONS: &[Question] = &[
    Question {
        id: "watches",
        question: "Long-running WATCH connections",
        alternatives: &[
            ("apiserver_longrunning_requests", "1.23+"),
            ("apiserver_longrunning_gauge", "up to 1.23"),
            ("apiserver_registered_watchers", "up to 1.24 (by kind)"),
        ],
        absent_note: "no long-running request gauge exposed",
    },
    Question {
        id: "inflight",
        question: "In-flight read/write requests vs 400/200 limits",
        alternatives: &[(
            "apiserver_current_inflight_requests",
            "all versions; label requestKind up to 1.18, request_kind from 1.19",
        )],
        absent_note: "no in-flight gauge exposed",
    },
    Question {
        id: "apf_limit",
        question: "APF concurrency limit per priority level",
        alternatives: &[
            (
                "apiserver_flowcontrol_current_limit_seats",
                "1.26+ (after borrowing)",
            ),
            ("apiserver_flowcontrol_nominal_limit_seats", "1.26+"),
            (
                "apiserver_flowcontrol_request_concurrency_limit",
                "1.20-1.30, hidden from 1.31",
            ),
        ],
        absent_note: "APF off or older than 1.20",
    },
    Question {
        id: "apf_executing",
        question: "APF seats / requests executing",
        alternatives: &[
            ("apiserver_flowcontrol_current_executing_seats", "1.28+"),
            (
                "apiserver_flowcontrol_request_concurrency_in_use",
                "1.22-1.31",
            ),
            (
                "apiserver_flowcontrol_current_executing_requests",
                "1.20+ (requests, not seats)",
            ),
        ],
        absent_note: "APF off or older than 1.20",
    },
    Question {
        id: "apf_queued",
        question: "APF requests waiting in queues",
        alternatives: &[("apiserver_flowcontrol_current_inqueue_requests", "1.20+")],
        absent_note: "APF off or older than 1.20",
    },
    Question {
        id: "apf_wait",
        question: "APF time waited in queue",
        alternatives: &[(
            "apiserver_flowcontrol_request_wait_duration_seconds",
            "1.20+",
        )],
        absent_note: "APF off or older than 1.20",
    },
    Question {
        id: "apf_rejected",
        question: "APF rejections (429) by reason",
        alternatives: &[(
            "apiserver_flowcontrol_rejected_requests_total",
            "1.20+, only once a request was rejected",
        )],
        absent_note: "no rejection so far (the counter appears with the first one): read as 0",
    },
    Question {
        id: "request_rate",
        question: "Request rate by verb, resource and code",
        alternatives: &[
            ("apiserver_request_total", "1.15+"),
            ("apiserver_request_count", "up to 1.16"),
        ],
        absent_note: "no request counter exposed",
    },
    Question {
        id: "slow_calls",
        question: "Slowest calls: request duration histogram",
        alternatives: &[
            ("apiserver_request_duration_seconds", "1.14+"),
            ("apiserver_request_latencies", "up to 1.16 (microseconds)"),
        ],
        absent_note: "no request latency histogram exposed",
    },
    Question {
        id: "sli_latency",
        question: "SLI latency (excludes webhook and APF wait)",
        alternatives: &[
            ("apiserver_request_sli_duration_seconds", "1.26+"),
            ("apiserver_request_slo_duration_seconds", "1.23-1.27"),
        ],
        absent_note: "older than 1.23",
    },
    Question {
        id: "etcd_latency",
        question: "etcd request latency seen by the API server",
        alternatives: &[
            (
                "etcd_request_duration_seconds",
                "1.14+; labels {operation,type} up to 1.33, {operation,group,resource} from 1.34",
            ),
            ("etcd_request_latencies_summary", "up to 1.16"),
        ],
        absent_note: "no etcd latency exposed",
    },
    Question {
        id: "object_counts",
        question: "Stored object counts by resource",
        alternatives: &[
            ("apiserver_resource_objects", "1.34+ {group,resource}"),
            ("apiserver_storage_objects", "1.21+"),
            ("etcd_object_counts", "up to 1.22"),
        ],
        absent_note: "no object count exposed",
    },
    Question {
        id: "db_size",
        question: "etcd database size",
        alternatives: &[
            ("apiserver_storage_size_bytes", "1.28+"),
            ("apiserver_storage_db_total_size_in_bytes", "1.26-1.27"),
            ("etcd_db_total_size_in_bytes", "1.20-1.25"),
        ],
        absent_note: "older than 1.20, or the storage metrics are off",
    },
    Question {
        id: "terminations",
        question: "Requests terminated by the server (timeouts, overload)",
        alternatives: &[(
            "apiserver_request_terminations_total",
            "1.19+, only after a termination",
        )],
        absent_note: "no termination so far: read as 0",
    },
    Question {
        id: "webhook_latency",
        question: "Admission webhook latency",
        alternatives: &[(
            "apiserver_admission_webhook_admission_duration_seconds",
            "all versions, once a webhook is called",
        )],
        absent_note: "no admission webhook called so far",
    },
    Question {
        id: "response_sizes",
        question: "Response sizes (large LISTs)",
        alternatives: &[("apiserver_response_sizes", "all versions")],
        absent_note: "no response size histogram exposed",
    },
];

/// How one question is covered by this scrape.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Coverage {
    /// Stable identifier of the question.
    pub(crate) id: &'static str,
    /// The question in words.
    pub(crate) question: &'static str,
    /// The metric that answers it here, if any.
    pub(crate) metric: Option<&'static str>,
    /// Versions in which that metric exists, or what the absence means.
    pub(crate) note: String,
    /// Every name the question has had, preferred first.
    pub(crate) alternatives: Vec<&'static str>,
}

/// Evaluates every question against the families present.
pub(crate) fn evaluate(has_family: impl Fn(&str) -> bool) -> Vec<Coverage> {
    QUESTIONS
        .iter()
        .map(|q| {
            let found = q.alternatives.iter().find(|(name, _)| has_family(name));
            Coverage {
                id: q.id,
                question: q.question,
                metric: found.map(|(name, _)| *name),
                note: found.map_or(q.absent_note.to_owned(), |(_, versions)| {
                    (*versions).to_owned()
                }),
                alternatives: q.alternatives.iter().map(|(name, _)| *name).collect(),
            }
        })
        .collect()
}
