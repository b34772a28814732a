//! The APF debug dumps of one API server replica, parsed by `apilens-apf`.

use apilens_apf::{
    Dump, DumpKind, PriorityLevelDump, QueueDump, RequestDump, parse_priority_levels, parse_queues,
    parse_requests,
};

/// The dumps read from one replica (`/debug/api_priority_and_fairness/dump_*`).
#[derive(Debug, Clone, Default)]
pub struct ReplicaDumps {
    /// The replica (`10.0.0.1:6443`) or the file the dumps came from.
    pub replica: String,
    /// `dump_priority_levels`.
    pub priority_levels: Option<Dump<PriorityLevelDump>>,
    /// `dump_queues`.
    pub queues: Option<Dump<QueueDump>>,
    /// `dump_requests?includeRequestDetails=1`.
    pub requests: Option<Dump<RequestDump>>,
    /// Dumps that could not be read or parsed, each naming the dump and why.
    pub errors: Vec<String>,
}

impl ReplicaDumps {
    /// Parses `text`, the `kind` dump read from `source`, into its place; a dump that does not
    /// parse is kept among the errors.
    pub fn add(&mut self, kind: DumpKind, text: &str, source: &str) {
        let parsed = match kind {
            DumpKind::PriorityLevels => {
                parse_priority_levels(text, source).map(|d| self.priority_levels = Some(d))
            }
            DumpKind::Queues => parse_queues(text, source).map(|d| self.queues = Some(d)),
            DumpKind::Requests => parse_requests(text, source).map(|d| self.requests = Some(d)),
        };
        if let Err(e) = parsed {
            self.errors.push(e.to_string());
        }
    }

    /// Notes of the parsers (unknown columns, elided lines) and the errors, for the output.
    pub fn notes(&self) -> Vec<String> {
        let mut out = self.errors.clone();
        let mut push = |what: &str, notes: &[String]| {
            for n in notes {
                out.push(format!("{} {what}: {n}", self.replica));
            }
        };
        if let Some(d) = &self.priority_levels {
            push("dump_priority_levels", &d.notes);
        }
        if let Some(d) = &self.queues {
            push("dump_queues", &d.notes);
        }
        if let Some(d) = &self.requests {
            push("dump_requests", &d.notes);
        }
        out
    }

    /// Requests waiting and rejected per level on this replica.
    pub(crate) fn level_pressure(&self) -> Vec<(String, u64, u64, bool)> {
        self.priority_levels
            .as_ref()
            .map(|d| {
                d.rows
                    .iter()
                    .map(|l| {
                        (
                            l.name.clone(),
                            l.waiting_requests.unwrap_or(0),
                            l.rejected.unwrap_or(0),
                            l.is_idle.unwrap_or(false),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
