//! What a scan read beside the view's own result: requests counted and filtered out, the time
//! range, malformed lines (with the first few in full) and read errors.

use crate::request::Request;

/// How many malformed lines are reported in full.
pub const MALFORMED_EXAMPLES: usize = 5;

/// Lines (and items of envelopes such as an `EventList`) that were not audit records, reported
/// beside the result: unreadable JSON, another kind of object, impossible timestamps, lines
/// longer than the limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Malformed {
    /// How many lines or items were malformed.
    pub count: u64,
    /// The first few, in input order, as `file:line: why`.
    pub examples: Vec<String>,
    /// Where the examples are: input, chunk, line inside the chunk (line numbers are known only
    /// once every chunk before is counted).
    keys: Vec<(usize, u64, u64)>,
    /// The examples without their `file:line: ` prefix.
    why: Vec<String>,
}

impl Malformed {
    pub(crate) fn record(&mut self, key: (usize, u64, u64), why: impl FnOnce() -> String) {
        self.count += 1;
        if self.keys.len() < MALFORMED_EXAMPLES || key < *self.keys.last().unwrap_or(&key) {
            // After the equal keys: several bad items of one line keep their order.
            let pos = self.keys.partition_point(|k| *k <= key);
            self.keys.insert(pos, key);
            self.why.insert(pos, why());
            self.keys.truncate(MALFORMED_EXAMPLES);
            self.why.truncate(MALFORMED_EXAMPLES);
        }
    }

    pub(crate) fn merge(&mut self, other: Malformed) {
        self.count += other.count;
        for (key, why) in other.keys.into_iter().zip(other.why) {
            let pos = self.keys.partition_point(|k| *k <= key);
            self.keys.insert(pos, key);
            self.why.insert(pos, why);
        }
        self.keys.truncate(MALFORMED_EXAMPLES);
        self.why.truncate(MALFORMED_EXAMPLES);
    }

    /// Writes the examples with file names and line numbers, given the line count of every
    /// chunk of every input.
    pub(crate) fn resolve(&mut self, names: &[String], chunk_lines: &[Vec<u64>]) {
        self.examples = self
            .keys
            .iter()
            .zip(&self.why)
            .map(|(&(input, chunk, line), why)| {
                let before: u64 = chunk_lines
                    .get(input)
                    .map_or(0, |c| c.iter().take(chunk as usize).sum());
                format!("{}:{}: {why}", names[input], before + line + 1)
            })
            .collect();
    }
}

/// What a scan read, beside the view's own result.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Inputs read.
    pub inputs: usize,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Audit events decoded (every stage).
    pub records: u64,
    /// Requests counted: one event per request, after the filters.
    pub events: u64,
    /// Requests the filters removed.
    pub filtered_out: u64,
    /// Earlier-stage events folded into the final event of the same auditID.
    pub folded_stages: u64,
    /// Non-final events counted without de-duplication because the pending table was full.
    pub dedup_overflow: u64,
    /// Malformed lines.
    pub malformed: Malformed,
    /// Inputs that failed part-way, as `file: read failed at byte N: error`, in input order.
    /// The result then covers only what was read before each failure: see
    /// [`Summary::is_partial`].
    pub read_errors: Vec<String>,
    /// Earliest `requestReceivedTimestamp` of a counted request, in µs since the epoch.
    pub first_us: Option<i64>,
    /// Latest `requestReceivedTimestamp` of a counted request, in µs since the epoch.
    pub last_us: Option<i64>,
}

impl Summary {
    /// True when an input failed part-way, so the figures cover only part of the input. Every
    /// rendering says so, and `apilens audit` exits non-zero.
    pub fn is_partial(&self) -> bool {
        !self.read_errors.is_empty()
    }

    /// The span between the first and last counted request, in seconds (0 when unknown).
    pub fn span_seconds(&self) -> f64 {
        match (self.first_us, self.last_us) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e6,
            _ => 0.0,
        }
    }

    pub(crate) fn merge(&mut self, o: Summary) {
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.records += o.records;
        self.events += o.events;
        self.filtered_out += o.filtered_out;
        self.folded_stages += o.folded_stages;
        self.dedup_overflow += o.dedup_overflow;
        self.malformed.merge(o.malformed);
        self.read_errors.extend(o.read_errors);
        self.first_us = min_opt(self.first_us, o.first_us);
        self.last_us = max_opt(self.last_us, o.last_us);
    }

    pub(crate) fn count(&mut self, req: &Request<'_>) {
        self.events += 1;
        if let Some(t) = req.received_us {
            self.first_us = min_opt(self.first_us, Some(t));
            self.last_us = max_opt(self.last_us, Some(t));
        }
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
