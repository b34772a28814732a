//! `apilens query`: run one PromQL query against the embedded store or a remote engine.

use crate::shared::remote::RemoteArgs;
use anyhow::{Context as _, bail};
use apilens_promapi::{LocalEngine, QueryEngine, QueryRequest, RemoteEngine};
use apilens_promql::{Engine, EngineOpts, Value, format_value_table, parse_duration, parse_time};
use apilens_tsdb::Db;
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

/// Runs the query; exit code 0 on success, errors become exit code 2 through `main`.
///
/// An empty result is a successful answer (as the Prometheus API says `success` with an
/// empty result): the exit code stays 0, so scripts that run queries under `set -e` keep
/// going, and standard error says "no series matched" so a person does not take the empty
/// output for a failure to run.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_millis(parse_duration(&args.timeout)?.max(1) as u64);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let range = match (&args.start, &args.end, &args.step) {
        (Some(s), Some(e), Some(st)) => Some((
            parse_time(s).context("--start")?,
            parse_time(e).context("--end")?,
            parse_duration(st).context("--step")?,
        )),
        _ => None,
    };
    let time = match &args.time {
        Some(t) => parse_time(t).context("--time")?,
        None => now,
    };
    let request = match range {
        Some((start, end, step)) => QueryRequest::Range {
            query: args.query.clone(),
            start,
            end,
            step,
        },
        None => QueryRequest::Instant {
            query: args.query.clone(),
            time,
        },
    };
    let remote = args.remote.client(timeout)?.map(RemoteEngine::new);
    let db;
    let local;
    let engine: &dyn QueryEngine = match &remote {
        Some(remote) => remote,
        None => {
            if !args.data_dir.is_dir() {
                bail!("store directory {} does not exist", args.data_dir.display());
            }
            crate::shared::logging::init_logging();
            db = Db::open_read_only(&args.data_dir)
                .with_context(|| format!("opening store {}", args.data_dir.display()))?;
            let opts = EngineOpts {
                timeout,
                ..EngineOpts::default()
            };
            local = LocalEngine::new(Engine::new(opts), &db, "store");
            &local
        }
    };
    // Parsed and evaluated on a thread whose stack fits the deepest query accepted.
    let answer = apilens_promql::with_query_stack(|| {
        if args.format == QueryFormat::Json {
            engine.body(&request).map(|body| (body, None))
        } else {
            engine
                .evaluate(&request)
                .map(|value| (String::new(), Some(value)))
        }
    });
    let (body, value) = match (answer, &remote) {
        (Ok(answer), _) => answer,
        (Err(e), Some(_)) => return Err(e.into()),
        (Err(e), None) => return Err(e).with_context(|| format!("query {:?}", args.query)),
    };
    let empty = match &value {
        Some(Value::Vector(v)) => v.is_empty(),
        Some(Value::Matrix(m)) => m.is_empty(),
        Some(_) => false,
        None => serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["data"]["result"].as_array().map(Vec::is_empty))
            .unwrap_or(false),
    };
    if empty {
        let when = match range {
            Some(_) => "in the range".to_owned(),
            None => format!("at {}", rfc3339(time)),
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "no series matched {:?} {when}",
            args.query
        );
    }
    let mut out = std::io::stdout().lock();
    let text = if args.format == QueryFormat::Json {
        body + "\n"
    } else {
        value.as_ref().map(format_value_table).unwrap_or_default()
    };
    match out.write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => {
            other?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Milliseconds since the epoch as RFC 3339 (seconds), or the number when out of range.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
