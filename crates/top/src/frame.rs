//! One refresh of the view: what every screen shows, in the shape `--once --format json` prints.

use serde::Serialize;

/// Everything one refresh read: the report's verdicts, the priority levels, the clients ranked
/// by the doctor, and the panels of the calls, WATCH and etcd screens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Frame {
    /// Where the figures came from (`the simulator (chatty-daemonset)`, `store data`).
    pub source: String,
    /// End of the window read, milliseconds since the epoch.
    pub end_ms: i64,
    /// Length of the window read, seconds.
    pub window_s: u64,
    /// The report's worst level (`OK`, `WARNING`, `CRITICAL`, `NO DATA`).
    pub level: String,
    /// The report's verdict in one line.
    pub overall: String,
    /// One verdict line per report section, the one holding the cause first.
    pub sections: Vec<SectionLine>,
    /// Priority levels per replica.
    pub levels: Vec<LevelRow>,
    /// Flow schemas by seats (from the metrics), heaviest first.
    pub flows: Vec<FlowRow>,
    /// Clients (from the audit log through the doctor), the most harmful first.
    pub clients: Vec<ClientRow>,
    /// The client the doctor names first, when it names one.
    pub culprit: Option<ClientRow>,
    /// End of the window the doctor read for the clients, milliseconds since the epoch: the
    /// doctor runs less often than the panels, so it can be earlier than [`Frame::end_ms`].
    pub clients_end_ms: Option<i64>,
    /// The slowest calls screen: latency panels.
    pub calls: Vec<PanelTable>,
    /// The WATCH screen: WATCH panels.
    pub watches: Vec<PanelTable>,
    /// The etcd screen: etcd panels, as the API server and etcd itself see them.
    pub etcd: Vec<PanelTable>,
    /// Every finding of the doctor, the most harmful first: those about a client and those
    /// about the server or its APF configuration (a FlowSchema jailing clients in catch-all, a
    /// starved level), which no client row carries.
    pub findings: Vec<FindingLine>,
    /// Whether the source reads an audit log: without one no client has raw events.
    pub audit_log: bool,
    /// What could not be read, and what is approximate.
    pub notes: Vec<String>,
    /// What the source failed to read for this frame (a replica down, a refused debug dump),
    /// each naming its target: the status line shows them while the frame stays on screen.
    pub errors: Vec<String>,
}

/// One finding of the doctor in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingLine {
    /// Its severity (`CRITICAL`, `WARNING`, ...).
    pub severity: String,
    /// Its kind (`apf-jail-in-catch-all`, `unbounded-list`, ...).
    pub kind: String,
    /// Its title.
    pub title: String,
    /// The client it names, empty for a finding about the server or its configuration.
    pub client: String,
    /// Evidence sentences.
    pub evidence: Vec<String>,
    /// The fix's YAML, empty when APF is not the remedy.
    pub fix_yaml: String,
    /// The remediation in words.
    pub advice: Vec<String>,
}

/// One report section as a line of the overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionLine {
    /// The section's heading.
    pub title: String,
    /// Its level (`OK`, `WARNING`, ...).
    pub level: String,
    /// Its verdict sentence.
    pub verdict: String,
    /// The figure its sparkline follows: the first series of its worst panel, at the end of
    /// the window.
    pub figure: Option<f64>,
    /// The same series at each step of the window, oldest first: the sparkline's history at
    /// the first refresh.
    #[serde(skip)]
    pub trend: Vec<f64>,
}

/// One priority level on one replica (or over all replicas).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelRow {
    /// The priority level.
    pub level: String,
    /// The replica (`10.0.0.1:6443`), empty for the whole level.
    pub instance: String,
    /// Seats in use over the current limit (borrowing included), percent, at the end.
    pub utilisation_pct: Option<f64>,
    /// Its peak over the window, percent.
    pub utilisation_peak_pct: Option<f64>,
    /// Seats executing at the end (summed over replicas for the whole level).
    pub seats_in_use: Option<f64>,
    /// The current seat limit, borrowing included, at the end.
    pub seats_limit: Option<f64>,
    /// Seats borrowed from other levels (the current limit minus the nominal one): negative
    /// when the level lent seats.
    pub seats_borrowed: Option<f64>,
    /// The lowest the limit may be lent down to.
    pub seats_lower: Option<f64>,
    /// The highest the limit may borrow up to.
    pub seats_upper: Option<f64>,
    /// Queue wait p99 over all replicas, seconds.
    pub wait_p99_s: Option<f64>,
    /// APF rejections per second over all replicas.
    pub rejected_per_s: Option<f64>,
    /// Requests dispatched per second over all replicas.
    pub dispatched_per_s: Option<f64>,
}

impl LevelRow {
    /// A row of `level` on `instance` with no figure yet.
    pub fn new(level: String, instance: String) -> LevelRow {
        LevelRow {
            level,
            instance,
            utilisation_pct: None,
            utilisation_peak_pct: None,
            seats_in_use: None,
            seats_limit: None,
            seats_borrowed: None,
            seats_lower: None,
            seats_upper: None,
            wait_p99_s: None,
            rejected_per_s: None,
            dispatched_per_s: None,
        }
    }
}

/// One flow schema's seats on the busiest replica.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowRow {
    /// The flow schema.
    pub flow_schema: String,
    /// Its priority level.
    pub priority_level: String,
    /// Peak seats executing on the busiest replica.
    pub seats: Option<f64>,
}

/// One client: who it is, what it costs, and the doctor's finding about it when there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClientRow {
    /// The effective user.
    pub user: String,
    /// The user agent without version noise.
    pub user_agent: String,
    /// Requests per second over the audit window.
    pub req_per_s: f64,
    /// Seat-seconds per second (busy seats on average).
    pub seat_s_per_s: f64,
    /// The level where it costs most.
    pub priority_level: String,
    /// Its share of that level's seat-seconds, percent.
    pub level_share_pct: f64,
    /// 429s it received per second.
    pub rejected_per_s: f64,
    /// The offending verb and resource, when the doctor names them.
    pub verb_resource: String,
    /// Distinct source IPs.
    pub source_ips: u64,
    /// The finding's severity (`CRITICAL`, ...), empty when none.
    pub severity: String,
    /// The finding's title.
    pub finding: String,
    /// The FlowSchema that takes its requests today.
    pub flow_schema: String,
    /// Evidence sentences.
    pub evidence: Vec<String>,
    /// The fix: PriorityLevelConfiguration and FlowSchema YAML, empty when APF is not the
    /// remedy.
    pub fix_yaml: String,
    /// The client-side change.
    pub advice: Vec<String>,
    /// Its requests of the audit window by verb and resource, the most frequent first.
    pub requests: Vec<RequestRow>,
    /// Its last audit events of the window, the newest first.
    pub events: Vec<EventRow>,
}

/// One audit event of a client, as its line in the log says it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventRow {
    /// `stageTimestamp` (else `requestReceivedTimestamp`), microseconds since the epoch.
    pub time_us: i64,
    /// The verb.
    pub verb: String,
    /// `requestURI`, cut to [`EVENT_FIELD_BYTES`].
    pub uri: String,
    /// The response code, when the event has one.
    pub code: Option<u16>,
    /// From receipt to the event's stage, milliseconds.
    pub latency_ms: Option<f64>,
    /// `userAgent` as sent, cut to [`EVENT_FIELD_BYTES`].
    pub user_agent: String,
}

/// The most bytes of an event's URI or user agent kept: a 1 MiB URI costs no more than this.
pub const EVENT_FIELD_BYTES: usize = 4096;

/// One verb and resource of a client's requests over the audit window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestRow {
    /// `list pods`.
    pub call: String,
    /// Requests in the window.
    pub count: u64,
    /// Requests per second over the window.
    pub per_s: f64,
}

/// A panel as a table of its series or rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelTable {
    /// The catalog id.
    pub id: String,
    /// The panel's title.
    pub title: String,
    /// How it reads (`OK`, `WARNING`, ...).
    pub level: String,
    /// Its headline.
    pub headline: String,
    /// One row per series or table row: a name and its values formatted with the unit.
    pub rows: Vec<PanelRow>,
    /// Query errors.
    pub errors: Vec<String>,
}

/// One series or table row of a panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelRow {
    /// The legend or the table key.
    pub name: String,
    /// The value now (time series) or the first column (tables), formatted.
    pub now: String,
    /// The peak over the window (time series) or the other columns (tables), formatted.
    pub peak: String,
}
