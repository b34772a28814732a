//! `apilens tsdb import|export|check`: move data between the embedded store and OpenMetrics
//! text, and verify a store.

use crate::output::{create_output, print_text};
use crate::shared::logging::init_logging;
use anyhow::Context as _;
use apilens_model::parse_duration;
use apilens_promql::{parse_series_selector, parse_time};
use apilens_textparse::Format;
use apilens_tsdb::{ExportSelection, check_store, export_store, import_into, render_check};
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
            let text = import_into(&data_dir, &file, format, retention).with_context(|| {
                format!("importing {} into {}", file.display(), data_dir.display())
            })?;
            print_text(&text)?;
        }
        TsdbCommand::Export {
            selectors,
            start,
            end,
            data_dir,
            out,
        } => {
            let time = |t: Option<String>, flag: &str| {
                t.map(|t| parse_time(&t).context(flag.to_owned()))
                    .transpose()
            };
            let selection = ExportSelection {
                sets: selectors
                    .iter()
                    .map(|s| parse_series_selector(s).with_context(|| format!("--match {s:?}")))
                    .collect::<Result<_, _>>()?,
                mint: time(start, "--start")?.unwrap_or(i64::MIN),
                maxt: time(end, "--end")?.unwrap_or(i64::MAX),
            };
            let (mut w, name) = create_output(out.as_deref())?;
            export_store(&data_dir, &selection, &mut w, &name)
                .with_context(|| format!("exporting the store in {}", data_dir.display()))?;
        }
        TsdbCommand::Check { data_dir } => {
            let report = check_store(&data_dir)
                .with_context(|| format!("checking the store in {}", data_dir.display()))?;
            print_text(&render_check(&report))?;
            if report.damaged() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--format` of `tsdb import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ImportFormat {
    /// Timestamps in seconds, the file ends with `# EOF`.
    Openmetrics,
    /// The text format 0.0.4, timestamps in milliseconds.
    Prometheus,
}
