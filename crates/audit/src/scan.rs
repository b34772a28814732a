//! The streaming, parallel pass over the inputs: read chunks split at newlines, decode lines on
//! worker threads, keep one event per request, filter, and feed a [`View`].

use crate::error::AuditError;
use crate::event::decode;
use crate::filter::Filter;
use crate::input::Input;
use crate::request::{Request, Stage};
use crate::sketch::{FxMap, fx_hash};
use crate::view::View;
use std::io::Read;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// How many malformed lines are reported in full.
pub const MALFORMED_EXAMPLES: usize = 5;

/// The largest pretty-printed (multi-line) JSON document read whole.
const MAX_DOCUMENT_BYTES: u64 = 1 << 30;

/// Requests kept per worker while waiting for the final stage of their auditID.
const PENDING_CAP: usize = 200_000;

/// Bytes of held lines per worker while waiting for final stages.
const PENDING_BYTES: usize = 64 << 20;

/// Bits in each worker's Bloom filter of final events whose earlier stages were not seen.
const BLOOM_BITS: usize = 1 << 25;

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOpts {
    /// Worker threads decoding lines (at least 1).
    pub threads: usize,
    /// Target chunk size in bytes; chunks end at a newline, so a longer line makes a longer chunk.
    pub chunk_bytes: usize,
    /// Counter of input bytes read so far (compressed bytes for gzip), for a progress display.
    pub progress: Option<Arc<AtomicU64>>,
}

impl Default for ScanOpts {
    fn default() -> Self {
        ScanOpts {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            chunk_bytes: 4 << 20,
            progress: None,
        }
    }
}

/// Lines that were not audit records, reported beside the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Malformed {
    /// How many lines were malformed.
    pub count: u64,
    /// The first few, in input order, as `file:line: why`.
    pub examples: Vec<String>,
    keys: Vec<(usize, u64)>,
}

impl Malformed {
    fn record(&mut self, input: usize, line: u64, message: impl FnOnce() -> String) {
        self.count += 1;
        let key = (input, line);
        if self.keys.len() < MALFORMED_EXAMPLES || key < *self.keys.last().unwrap_or(&key) {
            let pos = self.keys.partition_point(|k| *k < key);
            self.keys.insert(pos, key);
            self.examples.insert(pos, message());
            self.keys.truncate(MALFORMED_EXAMPLES);
            self.examples.truncate(MALFORMED_EXAMPLES);
        }
    }

    fn merge(&mut self, other: Malformed) {
        self.count += other.count;
        for (key, msg) in other.keys.into_iter().zip(other.examples) {
            let pos = self.keys.partition_point(|k| *k < key);
            self.keys.insert(pos, key);
            self.examples.insert(pos, msg);
        }
        self.keys.truncate(MALFORMED_EXAMPLES);
        self.examples.truncate(MALFORMED_EXAMPLES);
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
    /// Inputs that failed part-way, as `file: error`.
    pub read_errors: Vec<String>,
    /// Earliest `requestReceivedTimestamp` of a counted request, in µs since the epoch.
    pub first_us: Option<i64>,
    /// Latest `requestReceivedTimestamp` of a counted request, in µs since the epoch.
    pub last_us: Option<i64>,
}

impl Summary {
    /// The span between the first and last counted request, in seconds (0 when unknown).
    pub fn span_seconds(&self) -> f64 {
        match (self.first_us, self.last_us) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e6,
            _ => 0.0,
        }
    }

    fn merge(&mut self, o: Summary) {
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

    fn count(&mut self, req: &Request<'_>) {
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

struct Chunk {
    input: usize,
    first_line: u64,
    data: Vec<u8>,
    len: usize,
    whole_document: bool,
}

/// Reads every input once and returns the merged view and the summary.
///
/// Inputs are read by up to `threads` reader threads (one input each at a time) and split into
/// chunks at newlines; `threads` workers decode the chunks. Memory is bounded by the chunk pool,
/// the per-worker pending-stage tables and the view's own state, whatever the input size.
///
/// One event is counted per request: the final stage (ResponseComplete or Panic) when present,
/// otherwise the last stage seen for the auditID. Two final events with the same auditID are
/// both counted.
///
/// # Errors
///
/// [`AuditError::Io`] when an input cannot be opened at all; failures part-way through an input
/// are listed in [`Summary::read_errors`] and the other inputs are still read.
pub fn scan<V, F>(
    inputs: &[Input],
    filter: &Filter,
    opts: &ScanOpts,
    make_view: F,
) -> Result<(V, Summary), AuditError>
where
    V: View,
    F: Fn() -> V + Sync,
{
    // Open every input first so a missing file fails before any work.
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let threads = opts.threads.max(1);
    let readers = threads.min(inputs.len()).max(1);
    let queue_depth = threads * 2;
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(queue_depth);
    let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(queue_depth + threads + readers + 2);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let pool_rx = Arc::new(Mutex::new(pool_rx));
    let next_input = AtomicU64::new(0);
    let read_errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let open_error: Mutex<Option<AuditError>> = Mutex::new(None);

    let worker_results: Vec<(V, Summary, Pending)> = std::thread::scope(|s| {
        for _ in 0..readers {
            let chunk_tx = chunk_tx.clone();
            let pool_rx = Arc::clone(&pool_rx);
            let (next_input, read_errors, open_error) = (&next_input, &read_errors, &open_error);
            let progress = opts.progress.clone();
            let chunk_bytes = opts.chunk_bytes.max(1024);
            s.spawn(move || {
                loop {
                    let idx =
                        next_input.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as usize;
                    let Some(input) = inputs.get(idx) else { break };
                    let reader = match input.open(progress.clone()) {
                        Ok(r) => r,
                        Err(e) => {
                            let mut slot = open_error.lock().unwrap_or_else(|p| p.into_inner());
                            slot.get_or_insert(e);
                            continue;
                        }
                    };
                    if let Err(e) = read_input(idx, input, reader, chunk_bytes, &chunk_tx, &pool_rx)
                    {
                        read_errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(e);
                    }
                }
            });
        }
        drop(chunk_tx);
        let mut handles = Vec::new();
        for _ in 0..threads {
            let chunk_rx = Arc::clone(&chunk_rx);
            let pool_tx = pool_tx.clone();
            let (names, make_view) = (&names, &make_view);
            handles.push(s.spawn(move || worker(&chunk_rx, &pool_tx, names, filter, make_view())));
        }
        drop(pool_tx);
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    if let Some(e) = open_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }

    let mut results = worker_results.into_iter();
    let (mut view, mut summary, mut pending) = results
        .next()
        .unwrap_or_else(|| (make_view(), Summary::default(), Pending::new()));
    for (v, s, p) in results {
        view.merge(v);
        summary.merge(s);
        pending.merge(p);
    }
    // Requests whose final stage never appeared in the same worker: count them unless a final
    // event with their auditID was seen elsewhere.
    for (id, held) in pending.map {
        if pending.finals.contains(fx_hash(id.as_bytes())) {
            summary.folded_stages += 1;
            continue;
        }
        // Decode the held line again and count the event of this auditID and stage.
        let mut counted = false;
        let _ = decode(&held.text, &mut |req| {
            if counted || req.audit_id != *id || req.stage != held.stage {
                return;
            }
            counted = true;
            if filter.matches(&req) {
                summary.count(&req);
                view.add(&req);
            } else {
                summary.filtered_out += 1;
            }
        });
    }
    summary.inputs = inputs.len();
    summary
        .read_errors
        .extend(read_errors.into_inner().unwrap_or_else(|p| p.into_inner()));
    Ok((view, summary))
}

/// Reads one input into newline-aligned chunks.
fn read_input(
    idx: usize,
    input: &Input,
    mut reader: Box<dyn Read + Send>,
    chunk_bytes: usize,
    tx: &SyncSender<Chunk>,
    pool: &Mutex<Receiver<Vec<u8>>>,
) -> Result<(), String> {
    let name = input.name();
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no: u64 = 1;
    let mut first = true;
    loop {
        let mut buf = pool
            .lock()
            .ok()
            .and_then(|rx| rx.try_recv().ok())
            .unwrap_or_default();
        let want = chunk_bytes.max(carry.len() * 2);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let mut eof = false;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{name}: {e}")),
            }
        }
        if first {
            first = false;
            if starts_pretty_document(&buf[..filled]) {
                return read_whole_document(idx, &name, reader, buf, filled, tx);
            }
        }
        let end = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(pos) => pos + 1,
                None => {
                    // One line longer than the buffer: keep reading it.
                    carry.extend_from_slice(&buf[..filled]);
                    continue;
                }
            }
        };
        carry.extend_from_slice(&buf[end..filled]);
        let lines = memchr::memchr_iter(b'\n', &buf[..end]).count() as u64;
        if end > 0 {
            let chunk = Chunk {
                input: idx,
                first_line: line_no,
                data: buf,
                len: end,
                whole_document: false,
            };
            if tx.send(chunk).is_err() {
                return Ok(());
            }
        }
        line_no += lines;
        if eof {
            return Ok(());
        }
    }
}

/// True when the input starts with a JSON document spread over several lines (a pretty-printed
/// `EventList`, or the output of `aws logs filter-log-events`): its first non-blank line is a
/// lone `{` or starts a `[` array.
fn starts_pretty_document(head: &[u8]) -> bool {
    let first_line = head
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty());
    match first_line {
        Some(l) => {
            l == b"{" || l.first() == Some(&b'[') || (l.first() == Some(&b'{') && l.ends_with(b"["))
        }
        None => false,
    }
}

fn read_whole_document(
    idx: usize,
    name: &str,
    reader: Box<dyn Read + Send>,
    mut buf: Vec<u8>,
    filled: usize,
    tx: &SyncSender<Chunk>,
) -> Result<(), String> {
    buf.truncate(filled);
    let mut limited = reader.take(MAX_DOCUMENT_BYTES + 1);
    limited
        .read_to_end(&mut buf)
        .map_err(|e| format!("{name}: {e}"))?;
    if buf.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(AuditError::DocumentTooLarge {
            path: name.into(),
            limit: MAX_DOCUMENT_BYTES,
        }
        .to_string());
    }
    let len = buf.len();
    let _ = tx.send(Chunk {
        input: idx,
        first_line: 1,
        data: buf,
        len,
        whole_document: true,
    });
    Ok(())
}

/// Requests seen at a non-final stage, waiting for their final event, plus a Bloom filter of the
/// final events that arrived without their earlier stages in the same worker.
struct Pending {
    map: FxMap<Box<str>, Held>,
    /// Bytes held in `map`.
    held_bytes: usize,
    finals: Bloom,
}

/// A non-final event kept as its JSON text (one allocation), decoded again only if its final
/// event never shows up.
struct Held {
    stage: Stage,
    text: Box<str>,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            map: FxMap::default(),
            held_bytes: 0,
            finals: Bloom::new(),
        }
    }

    fn merge(&mut self, other: Pending) {
        for (id, held) in other.map {
            match self.map.get(&id) {
                Some(mine) if mine.stage >= held.stage => {}
                _ => {
                    self.map.insert(id, held);
                }
            }
        }
        self.finals.union(&other.finals);
    }
}

struct Bloom(Vec<u64>);

impl Bloom {
    fn new() -> Bloom {
        Bloom(Vec::new())
    }

    /// A blocked Bloom filter: the word from the high bits, three bits inside it from the low
    /// bits, so an insert touches one cache line.
    fn word_and_mask(hash: u64) -> (usize, u64) {
        let word = ((hash >> 32) as usize) % (BLOOM_BITS / 64);
        let mask =
            (1u64 << (hash & 63)) | (1u64 << ((hash >> 6) & 63)) | (1u64 << ((hash >> 12) & 63));
        (word, mask)
    }

    fn insert(&mut self, hash: u64) {
        if self.0.is_empty() {
            self.0 = vec![0; BLOOM_BITS / 64];
        }
        let (w, m) = Self::word_and_mask(hash);
        self.0[w] |= m;
    }

    fn contains(&self, hash: u64) -> bool {
        let (w, m) = Self::word_and_mask(hash);
        !self.0.is_empty() && self.0[w] & m == m
    }

    fn union(&mut self, other: &Bloom) {
        if other.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0 = other.0.clone();
            return;
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

fn worker<V: View>(
    rx: &Mutex<Receiver<Chunk>>,
    pool: &SyncSender<Vec<u8>>,
    names: &[String],
    filter: &Filter,
    mut view: V,
) -> (V, Summary, Pending) {
    let mut summary = Summary::default();
    let mut pending = Pending::new();
    loop {
        let chunk = {
            let Ok(guard) = rx.lock() else { break };
            match guard.recv() {
                Ok(c) => c,
                Err(_) => break,
            }
        };
        let data = &chunk.data[..chunk.len];
        summary.bytes += data.len() as u64;
        let mut sink = |req: Request<'_>, text: &str, summary: &mut Summary| {
            summary.records += 1;
            admit(req, text, filter, &mut view, summary, &mut pending);
        };
        if chunk.whole_document {
            summary.lines += memchr::memchr_iter(b'\n', data).count() as u64 + 1;
            decode_document(data, chunk.input, names, &mut summary, &mut sink);
        } else {
            let mut start = 0;
            let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
            for (line_no, end) in (chunk.first_line..).zip(ends) {
                if start >= data.len() {
                    break;
                }
                let line = &data[start..end];
                start = end + 1;
                summary.lines += 1;
                decode_line(line, chunk.input, line_no, names, &mut summary, &mut sink);
            }
        }
        if chunk.data.len() <= 64 << 20 {
            let _ = pool.try_send(chunk.data);
        }
    }
    (view, summary, pending)
}

/// Counts a request once per auditID, then filters it and feeds the view.
fn admit<V: View>(
    req: Request<'_>,
    text: &str,
    filter: &Filter,
    view: &mut V,
    summary: &mut Summary,
    pending: &mut Pending,
) {
    let count = |req: &Request<'_>, view: &mut V, summary: &mut Summary| {
        if filter.matches(req) {
            summary.count(req);
            view.add(req);
        } else {
            summary.filtered_out += 1;
        }
    };
    if req.stage.is_final() || req.audit_id.is_empty() {
        if !req.audit_id.is_empty() {
            match pending.map.remove(req.audit_id.as_ref()) {
                Some(held) => {
                    pending.held_bytes -= held.text.len();
                    summary.folded_stages += 1;
                }
                None => pending.finals.insert(fx_hash(req.audit_id.as_bytes())),
            }
        }
        count(&req, view, summary);
        return;
    }
    if let Some(existing) = pending.map.get_mut(req.audit_id.as_ref()) {
        summary.folded_stages += 1;
        if req.stage >= existing.stage {
            pending.held_bytes = pending.held_bytes - existing.text.len() + text.len();
            *existing = Held {
                stage: req.stage,
                text: text.into(),
            };
        }
        return;
    }
    if pending.map.len() >= PENDING_CAP || pending.held_bytes + text.len() > PENDING_BYTES {
        summary.dedup_overflow += 1;
        count(&req, view, summary);
        return;
    }
    pending.held_bytes += text.len();
    pending.map.insert(
        req.audit_id.as_ref().into(),
        Held {
            stage: req.stage,
            text: text.into(),
        },
    );
}

fn decode_line(
    line: &[u8],
    input: usize,
    line_no: u64,
    names: &[String],
    summary: &mut Summary,
    sink: &mut dyn FnMut(Request<'_>, &str, &mut Summary),
) {
    let line = line.trim_ascii();
    if line.is_empty() {
        return;
    }
    let bad = |summary: &mut Summary, why: String| {
        summary.malformed.record(input, line_no, || {
            format!(
                "{}:{line_no}: {why} (line starts {:?})",
                names[input],
                snippet(line)
            )
        });
    };
    let json = if line[0] == b'{' {
        line
    } else {
        // `host {json}` as written by `oc adm node-logs`, or `timestamp {json}` from a log export.
        match memchr::memchr(b' ', line) {
            Some(sp) if line[sp + 1..].trim_ascii_start().first() == Some(&b'{') => {
                line[sp + 1..].trim_ascii_start()
            }
            _ => {
                return bad(
                    summary,
                    "expected a JSON object or `prefix {json}`".to_owned(),
                );
            }
        }
    };
    let text = match std::str::from_utf8(json) {
        Ok(t) => t,
        Err(e) => return bad(summary, format!("invalid UTF-8: {e}")),
    };
    let mut emitted = false;
    let res = decode(text, &mut |req| {
        emitted = true;
        sink(req, text, summary);
    });
    if let Err(why) = res {
        bad(summary, why);
    } else if !emitted {
        // An empty EventList or log batch: nothing to count, nothing wrong.
    }
}

fn decode_document(
    data: &[u8],
    input: usize,
    names: &[String],
    summary: &mut Summary,
    sink: &mut dyn FnMut(Request<'_>, &str, &mut Summary),
) {
    let bad = |summary: &mut Summary, why: String| {
        summary.malformed.record(input, 1, || {
            format!("{}:1: {why} (multi-line JSON document)", names[input])
        });
    };
    let text = match std::str::from_utf8(data) {
        Ok(t) => t.trim(),
        Err(e) => return bad(summary, format!("invalid UTF-8: {e}")),
    };
    if text.starts_with('[') {
        let items: Vec<&serde_json::value::RawValue> = match serde_json::from_str(text) {
            Ok(items) => items,
            Err(e) => return bad(summary, e.to_string()),
        };
        for item in items {
            if let Err(why) = decode(item.get(), &mut |req| sink(req, item.get(), summary)) {
                bad(summary, why);
            }
        }
    } else if let Err(why) = decode(text, &mut |req| sink(req, text, summary)) {
        bad(summary, why);
    }
}

fn snippet(line: &[u8]) -> String {
    let cut = &line[..line.len().min(40)];
    let mut s = String::from_utf8_lossy(cut).into_owned();
    if line.len() > 40 {
        s.push('…');
    }
    s
}
