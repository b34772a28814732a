//! The write-ahead log: numbered segment files of checksummed records.
//!
//! ```text
//! wal/00000001, wal/00000002, …   (a new segment starts when one passes the size limit and
//!                                   after every head truncation)
//! record:
//! ┌───────────────────┬──────────────────────────────┬───────────────────────────────────┐
//! │ payload len u32 LE│ CRC32 (IEEE) of payload u32 LE│ payload                           │
//! └───────────────────┴──────────────────────────────┴───────────────────────────────────┘
//! payload: version byte 1,
//!          uvarint n_series, n × (uvarint ref, uvarint n_labels, n × (string name, string value)),
//!          uvarint n_samples, n × (uvarint ref, varint t_ms, u64 LE value bits)
//! string:  uvarint length, UTF-8 bytes
//! ```
//!
//! One commit is one record, written with one `write` and made durable with `fdatasync`, so a
//! batch is either wholly replayed or not at all. Every segment opens with a record that declares
//! all live series, so a segment never depends on the ones before it and old segments can be
//! deleted once all their samples are persisted in blocks.

use crate::Error;
use crate::bstream::{get_uvarint, get_varint, put_uvarint, put_varint};
use apilens_model::Labels;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const RECORD_VERSION: u8 = 1;
const HEADER: usize = 8;

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

/// The open log.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    file: File,
    seq: u64,
    size: u64,
    segment_bytes: u64,
    buf: Vec<u8>,
}

/// What replay found.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    pub(crate) records: Vec<Record>,
    /// Newest sample time per segment, in segment order.
    pub(crate) segment_max_t: Vec<(u64, i64)>,
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:08}"))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn segments(dir: &Path) -> Result<Vec<u64>, Error> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        match name.to_str().and_then(|n| n.parse::<u64>().ok()) {
            Some(seq) => seqs.push(seq),
            None => {
                tracing::warn!(file = %entry.path().display(), "ignoring a file that is not a WAL segment")
            }
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

impl Wal {
    /// Reads every segment, truncating a torn or corrupt tail, then opens a fresh segment for
    /// writing.
    pub(crate) fn open(dir: &Path, segment_bytes: u64) -> Result<(Wal, Replay), Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let seqs = segments(dir)?;
        let mut replay = Replay::default();
        let mut broken_at: Option<usize> = None;
        for (i, &seq) in seqs.iter().enumerate() {
            let path = segment_path(dir, seq);
            let mut data = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .map_err(|e| Error::io(&path, e))?;
            let mut off = 0usize;
            let mut max_t = i64::MIN;
            let mut bad: Option<&str> = None;
            while off < data.len() {
                let Some(header) = data.get(off..off + HEADER) else {
                    bad = Some("torn record header");
                    break;
                };
                let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
                let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
                let Some(payload) = data.get(off + HEADER..off + HEADER + len) else {
                    bad = Some("torn record");
                    break;
                };
                if crc32fast::hash(payload) != crc {
                    bad = Some("checksum mismatch");
                    break;
                }
                let Some(record) = Record::decode(payload) else {
                    bad = Some("undecodable record");
                    break;
                };
                max_t = record.samples.iter().fold(max_t, |m, s| m.max(s.1));
                replay.records.push(record);
                off += HEADER + len;
            }
            replay.segment_max_t.push((seq, max_t));
            if let Some(reason) = bad {
                tracing::warn!(
                    segment = %path.display(),
                    offset = off,
                    dropped_bytes = data.len() - off,
                    reason,
                    "WAL tail is corrupt; truncating it (the batch being written when the process stopped is lost)"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                f.set_len(off as u64).map_err(|e| Error::io(&path, e))?;
                f.sync_all().map_err(|e| Error::io(&path, e))?;
                broken_at = Some(i);
                break;
            }
        }
        if let Some(i) = broken_at {
            for &seq in &seqs[i + 1..] {
                let path = segment_path(dir, seq);
                tracing::warn!(segment = %path.display(), "removing a WAL segment written after a corrupt record");
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        let next = seqs.last().map_or(1, |s| s + 1);
        let path = segment_path(dir, next);
        let file = create_segment(&path)?;
        sync_dir(dir)?;
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                file,
                seq: next,
                size: 0,
                segment_bytes,
                buf: Vec::new(),
            },
            replay,
        ))
    }

    /// Appends one record and makes it durable.
    pub(crate) fn log(&mut self, record: &Record) -> Result<(), Error> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; HEADER]);
        record.encode(&mut self.buf);
        let len = (self.buf.len() - HEADER) as u32;
        let crc = crc32fast::hash(&self.buf[HEADER..]);
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        let path = segment_path(&self.dir, self.seq);
        self.file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&path, e))?;
        self.size += self.buf.len() as u64;
        Ok(())
    }

    pub(crate) fn needs_roll(&self) -> bool {
        self.size >= self.segment_bytes
    }

    /// Starts a new segment that opens with `snapshot` (the live series); returns its number.
    pub(crate) fn roll(&mut self, snapshot: &Record) -> Result<u64, Error> {
        let seq = self.seq + 1;
        let path = segment_path(&self.dir, seq);
        self.file = create_segment(&path)?;
        sync_dir(&self.dir)?;
        self.seq = seq;
        self.size = 0;
        self.log(snapshot)?;
        Ok(seq)
    }

    /// Deletes a segment that is not the one being written.
    pub(crate) fn remove_segment(&self, seq: u64) -> Result<(), Error> {
        if seq == self.seq {
            return Ok(());
        }
        let path = segment_path(&self.dir, seq);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        }
    }

    pub(crate) fn current(&self) -> u64 {
        self.seq
    }

    /// Bytes of every segment on disk.
    pub(crate) fn disk_bytes(&self) -> u64 {
        fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn create_segment(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn records_round_trip_through_segments() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Record {
            series: vec![(7, Labels::from_pairs([("__name__", "up"), ("job", "a")]))],
            samples: vec![(7, 1000, 1.0), (7, 2000, apilens_model::STALE_NAN)],
        };
        let (mut wal, replay) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert!(replay.records.is_empty());
        wal.log(&rec).unwrap();
        drop(wal);
        let (_, replay) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(replay.records.len(), 1);
        assert_eq!(replay.records[0].series, rec.series);
        assert_eq!(replay.records[0].samples.len(), 2);
        assert!(apilens_model::is_stale_nan(replay.records[0].samples[1].2));
    }

    proptest! {
        #[test]
        fn garbage_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Record::decode(&bytes);
        }
    }
}
