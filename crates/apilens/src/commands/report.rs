//! `apilens report`: the troubleshooter panels as a one-screen report with a verdict per section.

use crate::output::{FailOn, ReportFormat};
use crate::shared::remote::RemoteArgs;
use crate::shared::report_print::{print, print_report_with_clients};
use crate::shared::store::reading_engine;
use apilens_model::now_ms;
use apilens_promql::EngineOpts;
use apilens_report::{ReportOpts, build_report};
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
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
}

/// Builds the report from the store or the remote engine and prints it.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = ReportOpts {
        selector: args.selector.clone(),
        top: args.top.max(1),
        ..ReportOpts::for_range(&args.since, args.until.as_deref(), now_ms())?
    };
    let engine = reading_engine(
        &args.remote,
        Duration::from_secs(120),
        (&args.data_dir, EngineOpts::default()),
        (
            " (run `apilens serve` or `apilens demo` to fill one, or pass --prometheus URL)",
            " (when `apilens serve` or `apilens demo` holds it, read through its API instead: --prometheus http://127.0.0.1:9797)",
        ),
    )?;
    let report = build_report(engine.as_ref(), &opts)?;
    if args.audit_logs.is_empty() {
        print(&report, args.format)?;
    } else {
        print_report_with_clients(&report, &args.audit_logs, args.format)?;
    }
    let failed = (args.fail_on).is_some_and(|at| report.level() >= at.level());
    Ok(ExitCode::from(u8::from(failed)))
}
