//! Immutable blocks: the series of one closed time range, persisted in one redb file.
//!
//! ```text
//! blocks/<mint>-<maxt>-<nanos>-<n>.redb, one redb database with five tables:
//!   meta      &str          → i64    version, mint, maxt (exclusive), wal_cut, num_series,
//!                                    num_samples, level, crc
//!   symbols   u32           → bytes  every label name and value once
//!   series    u64           → bytes  labels: uvarint n, n × (uvarint name, uvarint value) symbols
//!   postings  (&str, &str)  → bytes  sorted series ids, uvarint deltas; ("", "") lists all
//!   chunks    u64           → bytes  the series' chunks, oldest first
//!
//! format 3 (checksummed). Every value ends with a CRC32C (Castagnoli, as Prometheus's chunks
//! and index sections), big-endian, over its key and its bytes, so a value that moved to
//! another key fails too:
//! ┌─────────────────────────────────────────────────────────────────────────────────────────┐
//! │ meta      "crc" = CRC32C over every other (key, 0xFF, value i64 LE), keys in order      │
//! │ symbols   utf8 bytes                    │ CRC32C(id u32 LE ‖ bytes)              <4 B>  │
//! │ series    label symbol refs             │ CRC32C(id u64 LE ‖ refs)               <4 B>  │
//! │ postings  uvarint deltas                │ CRC32C(name ‖ 0xFF ‖ value ‖ 0xFF ‖ deltas)  │
//! ├─────────────────────────────────────────────────────────────────────────────────────────┤
//! │ chunks    per chunk:                                                                   │
//! │ ┌──────────────────┬──────────────────┬───────────────┬───────────┬──────────────────┐ │
//! │ │ min_t <varint>   │ max_t <varint>   │ len <uvarint> │ XOR chunk │ CRC32C <4 B>     │ │
//! │ └──────────────────┴──────────────────┴───────────────┴───────────┴──────────────────┘ │
//! │           CRC32C(series id u64 LE ‖ min_t ‖ max_t ‖ len ‖ XOR chunk)                    │
//! └─────────────────────────────────────────────────────────────────────────────────────────┘
//! format 2 (written by earlier versions; read, never written): the same tables without any
//! checksum, and symbols stored as `&str`.
//! ```
//!
//! Series ids follow the label order, so ids resolved through postings come out sorted by
//! labels. All chunks of a series are one value: a block stores one B-tree entry per series, which
//! keeps redb's per-entry overhead far below a byte per sample. A block is written to a `.tmp`
//! name, compacted, synced and renamed, so a crash never leaves a half-written block in place;
//! it is then only ever opened read-only.
//!
//! Every checksum a read touches is verified: a query that reads a chunk verifies every chunk
//! of that series, its labels and their symbols, and the postings it resolves. A mismatch is an
//! [`Error::Corrupt`] naming the block and the series, never a changed value.
//! [`Block::verify`] checks everything, for `apilens tsdb check`.

use crate::Error;
use crate::bstream::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::index::IndexReader;
use crate::wal::sync_dir;
use crate::xor::{XorChunk, XorIter};
use apilens_model::{Labels, Sample};
use redb::{Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const SERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("series");
const SYMBOLS: TableDefinition<u32, &[u8]> = TableDefinition::new("symbols");
/// Format 2 stored symbols as strings.
const SYMBOLS_V2: TableDefinition<u32, &str> = TableDefinition::new("symbols");
/// Samples per chunk in a block. Blocks are immutable, so chunks need not stop at the head's
/// 120: longer chunks save a full first sample per cut (any count up to `u16::MAX` is valid XOR).
const BLOCK_CHUNK_SAMPLES: usize = 1024;
const POSTINGS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("postings");
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
/// The format written: checksummed values.
pub(crate) const FORMAT_VERSION: i64 = 3;
/// The last format without checksums, still read.
const FORMAT_UNCHECKED: i64 = 2;
const CRC_LEN: usize = 4;

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
    /// On-disk format: 3 has checksums, 2 (older) has none.
    pub version: i64,
}

impl BlockMeta {
    /// Whether the block's values carry checksums.
    pub fn has_checksums(&self) -> bool {
        self.version >= FORMAT_VERSION
    }
}

/// An open block.
pub(crate) struct Block {
    pub(crate) path: PathBuf,
    pub(crate) meta: BlockMeta,
    pub(crate) size: u64,
    db: ReadOnlyDatabase,
    /// Every label name with its values (the keys of the postings table), read and checked
    /// at open as Prometheus reads its postings offset table: a label pair that damage hid
    /// from the B-tree is found at open, not silently missing from a query.
    label_index: BTreeMap<String, Vec<String>>,
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

/// The meta entries that the `crc` entry covers, in key order.
fn meta_crc(entries: &BTreeMap<String, i64>) -> i64 {
    let mut crc = 0u32;
    for (k, v) in entries.iter().filter(|(k, _)| k.as_str() != "crc") {
        crc = crc32c::crc32c_append(crc, k.as_bytes());
        crc = crc32c::crc32c_append(crc, &[0xFF]);
        crc = crc32c::crc32c_append(crc, &v.to_le_bytes());
    }
    i64::from(crc)
}

/// Runs a redb operation on a block, turning a panic inside redb into a corruption error that
/// names the block: redb 4 panics (`unreachable!`) on some damaged B-tree pages instead of
/// returning an error, and damage on disk must never take the process down.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::corrupt(
            format!("block {}", path.display()),
            format!("the file's B-tree is damaged (redb: {why})"),
        ))
    })
}

/// CRC32C over `parts` in order.
fn crc_of(parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .fold(0u32, |crc, p| crc32c::crc32c_append(crc, p))
}

/// Splits a value into its body and verifies the trailing CRC32C over `key_parts ‖ body`.
fn checked<'v>(value: &'v [u8], key_parts: &[&[u8]]) -> Result<&'v [u8], String> {
    let Some(split) = value.len().checked_sub(CRC_LEN) else {
        return Err("value shorter than its checksum".into());
    };
    let (body, crc) = value.split_at(split);
    let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let mut got = crc_of(key_parts);
    got = crc32c::crc32c_append(got, body);
    if got == want {
        Ok(body)
    } else {
        Err(format!(
            "checksum mismatch (stored {want:08x}, computed {got:08x})"
        ))
    }
}

fn push_crc(out: &mut Vec<u8>, key_parts: &[&[u8]], body_from: usize) {
    let crc = crc32c::crc32c_append(crc_of(key_parts), &out[body_from..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC32C over every postings key in order, as the meta's `postings_crc` holds it.
fn postings_keys_crc(keys: &[(String, String)]) -> i64 {
    let mut crc = 0u32;
    for (n, v) in keys {
        for part in postings_key_parts(n, v) {
            crc = crc32c::crc32c_append(crc, part);
        }
    }
    i64::from(crc)
}

/// One meta value, read again (the meta checksum already covers it).
fn entries_get(db: &ReadOnlyDatabase, path: &Path, key: &str) -> Result<i64, Error> {
    let txn = db.begin_read().map_err(|e| Error::block(path, e))?;
    let t = txn.open_table(META).map_err(|e| Error::block(path, e))?;
    t.get(key)
        .map_err(|e| Error::block(path, e))?
        .map(|v| v.value())
        .ok_or_else(|| {
            Error::corrupt(
                format!("block {}", path.display()),
                format!("meta has no {key}"),
            )
        })
}

fn postings_key_parts<'k>(name: &'k str, value: &'k str) -> [&'k [u8]; 4] {
    [name.as_bytes(), &[0xFF], value.as_bytes(), &[0xFF]]
}

impl Block {
    /// Opens a block read-only and checks its meta (and the meta's checksum in format 3).
    pub(crate) fn open(path: &Path) -> Result<Block, Error> {
        guarded(path, || Block::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<Block, Error> {
        let db = ReadOnlyDatabase::open(path).map_err(|e| Error::block(path, e))?;
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        let corrupt = |d: String| Error::corrupt(format!("block {}", path.display()), d);
        let meta = {
            let txn = db.begin_read().map_err(|e| Error::block(path, e))?;
            let t = txn.open_table(META).map_err(|e| Error::block(path, e))?;
            let mut entries = BTreeMap::new();
            for item in t.iter().map_err(|e| Error::block(path, e))? {
                let (k, v) = item.map_err(|e| Error::block(path, e))?;
                entries.insert(k.value().to_owned(), v.value());
            }
            let get = |k: &str| -> Result<i64, Error> {
                entries
                    .get(k)
                    .copied()
                    .ok_or_else(|| corrupt(format!("meta has no {k}")))
            };
            let version = get("version")?;
            if version == FORMAT_VERSION {
                let stored = get("crc")?;
                let computed = meta_crc(&entries);
                if stored != computed {
                    return Err(corrupt(format!(
                        "meta checksum mismatch (stored {stored:08x}, computed {computed:08x})"
                    )));
                }
            } else if version != FORMAT_UNCHECKED {
                return Err(corrupt(format!("unknown block format version {version}")));
            }
            BlockMeta {
                mint: get("mint")?,
                maxt: get("maxt")?,
                wal_cut: get("wal_cut")?,
                num_series: get("num_series")?,
                num_samples: get("num_samples")?,
                level: get("level")?,
                version,
            }
        };
        let label_index = {
            let txn = db.begin_read().map_err(|e| Error::block(path, e))?;
            let pt = txn
                .open_table(POSTINGS)
                .map_err(|e| Error::block(path, e))?;
            let mut keys: Vec<(String, String)> = Vec::new();
            for item in pt.iter().map_err(|e| Error::block(path, e))? {
                let (k, _) = item.map_err(|e| Error::block(path, e))?;
                let (n, v) = k.value();
                keys.push((n.to_owned(), v.to_owned()));
            }
            if meta.has_checksums() {
                let want = (
                    entries_get(&db, path, "postings_count")?,
                    entries_get(&db, path, "postings_crc")?,
                );
                let got = (keys.len() as i64, postings_keys_crc(&keys));
                if got != want {
                    return Err(corrupt(format!(
                        "postings index: {} label pairs with checksum {:08x}, the meta says {} with {:08x}",
                        got.0, got.1, want.0, want.1
                    )));
                }
            }
            let mut index: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (n, v) in keys {
                index.entry(n).or_default().push(v);
            }
            index
        };
        Ok(Block {
            path: path.to_path_buf(),
            meta,
            size,
            db,
            label_index,
        })
    }

    /// Writes a block from series sorted by labels, each with samples sorted by time, and opens
    /// it. A failed write leaves no file behind.
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
        let written = write_tmp(&tmp, mint, maxt, wal_cut, level, series).and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            sync_dir(dir)
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Block::open(&path)
    }

    fn read_txn(&self) -> Result<redb::ReadTransaction, Error> {
        self.db
            .begin_read()
            .map_err(|e| Error::block(&self.path, e))
    }

    fn corrupt(&self, detail: impl Into<String>) -> Error {
        Error::corrupt(format!("block {}", self.path.display()), detail)
    }

    /// Reads the series with the given ids and their samples in `[mint, maxt]`.
    pub(crate) fn read(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, Error> {
        guarded(&self.path, || self.read_unguarded(ids, mint, maxt))
    }

    fn read_unguarded(
        &self,
        ids: &[u64],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Sample>)>, Error> {
        let p = &self.path;
        let txn = self.read_txn()?;
        let st = txn.open_table(SERIES).map_err(|e| Error::block(p, e))?;
        let mut symbols = SymbolCache::open(&txn, self)?;
        let ct = txn.open_table(CHUNKS).map_err(|e| Error::block(p, e))?;
        let mut out = Vec::new();
        for &id in ids {
            let Some(chunks) = ct.get(id).map_err(|e| Error::block(p, e))? else {
                let name = self.series_name(&st, &mut symbols, id);
                return Err(self.corrupt(format!(
                    "series {name} is in the postings but has no chunks"
                )));
            };
            let samples = match decode_series_chunks(chunks.value(), id, self.meta, mint, maxt) {
                Ok(s) => s,
                Err(d) => {
                    let name = self.series_name(&st, &mut symbols, id);
                    return Err(self.corrupt(format!("series {name}: {d}")));
                }
            };
            if samples.is_empty() {
                continue;
            }
            let labels = self.labels(&st, &mut symbols, id)?;
            out.push((labels, samples));
        }
        Ok(out)
    }

    /// The labels of series `id`, checked.
    fn labels(
        &self,
        st: &redb::ReadOnlyTable<u64, &'static [u8]>,
        symbols: &mut SymbolCache,
        id: u64,
    ) -> Result<Labels, Error> {
        let raw = st
            .get(id)
            .map_err(|e| Error::block(&self.path, e))?
            .ok_or_else(|| self.corrupt(format!("series #{id} has no labels")))?;
        let body = if self.meta.has_checksums() {
            checked(raw.value(), &[&id.to_le_bytes()])
                .map_err(|d| self.corrupt(format!("labels of series #{id}: {d}")))?
        } else {
            raw.value()
        };
        symbols
            .labels(body)
            .map_err(|d| self.corrupt(format!("labels of series #{id}: {d}")))
    }

    /// A series' labels for an error message, or its id when they cannot be read either.
    fn series_name(
        &self,
        st: &redb::ReadOnlyTable<u64, &'static [u8]>,
        symbols: &mut SymbolCache,
        id: u64,
    ) -> String {
        self.labels(st, symbols, id)
            .map_or_else(|_| format!("#{id}"), |l| l.to_string())
    }

    /// Reads and checks everything: every symbol, series, posting and chunk (decoded to the
    /// last sample), and their agreement with each other and with the meta. Returns the
    /// problems found (empty when the block is whole) and, per series read, its labels and
    /// sample count.
    pub(crate) fn verify(&self) -> BlockVerify {
        let mut v = BlockVerify::default();
        if let Err(e) = guarded(&self.path, || self.verify_into(&mut v)) {
            v.problems.push(e.to_string());
        }
        v
    }

    fn verify_into(&self, v: &mut BlockVerify) -> Result<(), Error> {
        const MAX_LISTED: usize = 20;
        let p = &self.path;
        let problem = |v: &mut BlockVerify, s: String| {
            v.n_problems += 1;
            if v.problems.len() < MAX_LISTED {
                v.problems.push(s);
            }
        };
        let txn = self.read_txn()?;
        let mut symbols = SymbolCache::open(&txn, self)?;
        let n_symbols = symbols.verify_all(&mut |s| problem(v, s))?;
        v.symbols = n_symbols;
        let st = txn.open_table(SERIES).map_err(|e| Error::block(p, e))?;
        let mut labels_of: BTreeMap<u64, Labels> = BTreeMap::new();
        for item in st.iter().map_err(|e| Error::block(p, e))? {
            let (k, _) = item.map_err(|e| Error::block(p, e))?;
            let id = k.value();
            match self.labels(&st, &mut symbols, id) {
                Ok(l) => {
                    labels_of.insert(id, l);
                }
                Err(e) => problem(v, e.to_string()),
            }
        }
        let ct = txn.open_table(CHUNKS).map_err(|e| Error::block(p, e))?;
        let mut chunk_ids = std::collections::BTreeSet::new();
        for item in ct.iter().map_err(|e| Error::block(p, e))? {
            let (k, val) = item.map_err(|e| Error::block(p, e))?;
            let id = k.value();
            chunk_ids.insert(id);
            let name = labels_of
                .get(&id)
                .map_or_else(|| format!("#{id}"), ToString::to_string);
            match verify_series_chunks(val.value(), id, self.meta) {
                Ok((n, range)) => {
                    v.samples += n;
                    if let Some((a, b)) = range {
                        v.time_range =
                            Some(v.time_range.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
                    }
                    match labels_of.get(&id) {
                        Some(l) => v.series.push((l.clone(), n)),
                        None => problem(v, format!("chunks of series #{id} have no labels")),
                    }
                }
                Err(d) => problem(v, format!("series {name}: {d}")),
            }
        }
        for id in labels_of.keys().filter(|id| !chunk_ids.contains(id)) {
            problem(v, format!("series {} has no chunks", labels_of[id]));
        }
        // Postings: every list checked, every id known, and each list equal to the series
        // whose labels hold that pair.
        let mut expected: HashMap<(String, String), Vec<u64>> = HashMap::new();
        for (id, l) in &labels_of {
            for pair in l.iter() {
                expected
                    .entry((pair.name.clone(), pair.value.clone()))
                    .or_default()
                    .push(*id);
            }
            expected.entry(Default::default()).or_default().push(*id);
        }
        let pt = txn.open_table(POSTINGS).map_err(|e| Error::block(p, e))?;
        let mut n_lists = 0usize;
        for item in pt.iter().map_err(|e| Error::block(p, e))? {
            let (k, val) = item.map_err(|e| Error::block(p, e))?;
            let (name, value) = k.value();
            n_lists += 1;
            match self.decode_postings(name, value, val.value()) {
                Ok(ids) => {
                    let want = expected
                        .remove(&(name.to_owned(), value.to_owned()))
                        .unwrap_or_default();
                    if ids != want {
                        problem(
                            v,
                            format!(
                                "postings of {name}=\"{value}\" list {} series where the series table has {}",
                                ids.len(),
                                want.len()
                            ),
                        );
                    }
                }
                Err(e) => problem(v, e.to_string()),
            }
        }
        v.postings = n_lists;
        if let Some(((name, value), _)) = expected.iter().next() {
            problem(
                v,
                format!(
                    "{} label pairs have no postings list, e.g. {name}=\"{value}\"",
                    expected.len()
                ),
            );
        }
        if labels_of.len() as i64 != self.meta.num_series {
            problem(
                v,
                format!(
                    "meta says {} series, the series table has {}",
                    self.meta.num_series,
                    labels_of.len()
                ),
            );
        }
        if v.samples as i64 != self.meta.num_samples && v.n_problems == 0 {
            problem(
                v,
                format!(
                    "meta says {} samples, the chunks hold {}",
                    self.meta.num_samples, v.samples
                ),
            );
        }
        Ok(())
    }

    fn decode_postings(&self, name: &str, value: &str, raw: &[u8]) -> Result<Vec<u64>, Error> {
        let mut buf = if self.meta.has_checksums() {
            checked(raw, &postings_key_parts(name, value))
                .map_err(|d| self.corrupt(format!("postings of {name}=\"{value}\": {d}")))?
        } else {
            raw
        };
        let mut out = Vec::new();
        let mut prev = 0u64;
        while !buf.is_empty() {
            let d = get_uvarint(&mut buf).ok_or_else(|| {
                self.corrupt(format!("postings of {name}=\"{value}\": bad delta"))
            })?;
            prev += d;
            out.push(prev);
        }
        Ok(out)
    }
}

/// What [`Block::verify`] found.
#[derive(Debug, Default)]
pub(crate) struct BlockVerify {
    /// Problems, the first 20 in full.
    pub(crate) problems: Vec<String>,
    /// Number of problems.
    pub(crate) n_problems: usize,
    /// Labels and sample count of every series whose chunks read back.
    pub(crate) series: Vec<(Labels, u64)>,
    /// Samples that read back.
    pub(crate) samples: u64,
    /// Oldest and newest sample time read back.
    pub(crate) time_range: Option<(i64, i64)>,
    /// Symbols in the table.
    pub(crate) symbols: usize,
    /// Postings lists.
    pub(crate) postings: usize,
}

fn write_tmp(
    tmp: &Path,
    mint: i64,
    maxt: i64,
    wal_cut: i64,
    level: i64,
    series: impl Iterator<Item = Result<(Labels, Vec<Sample>), Error>>,
) -> Result<(), Error> {
    let mut db = Database::create(tmp).map_err(|e| Error::block(tmp, e))?;
    let mut postings: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let mut num_samples = 0i64;
    let mut num_series = 0i64;
    {
        let txn = db.begin_write().map_err(|e| Error::block(tmp, e))?;
        {
            let mut st = txn.open_table(SERIES).map_err(|e| Error::block(tmp, e))?;
            let mut symt = txn.open_table(SYMBOLS).map_err(|e| Error::block(tmp, e))?;
            let mut symbols: HashMap<String, u32> = HashMap::new();
            let mut sym_buf = Vec::new();
            let mut symbol = |s: &str| -> Result<u32, Error> {
                if let Some(&i) = symbols.get(s) {
                    return Ok(i);
                }
                let i = symbols.len() as u32;
                sym_buf.clear();
                sym_buf.extend_from_slice(s.as_bytes());
                push_crc(&mut sym_buf, &[&i.to_le_bytes()], 0);
                symt.insert(i, sym_buf.as_slice())
                    .map_err(|e| Error::block(tmp, e))?;
                symbols.insert(s.to_owned(), i);
                Ok(i)
            };
            let mut ct = txn.open_table(CHUNKS).map_err(|e| Error::block(tmp, e))?;
            let mut buf = Vec::new();
            let mut id = 0u64;
            for item in series {
                let (labels, samples) = item?;
                if samples.is_empty() {
                    continue;
                }
                id += 1;
                let id_bytes = id.to_le_bytes();
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
                push_crc(&mut buf, &[&id_bytes], 0);
                st.insert(id, buf.as_slice())
                    .map_err(|e| Error::block(tmp, e))?;
                buf.clear();
                for part in samples.chunks(BLOCK_CHUNK_SAMPLES) {
                    let mut c = XorChunk::new();
                    for s in part {
                        c.append(s.t, s.v);
                    }
                    let from = buf.len();
                    put_varint(&mut buf, part[0].t);
                    put_varint(&mut buf, part[part.len() - 1].t);
                    put_uvarint(&mut buf, c.bytes().len() as u64);
                    buf.extend_from_slice(c.bytes());
                    push_crc(&mut buf, &[&id_bytes], from);
                }
                ct.insert(id, buf.as_slice())
                    .map_err(|e| Error::block(tmp, e))?;
            }
            let mut pt = txn.open_table(POSTINGS).map_err(|e| Error::block(tmp, e))?;
            for (key, ids) in &postings {
                buf.clear();
                let mut prev = 0;
                for &i in ids {
                    put_uvarint(&mut buf, i - prev);
                    prev = i;
                }
                push_crc(&mut buf, &postings_key_parts(&key.0, &key.1), 0);
                pt.insert((key.0.as_str(), key.1.as_str()), buf.as_slice())
                    .map_err(|e| Error::block(tmp, e))?;
            }
            let mut entries: BTreeMap<String, i64> = [
                ("version", FORMAT_VERSION),
                ("mint", mint),
                ("maxt", maxt),
                ("wal_cut", wal_cut),
                ("num_series", num_series),
                ("num_samples", num_samples),
                ("level", level),
                ("postings_count", postings.len() as i64),
                (
                    "postings_crc",
                    postings_keys_crc(&postings.keys().cloned().collect::<Vec<_>>()),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            entries.insert("crc".into(), meta_crc(&entries));
            let mut mt = txn.open_table(META).map_err(|e| Error::block(tmp, e))?;
            for (k, v) in &entries {
                mt.insert(k.as_str(), *v)
                    .map_err(|e| Error::block(tmp, e))?;
            }
        }
        txn.commit().map_err(|e| Error::block(tmp, e))?;
    }
    // Reclaim the free pages the copy-on-write build left behind.
    while db.compact().map_err(|e| Error::block(tmp, e))? {}
    drop(db);
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(tmp, e))
}

/// Reads a block's series one by one in label order, for merges.
pub(crate) struct BlockCursor {
    path: PathBuf,
    meta: BlockMeta,
    series: redb::ReadOnlyTable<u64, &'static [u8]>,
    symbols: SymbolCache,
    chunks: redb::ReadOnlyTable<u64, &'static [u8]>,
    next: u64,
    last: u64,
}

impl BlockCursor {
    pub(crate) fn new(block: &Block) -> Result<BlockCursor, Error> {
        guarded(&block.path, || BlockCursor::new_unguarded(block))
    }

    fn new_unguarded(block: &Block) -> Result<BlockCursor, Error> {
        let p = &block.path;
        let txn = block.read_txn()?;
        Ok(BlockCursor {
            path: p.clone(),
            meta: block.meta,
            series: txn.open_table(SERIES).map_err(|e| Error::block(p, e))?,
            symbols: SymbolCache::open(&txn, block)?,
            chunks: txn.open_table(CHUNKS).map_err(|e| Error::block(p, e))?,
            next: 1,
            last: block.meta.num_series as u64,
        })
    }

    /// The next series in label order, with all its samples, every checksum verified.
    pub(crate) fn next_series(&mut self) -> Result<Option<(Labels, Vec<Sample>)>, Error> {
        let path = self.path.clone();
        guarded(&path, || self.next_series_unguarded())
    }

    fn next_series_unguarded(&mut self) -> Result<Option<(Labels, Vec<Sample>)>, Error> {
        let p = &self.path;
        if self.next > self.last {
            return Ok(None);
        }
        let id = self.next;
        self.next += 1;
        let corrupt = |d: String| Error::corrupt(format!("block {}", p.display()), d);
        let raw = self
            .series
            .get(id)
            .map_err(|e| Error::block(p, e))?
            .ok_or_else(|| corrupt(format!("series #{id} is missing")))?;
        let body = if self.meta.has_checksums() {
            checked(raw.value(), &[&id.to_le_bytes()])
                .map_err(|d| corrupt(format!("labels of series #{id}: {d}")))?
        } else {
            raw.value()
        };
        let labels = self
            .symbols
            .labels(body)
            .map_err(|d| corrupt(format!("labels of series #{id}: {d}")))?;
        let chunks = self
            .chunks
            .get(id)
            .map_err(|e| Error::block(p, e))?
            .ok_or_else(|| corrupt(format!("series {labels} has no chunks")))?;
        let samples = decode_series_chunks(chunks.value(), id, self.meta, i64::MIN, i64::MAX)
            .map_err(|d| corrupt(format!("series {labels}: {d}")))?;
        Ok(Some((labels, samples)))
    }
}

/// The symbols table of one read transaction, decoded (and checked) once per symbol.
struct SymbolCache {
    table: SymbolTable,
    cache: HashMap<u32, String>,
}

enum SymbolTable {
    Checked(redb::ReadOnlyTable<u32, &'static [u8]>),
    Unchecked(redb::ReadOnlyTable<u32, &'static str>),
}

impl SymbolCache {
    fn open(txn: &redb::ReadTransaction, block: &Block) -> Result<SymbolCache, Error> {
        let p = &block.path;
        let table = if block.meta.has_checksums() {
            SymbolTable::Checked(txn.open_table(SYMBOLS).map_err(|e| Error::block(p, e))?)
        } else {
            SymbolTable::Unchecked(txn.open_table(SYMBOLS_V2).map_err(|e| Error::block(p, e))?)
        };
        Ok(SymbolCache {
            table,
            cache: HashMap::new(),
        })
    }

    fn get(&mut self, i: u64) -> Result<String, String> {
        let i = u32::try_from(i).map_err(|_| format!("symbol ref {i} out of range"))?;
        if let Some(s) = self.cache.get(&i) {
            return Ok(s.clone());
        }
        let missing = || format!("symbol {i} is missing");
        let s = match &self.table {
            SymbolTable::Checked(t) => {
                let v = t.get(i).map_err(|e| e.to_string())?.ok_or_else(missing)?;
                let body = checked(v.value(), &[&i.to_le_bytes()])
                    .map_err(|d| format!("symbol {i}: {d}"))?;
                String::from_utf8(body.to_vec()).map_err(|_| format!("symbol {i} is not UTF-8"))?
            }
            SymbolTable::Unchecked(t) => t
                .get(i)
                .map_err(|e| e.to_string())?
                .ok_or_else(missing)?
                .value()
                .to_owned(),
        };
        self.cache.insert(i, s.clone());
        Ok(s)
    }

    fn labels(&mut self, raw: &[u8]) -> Result<Labels, String> {
        let mut buf = raw;
        let n = get_uvarint(&mut buf).ok_or("bad label count")?;
        let mut pairs = Vec::new();
        for _ in 0..n {
            let name = get_uvarint(&mut buf).ok_or("bad label name ref")?;
            let value = get_uvarint(&mut buf).ok_or("bad label value ref")?;
            pairs.push((self.get(name)?, self.get(value)?));
        }
        if !buf.is_empty() {
            return Err("bytes after the labels".into());
        }
        Ok(Labels::from_pairs(pairs))
    }

    /// Checks every symbol; returns how many there are.
    fn verify_all(&mut self, problem: &mut impl FnMut(String)) -> Result<usize, Error> {
        let ids: Vec<u32> = match &self.table {
            SymbolTable::Checked(t) => t
                .iter()
                .map_err(|e| Error::corrupt("symbols", e.to_string()))?
                .map(|r| r.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(|e| Error::corrupt("symbols", e.to_string()))?,
            SymbolTable::Unchecked(t) => t
                .iter()
                .map_err(|e| Error::corrupt("symbols", e.to_string()))?
                .map(|r| r.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(|e| Error::corrupt("symbols", e.to_string()))?,
        };
        for &i in &ids {
            if let Err(d) = self.get(u64::from(i)) {
                problem(d);
            }
        }
        Ok(ids.len())
    }
}

/// Walks the chunks of one series value: checks each chunk's checksum (format 3), and hands
/// the chunks overlapping `[mint, maxt]` to `visit` with their time range.
fn for_each_chunk<'v>(
    mut buf: &'v [u8],
    id: u64,
    meta: BlockMeta,
    mut visit: impl FnMut(usize, i64, i64, &'v [u8]) -> Result<(), String>,
) -> Result<(), String> {
    let id_bytes = id.to_le_bytes();
    let mut n = 0usize;
    while !buf.is_empty() {
        let start = buf;
        let cmin = get_varint(&mut buf).ok_or("bad chunk min time")?;
        let cmax = get_varint(&mut buf).ok_or("bad chunk max time")?;
        let len = get_uvarint(&mut buf).ok_or("bad chunk length")? as usize;
        if len > buf.len() {
            return Err(format!("chunk {n} is longer than its value"));
        }
        let (bytes, rest) = buf.split_at(len);
        buf = rest;
        if meta.has_checksums() {
            let (crc, rest) = buf
                .split_first_chunk::<CRC_LEN>()
                .ok_or_else(|| format!("chunk {n} has no checksum"))?;
            let covered = &start[..start.len() - buf.len()];
            let got = crc32c::crc32c_append(crc32c::crc32c(&id_bytes), covered);
            let want = u32::from_be_bytes(*crc);
            if got != want {
                return Err(format!(
                    "chunk {n} ({} .. {} ms): checksum mismatch (stored {want:08x}, computed {got:08x})",
                    cmin, cmax
                ));
            }
            buf = rest;
        }
        visit(n, cmin, cmax, bytes)?;
        n += 1;
    }
    Ok(())
}

fn decode_series_chunks(
    buf: &[u8],
    id: u64,
    meta: BlockMeta,
    mint: i64,
    maxt: i64,
) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for_each_chunk(buf, id, meta, |n, cmin, cmax, bytes| {
        if cmax < mint || cmin > maxt {
            return Ok(());
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
        match it.err() {
            Some(e) => Err(format!("chunk {n}: {e}")),
            None => Ok(()),
        }
    })?;
    Ok(out)
}

/// Decodes every chunk of a series and checks it against its header and the block's range;
/// returns the number of samples and their time range.
fn verify_series_chunks(
    buf: &[u8],
    id: u64,
    meta: BlockMeta,
) -> Result<(u64, Option<(i64, i64)>), String> {
    let mut n_samples = 0u64;
    let mut first_t = None;
    let mut last_t = i64::MIN;
    for_each_chunk(buf, id, meta, |n, cmin, cmax, bytes| {
        let mut it = XorIter::new(bytes);
        let mut first = None;
        let mut last = None;
        for s in it.by_ref() {
            if s.t <= last_t {
                return Err(format!(
                    "chunk {n}: sample at {} ms is not after {last_t} ms",
                    s.t
                ));
            }
            if s.t < meta.mint || s.t >= meta.maxt {
                return Err(format!(
                    "chunk {n}: sample at {} ms is outside the block's range",
                    s.t
                ));
            }
            first.get_or_insert(s.t);
            first_t.get_or_insert(s.t);
            last = Some(s.t);
            last_t = s.t;
            n_samples += 1;
        }
        if let Some(e) = it.err() {
            return Err(format!("chunk {n}: {e}"));
        }
        if first != Some(cmin) || last != Some(cmax) {
            return Err(format!(
                "chunk {n}: header says {cmin} .. {cmax} ms, the samples span {first:?} .. {last:?}"
            ));
        }
        Ok(())
    })?;
    Ok((n_samples, first_t.map(|f| (f, last_t))))
}

impl IndexReader for Block {
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
        guarded(&self.path, || self.postings_unguarded(name, value))
    }

    fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        guarded(&self.path, || self.label_values_unguarded(name))
    }

    fn all_postings(&self) -> Result<Vec<u64>, Error> {
        self.postings("", "")
    }
}

impl Block {
    fn postings_unguarded(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
        let known = self
            .label_index
            .get(name)
            .is_some_and(|values| values.binary_search_by(|v| v.as_str().cmp(value)).is_ok());
        if !known {
            return Ok(Vec::new());
        }
        let p = &self.path;
        let txn = self.read_txn()?;
        let pt = txn.open_table(POSTINGS).map_err(|e| Error::block(p, e))?;
        let Some(v) = pt.get((name, value)).map_err(|e| Error::block(p, e))? else {
            return Err(self.corrupt(format!(
                "postings of {name}=\"{value}\" are listed at open but cannot be found"
            )));
        };
        self.decode_postings(name, value, v.value())
    }

    fn label_values_unguarded(&self, name: &str) -> Result<Vec<String>, Error> {
        if name.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.label_index.get(name).cloned().unwrap_or_default())
    }

    /// Every label name of the block.
    pub(crate) fn label_names(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .label_index
            .keys()
            .filter(|n| !n.is_empty())
            .cloned()
            .collect())
    }
}
