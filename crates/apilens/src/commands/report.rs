//! `apilens report`: the troubleshooter panels as a one-screen report with a verdict per section.

use crate::commands::remote::RemoteArgs;
use crate::commands::serve::parse_duration;
use anyhow::{Context as _, bail};
use apilens_promql::{Engine, EngineOpts, parse_time};
use apilens_report::{
    LocalSource, QuerySource, RemoteSource, Report, ReportOpts, build_report, render_json,
    render_markdown, render_text,
};
use apilens_tsdb::Db;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Read every troubleshooter panel over a time range and print what matters: per section a
/// verdict line (OK, WARNING, CRITICAL, NO DATA) and the panels behind it.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How far back to look, e.g. `30m`, `1h`, `1d`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    since: Duration,
    /// End of the range: RFC 3339 or Unix seconds. Default: now.
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
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown"])]
    format: String,
    /// Series or rows kept per panel in the JSON form.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Audit log files or directories of the same cluster and time: the text report then names
    /// the clients behind the traffic and behind the slowest call. Repeat for more.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<PathBuf>,
    /// Exit with status 1 when the report reaches this level.
    #[arg(long, value_parser = ["warning", "critical"])]
    fail_on: Option<String>,
}

/// Builds the report from the store or the remote engine and prints it.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let end_ms = match &args.until {
        Some(t) => parse_time(t).context("--until")?,
        None => now_ms(),
    };
    let opts = ReportOpts {
        end_ms,
        range: args.since,
        selector: args.selector.clone(),
        top: args.top.max(1),
    };
    let report = if let Some(client) = args.remote.client(Duration::from_secs(120))? {
        make(&RemoteSource::new(client), &opts)?
    } else {
        if !args.data_dir.is_dir() {
            bail!(
                "store directory {} does not exist (run `apilens serve` or `apilens demo` to fill one, or pass --prometheus URL)",
                args.data_dir.display()
            );
        }
        crate::commands::serve::init_logging();
        let db = Db::open_read_only(&args.data_dir)
            .with_context(|| {
                format!(
                    "opening store {} (when `apilens serve` or `apilens demo` holds it, read through its API instead: --prometheus http://127.0.0.1:9797)",
                    args.data_dir.display()
                )
            })?;
        let name = format!("store {}", args.data_dir.display());
        make(
            &LocalSource::new(Engine::new(EngineOpts::default()), &db, &name),
            &opts,
        )?
    };
    print(&report, &args.format)?;
    if !args.audit_logs.is_empty() && args.format == "text" {
        print_culprits(&report, &args.audit_logs)?;
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

fn make(source: &dyn QuerySource, opts: &ReportOpts) -> anyhow::Result<Report> {
    Ok(build_report(source, opts)?)
}

/// Prints `report` in `format` (`text`, `json` or `markdown`) on standard output; a closed pipe
/// is not an error.
pub(crate) fn print(report: &Report, format: &str) -> anyhow::Result<()> {
    let text = match format {
        "json" => render_json(report) + "\n",
        "markdown" => render_markdown(report),
        _ => render_text(report),
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The clients behind the traffic: top clients of all requests and of the slowest call's verb
/// and resource, from audit logs, printed after the text report.
pub(crate) fn print_culprits(report: &Report, paths: &[PathBuf]) -> anyhow::Result<()> {
    use apilens_audit::{Filter, FilterSpec, Input, ScanOpts, Top, TopKey, View as _, scan};
    let inputs: Vec<Input> = paths.iter().cloned().map(Input::Path).collect();
    let top = |spec: &FilterSpec| -> anyhow::Result<(apilens_audit::Report, u64)> {
        let filter = Filter::new(spec)?;
        let (top, summary) = scan(&inputs, &filter, &ScanOpts::default(), || {
            Top::new(&[TopKey::Client], 3, 10_000)
        })?;
        let events = summary.events;
        Ok((top.finish(&summary), events))
    };
    let mut out = String::new();
    let (all, events) = top(&FilterSpec::default())?;
    out.push_str(&format!(
        "\n[WHO] clients in the audit log ({} requests)\n",
        apilens_report::format_value(events as f64, apilens_panels::Unit::Count)
    ));
    push_rows(&mut out, "all requests", &all, events);
    if let Some((verb, resource)) = slowest_call(report) {
        let spec = FilterSpec {
            verb: vec![audit_verb(&verb)],
            resource: vec![resource.clone()],
            ..FilterSpec::default()
        };
        let (rows, n) = top(&spec)?;
        push_rows(
            &mut out,
            &format!("{verb} {resource} (the slowest call)"),
            &rows,
            n,
        );
    }
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn push_rows(out: &mut String, what: &str, report: &apilens_audit::Report, total: u64) {
    out.push_str(&format!("  {what}:\n"));
    if report.rows.is_empty() {
        out.push_str("     none\n");
    }
    for row in &report.rows {
        let share = if total == 0 {
            0.0
        } else {
            row.count as f64 * 100.0 / total as f64
        };
        out.push_str(&format!(
            "     {share:5.1}%  {:>10}  {}\n",
            apilens_report::format_value(row.count as f64, apilens_panels::Unit::Count),
            row.key
        ));
    }
}

/// Verb and resource of the top row of the slowest-calls table, as the metrics name them
/// (`LIST`, `deployments`).
fn slowest_call(report: &Report) -> Option<(String, String)> {
    let panel = report
        .sections
        .iter()
        .flat_map(|s| &s.panels)
        .find(|p| p.id == "slowest-calls")?;
    let row = panel.rows.first()?;
    let label = |name: &str| {
        row.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    Some((label("verb")?, label("resource")?))
}

/// The audit-log verb of a metrics verb: the metrics say POST, PUT and APPLY where the audit
/// log says create, update and patch.
fn audit_verb(metrics_verb: &str) -> String {
    match metrics_verb {
        "POST" => "create".to_owned(),
        "PUT" => "update".to_owned(),
        "APPLY" => "patch".to_owned(),
        other => other.to_lowercase(),
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
