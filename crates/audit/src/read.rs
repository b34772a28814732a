//! Reading one input into newline-aligned chunks for the workers: mapped windows of big plain
//! files, buffers for streams (gzip, stdin, pipes, small files), one chunk for a multi-line JSON
//! document. Every path holds at most about two lines' worth of bytes beyond the chunk size:
//! a line longer than the limit is skipped to its newline without being held.

use crate::input::Opened;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// A chunk's place in input order: input index, then chunk number inside the input.
pub(crate) type ChunkId = (usize, u64);

/// Newline-aligned bytes of one input, or one line that was too long to read.
pub(crate) struct Chunk {
    pub(crate) id: ChunkId,
    pub(crate) data: ChunkData,
    /// The chunk is one whole multi-line JSON document, not lines.
    pub(crate) whole_document: bool,
}

pub(crate) enum ChunkData {
    /// A buffer from the pool; the chunk is its first `len` bytes.
    Owned(Vec<u8>, usize),
    /// A byte range of a mapped window of a file.
    Mapped(Arc<memmap2::Mmap>, usize, usize),
    /// One line longer than the limit, of this many bytes (its newline included, when it has
    /// one), skipped unread: the worker counts it as a malformed line.
    Skipped(u64),
}

impl ChunkData {
    /// The bytes of the chunk (none for a skipped line).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            ChunkData::Owned(buf, len) => &buf[..*len],
            ChunkData::Mapped(map, a, b) => &map[*a..*b],
            ChunkData::Skipped(_) => &[],
        }
    }
}

/// Chunks per mapped window of a file: the window is small enough that the mapped pages (which
/// count in the resident set) stay well under the memory target, large enough that mapping costs
/// nothing (16 MiB with the default 4 MiB chunks).
const WINDOW_CHUNKS: usize = 4;

/// Files of fewer chunks than this are read, not mapped.
const MAP_MIN_CHUNKS: u64 = 2;

/// One input being cut into chunks: where they go and the limits they are cut to.
pub(crate) struct Sender<'s> {
    /// The input's index, first half of every [`ChunkId`].
    pub(crate) idx: usize,
    /// The input's name for messages.
    pub(crate) name: String,
    /// Target chunk size.
    pub(crate) chunk_bytes: usize,
    /// The longest line read, without its newline.
    pub(crate) max_line: usize,
    pub(crate) tx: &'s SyncSender<Chunk>,
    /// Chunks sent so far, the second half of the next [`ChunkId`].
    pub(crate) sent: u64,
}

impl Sender<'_> {
    /// Sends a chunk; false when the workers are gone (the scan is over).
    fn send(&mut self, data: ChunkData, whole_document: bool) -> bool {
        let chunk = Chunk {
            id: (self.idx, self.sent),
            data,
            whole_document,
        };
        if self.tx.send(chunk).is_err() {
            return false;
        }
        self.sent += 1;
        true
    }
}

/// How reading a mapped file ended.
pub(crate) enum Mapped {
    /// The whole input was sent as mapped chunks.
    Done,
    /// Not a large plain file of JSON lines: read it as a stream.
    NotMappable,
    /// The input failed part-way, as `file: error`.
    Failed(String),
}

/// Sends a large, plain (not gzip), line-oriented file as newline-aligned ranges of windows
/// mapped into memory one after the other, so no byte is copied. Mapping leaves the handle's
/// position alone, so a file found not mappable is then streamed from the same handle. The workers share each window
/// and it is unmapped when its last chunk is done. A line longer than the limit is skipped by
/// scanning for its newline one window at a time, so mapped memory stays within about twice the
/// limit whatever the file holds.
///
/// A file truncated while it is being read would fault; the apiserver rotates its log by
/// renaming, never by truncating, and a renamed file stays mapped intact.
pub(crate) fn read_mapped(
    out: &mut Sender<'_>,
    file: &std::fs::File,
    progress: Option<&AtomicU64>,
) -> Mapped {
    let chunk_bytes = out.chunk_bytes;
    let len = match file.metadata() {
        Ok(m) if m.is_file() && m.len() >= MAP_MIN_CHUNKS * chunk_bytes as u64 => m.len(),
        _ => return Mapped::NotMappable,
    };
    let window_bytes = WINDOW_CHUNKS * chunk_bytes;
    let map = |offset: u64, bytes: usize| {
        // SAFETY: the mapping is read-only and private to this scan. Its pages stay valid while
        // the file exists, renamed or not; only truncation by another process underneath the
        // scan could invalidate them (see above).
        unsafe {
            memmap2::MmapOptions::new()
                .offset(offset)
                .len(bytes)
                .map(file)
        }
    };
    let name = out.name.clone();
    let failed = |at: u64, e: std::io::Error| {
        Mapped::Failed(format!("{name}: read failed at byte {at}: {e}"))
    };
    let mut offset = 0u64;
    'windows: while offset < len {
        let rest = usize::try_from(len - offset).unwrap_or(usize::MAX);
        let mut want = window_bytes.min(rest);
        let (window, end) = loop {
            let window = match map(offset, want) {
                Ok(m) => m,
                Err(_) if offset == 0 => return Mapped::NotMappable,
                Err(e) => return failed(offset, e),
            };
            if offset == 0 {
                if window.starts_with(&[0x1f, 0x8b]) || starts_pretty_document(&window) {
                    return Mapped::NotMappable;
                }
                let _ = window.advise(memmap2::Advice::Sequential);
            }
            if want == rest {
                break (window, want);
            }
            match memchr::memrchr(b'\n', &window) {
                Some(pos) => break (window, pos + 1),
                None if want > out.max_line => {
                    // The line at `offset` is longer than the limit: skip it unread.
                    drop(window);
                    let next = match find_newline(&map, offset + want as u64, len, window_bytes) {
                        Ok(next) => next,
                        Err((at, e)) => return failed(at, e),
                    };
                    // The next line starts after the newline, or the file ends with this one.
                    let next_line = next.map_or(len, |newline| newline + 1);
                    if !out.send(ChunkData::Skipped(next_line - offset), false) {
                        return Mapped::Done;
                    }
                    if let Some(p) = progress {
                        p.fetch_add(next_line - offset, Ordering::Relaxed);
                    }
                    offset = next_line;
                    continue 'windows;
                }
                // One line longer than the window: map more of it.
                None => want = want.saturating_mul(2).min(rest),
            }
        };
        let window = Arc::new(window);
        let mut start = 0;
        while start < end {
            let mut stop = (start + chunk_bytes).min(end);
            if stop < end {
                stop = match memchr::memchr(b'\n', &window[stop..end]) {
                    Some(pos) => stop + pos + 1,
                    None => end,
                };
            }
            if !out.send(ChunkData::Mapped(Arc::clone(&window), start, stop), false) {
                return Mapped::Done;
            }
            if let Some(p) = progress {
                p.fetch_add((stop - start) as u64, Ordering::Relaxed);
            }
            start = stop;
        }
        offset += end as u64;
    }
    Mapped::Done
}

/// The offset of the first newline at or after `from` in a file of `len` bytes, mapping one
/// window of `step` bytes at a time; `None` when the file ends first.
fn find_newline(
    map: &impl Fn(u64, usize) -> std::io::Result<memmap2::Mmap>,
    from: u64,
    len: u64,
    step: usize,
) -> Result<Option<u64>, (u64, std::io::Error)> {
    let mut at = from;
    while at < len {
        let bytes = usize::try_from(len - at).unwrap_or(usize::MAX).min(step);
        let window = map(at, bytes).map_err(|e| (at, e))?;
        if let Some(pos) = memchr::memchr(b'\n', &window) {
            return Ok(Some(at + pos as u64));
        }
        at += bytes as u64;
    }
    Ok(None)
}

/// Reads one input as a stream into newline-aligned chunks.
///
/// A line longer than the limit is sent as [`ChunkData::Skipped`] and its bytes are dropped as
/// they are read, so the buffer never grows past about twice the limit. When reading fails
/// part-way (a truncated gzip, an I/O error), every complete line read before is still sent,
/// and the error names the input and the byte where it happened.
pub(crate) fn read_input(
    out: &mut Sender<'_>,
    opened: Opened,
    pool: &Mutex<Receiver<Vec<u8>>>,
) -> Result<(), String> {
    let Opened {
        mut reader,
        file_bytes,
        gzip,
    } = opened;
    let mut carry: Vec<u8> = Vec::new();
    // Bytes of an over-long line dropped so far, while skipping to its newline.
    let mut skipping: Option<u64> = None;
    let mut offset = 0u64;
    let mut first = true;
    // A buffer that carried nothing to the workers, for the next read.
    let mut spare: Option<Vec<u8>> = None;
    loop {
        let mut buf = spare
            .take()
            .or_else(|| pool.lock().ok().and_then(|rx| rx.try_recv().ok()))
            .unwrap_or_default();
        let want = out.chunk_bytes.max(carry.len() * 2);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let mut eof = false;
        let mut failure = None;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    filled += n;
                    offset += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut start = 0;
        if let Some(skipped) = skipping {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(newline) => {
                    skipping = None;
                    start = newline + 1;
                    if !out.send(ChunkData::Skipped(skipped + newline as u64 + 1), false) {
                        return Ok(());
                    }
                }
                None => {
                    let skipped = skipped + filled as u64;
                    if eof || failure.is_some() {
                        out.send(ChunkData::Skipped(skipped), false);
                        return match failure {
                            Some(e) => Err(read_failed(out, e, offset, &file_bytes, gzip)),
                            None => Ok(()),
                        };
                    }
                    skipping = Some(skipped);
                    spare = Some(buf);
                    continue;
                }
            }
        }
        if first {
            first = false;
            if failure.is_none() && starts_pretty_document(&buf[..filled]) {
                return read_whole_document(out, reader, buf, filled);
            }
        }
        // Whole lines only, except the last line of the input, which needs no newline.
        let end = if eof {
            filled
        } else {
            memchr::memrchr(b'\n', &buf[start..filled]).map_or(start, |pos| start + pos + 1)
        };
        if failure.is_none() {
            let tail = filled - end;
            if tail > out.max_line {
                // The line at `end` is already longer than the limit: drop it from here on.
                skipping = Some(tail as u64);
            } else {
                carry.extend_from_slice(&buf[end..filled]);
            }
        }
        if end > start {
            if start > 0 {
                buf.copy_within(start..end, 0);
            }
            if !out.send(ChunkData::Owned(buf, end - start), false) {
                return Ok(());
            }
        } else {
            spare = Some(buf);
        }
        if let Some(e) = failure {
            return Err(read_failed(out, e, offset, &file_bytes, gzip));
        }
        if eof {
            return Ok(());
        }
    }
}

/// `file: read failed at byte N: why`, with where in the gzip file it stopped for gzip input.
fn read_failed(
    out: &Sender<'_>,
    e: std::io::Error,
    offset: u64,
    file_bytes: &AtomicU64,
    gzip: bool,
) -> String {
    let at = if gzip {
        format!(
            "after {offset} bytes of decompressed data ({} bytes of the gzip file read)",
            file_bytes.load(Ordering::Relaxed)
        )
    } else {
        format!("at byte {offset}")
    };
    format!(
        "{}: read failed {at}: {e}; the result covers the complete lines before it",
        out.name
    )
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

/// Reads a multi-line JSON document whole (it cannot be split at newlines) and sends it as one
/// chunk. It is one record, so the line limit bounds it too.
fn read_whole_document(
    out: &mut Sender<'_>,
    reader: Box<dyn Read + Send>,
    mut buf: Vec<u8>,
    filled: usize,
) -> Result<(), String> {
    let limit = out.max_line as u64;
    buf.truncate(filled);
    let mut limited = reader.take((limit + 1).saturating_sub(filled as u64));
    limited
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", out.name))?;
    if buf.len() as u64 > limit {
        return Err(crate::AuditError::DocumentTooLarge {
            path: out.name.clone().into(),
            limit,
        }
        .to_string());
    }
    let len = buf.len();
    out.send(ChunkData::Owned(buf, len), true);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_documents_are_told_from_lines() {
        assert!(starts_pretty_document(b"\n{\n  \"kind\": \"EventList\",\n"));
        assert!(starts_pretty_document(b"[\n{\"a\":1}\n"));
        assert!(starts_pretty_document(b"{ \"events\": [\n"));
        assert!(!starts_pretty_document(
            b"{\"kind\":\"Event\"}\n{\"kind\":\"Event\"}\n"
        ));
        assert!(!starts_pretty_document(b"\0\0\0\0"));
    }
}
