//! `apilens tsdb import|export|check`: move data between the embedded store and OpenMetrics
//! text, and verify a store.

use crate::output::print_text;
use crate::shared::logging::init_logging;
use anyhow::Context as _;
use apilens_model::{Matcher, parse_duration};
use apilens_promql::{parse_series_selector, parse_time};
use apilens_textparse::Format;
use apilens_tsdb::{ExportSelection, check_store, export_store, import_into, render_check};
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
            let time = |t: Option<String>, flag: &str, default: i64| match t {
                Some(t) => parse_time(&t).context(flag.to_owned()),
                None => Ok(default),
            };
            let mut sets = selectors
                .iter()
                .map(|s| parse_selector(s))
                .collect::<Result<Vec<_>, _>>()?;
            if sets.is_empty() {
                sets.push(Vec::new());
            }
            let selection = ExportSelection {
                sets,
                mint: time(start, "--start", i64::MIN)?,
                maxt: time(end, "--end", i64::MAX)?,
            };
            let context = || format!("exporting the store in {}", data_dir.display());
            match out {
                Some(path) => {
                    let mut file = std::fs::File::create(&path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    export_store(&data_dir, &selection, &mut file, &path).with_context(context)?;
                }
                None => export_store(
                    &data_dir,
                    &selection,
                    &mut std::io::stdout().lock(),
                    Path::new("<stdout>"),
                )
                .with_context(context)?,
            }
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
