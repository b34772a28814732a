//! The bounded on-disk queue of write requests: numbered segment files of CRC-checked records,
//! and the position acknowledged by the receiver in the file `ack`.
//!
//! Record layout: length of the payload (u32 LE), sample count (u32 LE), CRC-32 of the sample
//! count and payload (u32 LE), payload (a snappy-compressed write request). A torn or corrupt
//! record ends its segment: the file is cut there when the queue opens.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, io};
use crate::prompb::Chunk;

const HEADER: usize = 12;
const SEGMENT_EXT: &str = "seg";
const ACK_FILE: &str = "ack";

/// A position in the queue: segment number and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    seg: u64,
    off: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct SegMeta {
    bytes: u64,
    samples: u64,
}

/// Records read but not yet acknowledged.
#[derive(Debug)]
pub(crate) struct Peeked {
    pub(crate) payloads: Vec<Vec<u8>>,
    pub(crate) samples: u64,
    generation: u64,
    end: Pos,
    end_read_samples: u64,
}

/// Counts of what the cap dropped in one append.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub(crate) segments: u64,
    pub(crate) samples: u64,
}

pub(crate) struct Queue {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    segments: BTreeMap<u64, SegMeta>,
    head: Option<(u64, File)>,
    total_bytes: u64,
    read: Pos,
    /// Samples of the read segment before `read.off`.
    read_samples: u64,
    /// Bumped whenever the cap moves the read position, so a batch in flight is not
    /// acknowledged over data it never held.
    generation: u64,
}

fn seg_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.{SEGMENT_EXT}"))
}

fn crc(samples: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&samples.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn encode_record(out: &mut Vec<u8>, chunk: &Chunk) {
    let len = u32::try_from(chunk.payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&chunk.samples.to_le_bytes());
    out.extend_from_slice(&crc(chunk.samples, &chunk.payload).to_le_bytes());
    out.extend_from_slice(&chunk.payload);
}

/// Decodes the record at the start of `buf`: (samples, payload, record length), or `None` for
/// a torn or corrupt record.
fn decode_record(buf: &[u8]) -> Option<(u32, &[u8], usize)> {
    let header = buf.get(..HEADER)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, samples, sum) = (word(0) as usize, word(4), word(8));
    let payload = buf.get(HEADER..HEADER + len)?;
    (crc(samples, payload) == sum).then_some((samples, payload, HEADER + len))
}

impl Queue {
    /// Opens (or creates) the queue in `dir`, cutting torn records and forgetting
    /// acknowledged segments.
    pub(crate) fn open(dir: &Path, max_bytes: u64, segment_bytes: u64) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_suffix(&format!(".{SEGMENT_EXT}"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let ack_path = dir.join(ACK_FILE);
        let ack = match std::fs::read_to_string(&ack_path) {
            Ok(text) => parse_ack(&text).ok_or_else(|| Error::Io {
                path: ack_path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("expected \"<segment> <offset>\", found {:?}", text.trim()),
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Pos { seg: 0, off: 0 },
            Err(e) => return Err(io(&ack_path)(e)),
        };
        let mut q = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: segment_bytes.max(1),
            segments: BTreeMap::new(),
            head: None,
            total_bytes: 0,
            read: Pos { seg: 0, off: 0 },
            read_samples: 0,
            generation: 0,
        };
        let mut read = None;
        for n in numbers {
            let path = seg_path(dir, n);
            if n < ack.seg {
                std::fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            let data = std::fs::read(&path).map_err(io(&path))?;
            let (mut off, mut samples, mut before_ack) = (0usize, 0u64, 0u64);
            while off < data.len() {
                let Some((s, _, len)) = decode_record(&data[off..]) else {
                    break;
                };
                if n == ack.seg && (off as u64) < ack.off {
                    before_ack += u64::from(s);
                }
                samples += u64::from(s);
                off += len;
            }
            if off < data.len() {
                tracing::warn!(
                    file = %path.display(),
                    offset = off,
                    bytes = data.len() - off,
                    "remote-write queue: torn or corrupt record, cutting the segment there"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_len(off as u64).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            if read.is_none() {
                read = Some(if n == ack.seg {
                    let off = ack.off.min(off as u64);
                    (Pos { seg: n, off }, before_ack)
                } else {
                    (Pos { seg: n, off: 0 }, 0)
                });
            }
            q.segments.insert(
                n,
                SegMeta {
                    bytes: off as u64,
                    samples,
                },
            );
            q.total_bytes += off as u64;
        }
        if let Some((pos, samples)) = read {
            q.read = pos;
            q.read_samples = samples;
            // A segment acknowledged to its end is done with.
            if q.segments.get(&pos.seg).is_some_and(|m| pos.off >= m.bytes) {
                let next = q.segments.keys().find(|&&k| k > pos.seg).copied();
                q.read = Pos {
                    seg: next.unwrap_or(pos.seg + 1),
                    off: 0,
                };
                q.read_samples = 0;
                q.write_ack()?;
                let meta = q.segments.remove(&pos.seg).unwrap_or_default();
                q.total_bytes -= meta.bytes;
                let path = seg_path(dir, pos.seg);
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
        } else {
            q.read = Pos {
                seg: ack.seg,
                off: 0,
            };
        }
        Ok(q)
    }

    /// Bytes of the segment files.
    pub(crate) fn bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Samples not yet acknowledged.
    pub(crate) fn pending_samples(&self) -> u64 {
        self.segments
            .range(self.read.seg..)
            .map(|(_, m)| m.samples)
            .sum::<u64>()
            .saturating_sub(self.read_samples)
    }

    fn next_number(&self) -> u64 {
        self.segments
            .keys()
            .next_back()
            .map_or(self.read.seg, |n| n + 1)
    }

    fn roll(&mut self) -> Result<(), Error> {
        let n = self.next_number();
        let path = seg_path(&self.dir, n);
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        self.segments.insert(n, SegMeta::default());
        self.head = Some((n, f));
        Ok(())
    }

    /// Appends the chunks of one scrape durably, dropping the oldest segments first when the
    /// queue would exceed its cap.
    pub(crate) fn append(&mut self, chunks: &[Chunk]) -> Result<Dropped, Error> {
        let mut buf = Vec::new();
        let mut samples = 0u64;
        for c in chunks {
            encode_record(&mut buf, c);
            samples += u64::from(c.samples);
        }
        if buf.is_empty() {
            return Ok(Dropped::default());
        }
        let need = buf.len() as u64;
        if need > self.max_bytes {
            return Err(Error::TooLarge {
                samples,
                bytes: need,
                max: self.max_bytes,
            });
        }
        let head_full = self.head.as_ref().is_none_or(|(n, _)| {
            self.segments[n].bytes > 0 && self.segments[n].bytes + need > self.segment_bytes
        });
        if head_full {
            self.roll()?;
        }
        let mut dropped = Dropped::default();
        while self.total_bytes + need > self.max_bytes {
            let (&oldest, _) = self
                .segments
                .iter()
                .next()
                .expect("the queue holds bytes, so it has a segment");
            if self.head.as_ref().is_some_and(|(n, _)| *n == oldest) {
                self.roll()?;
                continue;
            }
            dropped.segments += 1;
            dropped.samples += self.drop_segment(oldest)?;
        }
        let (n, f) = self.head.as_mut().expect("a head segment after roll");
        let path = seg_path(&self.dir, *n);
        f.write_all(&buf).map_err(io(&path))?;
        f.sync_data().map_err(io(&path))?;
        let meta = self.segments.get_mut(n).expect("head segment is listed");
        meta.bytes += need;
        meta.samples += samples;
        self.total_bytes += need;
        Ok(dropped)
    }

    /// Removes a segment; returns its samples not yet acknowledged.
    fn drop_segment(&mut self, n: u64) -> Result<u64, Error> {
        let meta = self.segments.remove(&n).unwrap_or_default();
        let path = seg_path(&self.dir, n);
        std::fs::remove_file(&path).map_err(io(&path))?;
        self.total_bytes -= meta.bytes;
        if n < self.read.seg {
            return Ok(0);
        }
        let unsent = if n == self.read.seg {
            meta.samples.saturating_sub(self.read_samples)
        } else {
            meta.samples
        };
        if n >= self.read.seg {
            let next = self.segments.keys().find(|&&k| k > n).copied();
            self.read = Pos {
                seg: next.unwrap_or(n + 1),
                off: 0,
            };
            self.read_samples = 0;
            self.generation += 1;
            self.write_ack()?;
        }
        Ok(unsent)
    }

    /// Reads the next records up to `max_samples` samples (at least one record) without
    /// acknowledging them.
    pub(crate) fn peek(&mut self, max_samples: u64) -> Result<Option<Peeked>, Error> {
        let mut out = Peeked {
            payloads: Vec::new(),
            samples: 0,
            generation: self.generation,
            end: self.read,
            end_read_samples: self.read_samples,
        };
        let mut pos = self.read;
        let mut read_samples = self.read_samples;
        while let Some((&seg, &meta)) = self.segments.range(pos.seg..).next() {
            if seg != pos.seg {
                pos = Pos { seg, off: 0 };
                read_samples = 0;
            }
            if pos.off >= meta.bytes {
                if self.head.as_ref().is_some_and(|(n, _)| *n == seg) {
                    break;
                }
                pos = Pos {
                    seg: seg + 1,
                    off: 0,
                };
                read_samples = 0;
                // An exhausted segment ends here; the position moves on at the next commit.
                out.end = pos;
                out.end_read_samples = 0;
                continue;
            }
            let path = seg_path(&self.dir, seg);
            let mut f = File::open(&path).map_err(io(&path))?;
            f.seek(SeekFrom::Start(pos.off)).map_err(io(&path))?;
            let mut rest = Vec::new();
            f.take(meta.bytes - pos.off)
                .read_to_end(&mut rest)
                .map_err(io(&path))?;
            let mut off = 0usize;
            while let Some((s, payload, len)) = decode_record(&rest[off..]) {
                if !out.payloads.is_empty() && out.samples + u64::from(s) > max_samples {
                    return Ok(Some(out));
                }
                out.payloads.push(payload.to_vec());
                out.samples += u64::from(s);
                off += len;
                read_samples += u64::from(s);
                out.end = Pos {
                    seg,
                    off: pos.off + off as u64,
                };
                out.end_read_samples = read_samples;
            }
            if off < rest.len() {
                return Err(Error::Io {
                    path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("corrupt record at offset {}", pos.off + off as u64),
                    ),
                });
            }
            pos = Pos {
                seg,
                off: meta.bytes,
            };
        }
        Ok((!out.payloads.is_empty()).then_some(out))
    }

    /// Acknowledges what `peeked` read, unless the cap moved the read position meanwhile;
    /// deletes the segments fully acknowledged and persists the position.
    pub(crate) fn commit(&mut self, peeked: &Peeked) -> Result<bool, Error> {
        if peeked.generation != self.generation {
            return Ok(false);
        }
        self.read = peeked.end;
        self.read_samples = peeked.end_read_samples;
        self.write_ack()?;
        let done: Vec<u64> = self
            .segments
            .range(..self.read.seg)
            .map(|(&k, _)| k)
            .collect();
        for n in done {
            if self.head.as_ref().is_some_and(|(h, _)| *h == n) {
                self.head = None;
            }
            let meta = self.segments.remove(&n).unwrap_or_default();
            self.total_bytes -= meta.bytes;
            let path = seg_path(&self.dir, n);
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(true)
    }

    /// Whether `peeked` still describes unacknowledged data.
    pub(crate) fn is_current(&self, peeked: &Peeked) -> bool {
        peeked.generation == self.generation
    }

    fn write_ack(&self) -> Result<(), Error> {
        let path = self.dir.join(ACK_FILE);
        let tmp = self.dir.join(format!("{ACK_FILE}.tmp"));
        std::fs::write(&tmp, format!("{} {}\n", self.read.seg, self.read.off)).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

fn parse_ack(text: &str) -> Option<Pos> {
    let mut it = text.split_whitespace();
    let seg = it.next()?.parse().ok()?;
    let off = it.next()?.parse().ok()?;
    it.next().is_none().then_some(Pos { seg, off })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(samples: u32, fill: u8, len: usize) -> Chunk {
        Chunk {
            samples,
            payload: vec![fill; len],
        }
    }

    fn drain(q: &mut Queue) -> Vec<u8> {
        let mut seen = Vec::new();
        while let Some(p) = q.peek(u64::MAX).unwrap() {
            seen.extend(p.payloads.iter().map(|p| p[0]));
            assert!(q.commit(&p).unwrap());
        }
        seen
    }

    #[test]
    fn survives_reopen_and_resends_only_unacknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Queue::open(dir.path(), 1 << 20, 100).unwrap();
        for i in 0..10u8 {
            q.append(&[chunk(5, i, 40)]).unwrap();
        }
        assert_eq!(q.pending_samples(), 50);
        // Two records per peek at 10 samples.
        let p = q.peek(10).unwrap().unwrap();
        assert_eq!(p.payloads.len(), 2);
        assert!(q.commit(&p).unwrap());
        let p = q.peek(10).unwrap().unwrap();
        assert_eq!(p.payloads[0][0], 2);
        drop(q);
        let mut q = Queue::open(dir.path(), 1 << 20, 100).unwrap();
        assert_eq!(q.pending_samples(), 40);
        assert_eq!(drain(&mut q), (2..10).collect::<Vec<u8>>());
        assert_eq!(
            q.bytes(),
            0,
            "segments of an earlier run are deleted once sent"
        );
        q.append(&[chunk(1, 42, 3)]).unwrap();
        drop(q);
        let mut q = Queue::open(dir.path(), 1 << 20, 100).unwrap();
        assert_eq!(drain(&mut q), [42]);
    }

    #[test]
    fn cap_drops_the_oldest_segment_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        // Records of 52 bytes, two per segment, at most four segments' worth.
        let mut q = Queue::open(dir.path(), 4 * 104, 104).unwrap();
        let mut dropped = Dropped::default();
        for i in 0..12u8 {
            let d = q.append(&[chunk(3, i, 40)]).unwrap();
            dropped.segments += d.segments;
            dropped.samples += d.samples;
            assert!(q.bytes() <= 4 * 104);
        }
        assert_eq!(
            dropped,
            Dropped {
                segments: 2,
                samples: 12
            }
        );
        assert_eq!(drain(&mut q), (4..12).collect::<Vec<u8>>());
        assert!(matches!(
            q.append(&[chunk(1, 0, 500)]),
            Err(Error::TooLarge { max: 416, .. })
        ));
    }

    #[test]
    fn a_batch_in_flight_over_a_dropped_segment_is_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Queue::open(dir.path(), 2 * 52, 52).unwrap();
        q.append(&[chunk(1, 0, 40)]).unwrap();
        let p = q.peek(100).unwrap().unwrap();
        q.append(&[chunk(1, 1, 40)]).unwrap();
        let d = q.append(&[chunk(1, 2, 40)]).unwrap();
        assert_eq!(
            d,
            Dropped {
                segments: 1,
                samples: 1
            }
        );
        assert!(!q.is_current(&p));
        assert!(!q.commit(&p).unwrap());
        assert_eq!(drain(&mut q), [1, 2]);
    }

    #[test]
    fn torn_tail_is_cut_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut q = Queue::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        q.append(&[chunk(1, 7, 10), chunk(2, 8, 10)]).unwrap();
        drop(q);
        let seg = seg_path(dir.path(), 0);
        let len = std::fs::metadata(&seg).unwrap().len();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.set_len(len - 3).unwrap();
        let mut q = Queue::open(dir.path(), 1 << 20, 1 << 20).unwrap();
        assert_eq!(q.pending_samples(), 1);
        assert_eq!(drain(&mut q), [7]);
        std::fs::write(dir.path().join(ACK_FILE), "garbage").unwrap();
        let e = Queue::open(dir.path(), 1 << 20, 1 << 20)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("ack") && e.contains("garbage"), "{e}");
    }
}
