//! The streaming, parallel pass over the inputs: read chunks split at newlines, decode lines on
//! worker threads, keep one event per request, filter, and feed a [`View`].

use crate::error::AuditError;
use crate::event::{Decoded, decode};
use crate::filter::Filter;
use crate::input::Input;
use crate::read::{Chunk, ChunkData, ChunkId, Mapped, Sender, read_input, read_mapped};
use crate::request::{Request, Stage};
use crate::sketch::{FxMap, fx_hash};
use crate::summary::Summary;
use crate::view::View;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// The longest line read by default: 16 MiB, as `apilens inspect` reads scrapes.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;

/// Requests kept while waiting for the final stage of their auditID.
const PENDING_CAP: usize = 200_000;

/// Bytes of held lines while waiting for final stages.
const PENDING_BYTES: usize = 64 << 20;

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOpts {
    /// Worker threads decoding lines (at least 1).
    pub threads: usize,
    /// Target chunk size in bytes; chunks end at a newline, so a longer line makes a longer chunk.
    pub chunk_bytes: usize,
    /// The longest line read, in bytes without its newline ([`DEFAULT_MAX_LINE_BYTES`] by
    /// default). A longer line is counted as malformed (`file:line: line longer than N bytes`)
    /// and skipped to its newline without being held, in every reading path; a multi-line JSON
    /// document, read whole, is held to the same limit.
    pub max_line_bytes: usize,
    /// Counter of input bytes read so far (compressed bytes for gzip), for a progress display.
    pub progress: Option<Arc<AtomicU64>>,
}

impl Default for ScanOpts {
    fn default() -> Self {
        ScanOpts {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            chunk_bytes: 4 << 20,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            progress: None,
        }
    }
}

impl ScanOpts {
    /// The defaults with `threads` workers (at least 1; one per core when `None`) and lines of
    /// at most `max_line_bytes`, as the `--threads` and `--max-line-bytes` flags give them.
    pub fn with_limits(threads: Option<usize>, max_line_bytes: u64) -> Self {
        let defaults = ScanOpts::default();
        ScanOpts {
            threads: threads.unwrap_or(defaults.threads).max(1),
            max_line_bytes: usize::try_from(max_line_bytes).unwrap_or(usize::MAX),
            ..defaults
        }
    }
}

/// Reads every input once and returns the merged view and the summary.
///
/// Inputs are read by up to `threads` reader threads (one input each at a time) and split into
/// chunks at newlines; `threads` workers decode the chunks. A plain file of at least two chunks
/// is mapped into memory one window (four chunks) at a time instead of being copied; gzip,
/// stdin, pipes and small files are read. Memory is bounded by the chunks in flight (each at
/// most the chunk size or about twice [`ScanOpts::max_line_bytes`]: a longer line is skipped
/// unread), the table of requests still waiting for their final stage and the view's own state,
/// whatever the input size and content.
///
/// One event is counted per request: the final stage (ResponseComplete or Panic) when present,
/// otherwise the last stage seen for the auditID. Two final events with the same auditID are
/// both counted.
///
/// # Errors
///
/// [`AuditError::Io`] when an input cannot be opened at all; failures part-way through an input
/// are listed in [`Summary::read_errors`] (every complete line before the failure is counted)
/// and the other inputs are still read.
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
    let read_errors: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    let open_error: Mutex<Option<AuditError>> = Mutex::new(None);

    let stages = Mutex::new(Stages::new(inputs.len()));

    let worker_results: Vec<(V, Summary)> = std::thread::scope(|s| {
        for _ in 0..readers {
            let chunk_tx = chunk_tx.clone();
            let pool_rx = Arc::clone(&pool_rx);
            let (next_input, read_errors, open_error, stages) =
                (&next_input, &read_errors, &open_error, &stages);
            let progress = opts.progress.clone();
            let chunk_bytes = opts.chunk_bytes.max(1024);
            let max_line = opts.max_line_bytes.max(1);
            s.spawn(move || {
                loop {
                    let idx =
                        next_input.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as usize;
                    let Some(input) = inputs.get(idx) else { break };
                    let mut out = Sender {
                        idx,
                        name: input.name(),
                        chunk_bytes,
                        max_line,
                        tx: &chunk_tx,
                        sent: 0,
                    };
                    // Each input is opened once: the same handle is mapped or streamed.
                    let raw: Box<dyn std::io::Read + Send> = match input {
                        Input::Path(path) => match std::fs::File::open(path) {
                            Ok(file) => match read_mapped(&mut out, &file, progress.as_deref()) {
                                Mapped::Done => {
                                    lock(stages).input_done(idx, out.sent);
                                    continue;
                                }
                                Mapped::Failed(e) => {
                                    lock(read_errors).push((idx, e));
                                    lock(stages).input_done(idx, out.sent);
                                    continue;
                                }
                                Mapped::NotMappable => Box::new(file),
                            },
                            Err(error) => {
                                lock(open_error).get_or_insert(AuditError::Io {
                                    path: path.clone(),
                                    error,
                                });
                                lock(stages).input_done(idx, out.sent);
                                continue;
                            }
                        },
                        Input::Stdin => Box::new(std::io::stdin()),
                        Input::Source(source) => match source.open() {
                            Ok(raw) => raw,
                            Err(error) => {
                                lock(read_errors).push((idx, format!("{}: {error}", input.name())));
                                lock(stages).input_done(idx, out.sent);
                                continue;
                            }
                        },
                    };
                    match input.wrap(raw, progress.clone()) {
                        Ok(opened) => {
                            if let Err(e) = read_input(&mut out, opened, &pool_rx) {
                                lock(read_errors).push((idx, e));
                            }
                        }
                        Err(e) => {
                            lock(open_error).get_or_insert(e);
                        }
                    }
                    lock(stages).input_done(idx, out.sent);
                }
            });
        }
        drop(chunk_tx);
        let mut handles = Vec::new();
        for _ in 0..threads {
            let chunk_rx = Arc::clone(&chunk_rx);
            let pool_tx = pool_tx.clone();
            let (make_view, stages) = (&make_view, &stages);
            let limits = Limits {
                max_line: opts.max_line_bytes.max(1),
                pooled: opts.chunk_bytes.max(1024) * 2,
            };
            handles.push(
                s.spawn(move || worker(&chunk_rx, &pool_tx, filter, stages, limits, make_view())),
            );
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
    let (mut view, mut summary) = results
        .next()
        .unwrap_or_else(|| (make_view(), Summary::default()));
    for (v, s) in results {
        view.merge(v);
        summary.merge(s);
    }
    let mut stages = stages.into_inner().unwrap_or_else(|p| p.into_inner());
    summary.malformed.resolve(&names, &stages.chunk_lines);
    summary.folded_stages += stages.folded;
    summary.dedup_overflow += stages.overflow;
    // Requests whose final stage never appeared, and any the full table let go: count each from
    // its last stage seen.
    let spilled = std::mem::take(&mut stages.spilled);
    let left = stages.open.into_values();
    for held in spilled.into_iter().chain(left) {
        count_held(&held, filter, &mut view, &mut summary);
    }
    summary.inputs = inputs.len();
    let mut read_errors = read_errors.into_inner().unwrap_or_else(|p| p.into_inner());
    read_errors.sort_by_key(|(idx, _)| *idx);
    summary
        .read_errors
        .extend(read_errors.into_iter().map(|(_, e)| e));
    Ok((view, summary))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decodes a held line again and counts the event of its auditID and stage.
fn count_held<V: View>(held: &Held, filter: &Filter, view: &mut V, summary: &mut Summary) {
    let mut counted = false;
    let _ = decode(&held.text, &mut |item| {
        let Decoded::Request(req) = item else { return };
        if counted || req.stage != held.stage || fx_hash(req.audit_id.as_bytes()) != held.id_hash {
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

/// A non-final event kept as its JSON text (one allocation), decoded again only if its final
/// event never shows up.
struct Held {
    /// FxHash of the auditID.
    id_hash: u64,
    stage: Stage,
    text: Box<str>,
}

/// What a chunk leaves for the others once its own stages are folded: its non-final events
/// without a final event in the chunk, and the auditID hashes of its final events.
struct ChunkStages {
    open: Vec<Held>,
    finals: Vec<u64>,
}

/// Folds the stages of one request that landed in different chunks (and so, often, in different
/// workers).
///
/// Chunks are applied in input order, whatever order the workers finish them in: a chunk's final
/// events close the requests still open from earlier chunks, then its own open requests join the
/// table. Only requests that can still be matched are kept (usually those cut by a chunk
/// boundary, and watches that have not ended), so the table stays small. Requests are matched by
/// a 64-bit hash of their auditID. An earlier stage logged after its final event (merged logs)
/// is folded when both are in the same or in adjacent chunks.
struct Stages {
    open: FxMap<u64, Held>,
    held_bytes: usize,
    /// Finished chunks waiting for an earlier one.
    waiting: BTreeMap<ChunkId, ChunkStages>,
    /// The next chunk to apply.
    next: ChunkId,
    /// Per input, how many chunks it had, once its reader is done.
    chunks: Vec<Option<u64>>,
    folded: u64,
    overflow: u64,
    /// Held events let go because the table was full, to be counted as they are.
    spilled: Vec<Held>,
    /// The sorted final-event hashes of the last chunk applied, for earlier stages logged just
    /// after their final event.
    prev_finals: Vec<u64>,
    /// Per input, the line count of each chunk, for line numbers in messages.
    chunk_lines: Vec<Vec<u64>>,
}

impl Stages {
    fn new(inputs: usize) -> Stages {
        Stages {
            open: FxMap::default(),
            held_bytes: 0,
            waiting: BTreeMap::new(),
            next: (0, 0),
            chunks: vec![None; inputs],
            folded: 0,
            overflow: 0,
            spilled: Vec::new(),
            prev_finals: Vec::new(),
            chunk_lines: vec![Vec::new(); inputs],
        }
    }

    fn chunk_done(&mut self, id: ChunkId, stages: ChunkStages, lines: u64) {
        if let Some(counts) = self.chunk_lines.get_mut(id.0) {
            let seq = id.1 as usize;
            if counts.len() <= seq {
                counts.resize(seq + 1, 0);
            }
            counts[seq] = lines;
        }
        self.waiting.insert(id, stages);
        self.advance();
    }

    fn input_done(&mut self, input: usize, chunks: u64) {
        if let Some(slot) = self.chunks.get_mut(input) {
            *slot = Some(chunks);
        }
        self.advance();
    }

    fn advance(&mut self) {
        while self.next.0 < self.chunks.len() {
            if self.chunks[self.next.0].is_some_and(|n| self.next.1 >= n) {
                self.next = (self.next.0 + 1, 0);
                continue;
            }
            let Some(stages) = self.waiting.remove(&self.next) else {
                break;
            };
            self.apply(stages);
            self.next.1 += 1;
        }
    }

    fn apply(&mut self, stages: ChunkStages) {
        if !self.open.is_empty() {
            for hash in &stages.finals {
                if let Some(held) = self.open.remove(hash) {
                    self.held_bytes -= held.text.len();
                    self.folded += 1;
                }
            }
        }
        for held in stages.open {
            if self.prev_finals.binary_search(&held.id_hash).is_ok() {
                // Its final event came first, at the end of the chunk before.
                self.folded += 1;
                continue;
            }
            if let Some(existing) = self.open.get_mut(&held.id_hash) {
                self.folded += 1;
                if held.stage >= existing.stage {
                    self.held_bytes = self.held_bytes - existing.text.len() + held.text.len();
                    *existing = held;
                }
                continue;
            }
            if self.open.len() >= PENDING_CAP || self.held_bytes + held.text.len() > PENDING_BYTES {
                self.overflow += 1;
                self.spilled.push(held);
                continue;
            }
            self.held_bytes += held.text.len();
            self.open.insert(held.id_hash, held);
        }
        self.prev_finals = stages.finals;
    }
}

/// A non-final event waiting inside its chunk: the line is still in the chunk buffer.
struct LocalHeld {
    stage: Stage,
    text: HeldText,
}

enum HeldText {
    /// Byte range of the line in the chunk.
    Range(usize, usize),
    Owned(Box<str>),
}

/// What a worker needs to know of the scan's options.
#[derive(Clone, Copy)]
struct Limits {
    /// The longest line decoded; a longer one is malformed.
    max_line: usize,
    /// The largest buffer handed back to the readers for reuse; a bigger one (it held a long
    /// line) is freed.
    pooled: usize,
}

fn worker<V: View>(
    rx: &Mutex<Receiver<Chunk>>,
    pool: &SyncSender<Vec<u8>>,
    filter: &Filter,
    stages: &Mutex<Stages>,
    limits: Limits,
    mut view: V,
) -> (V, Summary) {
    let mut summary = Summary::default();
    let mut local: FxMap<u64, LocalHeld> = FxMap::default();
    let fast_filter = filter.is_empty();
    loop {
        let chunk = {
            let Ok(guard) = rx.lock() else { break };
            match guard.recv() {
                Ok(c) => c,
                Err(_) => break,
            }
        };
        let data = chunk.data.bytes();
        let base = data.as_ptr() as usize;
        summary.bytes += data.len() as u64;
        let mut finals: Vec<u64> = Vec::new();
        let mut sink = |req: Request<'_>, text: &str, summary: &mut Summary| {
            summary.records += 1;
            if req.stage.is_final() || req.audit_id.is_empty() {
                if !req.audit_id.is_empty() {
                    let hash = fx_hash(req.audit_id.as_bytes());
                    if local.remove(&hash).is_some() {
                        summary.folded_stages += 1;
                    }
                    // Earlier stages may also be open from earlier chunks.
                    finals.push(hash);
                }
                if fast_filter || filter.matches(&req) {
                    summary.count(&req);
                    view.add(&req);
                } else {
                    summary.filtered_out += 1;
                }
                return;
            }
            let hash = fx_hash(req.audit_id.as_bytes());
            let start = (text.as_ptr() as usize).wrapping_sub(base);
            let text = if start <= data.len() && text.len() <= data.len() - start {
                HeldText::Range(start, start + text.len())
            } else {
                HeldText::Owned(text.into())
            };
            let held = LocalHeld {
                stage: req.stage,
                text,
            };
            match local.get_mut(&hash) {
                Some(existing) => {
                    summary.folded_stages += 1;
                    if req.stage >= existing.stage {
                        *existing = held;
                    }
                }
                None => {
                    local.insert(hash, held);
                }
            }
        };
        let mut lines = 0u64;
        if let ChunkData::Skipped(bytes) = chunk.data {
            lines = 1;
            summary.bytes += bytes;
            summary.malformed.record((chunk.id.0, chunk.id.1, 0), || {
                format!("line longer than {} bytes", limits.max_line)
            });
        } else if chunk.whole_document {
            lines = memchr::memchr_iter(b'\n', data).count() as u64 + 1;
            decode_document(data, chunk.id, &mut summary, &mut sink);
        } else {
            let mut start = 0;
            let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
            for end in ends {
                if start >= data.len() {
                    break;
                }
                let line = &data[start..end];
                start = end + 1;
                let key = (chunk.id.0, chunk.id.1, lines);
                lines += 1;
                if line.len() > limits.max_line {
                    summary.malformed.record(key, || {
                        format!("line longer than {} bytes", limits.max_line)
                    });
                    continue;
                }
                decode_line(line, key, &mut summary, &mut sink);
            }
        }
        summary.lines += lines;
        // Hand what this chunk could not fold to the table shared by every worker.
        finals.sort_unstable();
        finals.dedup();
        let mut open = Vec::with_capacity(local.len());
        for (id_hash, held) in local.drain() {
            if finals.binary_search(&id_hash).is_ok() {
                // The final event came first in the chunk.
                summary.folded_stages += 1;
                continue;
            }
            let text = match held.text {
                HeldText::Range(a, b) => match std::str::from_utf8(&data[a..b]) {
                    Ok(t) => t.into(),
                    Err(_) => continue,
                },
                HeldText::Owned(t) => t,
            };
            open.push(Held {
                id_hash,
                stage: held.stage,
                text,
            });
        }
        let spilled = {
            let mut st = lock(stages);
            st.chunk_done(chunk.id, ChunkStages { open, finals }, lines);
            std::mem::take(&mut st.spilled)
        };
        for held in &spilled {
            count_held(held, filter, &mut view, &mut summary);
        }
        if let ChunkData::Owned(buf, _) = chunk.data
            && buf.len() <= limits.pooled
        {
            let _ = pool.try_send(buf);
        }
    }
    (view, summary)
}

/// Decodes one line; `key` is its input, chunk and line inside the chunk.
fn decode_line(
    line: &[u8],
    key: (usize, u64, u64),
    summary: &mut Summary,
    sink: &mut dyn FnMut(Request<'_>, &str, &mut Summary),
) {
    let line = line.trim_ascii();
    if line.is_empty() {
        return;
    }
    let bad = |summary: &mut Summary, why: String| {
        summary
            .malformed
            .record(key, || format!("{why} (line starts {:?})", snippet(line)));
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
    // An empty EventList or log batch emits nothing: nothing to count, nothing wrong.
    let res = decode(text, &mut |item| match item {
        Decoded::Request(req) => sink(req, text, summary),
        Decoded::BadItem(why) => summary.malformed.record(key, || why),
    });
    if let Err(why) = res {
        bad(summary, why);
    }
}

fn decode_document(
    data: &[u8],
    id: ChunkId,
    summary: &mut Summary,
    sink: &mut dyn FnMut(Request<'_>, &str, &mut Summary),
) {
    let bad = |summary: &mut Summary, why: String| {
        summary.malformed.record((id.0, id.1, 0), || {
            format!("{why} (multi-line JSON document)")
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
        for (index, item) in items.iter().enumerate() {
            let res = decode(item.get(), &mut |d| match d {
                Decoded::Request(req) => sink(req, item.get(), summary),
                Decoded::BadItem(why) => bad(summary, format!("[{index}]: {why}")),
            });
            if let Err(why) = res {
                bad(summary, format!("[{index}]: {why}"));
            }
        }
    } else {
        let res = decode(text, &mut |d| match d {
            Decoded::Request(req) => sink(req, text, summary),
            Decoded::BadItem(why) => bad(summary, why),
        });
        if let Err(why) = res {
            bad(summary, why);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_keep_one_worker_at_least_and_the_defaults_otherwise() {
        let given = ScanOpts::with_limits(Some(0), 1 << 30);
        assert_eq!((given.threads, given.max_line_bytes), (1, 1 << 30));
        let defaults = ScanOpts::default();
        let unset = ScanOpts::with_limits(None, DEFAULT_MAX_LINE_BYTES as u64);
        assert_eq!(unset.threads, defaults.threads);
        assert_eq!(unset.chunk_bytes, defaults.chunk_bytes);
        assert!(unset.progress.is_none());
    }
}
