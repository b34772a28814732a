//! Immutable blocks: the series of one closed time range, persisted in one redb file.
//!
//! ```text
//! blocks/<mint>-<maxt>-<nanos>.redb, one redb database with four tables:
//!   meta      &str          → i64    mint, maxt (exclusive), wal_cut, num_series,
//!                                    num_samples, level, version
//!   symbols   u32           → &str   every label name and value once
//!   series    u64           → bytes  labels: uvarint n, n × (uvarint name, uvarint value) symbols
//!   postings  (&str, &str)  → bytes  sorted series ids, uvarint deltas; ("", "") lists all
//!   chunks    u64           → bytes  n × (varint min_t, varint max_t, uvarint len, XOR chunk)
//! ```
//!
//! Series ids follow the label order, so ids resolved through postings come out sorted by
//! labels. All chunks of a series are one value: a block stores one B-tree entry per series, which
//! keeps redb's per-entry overhead far below a byte per sample. A block is written to a `.tmp`
//! name, compacted, synced and renamed, so a crash never leaves a half-written block in place.

use crate::Error;
use crate::bstream::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::index::IndexReader;
use crate::wal::sync_dir;
use crate::xor::{XorChunk, XorIter};
use apilens_model::{Labels, Sample};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const SERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("series");
const SYMBOLS: TableDefinition<u32, &str> = TableDefinition::new("symbols");
/// Samples per chunk in a block. Blocks are immutable, so chunks need not stop at the head's
/// 120: longer chunks save a full first sample per cut (any count up to `u16::MAX` is valid XOR).
const BLOCK_CHUNK_SAMPLES: usize = 1024;
const POSTINGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("postings");
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
const FORMAT_VERSION: i64 = 2;

/// What a block holds, from its `meta` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockMeta {
    /// Oldest sample time the block may hold (inclusive), milliseconds.
    pub mint: i64,
    /// End of the block's range (exclusive), milliseconds.
    pub maxt: i64,
    /// WAL samples before this time are in blocks and are not replayed (`i64::MIN` for
    /// imported data).
    pub wal_cut: i64,
    /// Number of series.
    pub num_series: i64,
    /// Number of samples.
    pub num_samples: i64,
    /// Compaction level: 1 for blocks cut from the head or imported, +1 per merge.
    pub level: i64,
}

/// An open block.
pub(crate) struct Block {
    pub(crate) path: PathBuf,
    pub(crate) meta: BlockMeta,
    pub(crate) size: u64,
    db: Database,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("path", &self.path)
            .field("meta", &self.meta)
            .finish()
    }
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Block {
    pub(crate) fn open(path: &Path) -> Result<Block, Error> {
        let db = Database::open(path).map_err(|e| Error::block(path, e))?;
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        let meta = {
            let txn = db.begin_read().map_err(|e| Error::block(path, e))?;
            let t = txn.open_table(META).map_err(|e| Error::block(path, e))?;
            let get = |k: &str| -> Result<i64, Error> {
                t.get(k)
                    .map_err(|e| Error::block(path, e))?
                    .map(|v| v.value())
                    .ok_or_else(|| {
                        Error::corrupt(path.display().to_string(), format!("meta has no {k}"))
                    })
            };
            if get("version")? != FORMAT_VERSION {
                return Err(Error::corrupt(
                    path.display().to_string(),
                    "unknown block format version",
                ));
            }
            BlockMeta {
                mint: get("mint")?,
                maxt: get("maxt")?,
                wal_cut: get("wal_cut")?,
                num_series: get("num_series")?,
                num_samples: get("num_samples")?,
                level: get("level")?,
            }
        };
        Ok(Block {
            path: path.to_path_buf(),
            meta,
            size,
            db,
        })
    }

    /// Writes a block from series sorted by labels, each with samples sorted by time, and opens it.
    pub(crate) fn write(
        dir: &Path,
        mint: i64,
        maxt: i64,
        wal_cut: i64,
        level: i64,
        series: impl Iterator<Item = Result<(Labels, Vec<Sample>), Error>>,
    ) -> Result<Block, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "{mint}-{maxt}-{nanos}-{}.redb",
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(&name);
        let tmp = dir.join(format!("{name}.tmp"));
        let mut db = Database::create(&tmp).map_err(|e| Error::block(&tmp, e))?;
        let mut postings: std::collections::BTreeMap<(String, String), Vec<u64>> =
            Default::default();
        let mut num_samples = 0i64;
        let mut num_series = 0i64;
        {
            let txn = db.begin_write().map_err(|e| Error::block(&tmp, e))?;
            {
                let mut st = txn.open_table(SERIES).map_err(|e| Error::block(&tmp, e))?;
                let mut symt = txn.open_table(SYMBOLS).map_err(|e| Error::block(&tmp, e))?;
                let mut symbols: std::collections::HashMap<String, u32> = Default::default();
                let mut symbol = |s: &str| -> Result<u32, Error> {
                    if let Some(&i) = symbols.get(s) {
                        return Ok(i);
                    }
                    let i = symbols.len() as u32;
                    symt.insert(i, s).map_err(|e| Error::block(&tmp, e))?;
                    symbols.insert(s.to_owned(), i);
                    Ok(i)
                };
                let mut ct = txn.open_table(CHUNKS).map_err(|e| Error::block(&tmp, e))?;
                let mut buf = Vec::new();
                let mut id = 0u64;
                for item in series {
                    let (labels, samples) = item?;
                    if samples.is_empty() {
                        continue;
                    }
                    id += 1;
                    num_series += 1;
                    num_samples += samples.len() as i64;
                    buf.clear();
                    put_uvarint(&mut buf, labels.len() as u64);
                    for l in labels.iter() {
                        put_uvarint(&mut buf, symbol(&l.name)? as u64);
                        put_uvarint(&mut buf, symbol(&l.value)? as u64);
                        postings
                            .entry((l.name.clone(), l.value.clone()))
                            .or_default()
                            .push(id);
                    }
                    postings
                        .entry((String::new(), String::new()))
                        .or_default()
                        .push(id);
                    st.insert(id, buf.as_slice())
                        .map_err(|e| Error::block(&tmp, e))?;
                    buf.clear();
                    for part in samples.chunks(BLOCK_CHUNK_SAMPLES) {
                        let mut c = XorChunk::new();
                        for s in part {
                            c.append(s.t, s.v);
                        }
                        put_varint(&mut buf, part[0].t);
                        put_varint(&mut buf, part[part.len() - 1].t);
                        put_uvarint(&mut buf, c.bytes().len() as u64);
                        buf.extend_from_slice(c.bytes());
                    }
                    ct.insert(id, buf.as_slice())
                        .map_err(|e| Error::block(&tmp, e))?;
                }
                let mut pt = txn
                    .open_table(POSTINGS)
                    .map_err(|e| Error::block(&tmp, e))?;
                for (key, ids) in &postings {
                    buf.clear();
                    let mut prev = 0;
                    for &i in ids {
                        put_uvarint(&mut buf, i - prev);
                        prev = i;
                    }
                    pt.insert((key.0.as_str(), key.1.as_str()), buf.as_slice())
                        .map_err(|e| Error::block(&tmp, e))?;
                }
                let mut mt = txn.open_table(META).map_err(|e| Error::block(&tmp, e))?;
                for (k, v) in [
                    ("version", FORMAT_VERSION),
                    ("mint", mint),
                    ("maxt", maxt),
                    ("wal_cut", wal_cut),
                    ("num_series", num_series),
                    ("num_samples", num_samples),
                    ("level", level),
                ] {
                    mt.insert(k, v).map_err(|e| Error::block(&tmp, e))?;
                }
            }
            txn.commit().map_err(|e| Error::block(&tmp, e))?;
        }
        // Reclaim the free pages the copy-on-write build left behind.
        while db.compact().map_err(|e| Error::block(&tmp, e))? {}
        drop(db);
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(dir)?;
        Block::open(&path)
    }

    /// Reads the series with the given ids and their samples in `[mint, maxt]`.
    pub(crate) fn read(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, Error> {
        let p = &self.path;
        let txn = self.db.begin_read().map_err(|e| Error::block(p, e))?;
        let st = txn.open_table(SERIES).map_err(|e| Error::block(p, e))?;
        let symt = txn.open_table(SYMBOLS).map_err(|e| Error::block(p, e))?;
        let mut symbols = SymbolCache::default();
        let ct = txn.open_table(CHUNKS).map_err(|e| Error::block(p, e))?;
        let mut out = Vec::new();
        for &id in ids {
            let Some(chunks) = ct.get(id).map_err(|e| Error::block(p, e))? else {
                continue;
            };
            let samples = decode_series_chunks(chunks.value(), mint, maxt)
                .map_err(|d| Error::corrupt(p.display().to_string(), d))?;
            if samples.is_empty() {
                continue;
            }
            let Some(raw) = st.get(id).map_err(|e| Error::block(p, e))? else {
                return Err(Error::corrupt(
                    p.display().to_string(),
                    format!("series {id} has no labels"),
                ));
            };
            let labels = symbols.labels(&symt, raw.value())?;
            out.push((labels, samples));
        }
        Ok(out)
    }
}

/// Reads a block's series one by one in label order, for merges.
pub(crate) struct BlockCursor {
    path: PathBuf,
    series: redb::ReadOnlyTable<u64, &'static [u8]>,
    symt: redb::ReadOnlyTable<u32, &'static str>,
    symbols: SymbolCache,
    chunks: redb::ReadOnlyTable<u64, &'static [u8]>,
    next: u64,
    last: u64,
}

impl BlockCursor {
    pub(crate) fn new(block: &Block) -> Result<BlockCursor, Error> {
        let p = &block.path;
        let txn = block.db.begin_read().map_err(|e| Error::block(p, e))?;
        Ok(BlockCursor {
            path: p.clone(),
            series: txn.open_table(SERIES).map_err(|e| Error::block(p, e))?,
            symt: txn.open_table(SYMBOLS).map_err(|e| Error::block(p, e))?,
            symbols: SymbolCache::default(),
            chunks: txn.open_table(CHUNKS).map_err(|e| Error::block(p, e))?,
            next: 1,
            last: block.meta.num_series as u64,
        })
    }

    /// The next series in label order, with all its samples.
    pub(crate) fn next_series(&mut self) -> Result<Option<(Labels, Vec<Sample>)>, Error> {
        let p = &self.path;
        if self.next > self.last {
            return Ok(None);
        }
        let id = self.next;
        self.next += 1;
        let corrupt = |d: String| Error::corrupt(p.display().to_string(), d);
        let raw = self
            .series
            .get(id)
            .map_err(|e| Error::block(p, e))?
            .ok_or_else(|| corrupt(format!("series {id} is missing")))?;
        let labels = self.symbols.labels(&self.symt, raw.value())?;
        let chunks = self
            .chunks
            .get(id)
            .map_err(|e| Error::block(p, e))?
            .ok_or_else(|| corrupt(format!("chunks of series {id} are missing")))?;
        let samples = decode_series_chunks(chunks.value(), i64::MIN, i64::MAX).map_err(corrupt)?;
        Ok(Some((labels, samples)))
    }
}

/// Decoded symbols of one read transaction.
#[derive(Default)]
struct SymbolCache(std::collections::HashMap<u32, String>);

impl SymbolCache {
    fn get(&mut self, t: &redb::ReadOnlyTable<u32, &'static str>, i: u64) -> Option<String> {
        let i = u32::try_from(i).ok()?;
        if let Some(s) = self.0.get(&i) {
            return Some(s.clone());
        }
        let s = t.get(i).ok()??.value().to_owned();
        self.0.insert(i, s.clone());
        Some(s)
    }

    fn labels(
        &mut self,
        t: &redb::ReadOnlyTable<u32, &'static str>,
        raw: &[u8],
    ) -> Result<Labels, Error> {
        let mut buf = raw;
        let mut decode = || -> Option<Labels> {
            let n = get_uvarint(&mut buf)?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                let name = get_uvarint(&mut buf)?;
                let value = get_uvarint(&mut buf)?;
                pairs.push((self.get(t, name)?, self.get(t, value)?));
            }
            Some(Labels::from_pairs(pairs))
        };
        decode().ok_or_else(|| Error::corrupt("block series", "labels refer to missing symbols"))
    }
}

fn decode_series_chunks(mut buf: &[u8], mint: i64, maxt: i64) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let cmin = get_varint(&mut buf).ok_or("bad chunk min time")?;
        let cmax = get_varint(&mut buf).ok_or("bad chunk max time")?;
        let len = get_uvarint(&mut buf).ok_or("bad chunk length")? as usize;
        if len > buf.len() {
            return Err("chunk longer than its value".into());
        }
        let (bytes, rest) = buf.split_at(len);
        buf = rest;
        if cmax < mint || cmin > maxt {
            continue;
        }
        // Decode straight into the result: whole chunks as they are, edge chunks cut to
        // [mint, maxt], stopping at the first sample past maxt.
        let mut it = XorIter::new(bytes);
        if let [hi, lo, ..] = bytes {
            out.reserve(u16::from_be_bytes([*hi, *lo]) as usize);
        }
        if cmin >= mint && cmax <= maxt {
            out.extend(&mut it);
        } else {
            out.extend(
                it.by_ref()
                    .skip_while(|s| s.t < mint)
                    .take_while(|s| s.t <= maxt),
            );
        }
        if let Some(e) = it.err() {
            return Err(format!("chunk: {e}"));
        }
    }
    Ok(out)
}

impl IndexReader for Block {
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
        let p = &self.path;
        let txn = self.db.begin_read().map_err(|e| Error::block(p, e))?;
        let pt = txn.open_table(POSTINGS).map_err(|e| Error::block(p, e))?;
        let Some(v) = pt.get((name, value)).map_err(|e| Error::block(p, e))? else {
            return Ok(Vec::new());
        };
        let mut buf = v.value();
        let mut out = Vec::new();
        let mut prev = 0u64;
        while !buf.is_empty() {
            let d = get_uvarint(&mut buf)
                .ok_or_else(|| Error::corrupt(p.display().to_string(), "bad postings list"))?;
            prev += d;
            out.push(prev);
        }
        Ok(out)
    }

    fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        let p = &self.path;
        let txn = self.db.begin_read().map_err(|e| Error::block(p, e))?;
        let pt = txn.open_table(POSTINGS).map_err(|e| Error::block(p, e))?;
        let mut out = Vec::new();
        for item in pt.range((name, "")..).map_err(|e| Error::block(p, e))? {
            let (k, _) = item.map_err(|e| Error::block(p, e))?;
            let (n, v) = k.value();
            if n != name {
                break;
            }
            if !name.is_empty() {
                out.push(v.to_owned());
            }
        }
        Ok(out)
    }

    fn all_postings(&self) -> Result<Vec<u64>, Error> {
        self.postings("", "")
    }
}

impl Block {
    /// Every label name of the block.
    pub(crate) fn label_names(&self) -> Result<Vec<String>, Error> {
        let p = &self.path;
        let txn = self.db.begin_read().map_err(|e| Error::block(p, e))?;
        let pt = txn.open_table(POSTINGS).map_err(|e| Error::block(p, e))?;
        let mut out: Vec<String> = Vec::new();
        for item in pt.iter().map_err(|e| Error::block(p, e))? {
            let (k, _) = item.map_err(|e| Error::block(p, e))?;
            let (n, _) = k.value();
            if !n.is_empty() && out.last().map(String::as_str) != Some(n) {
                out.push(n.to_owned());
            }
        }
        Ok(out)
    }
}
