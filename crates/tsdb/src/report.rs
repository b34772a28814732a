//! What `apilens tsdb` prints: the check of a store ([`render_check`]), what an import did
//! ([`render_import`]), and the series an export writes ([`select_union`]).

use crate::{CheckReport, ImportStats};
use apilens_model::{Labels, Matcher, Queryable, SelectError, SelectHints, Series};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// What an import into the store in `dir` did, in lines: the counts, the duplicates dropped
/// and the blocks that `retention` deleted right after.
pub fn render_import(stats: &ImportStats, dir: &Path, retention: Duration) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "imported {} series, {} samples into {} blocks in {}",
        stats.series,
        stats.samples,
        stats.blocks,
        dir.display()
    );
    if stats.duplicates > 0 {
        let (labels, t) = stats.first_duplicate.clone().unwrap_or_default();
        let _ = writeln!(
            o,
            "dropped {} duplicate samples ({} with a different value): a series repeated a timestamp and its first value was kept; the first was {labels} at {}",
            stats.duplicates,
            stats.conflicting_duplicates,
            format_ms(t)
        );
    }
    if stats.retention_removed_blocks > 0 {
        let _ = writeln!(
            o,
            "retention deleted {} blocks ({} samples) right after the import: they end more than the retention ({}) before the newest sample in the store; pass --retention to keep them",
            stats.retention_removed_blocks,
            stats.retention_removed_samples,
            humantime(retention)
        );
    }
    o
}

/// The series of `store` that any of the matcher `sets` selects in `[mint, maxt]`, each once,
/// ordered by labels (the union of `--match` selectors).
///
/// # Errors
///
/// The first select that fails.
pub fn select_union(
    store: &dyn Queryable,
    sets: &[Vec<Matcher>],
    mint: i64,
    maxt: i64,
) -> Result<Vec<Series>, SelectError> {
    let mut found: BTreeMap<Labels, Series> = BTreeMap::new();
    for matchers in sets {
        for s in store.select(matchers, mint, maxt, SelectHints::default())? {
            found.entry(s.labels.clone()).or_insert(s);
        }
    }
    Ok(found.into_values().collect())
}

/// A time in milliseconds as RFC 3339, or the number when it is out of range.
fn format_ms(t: i64) -> String {
    jiff::Timestamp::from_millisecond(t).map_or_else(|_| format!("{t} ms"), |ts| ts.to_string())
}

/// A duration in whole days, hours or seconds (`15d`, `6h`, `90s`).
fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3_600) {
        format!("{}h", s / 3_600)
    } else {
        format!("{s}s")
    }
}

/// A path shown relative to the store directory.
fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).display().to_string()
}

/// The `tsdb check` report: one line per WAL segment and block, the damage under it, then a
/// summary as `promtool tsdb analyze` prints one.
pub fn render_check(r: &CheckReport) -> String {
    let mut o = String::new();
    let dir = &r.dir;
    let _ = writeln!(o, "store {}", dir.display());
    let _ = writeln!(o, "\nWAL ({} segments)", r.segments.len());
    for s in &r.segments {
        let damaged = s.damage.iter().any(|d| !d.torn_write);
        let verdict = if damaged {
            "DAMAGED"
        } else if s.damage.is_empty() {
            "ok"
        } else {
            "ok (a torn final write, never acknowledged)"
        };
        let _ = writeln!(
            o,
            "  {}  format {}  {} records  {} samples  {} bytes  {verdict}",
            rel(dir, &s.path),
            s.version,
            s.records,
            s.samples,
            s.bytes
        );
        for d in &s.damage {
            match d.offset {
                Some(off) => {
                    let _ = writeln!(o, "    at offset {off}: {}", d.detail);
                }
                None => {
                    let _ = writeln!(o, "    {}", d.detail);
                }
            }
        }
    }
    for d in &r.missing {
        let _ = writeln!(o, "  {}  MISSING: {}", rel(dir, &d.path), d.detail);
    }
    for p in &r.wal_aside {
        let _ = writeln!(
            o,
            "  {}  DAMAGED: a damaged segment moved aside earlier (its readable records were kept); delete it once inspected",
            rel(dir, p)
        );
    }
    let _ = writeln!(o, "\nBlocks ({})", r.blocks.len());
    for b in &r.blocks {
        let verdict = if b.n_problems > 0 || b.meta.is_none() {
            format!("DAMAGED ({} problems)", b.n_problems)
        } else {
            "ok".to_string()
        };
        match &b.meta {
            Some(m) => {
                let checks = if m.has_checksums() {
                    "checksums verified"
                } else {
                    "no checksums: an older format, decoded and cross-checked only"
                };
                let _ = writeln!(
                    o,
                    "  {}  format {} ({checks})  {} .. {}  level {}  {} series  {} samples  {} symbols  {} postings  {verdict}",
                    rel(dir, &b.path),
                    m.version,
                    format_ms(m.mint),
                    format_ms(m.maxt),
                    m.level,
                    b.series,
                    b.samples,
                    b.symbols,
                    b.postings
                );
            }
            None => {
                let _ = writeln!(o, "  {}  {verdict}", rel(dir, &b.path));
            }
        }
        for p in &b.problems {
            let _ = writeln!(o, "    {p}");
        }
        if b.n_problems > b.problems.len() {
            let _ = writeln!(o, "    … and {} more", b.n_problems - b.problems.len());
        }
    }
    for p in &r.quarantined {
        let _ = writeln!(
            o,
            "  {}  DAMAGED: quarantined earlier and not served; inspect it, then delete it",
            rel(dir, p)
        );
    }
    let s = &r.summary;
    let _ = writeln!(o, "\nSummary");
    let _ = writeln!(
        o,
        "  series: {} ({} in the head)\n  samples: {} ({} in the head)",
        s.series, s.head_series, s.samples, s.head_samples
    );
    if let Some((a, b)) = s.time_range {
        let _ = writeln!(
            o,
            "  time range: {} .. {} ({})",
            format_ms(a),
            format_ms(b),
            humantime(Duration::from_millis((b - a).max(0) as u64 / 1000 * 1000))
        );
    }
    let _ = writeln!(
        o,
        "  label names: {}\n  label pairs: {}",
        s.label_names, s.label_pairs
    );
    let _ = writeln!(o, "\nHighest cardinality labels:");
    for (n, c) in &s.highest_cardinality_labels {
        let _ = writeln!(o, "  {c} {n}");
    }
    let _ = writeln!(o, "\nHighest cardinality metric names:");
    for (n, c) in &s.highest_cardinality_metrics {
        let _ = writeln!(o, "  {c} {n}");
    }
    let _ = writeln!(o, "\nBiggest metrics (samples):");
    for (n, c) in &s.biggest_metrics {
        let _ = writeln!(o, "  {c} {n}");
    }
    let _ = writeln!(
        o,
        "\n{}",
        if r.damaged() {
            "result: DAMAGE FOUND (exit status 1)"
        } else {
            "result: ok"
        }
    );
    o
}
