//! Opening what is on disk despite damage: blocks that cannot be read are quarantined, WAL
//! records that cannot be read are skipped, and each is reported with the file, the offset and
//! what was lost.
//!
//! A writable open repairs: a torn final write is cut off, a damaged WAL segment is moved aside
//! as `wal/corrupt-<n>` and rewritten with its readable records, a damaged block is moved to
//! `quarantine/`. A read-only open changes nothing and only reports.

use crate::Error;
use crate::block::Block;
use crate::damage::{Damage, DamageAction, lost_words};
use crate::head::Head;
use crate::wal::{self, SegmentScan, sync_dir};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Directory of quarantined blocks, beside `blocks/`.
pub(crate) const QUARANTINE: &str = "quarantine";

/// Everything on disk, loaded: the blocks served, the head replayed from the WAL, what the
/// replay read, and the damage found.
pub(crate) type Loaded = (Vec<Arc<Block>>, Head, Replayed, Vec<Damage>);

/// Loads the blocks, then replays the WAL into a head that accepts only samples after the
/// blocks' WAL cut.
pub(crate) fn load(dir: &Path, block_ms: i64, writable: bool) -> Result<Loaded, Error> {
    let mut damage = Vec::new();
    let blocks = load_blocks(dir, writable, &mut damage)?;
    let min_valid = blocks
        .iter()
        .map(|b| b.meta.wal_cut)
        .max()
        .unwrap_or(i64::MIN);
    let mut head = Head::new(block_ms, min_valid);
    let replayed = replay_wal(&dir.join("wal"), &mut head, writable, &mut damage)?;
    Ok((blocks, head, replayed, damage))
}

/// Opens every block under `dir/blocks`, oldest first. A block that cannot be opened (redb
/// cannot read it, its meta fails its checksum, its format is unknown) is quarantined.
pub(crate) fn load_blocks(
    dir: &Path,
    writable: bool,
    damage: &mut Vec<Damage>,
) -> Result<Vec<Arc<Block>>, Error> {
    let blocks_dir = dir.join("blocks");
    let rd = match fs::read_dir(&blocks_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !writable => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::io(&blocks_dir, e)),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in rd {
        paths.push(entry.map_err(|e| Error::io(&blocks_dir, e))?.path());
    }
    paths.sort();
    let mut blocks = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tmp") {
            if writable {
                tracing::warn!(file = %path.display(), "removing a block left half-written");
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        } else if name.ends_with(".redb") {
            match Block::open(&path) {
                Ok(b) => blocks.push(Arc::new(b)),
                Err(e) => damage.push(quarantine(dir, &path, &e.to_string(), None, writable)?),
            }
        }
    }
    blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
    Ok(blocks)
}

/// Moves a damaged block under `quarantine/` (writable) or leaves it (read-only), logs a warning
/// and returns the damage.
pub(crate) fn quarantine(
    dir: &Path,
    path: &Path,
    why: &str,
    samples: Option<u64>,
    writable: bool,
) -> Result<Damage, Error> {
    let action = if writable {
        let qdir = dir.join(QUARANTINE);
        fs::create_dir_all(&qdir).map_err(|e| Error::io(&qdir, e))?;
        let dest = qdir.join(path.file_name().unwrap_or_default());
        fs::rename(path, &dest).map_err(|e| Error::io(path, e))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        sync_dir(&qdir)?;
        DamageAction::Quarantined(dest)
    } else {
        DamageAction::Skipped
    };
    let lost = match samples {
        Some(n) => format!("its {n} samples are not served"),
        None => "its samples are not served".to_string(),
    };
    let d = Damage {
        path: path.to_path_buf(),
        offset: None,
        detail: format!("block cannot be read ({why}); {lost}"),
        lost_records: None,
        lost_samples: samples,
        action,
        torn_write: false,
    };
    tracing::warn!("{d}");
    Ok(d)
}

/// What replaying the WAL gave.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Samples applied to the head.
    pub(crate) samples: usize,
    /// Newest sample time per segment, in order.
    pub(crate) segment_max_t: Vec<(u64, i64)>,
    /// The number after the newest segment.
    pub(crate) next_seq: u64,
    /// What each segment held, in order.
    pub(crate) segments: Vec<SegmentInfo>,
    /// Damaged segments kept aside (`wal/corrupt-*`).
    pub(crate) aside: Vec<PathBuf>,
}

/// One WAL segment as replay read it.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub(crate) path: PathBuf,
    /// Format (1 or 2; 0 for an empty or unreadable file).
    pub(crate) version: u8,
    pub(crate) records: usize,
    pub(crate) samples: u64,
    pub(crate) bytes: u64,
}

/// Replays every segment of `wal_dir` into `head`, segment by segment (only one segment's
/// records are held at a time). Damage never stops the replay: later segments are always
/// replayed.
pub(crate) fn replay_wal(
    wal_dir: &Path,
    head: &mut Head,
    writable: bool,
    damage: &mut Vec<Damage>,
) -> Result<Replayed, Error> {
    let listing = wal::list(wal_dir)?;
    for aside in &listing.aside {
        tracing::info!(file = %aside.display(), "a damaged WAL segment is kept aside; delete it once inspected");
    }
    let mut out = Replayed {
        next_seq: listing.segments.last().map_or(1, |s| s + 1),
        aside: listing.aside.clone(),
        ..Replayed::default()
    };
    let newest = listing.segments.last().copied();
    let mut ref_map: HashMap<u64, u64> = HashMap::new();
    // (number, format) of the segment read before, to find gaps.
    let mut previous: Option<(u64, u8)> = None;
    for &seq in &listing.segments {
        let path = wal::segment_path(wal_dir, seq);
        // Segments are deleted oldest first only, so a number missing between two segments
        // is a lost segment (format 1 logs, written before that rule, may have gaps).
        if let Some((prev, 2)) = previous {
            for missing in prev + 1..seq {
                damage.push(skipped(
                    wal::segment_path(wal_dir, missing),
                    format!(
                        "WAL segment is missing between {prev:08} and {seq:08}: its records are lost (deleted outside apilens?)"
                    ),
                    None,
                ));
            }
        }
        let scan = match wal::scan_segment(&path) {
            Ok(scan) => scan,
            Err(e) => {
                damage.push(skipped(
                    path.clone(),
                    format!("WAL segment cannot be read ({e}); its records are lost"),
                    None,
                ));
                previous = None;
                out.segments.push(SegmentInfo {
                    path,
                    version: 0,
                    records: 0,
                    samples: 0,
                    bytes: 0,
                });
                continue;
            }
        };
        let mut unknown_refs = 0u64;
        for record in &scan.records {
            for (r, labels) in &record.series {
                let actual = head.get_or_create(labels, Some(*r));
                ref_map.insert(*r, actual);
            }
            for (r, t, v) in &record.samples {
                match ref_map.get(r) {
                    Some(actual) => out.samples += usize::from(head.append(*actual, *t, *v)),
                    None => unknown_refs += 1,
                }
            }
        }
        previous = Some((seq, scan.version));
        out.segment_max_t.push((seq, scan.max_t));
        out.segments.push(SegmentInfo {
            path: path.clone(),
            version: scan.version,
            records: scan.records.len(),
            samples: scan.n_samples,
            bytes: scan.len,
        });
        report_segment(
            wal_dir,
            seq,
            &path,
            &scan,
            Some(seq) == newest,
            writable,
            damage,
        )?;
        if unknown_refs > 0 {
            damage.push(skipped(
                path.clone(),
                format!(
                    "{unknown_refs} samples belong to series declared only in an unreadable record and are lost"
                ),
                Some(unknown_refs),
            ));
        }
    }
    for s in head.series.values_mut() {
        s.logged = true;
    }
    Ok(out)
}

/// Damage that was left as it is, logged as a warning.
fn skipped(path: PathBuf, detail: String, lost_samples: Option<u64>) -> Damage {
    let d = Damage {
        path,
        offset: None,
        detail,
        lost_records: None,
        lost_samples,
        action: DamageAction::Skipped,
        torn_write: false,
    };
    tracing::warn!("{d}");
    d
}

/// Reports (and on a writable open, repairs) what a segment scan found.
fn report_segment(
    wal_dir: &Path,
    seq: u64,
    path: &Path,
    scan: &SegmentScan,
    newest: bool,
    writable: bool,
    damage: &mut Vec<Damage>,
) -> Result<(), Error> {
    if scan.bad.is_empty() {
        return Ok(());
    }
    // A write cut off at the end of the newest segment (a crash), or a segment whose header was
    // cut off (a full disk), was never acknowledged: nothing committed is lost.
    let torn_only = !scan.damaged();
    let action = if !writable {
        DamageAction::Skipped
    } else if torn_only {
        let at = scan.torn_at().unwrap_or(scan.len);
        wal::truncate_torn(path, at)?;
        DamageAction::Truncated
    } else {
        DamageAction::MovedAside(wal::rewrite_damaged(wal_dir, seq, &scan.records)?)
    };
    for b in &scan.bad {
        let never_acknowledged = b.torn && (newest || b.offset == 0);
        let detail = if never_acknowledged {
            format!(
                "{} ({} bytes): a write cut off by a crash or a full disk, never acknowledged",
                b.reason, b.bytes
            )
        } else {
            format!(
                "{} ({} bytes): {} lost; the {} readable records ({} samples) and every other segment are replayed",
                b.reason,
                b.bytes,
                lost_words(b.records, b.samples),
                scan.records.len(),
                scan.n_samples
            )
        };
        let d = Damage {
            path: path.to_path_buf(),
            offset: Some(b.offset),
            detail,
            lost_records: b.records,
            lost_samples: b.samples,
            action: action.clone(),
            torn_write: never_acknowledged,
        };
        tracing::warn!("{d}");
        damage.push(d);
    }
    Ok(())
}
