//! What the doctor concludes: findings with a severity, a kind, the culprit, the evidence and
//! the fix, in the shape `--format json` prints.

use apilens_apf::{FlowSchema, PriorityLevel};
use serde::Serialize;

/// How much a finding matters now (see the crate documentation for the exact rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A pattern worth fixing with no measurable harm now.
    Info,
    /// A real but contained cost.
    Warning,
    /// Others are rejected or queued because of it, or it saturates its priority level.
    Critical,
}

impl Severity {
    /// The word printed for it (`CRITICAL`, `WARNING`, `INFO`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!(
                "unknown severity {s:?} (expected info, warning or critical)"
            )),
        }
    }
}

/// The pattern a finding is about; `kind` in the output is its slug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Cluster-wide LISTs without `limit`.
    UnboundedList,
    /// LISTs that etcd serves rather than the watch cache.
    ListFromEtcd,
    /// The same request repeated at a steady period.
    PollingLoop,
    /// `limit` + `continue` chains from etcd, repeated.
    PaginatedRelist,
    /// Short-lived watches re-established, without a resourceVersion.
    WatchChurn,
    /// Cluster-wide watches from one client on every node: every event sent to every copy.
    WatchFanout,
    /// 429s followed by immediate retries.
    RetryStorm429,
    /// LIST responses of hundreds of MB.
    HugeListResponse,
    /// Application traffic classified exempt.
    ApfExemptApplication,
    /// A FlowSchema sending a client to the shared catch-all level.
    ApfJailInCatchAll,
    /// A FlowSchema whose priority level does not exist.
    ApfDanglingFlowschema,
    /// A level queuing or rejecting while a neighbour lends idle seats.
    ApfStarvedLevel,
    /// etcd is slow: the server-side cause, no client stands out.
    EtcdSlow,
    /// An admission webhook is slow: the server-side cause, no client stands out.
    WebhookSlow,
    /// API server replicas run different versions.
    VersionSkew,
    /// One client holds most of its priority level's seats while the level rejects or queues.
    LevelHog,
}

impl Kind {
    /// The slug printed as `kind`.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::UnboundedList => "unbounded-list",
            Kind::ListFromEtcd => "list-from-etcd",
            Kind::PollingLoop => "polling-loop",
            Kind::PaginatedRelist => "paginated-relist",
            Kind::WatchChurn => "watch-churn",
            Kind::WatchFanout => "watch-fanout",
            Kind::RetryStorm429 => "retry-storm-429",
            Kind::HugeListResponse => "huge-list-response",
            Kind::ApfExemptApplication => "apf-exempt-application",
            Kind::ApfJailInCatchAll => "apf-jail-in-catch-all",
            Kind::ApfDanglingFlowschema => "apf-dangling-flowschema",
            Kind::ApfStarvedLevel => "apf-starved-level",
            Kind::EtcdSlow => "etcd-slow",
            Kind::WebhookSlow => "webhook-slow",
            Kind::VersionSkew => "version-skew",
            Kind::LevelHog => "level-hog",
        }
    }

    /// Every kind.
    pub const ALL: [Kind; 16] = [
        Kind::UnboundedList,
        Kind::ListFromEtcd,
        Kind::PollingLoop,
        Kind::PaginatedRelist,
        Kind::WatchChurn,
        Kind::WatchFanout,
        Kind::RetryStorm429,
        Kind::HugeListResponse,
        Kind::ApfExemptApplication,
        Kind::ApfJailInCatchAll,
        Kind::ApfDanglingFlowschema,
        Kind::ApfStarvedLevel,
        Kind::EtcdSlow,
        Kind::WebhookSlow,
        Kind::VersionSkew,
        Kind::LevelHog,
    ];

    /// True for causes inside the server (etcd, a webhook, the version mix): no client is the
    /// culprit.
    pub fn is_server_side(self) -> bool {
        matches!(self, Kind::EtcdSlow | Kind::WebhookSlow | Kind::VersionSkew)
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.slug())
    }
}

/// The client a finding names, the way an operator acts on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Culprit {
    /// The effective user (`system:serviceaccount:logging:log-agent`; `system:node:*` for the
    /// kubelets of every node).
    pub user: String,
    /// The user agent without version noise.
    pub user_agent: String,
    /// The offending verbs, comma-separated (`list`).
    pub verb: String,
    /// The offending resources (`pods`, `pods/status`), comma-separated.
    pub resource: String,
    /// Their API groups (empty for the core group), comma-separated.
    pub api_group: String,
    /// Distinct source IPs.
    pub source_ips: u64,
    /// Distinct nodes (kubelets, or service-account tokens bound to a node), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u64>,
    /// Distinct pods (service-account tokens bound to a pod), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<u64>,
    /// True when a distinct count above is an estimate (more than 512 values).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counts_estimated: bool,
    /// The FlowSchema that takes its offending requests today.
    pub flow_schema: String,
    /// The priority level it lands in today.
    pub priority_level: String,
}

/// A time window, RFC 3339 at both ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// Start (inclusive).
    pub start: String,
    /// End (exclusive).
    pub end: String,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Evidence {
    /// A figure with its unit and a sentence that reads it.
    Figure {
        /// Machine name of the figure (`seat_seconds`).
        name: String,
        /// Its value.
        value: f64,
        /// Its unit (`seat-s`, `requests`, `%`, `s`, `bytes`, `per-s`).
        unit: String,
        /// The sentence a person reads.
        text: String,
    },
    /// The time window the figures come from, or where the cost peaked.
    Window {
        /// The window.
        window: Window,
        /// What happened in it.
        text: String,
    },
    /// Example request URIs (at most three).
    Examples {
        /// The URIs.
        uris: Vec<String>,
    },
    /// Metric panels that show it, and what they say.
    Panels {
        /// Panel ids of the catalog (`apf-queue-wait`).
        ids: Vec<String>,
        /// What the metrics say.
        text: String,
    },
    /// Anything else worth knowing (an approximation, a missing input).
    Note {
        /// The note.
        text: String,
    },
}

/// The fix: APF objects that contain the client, and the change to make on the client.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fix {
    /// A `flowcontrol.apiserver.k8s.io/v1` PriorityLevelConfiguration and FlowSchema, with
    /// comments; empty when APF is not the remedy (the advice says why).
    pub yaml: String,
    /// What to change on the client or the server.
    pub advice: Vec<String>,
    /// The FlowSchemas of `yaml`, for `--what-if` and tests.
    #[serde(skip)]
    pub schemas: Vec<FlowSchema>,
    /// The priority levels of `yaml`.
    #[serde(skip)]
    pub levels: Vec<PriorityLevel>,
    /// Exactly the requests the FlowSchema takes (the client's, by verb, resource and scope).
    #[serde(skip)]
    pub moves: Vec<crate::fix::OffendingCall>,
}

/// What a finding costs the server and others: the figures the ranking reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Harm {
    /// 429s the replay predicts for everyone else that go away without this client.
    pub others_429: f64,
    /// Seconds of APF queue wait of everyone else that go away without this client.
    pub others_wait_s: f64,
    /// The client's share of its priority level's seat-seconds, 0..1.
    pub level_share: f64,
    /// Seat-seconds of the offending requests.
    pub seat_seconds: f64,
    /// etcd milliseconds of the offending requests (from the latency annotations).
    pub etcd_ms: f64,
    /// Estimated bytes read from etcd by the offending LISTs.
    pub etcd_bytes: f64,
    /// True when the level was saturated in the window (metrics or replay).
    pub level_saturated: bool,
    /// Watch events per second sent to the client (cluster-wide watches).
    pub watch_events_per_s: f64,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// How much it matters now.
    pub severity: Severity,
    /// The pattern, as a slug.
    pub kind: Kind,
    /// One line naming the client (or the server-side cause) and what it does.
    pub title: String,
    /// The client; absent for server-side findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub culprit: Option<Culprit>,
    /// The evidence.
    pub evidence: Vec<Evidence>,
    /// The fix.
    pub fix: Fix,
    /// The figures the ranking read.
    pub harm: Harm,
}

impl Finding {
    /// The first figure named `name`, if any.
    pub fn figure(&self, name: &str) -> Option<f64> {
        self.evidence.iter().find_map(|e| match e {
            Evidence::Figure { name: n, value, .. } if n == name => Some(*value),
            _ => None,
        })
    }
}
