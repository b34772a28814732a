//! `apilens apf`: API Priority and Fairness offline: where a request goes and why, the seats of
//! every level, and the debug dumps read as tables.

use crate::output::{TextOrJson, print_text};
use anyhow::{Context as _, bail};
use apilens_apf::{
    ApfConfig, CapacityView, ConfigNote, DEFAULT_REQUEST_TIMEOUT_S, DumpViews, KubeVersion,
    LimitFlags, NEWEST, ObservedSeats, Overlay, RequestDigest, ResourceAttributes,
    choose_server_limit, explain_match, queue_wait_limit_for, request_path,
};
use apilens_kubemetrics::read_apf_seats;
use apilens_scrape::{DEFAULT_INPUT_TIMEOUT, HttpOpts, open_input};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `apilens apf`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens apf match --user system:serviceaccount:logging:agent --verb list --resource pods
  apilens apf capacity --kubernetes-version 1.32 --replicas 3
  apilens apf dump requests.txt queues.txt --format json")]
pub(crate) struct Args {
    /// What to do.
    #[command(subcommand)]
    command: ApfCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ApfCommand {
    /// Which FlowSchema and priority level a request takes, and why.
    #[command(after_help = "\
Examples:
  apilens apf match --user system:serviceaccount:logging:agent --verb list --resource pods
  apilens apf match --user alice --group dev --verb get --resource deployments --api-group apps \\
      --namespace shop --kubernetes-version 1.29
  apilens apf match --user system:anonymous --verb get --path /readyz --apf-config flowschemas.yaml")]
    Match(MatchArgs),
    /// The seats of every priority level, per replica and for the cluster.
    #[command(after_help = "\
Examples:
  apilens apf capacity --kubernetes-version 1.32
  apilens apf capacity --max-requests-inflight 800 --max-mutating-requests-inflight 400 --replicas 3
  apilens apf capacity --metrics apiserver-metrics.txt --apf-config flowschemas.yaml --format json")]
    Capacity(CapacityArgs),
    /// Read APF debug dumps (dump_priority_levels, dump_queues, dump_requests) as tables.
    #[command(after_help = "\
The dump is recognised by its header. Get one from every replica with
  kubectl get --raw /debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1

Examples:
  apilens apf dump priority-levels.txt queues.txt
  apilens apf dump requests.txt --format json")]
    Dump(DumpArgs),
}

/// The configuration a command works on.
#[derive(Debug, clap::Args)]
struct ConfigArgs {
    /// FlowSchema and PriorityLevelConfiguration objects (YAML or JSON, lists too, as
    /// `kubectl get flowschemas,prioritylevelconfigurations -o yaml` writes them); they replace
    /// the defaults of the same name and add to the others. Repeatable.
    #[arg(long, value_name = "FILE")]
    apf_config: Vec<PathBuf>,
    /// The API server's Kubernetes version (such as 1.32): its default objects and rules.
    /// Default: read from --metrics when given, else the newest version apilens knows.
    #[arg(long, value_name = "X.Y")]
    kubernetes_version: Option<KubeVersion>,
}

#[derive(Debug, clap::Args)]
struct MatchArgs {
    /// The user (the impersonated one when the request impersonates).
    #[arg(long, value_name = "USER")]
    user: String,
    /// A group of the user; repeatable. Without any, the groups authentication would give
    /// (service-account groups, system:authenticated) are assumed.
    #[arg(long, value_name = "GROUP")]
    group: Vec<String>,
    /// The Kubernetes verb (get, list, watch, create, update, patch, delete,
    /// deletecollection) or, for a non-resource path, the lower-case HTTP method.
    #[arg(long, value_name = "VERB")]
    verb: String,
    /// The resource (pods, leases, ...); without it the request is a non-resource request on
    /// --path.
    #[arg(long, value_name = "RESOURCE")]
    resource: Option<String>,
    /// The subresource (status, log, ...).
    #[arg(long, value_name = "SUBRESOURCE", default_value = "")]
    subresource: String,
    /// The API group; empty for the core group.
    #[arg(long, value_name = "GROUP", default_value = "")]
    api_group: String,
    /// The namespace; empty for a cluster-scoped request (a request on the namespace object
    /// itself carries that namespace).
    #[arg(long, value_name = "NAMESPACE", default_value = "")]
    namespace: String,
    /// The object name.
    #[arg(long, value_name = "NAME", default_value = "")]
    name: String,
    /// The request path, for non-resource requests (/healthz, /metrics, ...).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    format: TextOrJson,
}

#[derive(Debug, clap::Args)]
struct CapacityArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Each replica's server concurrency limit (--max-requests-inflight +
    /// --max-mutating-requests-inflight); 600 by default.
    #[arg(long, value_name = "N", conflicts_with_all = ["max_requests_inflight", "max_mutating_requests_inflight"])]
    server_concurrency_limit: Option<u32>,
    /// The API server's --max-requests-inflight (with --max-mutating-requests-inflight).
    #[arg(long, value_name = "N", requires = "max_mutating_requests_inflight")]
    max_requests_inflight: Option<u32>,
    /// The API server's --max-mutating-requests-inflight (with --max-requests-inflight).
    #[arg(long, value_name = "N", requires = "max_requests_inflight")]
    max_mutating_requests_inflight: Option<u32>,
    /// API server replicas: each has its own seats.
    #[arg(long, value_name = "N", default_value_t = 1)]
    replicas: u32,
    /// A /metrics scrape of one replica (file, `-` or URL): the server limit is recovered from
    /// its apiserver_flowcontrol_nominal_limit_seats, the version from kubernetes_build_info.
    #[arg(long, value_name = "FILE")]
    metrics: Option<String>,
    /// The API server's --request-timeout in seconds (sets the queue wait limit).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_S)]
    request_timeout: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    format: TextOrJson,
}

#[derive(Debug, clap::Args)]
struct DumpArgs {
    /// Dump files (`-` for standard input); each is recognised by its header.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    format: TextOrJson,
}

/// Runs `apilens apf`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = match args.command {
        ApfCommand::Match(a) => run_match(a)?,
        ApfCommand::Capacity(a) => run_capacity(a)?,
        ApfCommand::Dump(a) => run_dump(a)?,
    };
    print_text(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The defaults of `version` with the objects of the files on top, and what was noted.
fn load_config(
    files: &[PathBuf],
    version: KubeVersion,
) -> anyhow::Result<(ApfConfig, Vec<ConfigNote>)> {
    let mut overlay = Overlay::new(version);
    for path in files {
        let source = path.display().to_string();
        let text =
            std::fs::read_to_string(path).with_context(|| format!("{source}: cannot read"))?;
        overlay.add(&text, &source)?;
    }
    Ok(overlay.finish())
}

fn run_match(a: MatchArgs) -> anyhow::Result<String> {
    let version = a.config.kubernetes_version.unwrap_or(NEWEST);
    let (config, notes) = load_config(&a.config.apf_config, version)?;
    let resource = a.resource.as_deref().map(|resource| ResourceAttributes {
        api_group: &a.api_group,
        resource,
        subresource: &a.subresource,
        namespace: &a.namespace,
        name: &a.name,
    });
    let path = request_path(resource.as_ref(), a.path.as_deref())?;
    let digest = RequestDigest {
        user: &a.user,
        groups: &a.group,
        verb: &a.verb,
        resource,
        path: &path,
    };
    let explanation = explain_match(&config, version, &digest);
    Ok(match a.format {
        TextOrJson::Json => explanation.json(&notes)?,
        TextOrJson::Text => explanation.text(!a.config.apf_config.is_empty(), &notes),
    })
}

fn run_capacity(a: CapacityArgs) -> anyhow::Result<String> {
    let scrape = match &a.metrics {
        Some(spec) => {
            let source = open_input(spec, &HttpOpts::default(), DEFAULT_INPUT_TIMEOUT)?;
            Some(read_apf_seats(&source.name, source.reader, source.format)?)
        }
        None => None,
    };
    let version = (a.config.kubernetes_version)
        .or_else(|| scrape.as_ref().and_then(|s| s.version))
        .unwrap_or(NEWEST);
    let (config, notes) = load_config(&a.config.apf_config, version)?;
    if a.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let observed = scrape.as_ref().map(|s| ObservedSeats {
        source: &s.name,
        nominal: &s.nominal,
    });
    let flags = LimitFlags {
        server_concurrency_limit: a.server_concurrency_limit,
        max_requests_inflight: a.max_requests_inflight,
        max_mutating_requests_inflight: a.max_mutating_requests_inflight,
    };
    let limit = choose_server_limit(&config, version, flags, observed)?;
    let view = CapacityView {
        config: &config,
        version,
        capacity: &config.capacity(version, limit.limit),
        limit_source: &limit.source,
        replicas: a.replicas,
        queue_wait_limit_s: queue_wait_limit_for(version, a.request_timeout),
        observed,
        notes: &notes,
    };
    Ok(match a.format {
        TextOrJson::Json => view.json()?,
        TextOrJson::Text => view.text(),
    })
}

fn run_dump(a: DumpArgs) -> anyhow::Result<String> {
    let mut views = DumpViews::new();
    for spec in &a.files {
        let mut source = open_input(spec, &HttpOpts::default(), DEFAULT_INPUT_TIMEOUT)?;
        let mut text = String::new();
        source
            .reader
            .read_to_string(&mut text)
            .with_context(|| format!("{}: cannot read as text", source.name))?;
        views.add(&text, &source.name)?;
    }
    Ok(match a.format {
        TextOrJson::Json => views.json()?,
        TextOrJson::Text => views.text(),
    })
}
