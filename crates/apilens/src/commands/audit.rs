//! `apilens audit <view>`: who is hurting the API server, from its audit logs.

use crate::output::{AuditFormat, print_text};
use crate::shared::aws_audit::{AwsArgs, check_flags, plan_if_set};
use apilens_audit::{
    Filter, FilterSpec, KubeVersion, Lists, Report, ScanOpts, Slow, Summary, Throttled, Timeline,
    Top, TopKey, View, Watches, collect_inputs, parse_step, scan, scan_with_progress,
};
use std::process::ExitCode;

/// Distinct keys counted exactly before a view switches to a heavy-hitters sketch.
const KEY_CAP: usize = 20_000;

/// Analyse Kubernetes audit logs (JSON lines, .gz, directories, `-` for stdin; EKS CloudWatch,
/// AKS and GKE records too), or read them straight from CloudWatch Logs (`--cloudwatch`) or S3
/// (`--s3`).
///
/// Exits with status 0 when every input was read to its end (malformed lines are counted and
/// shown, not fatal), and 2 when an input could not be read to its end (a truncated gzip, an
/// I/O error, an AWS error part-way through a stream): the report then covers what was read
/// before the error and says it is partial, and each error is printed on standard error.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens audit top --by client audit.log
  apilens audit lists --kubernetes-version 1.34 audit/
  apilens audit slow --since 2h audit.log.gz")]
pub(crate) struct Args {
    /// The analysis to run.
    #[command(subcommand)]
    view: ViewCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ViewCommand {
    /// Requests, share, rate, errors, p50/p99 latency and APF seat cost per key.
    #[command(after_help = "\
Examples:
  apilens audit top --by client audit.log
  apilens audit top --by user,verb --code 429 --since 2h audit/
  apilens audit top --by flow --kubernetes-version 1.29 --format json audit.log")]
    Top {
        /// Group by these keys (repeat or comma-separate): user, useragent, client, verb,
        /// resource, namespace, code, sourceip, flow.
        #[arg(long, value_delimiter = ',', default_value = "user")]
        by: Vec<TopKey>,
        /// The apiserver's Kubernetes version (such as 1.30): decides the default FlowSchemas
        /// of the flow key and the seat estimates; the newest version apilens knows otherwise.
        #[arg(
            long = "kubernetes-version",
            alias = "kube-version",
            value_name = "X.Y"
        )]
        kube_version: Option<apilens_apf::KubeVersion>,
        #[command(flatten)]
        common: Common,
    },
    /// LIST calls: unbounded vs paginated, cluster vs namespace scope, watch cache vs etcd, by
    /// client.
    #[command(after_help = "\
Examples:
  apilens audit lists audit.log
  apilens audit lists --kubernetes-version 1.34 --user 'system:serviceaccount:logging:*' a/")]
    Lists {
        /// The apiserver's Kubernetes version (such as 1.30): decides cache-or-etcd; without it
        /// every version range is shown.
        #[arg(
            long = "kubernetes-version",
            alias = "kube-version",
            value_name = "X.Y"
        )]
        kube_version: Option<KubeVersion>,
        #[command(flatten)]
        common: Common,
    },
    /// WATCH counts and re-establishment churn per client and resource.
    #[command(after_help = "\
Examples:
  apilens audit watches audit.log
  apilens audit watches --resource pods --format csv audit/")]
    Watches {
        #[command(flatten)]
        common: Common,
    },
    /// 429 responses per client: APF rejections vs eviction (PDB) vs EventRateLimit.
    #[command(after_help = "\
Examples:
  apilens audit throttled audit.log
  apilens audit throttled --since 30m --format markdown audit/")]
    Throttled {
        #[command(flatten)]
        common: Common,
    },
    /// The slowest requests with the apiserver.latency.k8s.io/* breakdown.
    #[command(after_help = "\
Examples:
  apilens audit slow audit.log
  apilens audit slow --verb list --limit 50 audit/")]
    Slow {
        #[command(flatten)]
        common: Common,
    },
    /// Requests per time step for the busiest clients.
    #[command(after_help = "\
Examples:
  apilens audit timeline --step 1m audit.log
  apilens audit timeline --step 5m --verb list --since 6h audit/")]
    Timeline {
        /// Step width (30s, 1m, 5m, 1h).
        #[arg(long, default_value = "1m", value_parser = parse_step)]
        step: i64,
        /// How many clients get their own column.
        #[arg(long, default_value_t = 5)]
        clients: usize,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("source").required(true).multiple(true).args(["files", "cloudwatch", "s3"])
))]
struct Common {
    /// Audit log files, directories (read recursively) or `-` for stdin; gzip is detected by content.
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    #[command(flatten)]
    aws: AwsArgs,
    /// Keep requests received at or after this time: RFC 3339 (2024-05-01T10:00:00Z) or a
    /// duration before now (2h, 30m, 1h30m, 2d).
    #[arg(long)]
    since: Option<String>,
    /// Keep requests received before this time: RFC 3339 or a duration before now.
    #[arg(long)]
    until: Option<String>,
    /// Verbs to keep (`list`, `watch*`, `-get`); repeat or comma-separate.
    #[arg(long, allow_hyphen_values = true)]
    verb: Vec<String>,
    /// Users to keep (`system:node:*`, `-system:apiserver`).
    #[arg(long, allow_hyphen_values = true)]
    user: Vec<String>,
    /// User agents to keep (raw or without version: `kubectl*`).
    #[arg(long, allow_hyphen_values = true)]
    useragent: Vec<String>,
    /// Resources to keep (`pods`, `deployments.apps`, `-events`).
    #[arg(long, allow_hyphen_values = true)]
    resource: Vec<String>,
    /// Namespaces to keep.
    #[arg(long, allow_hyphen_values = true)]
    namespace: Vec<String>,
    /// Response codes to keep (`429`, `5*`, `-200`).
    #[arg(long, allow_hyphen_values = true)]
    code: Vec<String>,
    /// Output format: table, json, csv or markdown.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    format: AuditFormat,
    /// Rows to show.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The longest line read (16MiB, 1GiB, or a number of bytes); a longer line is counted as
    /// malformed and skipped unread, and a multi-line JSON document is held to the same limit.
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = apilens_model::parse_byte_size)]
    max_line_bytes: u64,
}

/// Runs `apilens audit`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (out, read_errors) = match &args.view {
        ViewCommand::Top {
            by,
            kube_version,
            common,
        } => execute(common, || {
            let top = Top::new(by, common.limit, KEY_CAP);
            match kube_version {
                Some(v) => top.for_version(*v),
                None => top,
            }
        })?,
        ViewCommand::Lists {
            kube_version,
            common,
        } => execute(common, || Lists::new(*kube_version, common.limit, KEY_CAP))?,
        ViewCommand::Watches { common } => execute(common, || Watches::new(common.limit, KEY_CAP))?,
        ViewCommand::Throttled { common } => {
            execute(common, || Throttled::new(common.limit, KEY_CAP))?
        }
        ViewCommand::Slow { common } => execute(common, || Slow::new(common.limit))?,
        ViewCommand::Timeline {
            step,
            clients,
            common,
        } => execute(common, || Timeline::new(*step, *clients, KEY_CAP))?,
    };
    print_text(&out)?;
    if read_errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for e in &read_errors {
        eprintln!("error: {e}");
    }
    eprintln!("error: the result is partial: it covers what was read before the errors above");
    Ok(ExitCode::from(2))
}

/// Runs one view; returns the rendered report and the inputs that failed part-way.
fn execute<V: View, F: Fn() -> V + Sync>(
    common: &Common,
    make_view: F,
) -> anyhow::Result<(String, Vec<String>)> {
    let spec = FilterSpec {
        since: common.since.clone(),
        until: common.until.clone(),
        verb: common.verb.clone(),
        user: common.user.clone(),
        useragent: common.useragent.clone(),
        resource: common.resource.clone(),
        namespace: common.namespace.clone(),
        code: common.code.clone(),
    };
    let filter = Filter::new(&spec)?;
    check_flags(&common.aws)?;
    let mut inputs = if common.files.is_empty() {
        Vec::new()
    } else {
        collect_inputs(&common.files)?
    };
    let from_aws = plan_if_set(&common.aws, &filter, &spec)?;
    inputs.extend(from_aws.iter().flat_map(|aws| aws.inputs()));
    let opts = ScanOpts::with_limits(common.threads, common.max_line_bytes);
    let result = match &from_aws {
        Some(aws) => aws.run_with_progress(|| scan(&inputs, &filter, &opts, make_view)),
        None => scan_with_progress(&inputs, &filter, &opts, make_view),
    };
    let (view, summary): (V, Summary) = result?;
    let report: Report = view.finish(&summary);
    Ok((
        report.render(&summary, common.format.into()),
        summary.read_errors.clone(),
    ))
}
