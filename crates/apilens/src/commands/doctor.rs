//! `apilens doctor`: the client that hurts the API server, its cost in seats, the evidence and
//! the fix, from any mix of audit logs, metrics and live APF state.

use crate::output::{FailOn, ReportFormat, print_text};
use crate::shared::aws_audit::{AwsArgs, check_flags, plan_if_set};
use crate::shared::remote::RemoteArgs;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::store::reading_engine;
use anyhow::{Context as _, bail};
use apilens_audit::{Filter, FilterSpec, Input, ScanOpts, collect_inputs};
use apilens_awslogs::{Reads, with_progress};
use apilens_doctor::{
    ApfObjects, Diagnosis, DoctorInputs, diagnose, metrics_report, metrics_window, read_live_apf,
    release_from_flag, render_json, render_markdown, render_text, render_what_if, what_if,
};
use apilens_kube::{Cluster, ClusterOpts};
use apilens_promql::EngineOpts;
use apilens_report::Report;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Name the client that hurts the API server, cost it in APF seats, show the evidence and write
/// the fix (a FlowSchema + PriorityLevelConfiguration and the client-side change).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exits with status 2 when an audit log could not be read to its end (the diagnosis then covers
what was read before the error, and each error is printed on standard error) or held no event.

Examples:
  apilens doctor --audit-log /var/log/kubernetes/audit/ --data-dir data --format markdown > ticket.md
  apilens doctor --audit-log audit.log --kubeconfig ~/.kube/config --what-if fix.yaml
  apilens doctor --cloudwatch /aws/eks/prod/cluster --region eu-west-1 --since 1h --data-dir data")]
pub(crate) struct Args {
    /// Audit log files or directories (read recursively), `-` for stdin; repeat for more.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<String>,
    #[command(flatten)]
    aws: AwsArgs,
    /// The embedded store to read metrics from.
    #[arg(long, value_name = "DIR", conflicts_with = "prometheus")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    remote: RemoteArgs,
    /// Read the live APF objects and every replica's debug dumps through this kubeconfig.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The cluster's FlowSchemas and PriorityLevelConfigurations (YAML or JSON, e.g.
    /// `kubectl get flowschemas,prioritylevelconfigurations -o yaml`); repeat for more.
    #[arg(long = "apf-config", value_name = "FILE")]
    apf_config: Vec<PathBuf>,
    /// The API servers' Kubernetes version (e.g. 1.34), for the APF defaults and cache rules;
    /// default: the metrics' or the cluster's, else the newest apilens knows.
    #[arg(long, value_name = "X.Y")]
    kubernetes_version: Option<String>,
    /// Start of the window: RFC 3339 or a duration before now (1h, 30m). Default: the whole
    /// audit log (or the last hour of metrics without one).
    #[arg(long)]
    since: Option<String>,
    /// End of the window: RFC 3339 or a duration before now. Default: the end of the audit log,
    /// or now.
    #[arg(long)]
    until: Option<String>,
    /// Output: `text` (reads at a glance), `markdown` (for a ticket), `json` (everything).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Exit with status 1 when a finding is at or above this severity.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Replay the audit window under today's configuration and with this fix applied, and print
    /// the culprit's and everyone else's predicted 429s, queue wait and seat use.
    #[arg(long, value_name = "FIX.yaml")]
    what_if: Option<PathBuf>,
    /// Worker threads for the audit log (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The longest audit line read (16MiB, 1GiB, or a number of bytes), as `apilens audit`
    /// takes it; a longer line is counted as malformed and skipped unread.
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = apilens_model::parse_byte_size)]
    max_line_bytes: u64,
}

/// Runs `apilens doctor`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (inputs, from_aws) = gather(&args)?;
    if let Some(path) = &args.what_if {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --what-if {}", path.display()))?;
        let name = path.display().to_string();
        let w = with_progress(from_aws.as_ref(), || what_if(&inputs, &text, &name))?;
        let out = match args.format {
            ReportFormat::Json => serde_json::to_string_pretty(&w)? + "\n",
            ReportFormat::Text | ReportFormat::Markdown => render_what_if(&w),
        };
        print_text(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let d = with_progress(from_aws.as_ref(), || diagnose(&inputs))?;
    print_text(&render(&d, args.format))?;
    // An audit log read in part, or not at all, is no diagnosis: say so and exit 2, as
    // `apilens audit` does, whatever the findings.
    let failures = d.read_failures();
    for e in &failures {
        eprintln!("error: {e}");
    }
    if !failures.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let failed = (args.fail_on).is_some_and(|at| d.worst() >= Some(at.severity()));
    Ok(ExitCode::from(u8::from(failed)))
}

/// The diagnosis in `format`.
pub(crate) fn render(d: &Diagnosis, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => render_json(d) + "\n",
        ReportFormat::Markdown => render_markdown(d),
        ReportFormat::Text => render_text(d, true),
    }
}

/// Reads every input the flags name (audit logs in AWS are planned, to be read by the scan).
fn gather(args: &Args) -> anyhow::Result<(DoctorInputs, Option<Reads>)> {
    if args.audit_logs.is_empty()
        && !args.aws.is_set()
        && args.data_dir.is_none()
        && args.remote.prometheus.is_none()
        && args.remote.amp_workspace.is_none()
        && args.kubeconfig.is_none()
        && args.context.is_none()
        && args.apf_config.is_empty()
    {
        bail!(
            "nothing to diagnose: pass --audit-log PATH, --cloudwatch GROUP, --s3 URL, --data-dir DIR or --prometheus URL, --kubeconfig or --apf-config"
        );
    }
    // Outside the releases apilens knows, the nearest one's APF is used, and said.
    let version = (args.kubernetes_version.as_deref())
        .map(release_from_flag)
        .transpose()?;
    check_flags(&args.aws)?;
    let mut audit: Vec<Input> = if args.audit_logs.is_empty() {
        Vec::new()
    } else {
        collect_inputs(&args.audit_logs)?
    };
    let spec = FilterSpec {
        since: args.since.clone(),
        until: args.until.clone(),
        ..FilterSpec::default()
    };
    let filter = Filter::new(&spec)?;
    let wants_metrics = args.data_dir.is_some()
        || args.remote.prometheus.is_some()
        || args.remote.amp_workspace.is_some();
    if args.aws.is_set() && wants_metrics && filter.since_us().is_none() {
        // The metrics window would come from a first pass over the audit log: a second read of
        // everything in AWS.
        bail!(
            "--cloudwatch/--s3 with metrics (--data-dir, --prometheus, --amp-workspace) needs --since: it sets the metrics window, so the audit log in AWS is read once"
        );
    }
    let from_aws = plan_if_set(&args.aws, &filter, &spec)?;
    audit.extend(from_aws.iter().flat_map(|aws| aws.inputs()));
    let scan = ScanOpts::with_limits(args.threads, args.max_line_bytes);
    let mut inputs = DoctorInputs {
        audit,
        filter,
        scan,
        apf: ApfObjects::from_config_files(&args.apf_config)?,
        version,
        ..DoctorInputs::default()
    };
    if args.kubeconfig.is_some() || args.context.is_some() {
        let cluster = ClusterOpts {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
        };
        // A kubeconfig that cannot be loaded is an error; what the cluster refuses is a note.
        let state = async_runtime(Workers::Two)?.block_on(async {
            anyhow::Ok(read_live_apf(&Cluster::connect(&cluster).await?).await)
        })?;
        inputs.add_live(state.into());
    }
    if wants_metrics {
        let now = apilens_model::now_ms();
        let window = metrics_window(&inputs.filter, &inputs.audit, &inputs.scan, now)?;
        match read_metrics(args, window)? {
            Ok(report) => inputs.metrics = Some(report),
            Err(why) => inputs.metrics_error = Some(why),
        }
    }
    Ok((inputs, from_aws))
}

/// The troubleshooter report over the window from the remote engine or the store; an engine
/// that answers nothing is the note `Err`, not an error.
fn read_metrics(args: &Args, window: (i64, Duration)) -> anyhow::Result<Result<Report, String>> {
    let dir = args.data_dir.clone().unwrap_or_default();
    let engine = reading_engine(
        &args.remote,
        Duration::from_secs(60),
        (&dir, EngineOpts::default()),
        (
            " (run `apilens serve` or `apilens demo --data-dir` to fill one)",
            "",
        ),
    )?;
    Ok(metrics_report(engine.as_ref(), window))
}
