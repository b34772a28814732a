//! Debug dumps as a person or a program reads them: one table (or JSON object) per dump, its
//! notes below it. [`DumpViews`] takes each dump's text as it is read, so the first bad dump
//! stops the reading before the next is opened.

use crate::ApfError;
use crate::dump::{AnyDump, DumpKind, parse_dump};
use crate::explain::pretty_json;
use apilens_textout::Table;
use serde::Serialize;

/// The dumps read so far, each parsed and laid out.
#[derive(Debug, Default)]
pub struct DumpViews {
    views: Vec<DumpView>,
}

/// One dump laid out.
#[derive(Debug)]
struct DumpView {
    name: String,
    kind: DumpKind,
    table: Table,
    notes: Vec<String>,
    json: serde_json::Value,
}

#[derive(Serialize)]
struct DumpJson<T: Serialize> {
    file: String,
    dump: &'static str,
    rows: Vec<T>,
    notes: Vec<String>,
}

impl DumpViews {
    /// No dump yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the dump `text` read from `name` (recognised by its header) and lays it out.
    pub fn add(&mut self, text: &str, name: &str) -> Result<(), ApfError> {
        let dump = parse_dump(text, name)?;
        let kind = dump.kind();
        let notes = dump.notes().to_vec();
        let (table, json) = match dump {
            AnyDump::PriorityLevels(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "ACTIVE_QUEUES",
                    "IDLE",
                    "QUIESCING",
                    "WAITING",
                    "EXECUTING",
                    "DISPATCHED",
                    "REJECTED",
                    "TIMED_OUT",
                    "CANCELLED",
                ]);
                for r in &d.rows {
                    t.row(vec![
                        r.name.clone(),
                        opt(r.active_queues),
                        opt(r.is_idle),
                        opt(r.is_quiescing),
                        opt(r.waiting_requests),
                        opt(r.executing_requests),
                        opt(r.dispatched),
                        opt(r.rejected),
                        opt(r.timed_out),
                        opt(r.cancelled),
                    ]);
                }
                (t, dump_json(name, kind, d.rows, d.notes)?)
            }
            AnyDump::Queues(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "INDEX",
                    "PENDING",
                    "EXECUTING",
                    "SEATS_IN_USE",
                    "NEXT_DISPATCH_R",
                    "INITIAL_SEATS_SUM",
                    "MAX_SEATS_SUM",
                    "TOTAL_WORK_SUM",
                    "VIRTUAL_START",
                ]);
                for r in &d.rows {
                    t.row(vec![
                        r.priority_level.clone(),
                        r.index.to_string(),
                        r.pending.to_string(),
                        r.executing.to_string(),
                        opt(r.seats_in_use),
                        opt(r.next_dispatch_r),
                        opt(r.initial_seats_sum),
                        opt(r.max_seats_sum),
                        opt(r.total_work_sum),
                        opt(r.virtual_start),
                    ]);
                }
                (t, dump_json(name, kind, d.rows, d.notes)?)
            }
            AnyDump::Requests(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "FLOW_SCHEMA",
                    "STATE",
                    "QUEUE",
                    "FLOW",
                    "ARRIVED",
                    "SEATS",
                    "USER",
                    "VERB",
                    "PATH",
                ]);
                for r in &d.rows {
                    let seats = match (r.initial_seats, r.final_seats) {
                        (Some(i), Some(f)) if f > 0 => format!("{i}/{f}"),
                        (Some(i), _) => i.to_string(),
                        _ => "-".to_string(),
                    };
                    t.row(vec![
                        r.priority_level.clone(),
                        r.flow_schema.clone(),
                        if r.is_executing() {
                            "executing".to_string()
                        } else {
                            format!("queued #{}", r.request_index_in_queue)
                        },
                        r.queue_index.to_string(),
                        dash_str(&r.flow_distinguisher),
                        r.arrive_time.clone().unwrap_or_else(|| "-".to_string()),
                        seats,
                        r.user.clone().unwrap_or_else(|| "-".to_string()),
                        r.verb.clone().unwrap_or_else(|| "-".to_string()),
                        r.api_path.clone().unwrap_or_else(|| "-".to_string()),
                    ]);
                }
                (t, dump_json(name, kind, d.rows, d.notes)?)
            }
        };
        self.views.push(DumpView {
            name: name.to_string(),
            kind,
            table,
            notes,
            json,
        });
        Ok(())
    }

    /// Every dump as a table with its notes below; with more than one dump, each under a
    /// `== name (endpoint) ==` heading and followed by a blank line.
    pub fn text(&self) -> String {
        let many = self.views.len() > 1;
        let mut out = String::new();
        for v in &self.views {
            if many {
                out.push_str(&format!("== {} ({}) ==\n", v.name, v.kind.endpoint()));
            }
            out.push_str(&v.table.render(""));
            for n in &v.notes {
                out.push_str(&format!("note: {}: {n}\n", v.name));
            }
            if many {
                out.push('\n');
            }
        }
        out
    }

    /// One dump as a JSON object (file, dump, rows, notes), several as an array of them.
    pub fn json(&self) -> Result<String, ApfError> {
        let value = match self.views.as_slice() {
            [one] => one.json.clone(),
            many => serde_json::Value::Array(many.iter().map(|v| v.json.clone()).collect()),
        };
        pretty_json(&value, "the dumps")
    }
}

fn dump_json<T: Serialize>(
    file: &str,
    kind: DumpKind,
    rows: Vec<T>,
    notes: Vec<String>,
) -> Result<serde_json::Value, ApfError> {
    serde_json::to_value(DumpJson {
        file: file.to_string(),
        dump: kind.endpoint(),
        rows,
        notes,
    })
    .map_err(|e| ApfError::Json {
        what: "a dump",
        why: e.to_string(),
    })
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn dash_str(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}
