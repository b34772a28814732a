//! `apilens query`: run one PromQL query against the embedded store or a remote engine.

use crate::output::print_text;
use crate::shared::remote::RemoteArgs;
use crate::shared::store::reading_engine;
use anyhow::Context as _;
use apilens_model::now_ms;
use apilens_promapi::{PrintAs, QueryRequest, query_once};
use apilens_promql::{EngineOpts, parse_duration, parse_time};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Run a PromQL query: an instant query at `--time` (default now), or a range query with
/// `--start`, `--end` and `--step`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens query 'sum by (verb) (rate(apiserver_request_total[5m]))'
  apilens query --start 2026-12-01T10:00:00Z --end 2026-12-01T11:00:00Z --step 1m 'up'
  apilens query --prometheus http://prometheus:9090 --format json 'up'")]
pub(crate) struct Args {
    /// The PromQL expression.
    query: String,
    /// Evaluation time of an instant query: RFC 3339 or Unix seconds. Default: now.
    #[arg(long, conflicts_with_all = ["start", "end"])]
    time: Option<String>,
    /// Start of a range query: RFC 3339 or Unix seconds.
    #[arg(long, requires_all = ["end", "step"])]
    start: Option<String>,
    /// End of a range query: RFC 3339 or Unix seconds.
    #[arg(long, requires_all = ["start", "step"])]
    end: Option<String>,
    /// Step of a range query: a duration such as `30s` or seconds.
    #[arg(long, requires_all = ["start", "end"])]
    step: Option<String>,
    /// The embedded store directory to read.
    #[arg(long, default_value = "data", conflicts_with = "prometheus")]
    data_dir: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Output: `json` is exactly the Prometheus API response body; `table` is one line per
    /// sample.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    format: QueryFormat,
    /// Query timeout.
    #[arg(long, default_value = "2m")]
    timeout: String,
}

/// `--format` of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum QueryFormat {
    /// Exactly the Prometheus API response body.
    Json,
    /// One line per sample.
    Table,
}

/// Runs the query; exit code 0 on success, errors become exit code 2 through `main`. An empty
/// result is a successful answer: standard error says that no series matched.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_millis(parse_duration(&args.timeout)?.max(1) as u64);
    let query = args.query.clone();
    let request = match (&args.start, &args.end, &args.step) {
        (Some(start), Some(end), Some(step)) => QueryRequest::Range {
            query,
            start: parse_time(start).context("--start")?,
            end: parse_time(end).context("--end")?,
            step: parse_duration(step).context("--step")?,
        },
        _ => QueryRequest::Instant {
            query,
            time: match &args.time {
                Some(t) => parse_time(t).context("--time")?,
                None => now_ms(),
            },
        },
    };
    let local = EngineOpts {
        timeout,
        ..EngineOpts::default()
    };
    let engine = reading_engine(&args.remote, timeout, (&args.data_dir, local), ("", ""))?;
    let as_ = match args.format {
        QueryFormat::Json => PrintAs::Json,
        QueryFormat::Table => PrintAs::Table,
    };
    let printed = query_once(engine.as_ref(), &request, as_);
    let printed = match printed {
        Err(e) if args.remote.prometheus.is_none() && args.remote.amp_workspace.is_none() => {
            return Err(e).with_context(|| format!("query {:?}", args.query));
        }
        other => other?,
    };
    if let Some(note) = printed.empty_note {
        let _ = writeln!(std::io::stderr().lock(), "{note}");
    }
    print_text(&printed.text)?;
    Ok(ExitCode::SUCCESS)
}
