//! The store: WAL, head and blocks behind one handle, opened for writing or read-only.

use crate::Error;
use crate::appender::Appender;
use crate::block::{Block, BlockMeta};
use crate::compact::Compactor;
use crate::damage::Damage;
use crate::head::Head;
use crate::index::{IndexReader, postings_for_matchers};
use crate::recover;
use crate::wal::{self, Record, Wal};
use apilens_model::{Labels, Matcher, Queryable, Sample, SelectError, SelectHints, Series};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

/// How the store keeps and lays out data.
///
/// The [`Default`] matches Prometheus: 15 days of retention, no size limit, 2-hour blocks,
/// blocks merged up to a tenth of the retention (at most 31 days), 128 MiB WAL segments.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Blocks that end more than this before the newest sample are deleted.
    pub retention: Duration,
    /// When set, the oldest blocks are deleted while blocks and WAL together take more bytes.
    pub max_bytes: Option<u64>,
    /// Time range of a block cut from the head; also the chunk boundary in the head.
    pub block_duration: Duration,
    /// Largest block compaction builds; `None` for a tenth of `retention`, at most 31 days.
    pub max_block_duration: Option<Duration>,
    /// A WAL segment is closed and a new one started past this size.
    pub wal_segment_bytes: u64,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(15 * 24 * 3600),
            max_bytes: None,
            block_duration: Duration::from_secs(2 * 3600),
            max_block_duration: None,
            wal_segment_bytes: 128 << 20,
        }
    }
}

/// Counters that describe the store's current size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Series in the head.
    pub head_series: usize,
    /// Bytes of chunk data the head holds in memory.
    pub head_chunk_bytes: usize,
    /// Number of persisted blocks.
    pub blocks: usize,
    /// Samples in persisted blocks.
    pub block_samples: u64,
    /// Bytes of block files on disk.
    pub block_bytes: u64,
    /// Bytes of WAL segments on disk.
    pub wal_bytes: u64,
}

/// What an import wrote, dropped, and what retention removed right after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Series imported.
    pub series: usize,
    /// Samples imported (a repeated timestamp of a series counted once).
    pub samples: usize,
    /// Blocks written.
    pub blocks: usize,
    /// Samples dropped because their series already had a sample at that timestamp (the first
    /// value read is kept).
    pub duplicates: usize,
    /// Of those, how many had a different value from the one kept.
    pub conflicting_duplicates: usize,
    /// The first duplicate: its series and timestamp.
    pub first_duplicate: Option<(Labels, i64)>,
    /// Blocks that retention deleted when the import was done (imported or older).
    pub retention_removed_blocks: usize,
    /// Samples in those blocks.
    pub retention_removed_samples: u64,
}

/// The shared state of an open store; the compaction thread holds it too.
pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) opts: DbOptions,
    pub(crate) block_ms: i64,
    pub(crate) head: RwLock<Head>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    /// `None` on a read-only open.
    pub(crate) wal: Option<Mutex<Wal>>,
    pub(crate) compaction: Mutex<()>,
    pub(crate) damage: Mutex<Vec<Damage>>,
    _lock: Option<fs::File>,
}

/// The embedded store. `Send + Sync`: share it as `Arc<Db>`; every method takes `&self`.
///
/// Writes go through an [`Appender`]: one commit is one WAL record, synced to disk before the
/// samples become visible. Reads go through [`Queryable::select`], which resolves matchers through
/// the postings of the head and of every block overlapping the range. A writable store persists
/// and merges blocks and applies retention on a background thread, never on the commit path.
///
/// Damage found on disk never stops an open: a bad WAL record is skipped, a bad block is
/// quarantined (or skipped when read-only), each is logged as a warning and listed by
/// [`Db::damage`].
pub struct Db {
    pub(crate) inner: Arc<Inner>,
    compactor: Option<Compactor>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.inner.dir)
            .field("opts", &self.inner.opts)
            .field("read_only", &self.inner.wal.is_none())
            .finish()
    }
}

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long an open waits for a lock held by someone else before it gives up. A process that is
/// exiting, or a child forked by this one that has not yet called `exec`, holds the lock for
/// milliseconds; a running apilens holds it for good.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// Calls `try_lock` until it succeeds or [`LOCK_WAIT`] has passed.
fn lock_with_wait(
    lock_path: &Path,
    try_lock: impl Fn() -> Result<(), fs::TryLockError>,
) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::Error(e)) => return Err(Error::io(lock_path, e)),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(in_use(lock_path)),
        }
    }
}

fn in_use(lock_path: &Path) -> Error {
    Error::io(
        lock_path,
        std::io::Error::other("the store is in use by another process"),
    )
}

/// Takes the store's lock shared, for readers (a store without a lock file is not locked).
pub(crate) fn lock_shared(dir: &Path) -> Result<Option<fs::File>, Error> {
    let meta = fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::other("not a store directory"),
        ));
    }
    let lock_path = dir.join("lock");
    match fs::File::open(&lock_path) {
        Ok(f) => {
            lock_with_wait(&lock_path, || f.try_lock_shared())?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&lock_path, e)),
    }
}

impl Db {
    /// Opens (or creates) the store in `dir` for writing: loads the blocks (quarantining any
    /// that cannot be read), replays the WAL into the head (skipping damaged records, cutting a
    /// torn final write), starts a fresh WAL segment, and starts the background thread that
    /// persists blocks and applies retention.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be used or another process has the store open.
    /// Damage in the WAL or in blocks is not an error: see [`Db::damage`].
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db, Error> {
        let blocks_dir = dir.join("blocks");
        fs::create_dir_all(&blocks_dir).map_err(|e| Error::io(&blocks_dir, e))?;
        let lock_path = dir.join("lock");
        let lock_file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock_with_wait(&lock_path, || lock_file.try_lock())?;
        let block_ms = ms(opts.block_duration).max(1);
        let (blocks, head, replayed, damage) = recover::load(dir, block_ms, true)?;
        let wal_dir = dir.join("wal");
        let snapshot = series_snapshot(&head);
        let wal = Wal::create(
            &wal_dir,
            replayed.next_seq,
            opts.wal_segment_bytes,
            replayed.segment_max_t,
            &snapshot,
        )?;
        tracing::debug!(
            dir = %dir.display(),
            blocks = blocks.len(),
            series = head.num_series(),
            samples = replayed.samples,
            "opened store"
        );
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            opts,
            block_ms,
            head: RwLock::new(head),
            blocks: RwLock::new(blocks),
            wal: Some(Mutex::new(wal)),
            compaction: Mutex::new(()),
            damage: Mutex::new(damage),
            _lock: Some(lock_file),
        });
        let compactor = Compactor::start(inner.clone());
        compactor.notify();
        Ok(Db {
            inner,
            compactor: Some(compactor),
        })
    }

    /// Opens the store in `dir` read-only, for commands that only read (`query`, `export`,
    /// `report`, `dashboard`, `doctor`, `tsdb check`): it never creates, repairs, truncates,
    /// moves or deletes a file, so it works on a read-only directory or file system. Damage is
    /// skipped with a warning naming the file, the offset and what was lost ([`Db::damage`]),
    /// and everything else is served. Appending, importing and compacting return
    /// [`Error::ReadOnly`].
    ///
    /// Several read-only opens may share a store; a writer (`apilens serve`) excludes them, so
    /// nothing is deleted under a reader.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when `dir` is not a directory, cannot be read, or a writer holds the store.
    pub fn open_read_only(dir: &Path) -> Result<Db, Error> {
        let lock_file = lock_shared(dir)?;
        let opts = DbOptions::default();
        let block_ms = ms(opts.block_duration).max(1);
        let (blocks, head, _, damage) = recover::load(dir, block_ms, false)?;
        Ok(Db {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                opts,
                block_ms,
                head: RwLock::new(head),
                blocks: RwLock::new(blocks),
                wal: None,
                compaction: Mutex::new(()),
                damage: Mutex::new(damage),
                _lock: lock_file,
            }),
            compactor: None,
        })
    }

    /// Whether the store was opened with [`Db::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.inner.wal.is_none()
    }

    /// Damage found on disk since the store was opened (at open, and by compaction), in the
    /// order found. Each was also logged as a warning.
    pub fn damage(&self) -> Vec<Damage> {
        lock(&self.inner.damage).clone()
    }

    /// A batch writer; nothing is visible or durable until [`Appender::commit`].
    pub fn appender(&self) -> Appender<'_> {
        Appender::new(self)
    }

    /// Asks the background thread to persist and merge blocks and apply retention now.
    pub(crate) fn wake_compactor(&self) {
        if let Some(c) = &self.compactor {
            c.notify();
        }
    }

    /// Persists head data older than the newest 1.5 block durations as blocks, merges closed
    /// block ranges and applies retention, and waits for it. The background thread does this
    /// on its own; calling it again is cheap.
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only store; [`Error`] when a block cannot be written or a
    /// file cannot be removed.
    pub fn compact(&self) -> Result<(), Error> {
        self.inner.writable()?;
        self.inner.compact()
    }

    /// Writes series as blocks, one per block-duration range they cover, as Prometheus's
    /// backfill (`promtool tsdb create-blocks-from`) does; then compacts and applies retention.
    /// Samples are sorted; of samples that share a series and a timestamp the first is kept and
    /// the others are counted in [`ImportStats::duplicates`].
    ///
    /// # Errors
    ///
    /// [`Error::ReadOnly`] on a read-only store; [`Error`] when a block cannot be written.
    pub fn import(&self, series: BTreeMap<Labels, Vec<Sample>>) -> Result<ImportStats, Error> {
        self.inner.writable()?;
        self.inner.import(series)
    }

    /// Every label name in the store, sorted.
    ///
    /// # Errors
    ///
    /// [`Error`] when a block cannot be read.
    pub fn label_names(&self) -> Result<Vec<String>, Error> {
        let (mut names, blocks) = {
            let head = read(&self.inner.head);
            (head.label_names(), read(&self.inner.blocks).clone())
        };
        for b in blocks {
            names.extend(b.label_names()?);
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Every value of the label `name` in the store, sorted.
    ///
    /// # Errors
    ///
    /// [`Error`] when a block cannot be read.
    pub fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        let (mut values, blocks) = {
            let head = read(&self.inner.head);
            (head.label_values(name)?, read(&self.inner.blocks).clone())
        };
        for b in blocks {
            values.extend(b.label_values(name)?);
        }
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The metadata of every block served, oldest first.
    pub fn blocks(&self) -> Vec<BlockMeta> {
        read(&self.inner.blocks).iter().map(|b| b.meta).collect()
    }

    /// The files of the blocks served, oldest first.
    pub fn block_paths(&self) -> Vec<PathBuf> {
        read(&self.inner.blocks)
            .iter()
            .map(|b| b.path.clone())
            .collect()
    }

    /// Current sizes.
    pub fn stats(&self) -> DbStats {
        let (head_series, head_chunk_bytes) = {
            let h = read(&self.inner.head);
            (h.num_series(), h.chunk_bytes())
        };
        let blocks = read(&self.inner.blocks);
        DbStats {
            head_series,
            head_chunk_bytes,
            blocks: blocks.len(),
            block_samples: blocks.iter().map(|b| b.meta.num_samples as u64).sum(),
            block_bytes: blocks.iter().map(|b| b.size).sum(),
            wal_bytes: wal::dir_bytes(&self.inner.dir.join("wal")),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Closes the store: stops the background thread (after the step it is in) and releases
    /// the directory lock. Every committed batch is already durable; dropping the handle does
    /// the same.
    pub fn close(self) {}
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(c) = self.compactor.take() {
            c.stop();
        }
    }
}

impl Inner {
    pub(crate) fn writable(&self) -> Result<(), Error> {
        match self.wal {
            Some(_) => Ok(()),
            None => Err(Error::ReadOnly {
                dir: self.dir.clone(),
            }),
        }
    }

    fn select_inner(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, Error> {
        // Every source's series, the head first, then the blocks oldest first: a stable sort by
        // labels keeps that order among the parts of one series, so on a duplicate timestamp the
        // first source read wins. Labels are shared, so a part costs no copy of them.
        let mut parts: Vec<(Labels, Vec<Sample>)> = Vec::new();
        let blocks = {
            let head = read(&self.head);
            let refs = postings_for_matchers(&*head, matchers)?;
            parts.extend(
                head.read(&refs, mint, maxt)?
                    .into_iter()
                    .map(|(labels, samples)| ((*labels).clone(), samples)),
            );
            read(&self.blocks).clone()
        };
        // The head reads its series in label order, each once: alone, it needs no sort and no
        // join.
        let mut sorted = true;
        for b in blocks
            .iter()
            .filter(|b| b.meta.mint <= maxt && b.meta.maxt > mint)
        {
            let ids = postings_for_matchers(&**b, matchers)?;
            let read = b.read(&ids, mint, maxt)?;
            sorted &= read.is_empty();
            parts.extend(read);
        }
        if sorted {
            // One part per series, each series once: nothing to join.
            return Ok(parts
                .into_iter()
                .map(|(labels, samples)| Series { labels, samples })
                .collect());
        }
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(merge_parts(parts))
    }
}

/// Joins the parts of each series (sorted by labels, a series' parts in source order) into one
/// series each, sorted by labels. Parts that overlap in time are sorted and deduplicated, the
/// first part's sample kept at a repeated timestamp; blocks are sorted by time and older than
/// the head, so a part usually goes wholly before or after what is there.
fn merge_parts(parts: Vec<(Labels, Vec<Sample>)>) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::with_capacity(parts.len());
    let mut overlap = false;
    for (labels, samples) in parts {
        let Some(last) = out.last_mut().filter(|s| s.labels == labels) else {
            finish(out.last_mut(), overlap);
            overlap = false;
            out.push(Series { labels, samples });
            continue;
        };
        let have = &mut last.samples;
        match (have.first(), have.last(), samples.first(), samples.last()) {
            (Some(hf), _, _, Some(nl)) if nl.t < hf.t => {
                let mut joined = samples;
                joined.append(have);
                *have = joined;
            }
            (_, Some(hl), Some(nf), _) if nf.t > hl.t => have.extend(samples),
            _ => {
                overlap |= !samples.is_empty() && !have.is_empty();
                have.extend(samples);
            }
        }
    }
    finish(out.last_mut(), overlap);
    out
}

/// Sorts and deduplicates a series whose parts overlapped in time (the stable sort keeps the
/// first part's sample first at a repeated timestamp).
fn finish(series: Option<&mut Series>, overlap: bool) {
    if let Some(s) = series.filter(|_| overlap) {
        s.samples.sort_by_key(|s| s.t);
        s.samples.dedup_by_key(|s| s.t);
    }
}

/// A record declaring every series of the head: the first record of every WAL segment.
pub(crate) fn series_snapshot(head: &Head) -> Record {
    let mut series: Vec<(u64, Labels)> = head
        .series
        .iter()
        .map(|(r, s)| (*r, (*s.labels).clone()))
        .collect();
    series.sort_by_key(|s| s.0);
    Record {
        series,
        samples: Vec::new(),
    }
}

impl Queryable for Db {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        _hints: SelectHints,
    ) -> Result<Vec<Series>, SelectError> {
        self.inner
            .select_inner(matchers, mint, maxt)
            .map_err(|e| SelectError::Storage(e.to_string()))
    }
}
