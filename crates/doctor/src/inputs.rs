//! What the doctor read, what it assumed, and what each missing input would have added.

use serde::Serialize;

/// The audit log as read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditSummary {
    /// Files (or `-`).
    pub files: Vec<String>,
    /// Requests counted (one event per request, in the window).
    pub requests: u64,
    /// Lines that were not audit events.
    pub malformed: u64,
    /// The first few, as `file:line: why`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malformed_examples: Vec<String>,
    /// Inputs that failed part-way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_errors: Vec<String>,
    /// First request, RFC 3339.
    pub start: Option<String>,
    /// Last request, RFC 3339.
    pub end: Option<String>,
    /// Figures that are approximate, and why.
    pub approximations: Vec<String>,
}

/// An input that was not given, and what it would have added.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    /// The flag that gives it.
    pub input: String,
    /// What it would have added.
    pub would_add: String,
}

/// What the doctor read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputsSummary {
    /// The Kubernetes version whose APF rules applied.
    pub kubernetes_version: String,
    /// What said so.
    pub version_from: String,
    /// The audit log, when given.
    pub audit: Option<AuditSummary>,
    /// Where the metrics came from, when given.
    pub metrics: Option<String>,
    /// Why the metrics could not be read, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_error: Option<String>,
    /// Where the APF configuration came from.
    pub apf_config: String,
    /// Replicas whose debug dumps were read.
    pub dumps: Vec<String>,
    /// API server replicas.
    pub replicas: u32,
    /// What said so.
    pub replicas_from: String,
    /// Each replica's server concurrency limit used for seats.
    pub server_concurrency_limit: u32,
    /// Inputs not given and what they would add.
    pub missing: Vec<Missing>,
    /// Notes about the inputs (skipped objects, unknown dump columns).
    pub notes: Vec<String>,
}

/// One level's part of a client's cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LevelShare {
    /// The priority level.
    pub level: String,
    /// The client's seat-seconds there.
    pub seat_seconds: f64,
    /// Its share of the level's seat-seconds, 0..1.
    pub share: f64,
}

/// What one client cost, for the report's clients section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientCost {
    /// The effective user.
    pub user: String,
    /// The user agent without version noise.
    pub user_agent: String,
    /// Requests.
    pub requests: u64,
    /// Distinct source IPs.
    pub source_ips: u64,
    /// Seat-seconds.
    pub seat_seconds: f64,
    /// Per priority level, heaviest first.
    pub levels: Vec<LevelShare>,
    /// 429s it received from APF.
    pub rejected_429: u64,
    /// Queue wait it received (annotated requests), seconds.
    pub wait_s: f64,
    /// Bytes its LISTs read from etcd (estimate).
    pub etcd_bytes: f64,
}
