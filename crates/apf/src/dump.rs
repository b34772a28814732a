//! Parsers for the APF debug dumps (`/debug/api_priority_and_fairness/dump_priority_levels`,
//! `dump_queues`, `dump_requests[?includeRequestDetails=1]`).
//!
//! Follows `k8s.io/apiserver/pkg/util/flowcontrol/apf_controller_debug.go` at
//! `kubernetes-1.20.0` … `kubernetes-1.35.0`: each field is written followed by `",\t"` and
//! padded by a `text/tabwriter` (min width 8, padding 1, spaces), so a row is split on `,` and
//! each field trimmed. Columns are keyed by the header row, so every version's column set reads
//! (the misspelled `FlowDistingsher` included); unknown columns are kept out and noted. Values
//! `<none>` (levels without queues before 1.28) read as absent. Sample outputs in the docs
//! hold `...` elision lines, which are noted. `NextDispatchR` and `TotalWorkSum` carry an `ss`
//! (seat-seconds) suffix. From 1.28 executing requests are listed too, with
//! `RequestIndexInQueue` -1 (and `QueueIndex` -1 when the level has no queues); a queued
//! request's `StartTime` is `0001-01-01T00:00:00Z`.

use crate::error::ApfError;
use serde::Serialize;

/// One row of `dump_priority_levels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityLevelDump {
    /// `PriorityLevelName`.
    pub name: String,
    /// `ActiveQueues`: queues holding waiting requests.
    pub active_queues: Option<u32>,
    /// `IsIdle`.
    pub is_idle: Option<bool>,
    /// `IsQuiescing`: the level is going away once drained.
    pub is_quiescing: Option<bool>,
    /// `WaitingRequests`.
    pub waiting_requests: Option<u64>,
    /// `ExecutingRequests`.
    pub executing_requests: Option<u64>,
    /// `DispatchedRequests` (1.27+; cumulative on this replica).
    pub dispatched: Option<u64>,
    /// `RejectedRequests` (1.27+).
    pub rejected: Option<u64>,
    /// `TimedoutRequests` (1.27+).
    pub timed_out: Option<u64>,
    /// `CancelledRequests` (1.27+).
    pub cancelled: Option<u64>,
}

/// One row of `dump_queues`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDump {
    /// `PriorityLevelName`.
    pub priority_level: String,
    /// `Index`.
    pub index: i64,
    /// `PendingRequests`.
    pub pending: u64,
    /// `ExecutingRequests`.
    pub executing: u64,
    /// `SeatsInUse` (1.23+).
    pub seats_in_use: Option<u64>,
    /// `NextDispatchR`, seat-seconds (1.23+).
    pub next_dispatch_r: Option<f64>,
    /// `InitialSeatsSum` (1.23+).
    pub initial_seats_sum: Option<u64>,
    /// `MaxSeatsSum` (1.23+).
    pub max_seats_sum: Option<u64>,
    /// `TotalWorkSum`, seat-seconds (1.23+).
    pub total_work_sum: Option<f64>,
    /// `VirtualStart` (before 1.23).
    pub virtual_start: Option<f64>,
}

/// One row of `dump_requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestDump {
    /// `PriorityLevelName`.
    pub priority_level: String,
    /// `FlowSchemaName`.
    pub flow_schema: String,
    /// `QueueIndex`; -1 for a level without queues.
    pub queue_index: i64,
    /// `RequestIndexInQueue`; -1 for an executing request.
    pub request_index_in_queue: i64,
    /// `FlowDistingsher` (sic): the flow's user or namespace.
    pub flow_distinguisher: String,
    /// `ArriveTime`, RFC 3339.
    pub arrive_time: Option<String>,
    /// `InitialSeats` (1.23+).
    pub initial_seats: Option<u32>,
    /// `FinalSeats` (1.23+).
    pub final_seats: Option<u32>,
    /// `AdditionalLatency`, a Go duration such as `0s` (1.23+).
    pub additional_latency: Option<String>,
    /// `StartTime` (1.28+): when it started executing; `None` while queued.
    pub start_time: Option<String>,
    /// `UserName` (details).
    pub user: Option<String>,
    /// `Verb` (details).
    pub verb: Option<String>,
    /// `APIPath` (details).
    pub api_path: Option<String>,
    /// `Namespace` (details).
    pub namespace: Option<String>,
    /// `Name` (details).
    pub name: Option<String>,
    /// `APIVersion` (details), `group/version` or `v1`.
    pub api_version: Option<String>,
    /// `Resource` (details).
    pub resource: Option<String>,
    /// `SubResource` (details).
    pub subresource: Option<String>,
}

impl RequestDump {
    /// True for a request that is executing (listed from 1.28), false for a queued one.
    pub fn is_executing(&self) -> bool {
        self.request_index_in_queue < 0
    }
}

/// Rows of one dump, and what was noticed while reading it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dump<T> {
    /// The rows, in file order.
    pub rows: Vec<T>,
    /// Unknown columns, elided lines, skipped rows.
    pub notes: Vec<String>,
}

/// Which dump a text is, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DumpKind {
    /// `dump_priority_levels`.
    PriorityLevels,
    /// `dump_queues`.
    Queues,
    /// `dump_requests`.
    Requests,
}

impl DumpKind {
    /// The endpoint's name, such as `dump_queues`.
    pub fn endpoint(self) -> &'static str {
        match self {
            DumpKind::PriorityLevels => "dump_priority_levels",
            DumpKind::Queues => "dump_queues",
            DumpKind::Requests => "dump_requests",
        }
    }
}

/// A dump of whichever kind its header says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AnyDump {
    /// `dump_priority_levels`.
    PriorityLevels(Dump<PriorityLevelDump>),
    /// `dump_queues`.
    Queues(Dump<QueueDump>),
    /// `dump_requests`.
    Requests(Dump<RequestDump>),
}

impl AnyDump {
    /// Which dump it is.
    pub fn kind(&self) -> DumpKind {
        match self {
            AnyDump::PriorityLevels(_) => DumpKind::PriorityLevels,
            AnyDump::Queues(_) => DumpKind::Queues,
            AnyDump::Requests(_) => DumpKind::Requests,
        }
    }

    /// The notes of the dump.
    pub fn notes(&self) -> &[String] {
        match self {
            AnyDump::PriorityLevels(d) => &d.notes,
            AnyDump::Queues(d) => &d.notes,
            AnyDump::Requests(d) => &d.notes,
        }
    }
}

/// Parses a dump of any kind, recognised by its header.
///
/// # Errors
/// [`ApfError::Dump`] naming the source and line when the text is not an APF debug dump or a
/// value in a known column is malformed.
pub fn parse_dump(text: &str, source: &str) -> Result<AnyDump, ApfError> {
    match detect_dump(text) {
        Some(DumpKind::PriorityLevels) => {
            parse_priority_levels(text, source).map(AnyDump::PriorityLevels)
        }
        Some(DumpKind::Queues) => parse_queues(text, source).map(AnyDump::Queues),
        Some(DumpKind::Requests) => parse_requests(text, source).map(AnyDump::Requests),
        None => {
            let (line, why) = match header_line(text) {
                None => (1, "empty: no header row".to_string()),
                Some((line, header)) => {
                    let shown: String = header.chars().take(80).collect();
                    (
                        line,
                        format!(
                            "not an APF debug dump (dump_priority_levels, dump_queues or dump_requests): the header should start with PriorityLevelName, found {shown:?}"
                        ),
                    )
                }
            };
            Err(ApfError::Dump {
                source_name: source.to_string(),
                line,
                why,
            })
        }
    }
}

/// Which dump `text` is, from its header row; `None` when it is not an APF dump.
pub fn detect_dump(text: &str) -> Option<DumpKind> {
    let (_, header) = header_line(text)?;
    let cols = split(header);
    if cols.first() != Some(&"PriorityLevelName") {
        return None;
    }
    if cols.contains(&"FlowSchemaName") {
        Some(DumpKind::Requests)
    } else if cols.contains(&"Index") {
        Some(DumpKind::Queues)
    } else if cols.contains(&"IsIdle") || cols.contains(&"ActiveQueues") {
        Some(DumpKind::PriorityLevels)
    } else {
        None
    }
}

/// The first line that is neither blank nor an elision (`...`), with its number from 1.
fn header_line(text: &str) -> Option<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_start_matches('\u{feff}')))
        .find(|(_, l)| !l.trim().is_empty() && l.trim() != "...")
}

fn split(line: &str) -> Vec<&str> {
    let mut fields: Vec<&str> = line.split(',').map(str::trim).collect();
    while fields.last() == Some(&"") {
        fields.pop();
    }
    fields
}

/// A table keyed by its header: the known columns' positions and the rows.
struct Table<'t> {
    source: &'t str,
    columns: Vec<&'t str>,
    notes: Vec<String>,
}

/// One row's fields, looked up by column name.
struct Row<'t, 'r> {
    table: &'r Table<'t>,
    fields: Vec<&'t str>,
    line: usize,
}

impl<'t> Row<'t, '_> {
    /// The raw field, `None` when absent, empty handled by the caller.
    fn raw(&self, column: &str) -> Option<&'t str> {
        let i = self.table.columns.iter().position(|c| *c == column)?;
        let v = *self.fields.get(i)?;
        if v == "<none>" { None } else { Some(v) }
    }

    fn text(&self, column: &str) -> Option<String> {
        self.raw(column).map(str::to_string)
    }

    fn err(&self, why: String) -> ApfError {
        ApfError::Dump {
            source_name: self.table.source.to_string(),
            line: self.line,
            why,
        }
    }

    fn number<T: std::str::FromStr>(&self, column: &str) -> Result<Option<T>, ApfError> {
        match self.raw(column) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| self.err(format!("{column} is {v:?}, not a number"))),
        }
    }

    fn seat_seconds(&self, column: &str) -> Result<Option<f64>, ApfError> {
        match self.raw(column) {
            None | Some("") => Ok(None),
            Some(v) => v
                .strip_suffix("ss")
                .unwrap_or(v)
                .parse()
                .map(Some)
                .map_err(|_| self.err(format!("{column} is {v:?}, not seat-seconds"))),
        }
    }

    fn boolean(&self, column: &str) -> Result<Option<bool>, ApfError> {
        match self.raw(column) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(self.err(format!("{column} is {v:?}, not true or false"))),
        }
    }

    fn required<T: std::str::FromStr>(&self, column: &str) -> Result<T, ApfError> {
        self.number(column)?
            .ok_or_else(|| self.err(format!("{column} is missing")))
    }
}

/// Reads `text` as a dump of `kind`, calling `row` for each data row.
fn parse<'t, T>(
    text: &'t str,
    source: &'t str,
    kind: DumpKind,
    known: &[&str],
    mut row: impl FnMut(&Row<'t, '_>, &mut Vec<String>) -> Result<Option<T>, ApfError>,
) -> Result<Dump<T>, ApfError> {
    let not_a_dump = |line: usize, why: String| ApfError::Dump {
        source_name: source.to_string(),
        line,
        why,
    };
    let Some((header_no, header)) = header_line(text) else {
        return Err(not_a_dump(1, "empty: no header row".to_string()));
    };
    match detect_dump(text) {
        Some(k) if k == kind => {}
        Some(k) => {
            return Err(not_a_dump(
                header_no,
                format!("this is a {} dump, not {}", k.endpoint(), kind.endpoint()),
            ));
        }
        None => {
            let shown: String = header.chars().take(80).collect();
            return Err(not_a_dump(
                header_no,
                format!(
                    "not an APF {} dump: the header should start with PriorityLevelName, found {shown:?}",
                    kind.endpoint()
                ),
            ));
        }
    }
    let columns = split(header);
    let mut table = Table {
        source,
        columns: columns.clone(),
        notes: Vec::new(),
    };
    for c in &columns {
        if !known.contains(c) {
            table.notes.push(format!(
                "unknown column {c:?} kept out (header line {header_no})"
            ));
        }
    }
    let mut rows = Vec::new();
    let mut notes = std::mem::take(&mut table.notes);
    let mut elided = 0;
    for (i, line) in text.lines().enumerate().skip(header_no) {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed == "..." {
            elided += 1;
            continue;
        }
        if line.trim_start().starts_with("PriorityLevelName,") {
            notes.push(format!("line {line_no}: header repeated; skipped"));
            continue;
        }
        let fields = split(line);
        if fields.len() > columns.len() {
            notes.push(format!(
                "line {line_no}: {} fields for {} columns (a comma inside a value?); skipped",
                fields.len(),
                columns.len()
            ));
            continue;
        }
        let r = Row {
            table: &table,
            fields,
            line: line_no,
        };
        if let Some(parsed) = row(&r, &mut notes)? {
            rows.push(parsed);
        }
    }
    if elided > 0 {
        notes.push(format!(
            "{elided} elision line(s) (\"...\"): rows were left out of this sample"
        ));
    }
    Ok(Dump { rows, notes })
}

const LEVEL_COLUMNS: &[&str] = &[
    "PriorityLevelName",
    "ActiveQueues",
    "IsIdle",
    "IsQuiescing",
    "WaitingRequests",
    "ExecutingRequests",
    "DispatchedRequests",
    "RejectedRequests",
    "TimedoutRequests",
    "CancelledRequests",
];

const QUEUE_COLUMNS: &[&str] = &[
    "PriorityLevelName",
    "Index",
    "PendingRequests",
    "ExecutingRequests",
    "SeatsInUse",
    "NextDispatchR",
    "InitialSeatsSum",
    "MaxSeatsSum",
    "TotalWorkSum",
    "VirtualStart",
];

const REQUEST_COLUMNS: &[&str] = &[
    "PriorityLevelName",
    "FlowSchemaName",
    "QueueIndex",
    "RequestIndexInQueue",
    "FlowDistingsher",
    "ArriveTime",
    "InitialSeats",
    "FinalSeats",
    "AdditionalLatency",
    "StartTime",
    "UserName",
    "Verb",
    "APIPath",
    "Namespace",
    "Name",
    "APIVersion",
    "Resource",
    "SubResource",
];

/// Parses `dump_priority_levels`.
///
/// # Errors
/// [`ApfError::Dump`] naming the source and line when the text is not that dump or a value
/// in a known column is malformed.
pub fn parse_priority_levels(
    text: &str,
    source: &str,
) -> Result<Dump<PriorityLevelDump>, ApfError> {
    parse(
        text,
        source,
        DumpKind::PriorityLevels,
        LEVEL_COLUMNS,
        |r, _| {
            Ok(Some(PriorityLevelDump {
                name: r
                    .text("PriorityLevelName")
                    .ok_or_else(|| r.err("PriorityLevelName is missing".to_string()))?,
                active_queues: r.number("ActiveQueues")?,
                is_idle: r.boolean("IsIdle")?,
                is_quiescing: r.boolean("IsQuiescing")?,
                waiting_requests: r.number("WaitingRequests")?,
                executing_requests: r.number("ExecutingRequests")?,
                dispatched: r.number("DispatchedRequests")?,
                rejected: r.number("RejectedRequests")?,
                timed_out: r.number("TimedoutRequests")?,
                cancelled: r.number("CancelledRequests")?,
            }))
        },
    )
}

/// Parses `dump_queues`.
///
/// # Errors
/// As [`parse_priority_levels`].
pub fn parse_queues(text: &str, source: &str) -> Result<Dump<QueueDump>, ApfError> {
    parse(text, source, DumpKind::Queues, QUEUE_COLUMNS, |r, _| {
        Ok(Some(QueueDump {
            priority_level: r
                .text("PriorityLevelName")
                .ok_or_else(|| r.err("PriorityLevelName is missing".to_string()))?,
            index: r.required("Index")?,
            pending: r.required("PendingRequests")?,
            executing: r.required("ExecutingRequests")?,
            seats_in_use: r.number("SeatsInUse")?,
            next_dispatch_r: r.seat_seconds("NextDispatchR")?,
            initial_seats_sum: r.number("InitialSeatsSum")?,
            max_seats_sum: r.number("MaxSeatsSum")?,
            total_work_sum: r.seat_seconds("TotalWorkSum")?,
            virtual_start: r.seat_seconds("VirtualStart")?,
        }))
    })
}

/// Parses `dump_requests`, with or without `includeRequestDetails=1`. The placeholder row
/// older servers print for an exempt level (every field `<none>`) is noted and skipped.
///
/// # Errors
/// As [`parse_priority_levels`].
pub fn parse_requests(text: &str, source: &str) -> Result<Dump<RequestDump>, ApfError> {
    parse(
        text,
        source,
        DumpKind::Requests,
        REQUEST_COLUMNS,
        |r, notes| {
            let level = r
                .text("PriorityLevelName")
                .ok_or_else(|| r.err("PriorityLevelName is missing".to_string()))?;
            if r.raw("QueueIndex").is_none() && r.raw("RequestIndexInQueue").is_none() {
                notes.push(format!(
                    "line {}: placeholder row of level {level} (no request); skipped",
                    r.line
                ));
                return Ok(None);
            }
            let start_time = r
                .text("StartTime")
                .filter(|t| !t.is_empty() && !t.starts_with("0001-01-01T00:00:00"));
            let opt = |c: &str| r.text(c).filter(|v| !v.is_empty());
            Ok(Some(RequestDump {
                priority_level: level,
                flow_schema: r.text("FlowSchemaName").unwrap_or_default(),
                queue_index: r.required("QueueIndex")?,
                request_index_in_queue: r.required("RequestIndexInQueue")?,
                flow_distinguisher: r.text("FlowDistingsher").unwrap_or_default(),
                arrive_time: opt("ArriveTime"),
                initial_seats: r.number("InitialSeats")?,
                final_seats: r.number("FinalSeats")?,
                additional_latency: opt("AdditionalLatency"),
                start_time,
                user: opt("UserName"),
                verb: opt("Verb"),
                api_path: opt("APIPath"),
                namespace: opt("Namespace"),
                name: opt("Name"),
                api_version: opt("APIVersion"),
                resource: opt("Resource"),
                subresource: opt("SubResource"),
            }))
        },
    )
}
