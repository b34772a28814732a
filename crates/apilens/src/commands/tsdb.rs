//! `apilens tsdb import|export|check`: move data between the embedded store and OpenMetrics
//! text, and verify a store.

use crate::shared::logging::init_logging;
use anyhow::{Context as _, bail};
use apilens_model::Matcher;
use apilens_model::parse_duration;
use apilens_promql::{parse_series_selector, parse_time};
use apilens_textparse::Format;
use apilens_tsdb::{
    Db, DbOptions, check_store, import_file, render_check, render_import, select_union,
    write_openmetrics,
};
use std::io::Write as _;
use std::path::PathBuf;
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
            out.write_all(render_import(&stats, &data_dir, retention).as_bytes())?;
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
            let series = select_union(&db, &sets, mint, maxt)?;
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
