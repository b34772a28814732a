//! Verifying a whole store without changing it, for `apilens tsdb check`: every WAL record,
//! every block value and checksum, plus a summary in the manner of `promtool tsdb analyze`.

use crate::Error;
use crate::block::{Block, BlockMeta};
use crate::damage::Damage;
use crate::db::{DbOptions, lock_shared, ms};
use crate::index::IndexReader;
use crate::recover::{self, QUARANTINE, SegmentInfo};
use apilens_model::Labels;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// How many entries each top list of the summary keeps.
const TOP: usize = 10;

/// What [`check_store`] found in one WAL segment.
#[derive(Debug, Clone)]
pub struct SegmentCheck {
    /// The segment file.
    pub path: PathBuf,
    /// Its format: 2 (header checksums), 1 (older), 0 when empty or unreadable.
    pub version: u8,
    /// Records that read back.
    pub records: usize,
    /// Samples in those records.
    pub samples: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Damage in the segment (torn final writes included, marked as such).
    pub damage: Vec<Damage>,
}

/// What [`check_store`] found in one block.
#[derive(Debug, Clone)]
pub struct BlockCheck {
    /// The block file.
    pub path: PathBuf,
    /// Its metadata, when it could be read.
    pub meta: Option<BlockMeta>,
    /// Problems found, the first 20 in full.
    pub problems: Vec<String>,
    /// Number of problems found.
    pub n_problems: usize,
    /// Series whose chunks read back.
    pub series: usize,
    /// Samples that read back.
    pub samples: u64,
    /// Symbols in the block.
    pub symbols: usize,
    /// Postings lists in the block.
    pub postings: usize,
}

/// Figures over everything readable, as `promtool tsdb analyze` prints them.
#[derive(Debug, Clone, Default)]
pub struct CheckSummary {
    /// Distinct series, head and blocks together.
    pub series: usize,
    /// Samples stored, head and blocks together.
    pub samples: u64,
    /// Series and samples in the head (replayed from the WAL).
    pub head_series: usize,
    /// Samples in the head.
    pub head_samples: u64,
    /// Oldest and newest sample time, milliseconds.
    pub time_range: Option<(i64, i64)>,
    /// Distinct label names.
    pub label_names: usize,
    /// Distinct label pairs.
    pub label_pairs: usize,
    /// Label names with the most values, most first: (name, values).
    pub highest_cardinality_labels: Vec<(String, usize)>,
    /// Metric names with the most series, most first: (name, series).
    pub highest_cardinality_metrics: Vec<(String, usize)>,
    /// Metric names with the most samples, most first: (name, samples).
    pub biggest_metrics: Vec<(String, u64)>,
}

/// Everything [`check_store`] found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// The store directory.
    pub dir: PathBuf,
    /// Every WAL segment, in order.
    pub segments: Vec<SegmentCheck>,
    /// Damaged WAL segments moved aside earlier (`wal/corrupt-*`).
    pub wal_aside: Vec<PathBuf>,
    /// Damage that belongs to no file on disk (a WAL segment missing from the sequence).
    pub missing: Vec<Damage>,
    /// Every block file, oldest first.
    pub blocks: Vec<BlockCheck>,
    /// Blocks moved to `quarantine/` earlier.
    pub quarantined: Vec<PathBuf>,
    /// Figures over everything readable.
    pub summary: CheckSummary,
}

impl CheckReport {
    /// Whether anything is damaged or was set aside as damaged (a torn final write, which lost
    /// nothing acknowledged, is not damage).
    pub fn damaged(&self) -> bool {
        !self.wal_aside.is_empty()
            || !self.missing.is_empty()
            || !self.quarantined.is_empty()
            || self
                .segments
                .iter()
                .any(|s| s.damage.iter().any(|d| !d.torn_write))
            || self
                .blocks
                .iter()
                .any(|b| b.n_problems > 0 || b.meta.is_none())
    }
}

/// Verifies the store in `dir` read-only: reads every WAL record and every block value
/// (checksums, chunk decoding, postings against series, counts against the meta). Nothing on
/// disk changes, whatever is found.
///
/// # Errors
///
/// [`Error::Io`] when `dir` is not a store that can be read, or a writer holds it. Damage is
/// not an error: it is in the report.
pub fn check_store(dir: &Path) -> Result<CheckReport, Error> {
    let _lock = lock_shared(dir)?;
    let mut report = CheckReport {
        dir: dir.to_path_buf(),
        ..CheckReport::default()
    };
    let block_ms = ms(DbOptions::default().block_duration);
    let (blocks, head, replayed, damage) = recover::load(dir, block_ms, false)?;
    report.wal_aside = replayed.aside;
    for SegmentInfo {
        path,
        version,
        records,
        samples,
        bytes,
    } in replayed.segments
    {
        let seg_damage = damage.iter().filter(|d| d.path == path).cloned().collect();
        report.segments.push(SegmentCheck {
            path,
            version,
            records,
            samples,
            bytes,
            damage: seg_damage,
        });
    }
    report.missing = damage
        .iter()
        .filter(|d| !d.path.exists())
        .cloned()
        .collect();
    // Blocks that could not be opened.
    let mut checks: Vec<BlockCheck> = damage
        .iter()
        .filter(|d| d.path.extension().is_some_and(|e| e == "redb"))
        .map(|d| BlockCheck {
            path: d.path.clone(),
            meta: None,
            problems: vec![d.detail.clone()],
            n_problems: 1,
            series: 0,
            samples: 0,
            symbols: 0,
            postings: 0,
        })
        .collect();
    let mut stats = SeriesStats::default();
    for b in &blocks {
        checks.push(check_block(b, &mut stats));
    }
    checks.sort_by(|a, b| a.path.cmp(&b.path));
    report.blocks = checks;
    if let Ok(rd) = std::fs::read_dir(dir.join(QUARANTINE)) {
        report.quarantined = rd.filter_map(|e| Some(e.ok()?.path())).collect();
        report.quarantined.sort();
    }
    let refs = head.all_postings()?;
    for (labels, samples) in head.read(&refs, i64::MIN, i64::MAX)? {
        report.summary.head_series += 1;
        report.summary.head_samples += samples.len() as u64;
        if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
            stats.add(&labels, samples.len() as u64, (f.t, l.t));
        }
    }
    report.summary = stats.summary(report.summary);
    Ok(report)
}

fn check_block(b: &Block, stats: &mut SeriesStats) -> BlockCheck {
    let v = b.verify();
    for (labels, n) in &v.series {
        // The time range of the block's samples stands in for each series' own.
        stats.add(
            labels,
            *n,
            v.time_range.unwrap_or((b.meta.mint, b.meta.maxt - 1)),
        );
    }
    BlockCheck {
        path: b.path.clone(),
        meta: Some(b.meta),
        problems: v.problems,
        n_problems: v.n_problems,
        series: v.series.len(),
        samples: v.samples,
        symbols: v.symbols,
        postings: v.postings,
    }
}

/// Per-series figures gathered over blocks and head.
#[derive(Default)]
struct SeriesStats {
    series: HashMap<Labels, u64>,
    time_range: Option<(i64, i64)>,
}

impl SeriesStats {
    fn add(&mut self, labels: &Labels, samples: u64, range: (i64, i64)) {
        *self.series.entry(labels.clone()).or_default() += samples;
        self.time_range = Some(
            self.time_range
                .map_or(range, |(a, b)| (a.min(range.0), b.max(range.1))),
        );
    }

    fn summary(self, mut out: CheckSummary) -> CheckSummary {
        let mut values: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        let mut metrics: HashMap<&str, (usize, u64)> = HashMap::new();
        for (labels, n) in &self.series {
            out.samples += n;
            for l in labels.iter() {
                values.entry(&l.name).or_default().insert(&l.value);
            }
            let m = metrics
                .entry(labels.metric_name().unwrap_or(""))
                .or_default();
            m.0 += 1;
            m.1 += n;
        }
        out.series = self.series.len();
        out.time_range = self.time_range;
        out.label_names = values.len();
        out.label_pairs = values.values().map(|v| v.len()).sum();
        let mut labels: Vec<(String, usize)> = values
            .iter()
            .map(|(n, v)| (n.to_string(), v.len()))
            .collect();
        labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        labels.truncate(TOP);
        out.highest_cardinality_labels = labels;
        let mut by_series: Vec<(String, usize)> = metrics
            .iter()
            .map(|(n, (s, _))| (n.to_string(), *s))
            .collect();
        by_series.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        by_series.truncate(TOP);
        out.highest_cardinality_metrics = by_series;
        let mut by_samples: Vec<(String, u64)> = metrics
            .iter()
            .map(|(n, (_, s))| (n.to_string(), *s))
            .collect();
        by_samples.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        by_samples.truncate(TOP);
        out.biggest_metrics = by_samples;
        out
    }
}
