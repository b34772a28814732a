//! The store: WAL, head and blocks behind one handle.

use crate::Error;
use crate::block::{Block, BlockCursor, BlockMeta};
use crate::head::{Head, range_start};
use crate::index::{IndexReader, postings_for_matchers};
use crate::wal::{Record, Wal};
use apilens_model::{Labels, Matcher, Queryable, Sample, SelectError, SelectHints, Series};
use std::collections::{BTreeMap, HashMap};
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

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Series imported.
    pub series: usize,
    /// Samples imported (duplicates of a timestamp counted once).
    pub samples: usize,
    /// Blocks written.
    pub blocks: usize,
}

struct WalState {
    wal: Wal,
    /// Newest sample time of each segment.
    segment_max_t: Vec<(u64, i64)>,
}

/// The embedded store. `Send + Sync`: share it as `Arc<Db>`; every method takes `&self`.
///
/// Writes go through an [`Appender`]: one commit is one WAL record, synced to disk before the
/// samples become visible. Reads go through [`Queryable::select`], which resolves matchers through
/// the postings of the head and of every block overlapping the range.
pub struct Db {
    dir: PathBuf,
    opts: DbOptions,
    block_ms: i64,
    head: RwLock<Head>,
    blocks: RwLock<Vec<Arc<Block>>>,
    wal: Mutex<WalState>,
    compaction: Mutex<()>,
    _lock: fs::File,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .field("opts", &self.opts)
            .finish()
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Db {
    /// Opens (or creates) the store in `dir`: loads the blocks, replays the WAL into the head
    /// (truncating a torn or corrupt tail with a warning), then applies compaction and retention.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be used or another process has the store open,
    /// [`Error::Block`] or [`Error::Corrupt`] when a block cannot be read.
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
        lock_file.try_lock().map_err(|_| {
            Error::io(
                &lock_path,
                std::io::Error::other("the store is in use by another process"),
            )
        })?;
        let block_ms = ms(opts.block_duration).max(1);
        let mut blocks = Vec::new();
        for entry in fs::read_dir(&blocks_dir).map_err(|e| Error::io(&blocks_dir, e))? {
            let path = entry.map_err(|e| Error::io(&blocks_dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tmp") {
                tracing::warn!(file = %path.display(), "removing a block left half-written");
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            } else if name.ends_with(".redb") {
                blocks.push(Arc::new(Block::open(&path)?));
            }
        }
        blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
        let min_valid = blocks
            .iter()
            .map(|b| b.meta.wal_cut)
            .max()
            .unwrap_or(i64::MIN);
        let mut head = Head::new(block_ms, min_valid);
        let (mut wal, replay) = Wal::open(&dir.join("wal"), opts.wal_segment_bytes)?;
        let mut ref_map: HashMap<u64, u64> = HashMap::new();
        let mut n_samples = 0usize;
        for record in &replay.records {
            for (r, labels) in &record.series {
                let actual = head.get_or_create(labels, Some(*r));
                ref_map.insert(*r, actual);
            }
            for (r, t, v) in &record.samples {
                if let Some(actual) = ref_map.get(r) {
                    n_samples += usize::from(head.append(*actual, *t, *v));
                }
            }
        }
        for s in head.series.values_mut() {
            s.logged = true;
        }
        let snapshot = series_snapshot(&head);
        wal.log(&snapshot)?;
        let mut segment_max_t = replay.segment_max_t;
        segment_max_t.push((wal.current(), i64::MIN));
        tracing::debug!(
            dir = %dir.display(),
            blocks = blocks.len(),
            series = head.num_series(),
            samples = n_samples,
            "opened store"
        );
        let db = Db {
            dir: dir.to_path_buf(),
            opts,
            block_ms,
            head: RwLock::new(head),
            blocks: RwLock::new(blocks),
            wal: Mutex::new(WalState { wal, segment_max_t }),
            compaction: Mutex::new(()),
            _lock: lock_file,
        };
        db.compact()?;
        Ok(db)
    }

    /// A batch writer; nothing is visible or durable until [`Appender::commit`].
    pub fn appender(&self) -> Appender<'_> {
        Appender {
            db: self,
            new_series: Vec::new(),
            new_index: HashMap::new(),
            samples: Vec::new(),
        }
    }

    /// Persists head data older than the newest 1.5 block durations as blocks, merges closed
    /// block ranges and applies retention. Commits call it; calling it again is cheap.
    ///
    /// # Errors
    ///
    /// [`Error`] when a block cannot be written or a file cannot be removed.
    pub fn compact(&self) -> Result<(), Error> {
        let _guard = lock(&self.compaction);
        self.compact_head()?;
        self.compact_blocks()?;
        self.apply_retention()
    }

    /// Every label name in the store, sorted.
    ///
    /// # Errors
    ///
    /// [`Error`] when a block cannot be read.
    pub fn label_names(&self) -> Result<Vec<String>, Error> {
        let (mut names, blocks) = {
            let head = read(&self.head);
            (head.label_names(), read(&self.blocks).clone())
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
            let head = read(&self.head);
            (head.label_values(name)?, read(&self.blocks).clone())
        };
        for b in blocks {
            values.extend(b.label_values(name)?);
        }
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The metadata of every block, oldest first.
    pub fn blocks(&self) -> Vec<BlockMeta> {
        read(&self.blocks).iter().map(|b| b.meta).collect()
    }

    /// Current sizes.
    pub fn stats(&self) -> DbStats {
        let (head_series, head_chunk_bytes) = {
            let h = read(&self.head);
            (h.num_series(), h.chunk_bytes())
        };
        let blocks = read(&self.blocks);
        DbStats {
            head_series,
            head_chunk_bytes,
            blocks: blocks.len(),
            block_samples: blocks.iter().map(|b| b.meta.num_samples as u64).sum(),
            block_bytes: blocks.iter().map(|b| b.size).sum(),
            wal_bytes: lock(&self.wal).wal.disk_bytes(),
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the store. Every committed batch is already durable, so this only releases the
    /// directory lock; dropping the handle does the same.
    pub fn close(self) {}

    /// Writes series as blocks, one per block-duration range they cover, as Prometheus's
    /// backfill (`promtool tsdb create-blocks-from`) does; then compacts and applies retention.
    /// Samples are sorted and duplicate timestamps keep the first value.
    ///
    /// # Errors
    ///
    /// [`Error`] when a block cannot be written.
    pub fn import(&self, series: BTreeMap<Labels, Vec<Sample>>) -> Result<ImportStats, Error> {
        let mut stats = ImportStats::default();
        let mut ranges: BTreeMap<i64, Vec<(Labels, Vec<Sample>)>> = BTreeMap::new();
        for (labels, mut samples) in series {
            samples.sort_by_key(|s| s.t);
            samples.dedup_by_key(|s| s.t);
            if samples.is_empty() {
                continue;
            }
            stats.series += 1;
            stats.samples += samples.len();
            let mut start = 0;
            while start < samples.len() {
                let r = range_start(samples[start].t, self.block_ms);
                let end = start + samples[start..].partition_point(|s| s.t < r + self.block_ms);
                ranges
                    .entry(r)
                    .or_default()
                    .push((labels.clone(), samples[start..end].to_vec()));
                start = end;
            }
        }
        let _guard = lock(&self.compaction);
        for (start, series) in ranges {
            let block = Block::write(
                &self.dir.join("blocks"),
                start,
                start + self.block_ms,
                i64::MIN,
                1,
                series.into_iter().map(Ok),
            )?;
            let mut blocks = write(&self.blocks);
            blocks.push(Arc::new(block));
            blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
            stats.blocks += 1;
        }
        self.compact_blocks()?;
        self.apply_retention()?;
        Ok(stats)
    }

    fn compact_head(&self) -> Result<(), Error> {
        loop {
            let Some((mint, maxt)) = read(&self.head).time_range() else {
                return Ok(());
            };
            // Prometheus's rule (`Head.compactable`): keep half a block of slack for late scrapes.
            if maxt - mint <= self.block_ms / 2 * 3 {
                return Ok(());
            }
            let start = range_start(mint, self.block_ms);
            let end = start + self.block_ms;
            let mut order: Vec<(Arc<Labels>, u64)> = {
                let head = read(&self.head);
                head.series
                    .iter()
                    .map(|(r, s)| (s.labels.clone(), *r))
                    .collect()
            };
            order.sort();
            let head = &self.head;
            let series = order.into_iter().filter_map(move |(labels, r)| {
                match read(head).read(&[r], start, end - 1) {
                    Ok(mut v) => v.pop().map(|(_, samples)| Ok(((*labels).clone(), samples))),
                    Err(e) => Some(Err(e)),
                }
            });
            let block = Block::write(&self.dir.join("blocks"), start, end, end, 1, series)?;
            tracing::debug!(block = %block.path.display(), samples = block.meta.num_samples, "persisted head block");
            let mut wal = lock(&self.wal);
            let snapshot = {
                let mut head = write(&self.head);
                let mut blocks = write(&self.blocks);
                blocks.push(Arc::new(block));
                blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
                head.truncate(end);
                series_snapshot(&head)
            };
            let seq = wal.wal.roll(&snapshot)?;
            wal.segment_max_t.push((seq, i64::MIN));
            let gone: Vec<u64> = wal
                .segment_max_t
                .iter()
                .filter(|(s, t)| *s != seq && *t < end)
                .map(|(s, _)| *s)
                .collect();
            for s in &gone {
                wal.wal.remove_segment(*s)?;
            }
            wal.segment_max_t.retain(|(s, _)| !gone.contains(s));
        }
    }

    fn ranges(&self) -> Vec<i64> {
        let max = self
            .opts
            .max_block_duration
            .map(ms)
            .unwrap_or_else(|| (ms(self.opts.retention) / 10).min(31 * 24 * 3_600_000))
            .max(self.block_ms);
        let mut out = Vec::new();
        let mut r = self.block_ms.saturating_mul(3);
        while r <= max {
            out.push(r);
            r = r.saturating_mul(3);
        }
        out
    }

    /// Merges blocks that share a closed range of the next compaction level (or overlap), as
    /// Prometheus's leveled compactor does with ranges of 3× the block duration per level.
    fn compact_blocks(&self) -> Result<(), Error> {
        'again: loop {
            let blocks = read(&self.blocks).clone();
            let newest = blocks.iter().map(|b| b.meta.maxt).max().unwrap_or(i64::MIN);
            for r in self.ranges() {
                let mut groups: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
                for b in &blocks {
                    let start = range_start(b.meta.mint, r);
                    if b.meta.maxt <= start + r {
                        groups.entry(start).or_default().push(b.clone());
                    }
                }
                for (start, group) in groups {
                    if group.len() < 2 || start + r > newest {
                        continue;
                    }
                    self.merge(&group)?;
                    continue 'again;
                }
            }
            return Ok(());
        }
    }

    fn merge(&self, group: &[Arc<Block>]) -> Result<(), Error> {
        let mut cursors = group
            .iter()
            .map(|b| BlockCursor::new(b))
            .collect::<Result<Vec<_>, _>>()?;
        let mut heads: Vec<Option<(Labels, Vec<Sample>)>> = cursors
            .iter_mut()
            .map(BlockCursor::next_series)
            .collect::<Result<_, _>>()?;
        let mut failed: Option<Error> = None;
        let series = std::iter::from_fn(|| {
            let min = heads.iter().flatten().map(|(l, _)| l).min()?.clone();
            let mut samples = Vec::new();
            let mut n_sources = 0;
            for (i, slot) in heads.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|(l, _)| *l == min) {
                    let (_, s) = slot.take()?;
                    samples.extend(s);
                    n_sources += 1;
                    match cursors[i].next_series() {
                        Ok(next) => *slot = next,
                        Err(e) => {
                            failed = Some(e);
                            return None;
                        }
                    }
                }
            }
            if n_sources > 1 {
                samples.sort_by_key(|s| s.t);
                samples.dedup_by_key(|s| s.t);
            }
            Some(Ok((min, samples)))
        });
        let mint = group.iter().map(|b| b.meta.mint).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta.maxt).max().unwrap_or(0);
        let wal_cut = group
            .iter()
            .map(|b| b.meta.wal_cut)
            .max()
            .unwrap_or(i64::MIN);
        let level = group.iter().map(|b| b.meta.level).max().unwrap_or(1) + 1;
        let merged = Block::write(&self.dir.join("blocks"), mint, maxt, wal_cut, level, series)?;
        if let Some(e) = failed {
            let _ = fs::remove_file(&merged.path);
            return Err(e);
        }
        tracing::debug!(block = %merged.path.display(), sources = group.len(), "compacted blocks");
        {
            let mut blocks = write(&self.blocks);
            blocks.retain(|b| !group.iter().any(|g| Arc::ptr_eq(b, g)));
            blocks.push(Arc::new(merged));
            blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
        }
        for b in group {
            fs::remove_file(&b.path).map_err(|e| Error::io(&b.path, e))?;
        }
        Ok(())
    }

    fn apply_retention(&self) -> Result<(), Error> {
        let head_max = read(&self.head).time_range().map_or(i64::MIN, |r| r.1);
        let mut removed = Vec::new();
        {
            let mut blocks = write(&self.blocks);
            let newest = blocks
                .iter()
                .map(|b| b.meta.maxt - 1)
                .fold(head_max, i64::max);
            let cutoff = newest.saturating_sub(ms(self.opts.retention));
            blocks.retain(|b| {
                let keep = b.meta.maxt > cutoff;
                if !keep {
                    removed.push(b.clone());
                }
                keep
            });
            if let Some(max) = self.opts.max_bytes {
                let wal_bytes = lock(&self.wal).wal.disk_bytes();
                let mut total: u64 = blocks.iter().map(|b| b.size).sum::<u64>() + wal_bytes;
                while total > max && !blocks.is_empty() {
                    let b = blocks.remove(0);
                    total -= b.size;
                    removed.push(b);
                }
            }
        }
        for b in removed {
            tracing::info!(block = %b.path.display(), mint = b.meta.mint, maxt = b.meta.maxt, "retention removed block");
            fs::remove_file(&b.path).map_err(|e| Error::io(&b.path, e))?;
        }
        Ok(())
    }

    fn select_inner(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, Error> {
        // Per series: its samples and whether sources overlapped in time (then they need a
        // sort and a dedup). Blocks are sorted by time and older than the head, so a source usually
        // goes wholly before or after what is there.
        let mut out: BTreeMap<Labels, (Vec<Sample>, bool)> = BTreeMap::new();
        // The head first: on a duplicate timestamp the first source read wins.
        let blocks = {
            let head = read(&self.head);
            let refs = postings_for_matchers(&*head, matchers)?;
            for (labels, samples) in head.read(&refs, mint, maxt)? {
                add_samples(&mut out, (*labels).clone(), samples);
            }
            read(&self.blocks).clone()
        };
        for b in blocks
            .iter()
            .filter(|b| b.meta.mint <= maxt && b.meta.maxt > mint)
        {
            let ids = postings_for_matchers(&**b, matchers)?;
            for (labels, samples) in b.read(&ids, mint, maxt)? {
                add_samples(&mut out, labels, samples);
            }
        }
        Ok(out
            .into_iter()
            .map(|(labels, (mut samples, overlap))| {
                if overlap {
                    samples.sort_by_key(|s| s.t);
                    samples.dedup_by_key(|s| s.t);
                }
                Series { labels, samples }
            })
            .collect())
    }
}

/// Adds one source's samples of a series to a select result, noting when they overlap the
/// samples already there.
fn add_samples(
    out: &mut BTreeMap<Labels, (Vec<Sample>, bool)>,
    labels: Labels,
    samples: Vec<Sample>,
) {
    match out.entry(labels) {
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert((samples, false));
        }
        std::collections::btree_map::Entry::Occupied(mut e) => {
            let (have, overlap) = e.get_mut();
            match (have.first(), have.last(), samples.first(), samples.last()) {
                (Some(hf), _, _, Some(nl)) if nl.t < hf.t => {
                    let mut joined = samples;
                    joined.append(have);
                    *have = joined;
                }
                (_, Some(hl), Some(nf), _) if nf.t > hl.t => have.extend(samples),
                _ => {
                    *overlap |= !samples.is_empty() && !have.is_empty();
                    have.extend(samples);
                }
            }
        }
    }
}

fn series_snapshot(head: &Head) -> Record {
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
        self.select_inner(matchers, mint, maxt)
            .map_err(|e| SelectError::Storage(e.to_string()))
    }
}

enum Key {
    Ref(u64),
    New(usize),
}

/// Collects one batch of samples (one scrape) and commits it atomically.
#[derive(Debug)]
pub struct Appender<'a> {
    db: &'a Db,
    new_series: Vec<Labels>,
    new_index: HashMap<Labels, usize>,
    samples: Vec<(Key, i64, f64)>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Ref(r) => write!(f, "ref {r}"),
            Key::New(i) => write!(f, "new {i}"),
        }
    }
}

impl Appender<'_> {
    /// Adds a sample to the batch.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyLabels`] for an empty label set, [`Error::OutOfBounds`] when `t_ms` falls
    /// before the head's range (that time is already persisted in a block),
    /// [`Error::OutOfOrder`] when the series already has a newer sample or a different value at
    /// the same time. Resending the newest sample with the same value is accepted and ignored,
    /// as in Prometheus.
    pub fn append(&mut self, labels: &Labels, t_ms: i64, v: f64) -> Result<(), Error> {
        if labels.is_empty() {
            return Err(Error::EmptyLabels { t_ms });
        }
        let head = read(&self.db.head);
        if t_ms < head.min_valid_t {
            return Err(Error::OutOfBounds {
                series: labels.to_string(),
                t_ms,
                min_valid_ms: head.min_valid_t,
            });
        }
        if let Some(r) = head.get_ref(labels) {
            if let Some(s) = head.series.get(&r) {
                if t_ms < s.max_t || (t_ms == s.max_t && v.to_bits() != s.last_v) {
                    return Err(Error::OutOfOrder {
                        series: labels.to_string(),
                        t_ms,
                        last_ms: s.max_t,
                    });
                }
                if t_ms == s.max_t {
                    return Ok(());
                }
            }
            self.samples.push((Key::Ref(r), t_ms, v));
            return Ok(());
        }
        drop(head);
        let idx = match self.new_index.get(labels) {
            Some(i) => *i,
            None => {
                self.new_series.push(labels.clone());
                self.new_index
                    .insert(labels.clone(), self.new_series.len() - 1);
                self.new_series.len() - 1
            }
        };
        self.samples.push((Key::New(idx), t_ms, v));
        Ok(())
    }

    /// Number of samples in the batch.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Writes the batch as one WAL record, syncs it to disk, then makes the samples visible.
    /// Samples that another commit overtook in the meantime (not newer than their series' last
    /// sample) are dropped, identically on WAL replay. When the head spans more than 1.5 block
    /// durations, the commit that notices persists the oldest block range and applies retention
    /// before returning (unless another commit is already doing so): call it from a blocking
    /// context (`tokio::task::spawn_blocking`) in async code.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the WAL cannot be written; the batch is then not applied.
    pub fn commit(self) -> Result<(), Error> {
        if self.samples.is_empty() {
            return Ok(());
        }
        let db = self.db;
        {
            let mut wal = lock(&db.wal);
            let mut record = Record::default();
            let new_refs: Vec<u64> = {
                let mut head = write(&db.head);
                let new_refs: Vec<u64> = self
                    .new_series
                    .iter()
                    .map(|l| head.get_or_create(l, None))
                    .collect();
                let mut declared = std::collections::HashSet::new();
                record.samples.reserve(self.samples.len());
                for (key, t, v) in &self.samples {
                    let r = match key {
                        Key::Ref(r) => *r,
                        Key::New(i) => new_refs[*i],
                    };
                    if let Some(s) = head.series.get(&r)
                        && !s.logged
                        && declared.insert(r)
                    {
                        record.series.push((r, (*s.labels).clone()));
                    }
                    record.samples.push((r, *t, *v));
                }
                new_refs
            };
            let _ = new_refs;
            wal.wal.log(&record)?;
            let max_t = record.samples.iter().map(|s| s.1).max().unwrap_or(i64::MIN);
            if let Some(last) = wal.segment_max_t.last_mut() {
                last.1 = last.1.max(max_t);
            }
            {
                let mut head = write(&db.head);
                for (r, _) in &record.series {
                    if let Some(s) = head.series.get_mut(r) {
                        s.logged = true;
                    }
                }
                for (r, t, v) in &record.samples {
                    head.append(*r, *t, *v);
                }
            }
            if wal.wal.needs_roll() {
                let snapshot = series_snapshot(&read(&db.head));
                let seq = wal.wal.roll(&snapshot)?;
                wal.segment_max_t.push((seq, i64::MIN));
            }
        }
        let due = {
            let head = read(&db.head);
            head.time_range()
                .is_some_and(|(mint, maxt)| maxt - mint > db.block_ms / 2 * 3)
        };
        // One compaction at a time; commits that find one running go on without waiting.
        if due && let Ok(_guard) = db.compaction.try_lock() {
            db.compact_head()?;
            db.compact_blocks()?;
            db.apply_retention()?;
        }
        Ok(())
    }
}
