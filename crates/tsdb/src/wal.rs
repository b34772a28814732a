//! The write-ahead log: numbered segment files of checksummed records.
//!
//! ```text
//! wal/00000001, wal/00000002, …   a new segment starts when one passes the size limit, after
//!                                   every head truncation, at every writable open and after a
//!                                   failed write
//! wal/corrupt-00000007             a damaged segment moved aside (its good records were
//!                                   rewritten into wal/00000007)
//!
//! segment (format 2):
//! ┌──────────────────────────────┬───────────────┬─────────────────┬──────────┬───┬──────────┐
//! │ magic 0xA9 'W' 'A' 'L' <4 B> │ version 2 <1B>│ padding 0 <3 B> │ record 1 │ … │ record n │
//! └──────────────────────────────┴───────────────┴─────────────────┴──────────┴───┴──────────┘
//! record:
//! ┌──────────────┬────────────────┬─────────────────────────┬───────────────────────┬─────────┐
//! │ len <u32 LE> │ n_samples <u32>│ CRC32C(payload) <u32 LE>│ CRC32C(the 12 bytes   │ payload │
//! │              │                │                         │ before) <u32 LE>      │         │
//! └──────────────┴────────────────┴─────────────────────────┴───────────────────────┴─────────┘
//! payload: version byte 1,
//!          uvarint n_series, n × (uvarint ref, uvarint n_labels, n × (string name, string value)),
//!          uvarint n_samples, n × (uvarint ref, varint t_ms, u64 LE value bits)
//! string:  uvarint length, UTF-8 bytes
//!
//! segment (format 1, written before the segment header existed; read only):
//!          records of len <u32 LE>, CRC32 (IEEE) of payload <u32 LE>, payload
//! ```
//!
//! One commit is one record, written with one `write` and made durable with `fdatasync`, so a
//! batch is either wholly replayed or not at all. Every segment opens with a record that declares
//! all live series, so a segment never depends on the ones before it and old segments can be
//! deleted once all their samples are persisted in blocks.
//!
//! # Damage
//!
//! The header checksum makes a record findable again after damage: a reader that meets bytes
//! that are not a valid header moves forward one byte at a time until a header's own checksum
//! matches, so one bad record costs that record, not the rest of the log. A header that is valid
//! but whose payload is not tells how many samples were lost. Unlike Prometheus's `wlog.Repair`,
//! which deletes every segment after a corruption (its records may depend on earlier ones),
//! nothing after the damage is dropped here: every segment is self-contained.
//!
//! Bytes that stop short of a whole record at the end of a segment, or zeros to its end, are a
//! write cut off by a crash or a full disk: that batch was never acknowledged.

use crate::Error;
use crate::bstream::{get_uvarint, get_varint, put_uvarint, put_varint};
use apilens_model::Labels;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const RECORD_VERSION: u8 = 1;
const SEGMENT_MAGIC: [u8; 4] = [0xA9, b'W', b'A', b'L'];
const SEGMENT_VERSION: u8 = 2;
const SEGMENT_HEADER: usize = 8;
const RECORD_HEADER: usize = 16;
const V1_RECORD_HEADER: usize = 8;
/// Prefix of a damaged segment moved aside.
pub(crate) const CORRUPT_PREFIX: &str = "corrupt-";

/// One decoded record.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) series: Vec<(u64, Labels)>,
    pub(crate) samples: Vec<(u64, i64, f64)>,
}

impl Record {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(RECORD_VERSION);
        put_uvarint(out, self.series.len() as u64);
        for (r, labels) in &self.series {
            put_uvarint(out, *r);
            put_uvarint(out, labels.len() as u64);
            for l in labels.iter() {
                put_str(out, &l.name);
                put_str(out, &l.value);
            }
        }
        put_uvarint(out, self.samples.len() as u64);
        for (r, t, v) in &self.samples {
            put_uvarint(out, *r);
            put_varint(out, *t);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }

    pub(crate) fn decode(mut buf: &[u8]) -> Option<Record> {
        let (&version, rest) = buf.split_first()?;
        if version != RECORD_VERSION {
            return None;
        }
        buf = rest;
        let n_series = get_uvarint(&mut buf)?;
        let mut series = Vec::with_capacity((n_series as usize).min(buf.len()));
        for _ in 0..n_series {
            let r = get_uvarint(&mut buf)?;
            let n = get_uvarint(&mut buf)?;
            let mut pairs = Vec::with_capacity((n as usize).min(buf.len()));
            for _ in 0..n {
                let name = get_str(&mut buf)?;
                let value = get_str(&mut buf)?;
                pairs.push((name, value));
            }
            series.push((r, Labels::from_pairs(pairs)));
        }
        let n_samples = get_uvarint(&mut buf)?;
        let mut samples = Vec::with_capacity((n_samples as usize).min(buf.len()));
        for _ in 0..n_samples {
            let r = get_uvarint(&mut buf)?;
            let t = get_varint(&mut buf)?;
            let (bits, rest) = buf.split_first_chunk::<8>()?;
            buf = rest;
            samples.push((r, t, f64::from_bits(u64::from_le_bytes(*bits))));
        }
        buf.is_empty().then_some(Record { series, samples })
    }

    fn max_t(&self) -> i64 {
        self.samples.iter().map(|s| s.1).max().unwrap_or(i64::MIN)
    }
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn get_str(buf: &mut &[u8]) -> Option<String> {
    let n = get_uvarint(buf)? as usize;
    if n > buf.len() {
        return None;
    }
    let (s, rest) = buf.split_at(n);
    *buf = rest;
    String::from_utf8(s.to_vec()).ok()
}

/// Appends one format-2 record (header and payload) to `out`.
fn encode_record(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER]);
    record.encode(out);
    let len = (out.len() - start - RECORD_HEADER) as u32;
    let n_samples = u32::try_from(record.samples.len()).unwrap_or(u32::MAX);
    let crc = crc32c::crc32c(&out[start + RECORD_HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&n_samples.to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    let header_crc = crc32c::crc32c(&out[start..start + 12]);
    out[start + 12..start + 16].copy_from_slice(&header_crc.to_le_bytes());
}

fn segment_header() -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4] = SEGMENT_VERSION;
    h
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A stretch of a segment that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadStretch {
    /// Byte offset in the segment.
    pub(crate) offset: u64,
    /// Length in bytes.
    pub(crate) bytes: u64,
    /// Records lost, when known (a valid header over a damaged payload is one record).
    pub(crate) records: Option<u64>,
    /// Samples lost, when known (from the record header).
    pub(crate) samples: Option<u64>,
    /// What was wrong.
    pub(crate) reason: &'static str,
    /// A write cut off at the end of the segment (never acknowledged), not damage.
    pub(crate) torn: bool,
}

/// What reading one segment found.
#[derive(Debug, Default)]
pub(crate) struct SegmentScan {
    /// Format of the segment (1 or 2), 0 for an empty file.
    pub(crate) version: u8,
    /// Records that read back, in order.
    pub(crate) records: Vec<Record>,
    /// Samples in those records.
    pub(crate) n_samples: u64,
    /// Newest sample time of the readable records.
    pub(crate) max_t: i64,
    /// Everything that could not be read, in file order.
    pub(crate) bad: Vec<BadStretch>,
    /// Length of the file.
    pub(crate) len: u64,
}

impl SegmentScan {
    /// Whether the segment has damage beyond a torn final write.
    pub(crate) fn damaged(&self) -> bool {
        self.bad.iter().any(|b| !b.torn)
    }

    /// Where the readable part of a segment with only a torn final write ends.
    pub(crate) fn torn_at(&self) -> Option<u64> {
        match self.bad.as_slice() {
            [b] if b.torn => Some(b.offset),
            _ => None,
        }
    }
}

/// Reads a segment file whole and decodes what can be decoded.
pub(crate) fn scan_segment(path: &Path) -> Result<SegmentScan, Error> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| Error::io(path, e))?;
    Ok(scan_bytes(&data))
}

fn scan_bytes(data: &[u8]) -> SegmentScan {
    let mut scan = SegmentScan {
        max_t: i64::MIN,
        len: data.len() as u64,
        ..SegmentScan::default()
    };
    if data.is_empty() {
        return scan;
    }
    if data.starts_with(&SEGMENT_MAGIC) {
        scan.version = SEGMENT_VERSION;
        if data.len() < SEGMENT_HEADER || data[4] != SEGMENT_VERSION {
            let torn = data.len() < SEGMENT_HEADER;
            scan.bad.push(BadStretch {
                offset: 0,
                bytes: data.len() as u64,
                records: None,
                samples: None,
                reason: if torn {
                    "segment header cut short"
                } else {
                    "unknown segment format version"
                },
                torn,
            });
            return scan;
        }
        scan_v2(data, &mut scan);
    } else if data.len() < SEGMENT_MAGIC.len() && SEGMENT_MAGIC.starts_with(data) {
        // A header cut off after its first bytes: the segment was just created.
        scan.version = SEGMENT_VERSION;
        scan.bad.push(BadStretch {
            offset: 0,
            bytes: data.len() as u64,
            records: None,
            samples: None,
            reason: "segment header cut short",
            torn: true,
        });
    } else {
        scan.version = 1;
        scan_v1(data, &mut scan);
    }
    scan
}

fn push_record(scan: &mut SegmentScan, record: Record) {
    scan.max_t = scan.max_t.max(record.max_t());
    scan.n_samples += record.samples.len() as u64;
    scan.records.push(record);
}

fn scan_v2(data: &[u8], scan: &mut SegmentScan) {
    let mut off = SEGMENT_HEADER;
    // Start of a run of bytes in which no valid header was found.
    let mut lost_from: Option<usize> = None;
    let close_lost = |scan: &mut SegmentScan, from: Option<usize>, to: usize| {
        if let Some(from) = from {
            scan.bad.push(BadStretch {
                offset: from as u64,
                bytes: (to - from) as u64,
                records: None,
                samples: None,
                reason: if data[from..to].iter().all(|&b| b == 0) {
                    "zeroed bytes"
                } else {
                    "bytes that are not a record"
                },
                torn: false,
            });
        }
    };
    while off < data.len() {
        let Some(header) = data.get(off..off + RECORD_HEADER) else {
            break;
        };
        if crc32c::crc32c(&header[..12]) != le32(&header[12..]) {
            lost_from.get_or_insert(off);
            off += 1;
            continue;
        }
        let len = le32(header) as usize;
        let n_samples = le32(&header[4..]);
        let end = off + RECORD_HEADER + len;
        if end > data.len() {
            close_lost(scan, lost_from.take(), off);
            scan.bad.push(BadStretch {
                offset: off as u64,
                bytes: (data.len() - off) as u64,
                records: Some(1),
                samples: Some(u64::from(n_samples)),
                reason: "record cut short at the end of the segment",
                torn: true,
            });
            return;
        }
        close_lost(scan, lost_from.take(), off);
        let payload = &data[off + RECORD_HEADER..end];
        let decoded = (crc32c::crc32c(payload) == le32(&header[8..]))
            .then(|| Record::decode(payload))
            .flatten();
        match decoded {
            Some(record) => push_record(scan, record),
            None => scan.bad.push(BadStretch {
                offset: off as u64,
                bytes: (end - off) as u64,
                records: Some(1),
                samples: Some(u64::from(n_samples)),
                reason: "record checksum mismatch",
                torn: false,
            }),
        }
        off = end;
    }
    // Whatever is left could hold no valid header.
    let from = lost_from.unwrap_or(off);
    if from < data.len() {
        let rest = &data[from..];
        let torn =
            rest.len() < RECORD_HEADER && lost_from.is_none() || rest.iter().all(|&b| b == 0);
        scan.bad.push(BadStretch {
            offset: from as u64,
            bytes: rest.len() as u64,
            records: None,
            samples: None,
            reason: if rest.iter().all(|&b| b == 0) {
                "zeroed bytes at the end of the segment"
            } else if torn {
                "record header cut short at the end of the segment"
            } else {
                "bytes that are not a record, to the end of the segment"
            },
            torn,
        });
    }
}

/// Format 1 has no header checksum to find the next record by, so everything after the first
/// bad record of a segment is lost (later segments are still read).
fn scan_v1(data: &[u8], scan: &mut SegmentScan) {
    let mut off = 0usize;
    while off < data.len() {
        let rest = &data[off..];
        let bad = |reason, torn| BadStretch {
            offset: off as u64,
            bytes: rest.len() as u64,
            records: None,
            samples: None,
            reason,
            torn,
        };
        if rest.iter().all(|&b| b == 0) {
            scan.bad
                .push(bad("zeroed bytes at the end of the segment", true));
            return;
        }
        let Some(header) = rest.get(..V1_RECORD_HEADER) else {
            scan.bad.push(bad(
                "record header cut short at the end of the segment",
                true,
            ));
            return;
        };
        let len = le32(header) as usize;
        let Some(payload) = rest.get(V1_RECORD_HEADER..V1_RECORD_HEADER + len) else {
            scan.bad
                .push(bad("record cut short at the end of the segment", true));
            return;
        };
        let record = (crc32fast::hash(payload) == le32(&header[4..]))
            .then(|| Record::decode(payload))
            .flatten();
        let Some(record) = record else {
            scan.bad.push(bad(
                "record checksum mismatch (format 1: the rest of the segment cannot be read)",
                false,
            ));
            return;
        };
        push_record(scan, record);
        off += V1_RECORD_HEADER + len;
    }
}

/// The segments of a WAL directory, and damaged segments moved aside.
#[derive(Debug, Default)]
pub(crate) struct WalDir {
    /// Segment numbers, ascending.
    pub(crate) segments: Vec<u64>,
    /// `corrupt-*` files.
    pub(crate) aside: Vec<PathBuf>,
}

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}"))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Lists a WAL directory; a missing one is empty.
pub(crate) fn list(dir: &Path) -> Result<WalDir, Error> {
    let mut out = WalDir::default();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Ok(seq) = name.parse::<u64>() {
            out.segments.push(seq);
        } else if name.starts_with(CORRUPT_PREFIX) {
            out.aside.push(entry.path());
        } else if name.ends_with(".repair") {
            // A rewrite that did not finish: the original is still in place.
            tracing::warn!(file = %entry.path().display(), "ignoring an unfinished WAL segment rewrite");
        } else {
            tracing::warn!(file = %entry.path().display(), "ignoring a file that is not a WAL segment");
        }
    }
    out.segments.sort_unstable();
    out.aside.sort();
    Ok(out)
}

/// Cuts a torn final write off a segment; the bytes were never acknowledged.
pub(crate) fn truncate_torn(path: &Path, at: u64) -> Result<(), Error> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.set_len(at).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Replaces a damaged segment by one holding only its readable records, and keeps the damaged
/// file as `corrupt-<name>` beside it. Returns where the damaged file now is.
pub(crate) fn rewrite_damaged(dir: &Path, seq: u64, records: &[Record]) -> Result<PathBuf, Error> {
    let path = segment_path(dir, seq);
    let repair = dir.join(format!("{seq:08}.repair"));
    let mut buf = segment_header().to_vec();
    for r in records {
        encode_record(r, &mut buf);
    }
    let mut f = File::create(&repair).map_err(|e| Error::io(&repair, e))?;
    f.write_all(&buf)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&repair, e))?;
    let mut aside = dir.join(format!("{CORRUPT_PREFIX}{seq:08}"));
    let mut n = 1;
    while aside.exists() {
        aside = dir.join(format!("{CORRUPT_PREFIX}{seq:08}.{n}"));
        n += 1;
    }
    fs::rename(&path, &aside).map_err(|e| Error::io(&path, e))?;
    fs::rename(&repair, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok(aside)
}

/// The segment being written, and the newest sample time of every segment on disk.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    file: Option<File>,
    seq: u64,
    /// Bytes of the current segment that are acknowledged (every write before this succeeded).
    size: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
    /// Newest sample time per segment, in segment order (the current one last).
    pub(crate) segment_max_t: Vec<(u64, i64)>,
}

impl Wal {
    /// Starts writing segment `seq` (after every segment on disk) with `snapshot` as its first
    /// record; `segment_max_t` lists the segments already on disk.
    pub(crate) fn create(
        dir: &Path,
        seq: u64,
        segment_bytes: u64,
        segment_max_t: Vec<(u64, i64)>,
        snapshot: &Record,
    ) -> Result<Wal, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut wal = Wal {
            dir: dir.to_path_buf(),
            file: None,
            seq: seq.saturating_sub(1),
            size: 0,
            segment_bytes,
            buf: Vec::new(),
            segment_max_t,
        };
        if let Err(e) = wal.roll(snapshot) {
            if wal.seq != seq {
                return Err(e);
            }
            // The segment exists but its first records could not be written (a full disk):
            // the store opens, and the first commit starts a fresh segment or fails.
            tracing::warn!(error = %e, "cannot write the new WAL segment; commits retry");
        }
        Ok(wal)
    }

    /// Appends one record and makes it durable. After a failed write (a full disk, an I/O
    /// error) the unacknowledged bytes are cut off where possible and the next record must go
    /// to a fresh segment ([`Wal::needs_fresh_segment`]): nothing acknowledged is ever cut.
    pub(crate) fn log(&mut self, record: &Record) -> Result<(), Error> {
        let path = segment_path(&self.dir, self.seq);
        let Some(file) = self.file.as_mut() else {
            return Err(Error::io(
                &path,
                std::io::Error::other("the segment could not be started after a failed write"),
            ));
        };
        self.buf.clear();
        encode_record(record, &mut self.buf);
        match file.write_all(&self.buf).and_then(|()| file.sync_data()) {
            Ok(()) => {
                self.size += self.buf.len() as u64;
                let max_t = record.max_t();
                if let Some(last) = self.segment_max_t.last_mut() {
                    last.1 = last.1.max(max_t);
                }
                Ok(())
            }
            Err(e) => {
                // Cut the partial record off (best effort; a reader also skips it), and stop
                // writing to this file: after a failed fsync its pages are in an unknown state.
                let _ = file.set_len(self.size).and_then(|()| file.sync_data());
                self.file = None;
                tracing::warn!(segment = %path.display(), error = %e, "WAL write failed; the next commit starts a fresh segment");
                Err(Error::io(&path, e))
            }
        }
    }

    /// Whether the segment being written has passed the size limit.
    pub(crate) fn needs_roll(&self) -> bool {
        self.size >= self.segment_bytes
    }

    /// Whether the last write failed, so the next record needs a fresh segment.
    pub(crate) fn needs_fresh_segment(&self) -> bool {
        self.file.is_none()
    }

    /// Starts a new segment that opens with `snapshot` (the live series); returns its number.
    /// When the file cannot even be created, the current segment stays the one written (and
    /// no number is skipped); once it exists, it is the current segment even if its header or
    /// snapshot could not be written, and the next commit starts another.
    pub(crate) fn roll(&mut self, snapshot: &Record) -> Result<u64, Error> {
        let seq = self.seq + 1;
        let path = segment_path(&self.dir, seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        self.file = None;
        self.seq = seq;
        self.size = 0;
        self.segment_max_t.push((seq, i64::MIN));
        file.write_all(&segment_header())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io(&path, e))?;
        sync_dir(&self.dir)?;
        self.size = SEGMENT_HEADER as u64;
        self.file = Some(file);
        self.log(snapshot)?;
        Ok(seq)
    }

    /// Deletes the oldest segments, up to the first that is the one being written or holds a
    /// sample at or after `t`. Only a prefix is ever deleted, oldest first, so the numbers on
    /// disk stay contiguous even across a crash, and a gap means a segment was lost.
    pub(crate) fn remove_before(&mut self, t: i64) -> Result<(), Error> {
        let current = self.seq;
        let n = self
            .segment_max_t
            .iter()
            .take_while(|(s, max)| *s != current && *max < t)
            .count();
        for &(seq, _) in &self.segment_max_t[..n] {
            let path = segment_path(&self.dir, seq);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&path, e));
                }
                _ => {}
            }
        }
        self.segment_max_t.drain(..n);
        Ok(())
    }
}

/// Bytes of every file in a WAL directory (damaged segments kept aside included).
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(i: i64) -> Record {
        Record {
            series: vec![(7, Labels::from_pairs([("__name__", "up"), ("job", "a")]))],
            samples: vec![
                (7, 1_000_000 + 2 * i, i as f64),
                (7, 1_000_001 + 2 * i, apilens_model::STALE_NAN),
            ],
        }
    }

    fn segment(records: &[Record]) -> Vec<u8> {
        let mut buf = segment_header().to_vec();
        for r in records {
            encode_record(r, &mut buf);
        }
        buf
    }

    #[test]
    fn records_round_trip_through_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::create(dir.path(), 1, 1 << 20, Vec::new(), &Record::default()).unwrap();
        wal.log(&record(1)).unwrap();
        drop(wal);
        let scan = scan_segment(&segment_path(dir.path(), 1)).unwrap();
        assert_eq!(scan.version, 2);
        assert!(scan.bad.is_empty());
        assert_eq!(scan.records.len(), 2);
        let got = &scan.records[1];
        assert_eq!(got.series, record(1).series);
        let bits = |r: &Record| -> Vec<(u64, i64, u64)> {
            r.samples
                .iter()
                .map(|s| (s.0, s.1, s.2.to_bits()))
                .collect()
        };
        assert_eq!(bits(got), bits(&record(1)));
        assert!(apilens_model::is_stale_nan(got.samples[1].2));
    }

    #[test]
    fn a_damaged_record_costs_only_itself() {
        let records: Vec<Record> = (0..5).map(record).collect();
        let clean = segment(&records);
        let record_len = (clean.len() - SEGMENT_HEADER) / 5;
        // A flipped payload byte: the header stays valid and tells how many samples were lost.
        let mut data = clean.clone();
        data[SEGMENT_HEADER + 2 * record_len + RECORD_HEADER + 3] ^= 0x10;
        let scan = scan_bytes(&data);
        assert_eq!(scan.records.len(), 4);
        assert_eq!(
            scan.bad,
            [BadStretch {
                offset: (SEGMENT_HEADER + 2 * record_len) as u64,
                bytes: record_len as u64,
                records: Some(1),
                samples: Some(2),
                reason: "record checksum mismatch",
                torn: false,
            }]
        );
        // A flipped length: the reader finds the next header by its checksum.
        let mut data = clean.clone();
        data[SEGMENT_HEADER + record_len] ^= 0x40;
        let scan = scan_bytes(&data);
        assert_eq!(scan.records.len(), 4);
        assert_eq!(scan.bad.len(), 1);
        assert_eq!(scan.bad[0].bytes, record_len as u64);
        assert!(!scan.bad[0].torn);
        // Zeros over two records in the middle.
        let mut data = clean.clone();
        let from = SEGMENT_HEADER + record_len;
        data[from..from + 2 * record_len].fill(0);
        let scan = scan_bytes(&data);
        assert_eq!(scan.records.len(), 3);
        assert_eq!(scan.bad[0].reason, "zeroed bytes");
        // A cut inside the last record is a torn write, not damage.
        let scan = scan_bytes(&clean[..clean.len() - 5]);
        assert_eq!(scan.records.len(), 4);
        assert!(!scan.damaged());
        assert_eq!(
            scan.torn_at(),
            Some((SEGMENT_HEADER + 4 * record_len) as u64)
        );
        // So are zeros after the last record.
        let mut data = clean.clone();
        data.extend_from_slice(&[0; 100]);
        let scan = scan_bytes(&data);
        assert_eq!(
            (scan.records.len(), scan.torn_at()),
            (5, Some(clean.len() as u64))
        );
    }

    #[test]
    fn format_1_segments_still_read() {
        let mut data = Vec::new();
        for i in 0..3 {
            let mut payload = Vec::new();
            record(i).encode(&mut payload);
            data.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            data.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            data.extend_from_slice(&payload);
        }
        let scan = scan_bytes(&data);
        assert_eq!((scan.version, scan.records.len()), (1, 3));
        assert!(scan.bad.is_empty());
        let len = data.len();
        data[len - 3] ^= 1;
        let scan = scan_bytes(&data);
        assert_eq!(scan.records.len(), 2);
        assert!(scan.damaged());
    }

    proptest! {
        #[test]
        fn garbage_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Record::decode(&bytes);
            let _ = scan_bytes(&bytes);
            let mut seg = segment_header().to_vec();
            seg.extend_from_slice(&bytes);
            let _ = scan_bytes(&seg);
        }
    }
}
