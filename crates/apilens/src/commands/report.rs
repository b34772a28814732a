//! `apilens report`: the troubleshooter panels as a one-screen report with a verdict per section.

use crate::output::ReportFormat;
use crate::shared::remote::RemoteArgs;
use crate::shared::report_print::{print, print_report_with_clients};
use anyhow::{Context as _, bail};
use apilens_model::now_ms;
use apilens_model::parse_duration;
use apilens_promapi::{LocalEngine, QueryEngine, RemoteEngine};
use apilens_promql::{Engine, EngineOpts, parse_time};
use apilens_report::{Report, ReportOpts, build_report};
use apilens_tsdb::Db;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Read every troubleshooter panel over a time range and print what matters: per section a
/// verdict line (OK, WARNING, CRITICAL, NO DATA) and the panels behind it.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens report
  apilens report --since 6h --until 1h --audit-log audit/ --format markdown > report.md
  apilens report --amp-workspace ws-1234abcd --sigv4-region eu-west-1 --fail-on critical")]
pub(crate) struct Args {
    /// Start of the range: a duration before its end (`30m`, `1h`, `1d`) or an RFC 3339 time.
    #[arg(long, default_value = "1h")]
    since: String,
    /// End of the range: RFC 3339, Unix seconds, or a duration before now (`30m`). Default: now.
    #[arg(long)]
    until: Option<String>,
    /// The embedded store directory to read.
    #[arg(long, default_value = "data", conflicts_with = "prometheus")]
    data_dir: PathBuf,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Label matchers that scope every query, without braces, e.g. `cluster="prod"`.
    #[arg(long, default_value = "")]
    selector: String,
    /// Output: `text` (one screen), `markdown` (every panel, for a ticket), `json` (every figure).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Series or rows kept per panel in the JSON form.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Audit log files or directories of the same cluster and time: the report then names the
    /// clients behind the metrics, ranked by the harm they cause (the doctor's ranking), or says
    /// that the cause is inside the server (etcd, a webhook). Repeat for more.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<PathBuf>,
    /// Exit with status 1 when the report reaches this level.
    #[arg(long, value_parser = ["warning", "critical"])]
    fail_on: Option<String>,
}

/// Builds the report from the store or the remote engine and prints it.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let now = now_ms();
    let end_ms = match &args.until {
        Some(t) => instant_ms(t, now).with_context(|| format!("--until {t}"))?,
        None => now,
    };
    let range = match parse_duration(&args.since) {
        Ok(d) => d,
        Err(_) => {
            let start =
                instant_ms(&args.since, now).with_context(|| format!("--since {}", args.since))?;
            if start >= end_ms {
                bail!("--since {} is not before the end of the range", args.since);
            }
            Duration::from_millis((end_ms - start) as u64)
        }
    };
    let opts = ReportOpts {
        end_ms,
        range,
        selector: args.selector.clone(),
        top: args.top.max(1),
    };
    let report = if let Some(client) = args.remote.client(Duration::from_secs(120))? {
        make(&RemoteEngine::new(client), &opts)?
    } else {
        if !args.data_dir.is_dir() {
            bail!(
                "store directory {} does not exist (run `apilens serve` or `apilens demo` to fill one, or pass --prometheus URL)",
                args.data_dir.display()
            );
        }
        crate::shared::logging::init_logging();
        let db = Db::open_read_only(&args.data_dir)
            .with_context(|| {
                format!(
                    "opening store {} (when `apilens serve` or `apilens demo` holds it, read through its API instead: --prometheus http://127.0.0.1:9797)",
                    args.data_dir.display()
                )
            })?;
        let name = format!("store {}", args.data_dir.display());
        make(
            &LocalEngine::new(Engine::new(EngineOpts::default()), &db, &name),
            &opts,
        )?
    };
    if args.audit_logs.is_empty() {
        print(&report, args.format)?;
    } else {
        print_report_with_clients(&report, &args.audit_logs, args.format)?;
    }
    let failed = match args.fail_on.as_deref() {
        Some("warning") => report.level() >= apilens_report::Level::Warning,
        Some("critical") => report.level() >= apilens_report::Level::Critical,
        _ => false,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn make(source: &dyn QueryEngine, opts: &ReportOpts) -> anyhow::Result<Report> {
    Ok(build_report(source, opts)?)
}

/// A time as `--since` and `--until` take it: Unix seconds, RFC 3339, or a duration before
/// `now_ms`; milliseconds since the epoch.
fn instant_ms(text: &str, now_ms: i64) -> anyhow::Result<i64> {
    if let Ok(t) = parse_time(text) {
        return Ok(t);
    }
    apilens_audit::parse_time(text, now_ms.saturating_mul(1000))
        .map(|us| us / 1000)
        .with_context(|| {
            format!(
                "cannot parse {text:?}: expected RFC 3339, Unix seconds or a duration such as 30m"
            )
        })
}
