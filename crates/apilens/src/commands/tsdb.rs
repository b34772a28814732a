//! `apilens tsdb import|export|check`: move data between the embedded store and OpenMetrics
//! text, and verify a store.

use crate::shared::logging::init_logging;
use anyhow::{Context as _, bail};
use apilens_model::parse_duration;
use apilens_model::{Matcher, Queryable, SelectHints, Series};
use apilens_promql::{parse_series_selector, parse_time};
use apilens_textparse::Format;
use apilens_tsdb::{CheckReport, Db, DbOptions, check_store, import_file, write_openmetrics};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Backfill the store from OpenMetrics text, export it as OpenMetrics, or verify it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens tsdb check --data-dir data
  apilens tsdb import backfill.om --data-dir data
  apilens tsdb export --data-dir data --match 'apiserver_request_total' -o dump.om")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: TsdbCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TsdbCommand {
    /// Write the samples of an OpenMetrics file (timestamps in seconds, ending in `# EOF`, as
    /// `promtool tsdb create-blocks-from openmetrics` reads) into the store as blocks.
    #[command(after_help = "\
Examples:
  apilens tsdb import backfill.om --data-dir data
  apilens tsdb import scrape.txt --format prometheus --retention 30d --data-dir data")]
    Import {
        /// The file to read.
        file: PathBuf,
        /// The store directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// `openmetrics`: timestamps in seconds, the file ends with `# EOF` (as promtool reads
        /// it); `prometheus`: the text format 0.0.4, timestamps in milliseconds.
        #[arg(long, value_enum, default_value_t = ImportFormat::Openmetrics)]
        format: ImportFormat,
        /// The store's retention, applied right after the import (as `apilens serve
        /// --retention`): blocks that end this long before the newest sample are deleted, and
        /// the command says so.
        #[arg(long, default_value = "15d", value_parser = parse_duration)]
        retention: Duration,
    },
    /// Print stored samples as OpenMetrics text that `promtool tsdb create-blocks-from
    /// openmetrics` accepts. The store is opened read-only.
    #[command(after_help = "\
Examples:
  apilens tsdb export --data-dir data -o all.om
  apilens tsdb export --match 'apiserver_request_total{verb=\"LIST\"}' --start 2026-12-01T00:00:00Z")]
    Export {
        /// A series selector such as `apiserver_request_total{verb=~"LIST|GET"}`; repeat to
        /// export the union. Default: every series.
        #[arg(long = "match", value_name = "SELECTOR")]
        selectors: Vec<String>,
        /// Oldest sample time: RFC 3339 or Unix seconds. Default: the beginning.
        #[arg(long)]
        start: Option<String>,
        /// Newest sample time: RFC 3339 or Unix seconds. Default: the end.
        #[arg(long)]
        end: Option<String>,
        /// The store directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Write here instead of standard output.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Verify a whole store without changing it: every WAL record, every block's checksums,
    /// chunks and index; then a summary of series, samples, time range and cardinalities.
    /// Exit status 0 when nothing is damaged, 1 when damage was found, 2 on error.
    #[command(after_help = "\
Examples:
  apilens tsdb check --data-dir data
  apilens tsdb check --data-dir /var/lib/apilens && echo intact")]
    Check {
        /// The store directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
}

/// Runs `apilens tsdb`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    match args.command {
        TsdbCommand::Import {
            file,
            data_dir,
            format,
            retention,
        } => {
            let format = match format {
                ImportFormat::Prometheus => Format::PrometheusText,
                ImportFormat::Openmetrics => Format::OpenMetrics,
            };
            let db = Db::open(
                &data_dir,
                DbOptions {
                    retention,
                    ..DbOptions::default()
                },
            )
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            let stats = import_file(&db, &file, format)?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "imported {} series, {} samples into {} blocks in {}",
                stats.series,
                stats.samples,
                stats.blocks,
                data_dir.display()
            )?;
            if stats.duplicates > 0 {
                let (labels, t) = stats.first_duplicate.clone().unwrap_or_default();
                writeln!(
                    out,
                    "dropped {} duplicate samples ({} with a different value): a series repeated a timestamp and its first value was kept; the first was {labels} at {}",
                    stats.duplicates,
                    stats.conflicting_duplicates,
                    format_ms(t)
                )?;
            }
            if stats.retention_removed_blocks > 0 {
                writeln!(
                    out,
                    "retention deleted {} blocks ({} samples) right after the import: they end more than the retention ({}) before the newest sample in the store; pass --retention to keep them",
                    stats.retention_removed_blocks,
                    stats.retention_removed_samples,
                    humantime(retention)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        TsdbCommand::Export {
            selectors,
            start,
            end,
            data_dir,
            out,
        } => {
            let mint = start
                .as_deref()
                .map(|t| parse_time(t).context("--start"))
                .transpose()?
                .unwrap_or(i64::MIN);
            let maxt = end
                .as_deref()
                .map(|t| parse_time(t).context("--end"))
                .transpose()?
                .unwrap_or(i64::MAX);
            if mint > maxt {
                bail!("--start is after --end");
            }
            let mut sets = Vec::new();
            for s in &selectors {
                sets.push(parse_selector(s)?);
            }
            if sets.is_empty() {
                sets.push(Vec::new());
            }
            let db = Db::open_read_only(&data_dir)
                .with_context(|| format!("opening the store in {}", data_dir.display()))?;
            let mut found: BTreeMap<apilens_model::Labels, Series> = BTreeMap::new();
            for matchers in &sets {
                for s in db.select(matchers, mint, maxt, SelectHints::default())? {
                    found.entry(s.labels.clone()).or_insert(s);
                }
            }
            let series: Vec<Series> = found.into_values().collect();
            match out {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(f);
                    write_openmetrics(&series, &mut w)
                        .and_then(|()| w.flush())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    write_openmetrics(&series, &mut w).and_then(|()| w.flush())?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TsdbCommand::Check { data_dir } => {
            let report = check_store(&data_dir)
                .with_context(|| format!("checking the store in {}", data_dir.display()))?;
            let text = render_check(&report);
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            Ok(if report.damaged() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `--format` of `tsdb import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ImportFormat {
    /// Timestamps in seconds, the file ends with `# EOF`.
    Openmetrics,
    /// The text format 0.0.4, timestamps in milliseconds.
    Prometheus,
}

/// The matchers of one `--match` selector, parsed as the series API parses `match[]`.
fn parse_selector(selector: &str) -> anyhow::Result<Vec<Matcher>> {
    parse_series_selector(selector).with_context(|| format!("--match {selector:?}"))
}

fn format_ms(t: i64) -> String {
    jiff::Timestamp::from_millisecond(t).map_or_else(|_| format!("{t} ms"), |ts| ts.to_string())
}

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
fn render_check(r: &CheckReport) -> String {
    use std::fmt::Write as _;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_flags_read_selectors_and_times_as_the_http_api_does() {
        let m = parse_selector(r#"apiserver_request_total{verb=~"LIST|GET", code!="200",}"#)
            .expect("selector");
        let shown: Vec<String> = m.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"__name__="apiserver_request_total""#,
                r#"verb=~"LIST|GET""#,
                r#"code!="200""#,
            ]
        );
        for bad in [
            "up{job}",
            "up{job=\"a",
            "{job=\"\"}",
            "up x",
            "rate(up[5m])",
        ] {
            let message = format!("{:#}", parse_selector(bad).unwrap_err());
            assert!(
                message.starts_with(&format!("--match {bad:?}: ")),
                "{message}"
            );
        }
        assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000_500);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
    }
}
