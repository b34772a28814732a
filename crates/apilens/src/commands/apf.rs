//! `apilens apf`: API Priority and Fairness offline: where a request goes and why, the seats of
//! every level, and the debug dumps read as tables.

use crate::output::{Table, TextOrJson};
use anyhow::{Context as _, bail};
use apilens_apf::{
    AnyDump, ApfConfig, Capacity, ConfigNote, DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_SERVER_CONCURRENCY_LIMIT, DumpKind, KubeVersion, LevelCapacity, NEWEST, RequestDigest,
    ResourceAttributes, infer_server_concurrency_limit, load_objects, parse_dump,
    queue_wait_limit_for,
};
use apilens_scrape::{DEFAULT_INPUT_TIMEOUT, HttpOpts, open_input};
use apilens_textparse::{Entry, parse_reader};
use serde::Serialize;
use std::io::{Read as _, Write as _};
use std::ops::ControlFlow;
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
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .context("writing the output")?;
    stdout.flush().context("writing the output")?;
    Ok(ExitCode::SUCCESS)
}

/// The defaults of `version` with the objects of the files on top, and what was noted.
fn load_config(
    files: &[PathBuf],
    version: KubeVersion,
) -> anyhow::Result<(ApfConfig, Vec<ConfigNote>)> {
    let defaults = ApfConfig::defaults(version);
    if files.is_empty() {
        return Ok((defaults, Vec::new()));
    }
    let mut schemas = defaults.schemas().to_vec();
    let mut levels = defaults.levels().to_vec();
    let mut notes = Vec::new();
    for path in files {
        let source = path.display().to_string();
        let text =
            std::fs::read_to_string(path).with_context(|| format!("{source}: cannot read"))?;
        let (s, l, n) = load_objects(&text, &source)?;
        for schema in s {
            schemas.retain(|x| x.name != schema.name);
            schemas.push(schema);
        }
        for level in l {
            levels.retain(|x| x.name != level.name);
            levels.push(level);
        }
        notes.extend(n);
    }
    let (config, more) = ApfConfig::from_objects(version, schemas, levels);
    notes.extend(more);
    Ok((config, notes))
}

fn render_notes(notes: &[ConfigNote]) -> String {
    notes
        .iter()
        .map(|n| format!("note: {}: {}\n", n.object, n.message))
        .collect()
}

#[derive(Serialize)]
struct MatchJson<'a> {
    kubernetes_version: String,
    classification: &'a apilens_apf::Classification,
    distinguisher_method: Option<&'static str>,
    server_concurrency_limit: u32,
    level: Option<&'a LevelCapacity>,
    queue_wait_limit_s: f64,
    notes: &'a [ConfigNote],
}

fn run_match(a: MatchArgs) -> anyhow::Result<String> {
    let version = a.config.kubernetes_version.unwrap_or(NEWEST);
    let (config, notes) = load_config(&a.config.apf_config, version)?;
    let path = match (&a.path, &a.resource) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => resource_path(&a.api_group, r, &a.namespace, &a.name, &a.subresource),
        (None, None) => {
            bail!("give --resource for a resource request or --path for a non-resource one")
        }
    };
    if a.resource.is_none() && !path.starts_with('/') {
        bail!("--path {path:?} must start with /");
    }
    let digest = RequestDigest {
        user: &a.user,
        groups: &a.group,
        verb: &a.verb,
        resource: a.resource.as_deref().map(|resource| ResourceAttributes {
            api_group: &a.api_group,
            resource,
            subresource: &a.subresource,
            namespace: &a.namespace,
            name: &a.name,
        }),
        path: &path,
    };
    let c = config.classify(&digest);
    let capacity = config.capacity(version, DEFAULT_SERVER_CONCURRENCY_LIMIT);
    let level = capacity.level(&c.priority_level);
    let method = config
        .schema(&c.flow_schema)
        .and_then(|s| s.distinguisher)
        .map(|d| d.as_str());
    let wait = queue_wait_limit_for(version, DEFAULT_REQUEST_TIMEOUT_S);
    if a.format == TextOrJson::Json {
        let json = MatchJson {
            kubernetes_version: version.to_string(),
            classification: &c,
            distinguisher_method: method,
            server_concurrency_limit: DEFAULT_SERVER_CONCURRENCY_LIMIT,
            level,
            queue_wait_limit_s: wait,
            notes: &notes,
        };
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    let flow = match (c.distinguisher.as_str(), method) {
        ("", Some(m)) => {
            format!("one flow for the schema ({m} is used only by levels with queues)")
        }
        ("", None) => "one flow for the schema (no distinguisher)".to_string(),
        (d, Some(m)) => format!("{d} ({m})"),
        (d, None) => d.to_string(),
    };
    let mut out = String::new();
    out.push_str(&format!(
        "Kubernetes version  {version} (default FlowSchemas{})\n",
        if a.config.apf_config.is_empty() {
            ""
        } else {
            " and --apf-config"
        }
    ));
    out.push_str(&format!(
        "FlowSchema          {} (matching precedence {})\n",
        c.flow_schema, c.matching_precedence
    ));
    out.push_str(&format!(
        "Priority level      {}{}\n",
        c.priority_level,
        if c.exempt {
            " (exempt: never limited)"
        } else {
            ""
        }
    ));
    out.push_str(&format!("Flow                {flow}\n"));
    out.push_str(&format!("Why                 {}\n", c.why));
    if let Some(l) = level {
        out.push_str(&format!("Capacity            {}\n", capacity_line(l, wait)));
    }
    out.push_str(&render_notes(&notes));
    Ok(out)
}

/// The path a resource request would have.
fn resource_path(group: &str, resource: &str, namespace: &str, name: &str, sub: &str) -> String {
    let mut p = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/v1")
    };
    let namespace_object = resource == "namespaces" && name == namespace;
    if !namespace.is_empty() && !namespace_object {
        p.push_str(&format!("/namespaces/{namespace}"));
    }
    p.push('/');
    p.push_str(resource);
    for part in [name, sub] {
        if !part.is_empty() {
            p.push('/');
            p.push_str(part);
        }
    }
    p
}

/// One line about a level's seats at the default server limit.
fn capacity_line(l: &LevelCapacity, wait: f64) -> String {
    if l.exempt {
        return format!(
            "exempt: never queued nor rejected ({} nominal seats at a server limit of {DEFAULT_SERVER_CONCURRENCY_LIMIT}, per replica)",
            l.nominal
        );
    }
    let range = if l.min_limit == l.max_limit {
        "fixed".to_string()
    } else {
        format!("{}-{} with lending and borrowing", l.min_limit, l.max_limit)
    };
    let mut s = format!(
        "{} nominal seats per replica at a server limit of {DEFAULT_SERVER_CONCURRENCY_LIMIT} ({range}), at most {} per request",
        l.nominal, l.max_seats_per_request
    );
    if l.reject {
        s.push_str("; no queues: beyond the limit requests get 429 at once");
    } else {
        s.push_str(&format!(
            "; {} queues of {}, a flow uses {} of them, queue wait limit {wait} s",
            l.queues, l.queue_length_limit, l.hand_size
        ));
    }
    s
}

#[derive(Serialize)]
struct CapacityJson<'a> {
    kubernetes_version: String,
    server_concurrency_limit: u32,
    server_concurrency_limit_source: &'a str,
    replicas: u32,
    queue_wait_limit_s: f64,
    levels: &'a [LevelCapacity],
    notes: &'a [ConfigNote],
}

fn run_capacity(a: CapacityArgs) -> anyhow::Result<String> {
    let scrape = match &a.metrics {
        Some(spec) => Some(read_scrape(spec)?),
        None => None,
    };
    let version = a
        .config
        .kubernetes_version
        .or_else(|| scrape.as_ref().and_then(|s| s.version))
        .unwrap_or(NEWEST);
    let (config, notes) = load_config(&a.config.apf_config, version)?;
    if a.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let (server_cl, source) = match (
        &scrape,
        a.server_concurrency_limit,
        a.max_requests_inflight,
        a.max_mutating_requests_inflight,
    ) {
        (_, Some(n), _, _) => (n, "--server-concurrency-limit".to_string()),
        (_, None, Some(r), Some(m)) => (
            r + m,
            "--max-requests-inflight + --max-mutating-requests-inflight".to_string(),
        ),
        (Some(s), _, _, _) => {
            if s.nominal.is_empty() {
                bail!(
                    "{}: no apiserver_flowcontrol_nominal_limit_seats (it exists from Kubernetes 1.26); give --server-concurrency-limit",
                    s.name
                );
            }
            let n = infer_server_concurrency_limit(&config, &s.nominal).with_context(|| {
                let unknown: Vec<&str> = s.nominal.iter().filter(|(l, _)| config.level(l).is_none()).map(|(l, _)| l.as_str()).collect();
                if unknown.is_empty() {
                    format!("{}: no server concurrency limit gives these nominal seats under the objects of Kubernetes {version}; are the --apf-config objects the cluster's?", s.name)
                } else {
                    format!("{}: levels {} are not in the configuration; give the cluster's objects with --apf-config", s.name, unknown.join(", "))
                }
            })?;
            (
                n,
                format!(
                    "inferred from apiserver_flowcontrol_nominal_limit_seats in {}",
                    s.name
                ),
            )
        }
        _ => (
            DEFAULT_SERVER_CONCURRENCY_LIMIT,
            "default (400 + 200)".to_string(),
        ),
    };
    let capacity: Capacity = config.capacity(version, server_cl);
    let wait = queue_wait_limit_for(version, a.request_timeout);
    if a.format == TextOrJson::Json {
        let json = CapacityJson {
            kubernetes_version: version.to_string(),
            server_concurrency_limit: server_cl,
            server_concurrency_limit_source: &source,
            replicas: a.replicas,
            queue_wait_limit_s: wait,
            levels: &capacity.levels,
            notes: &notes,
        };
        return Ok(serde_json::to_string_pretty(&json)? + "\n");
    }
    let mut out = format!(
        "Kubernetes {version}: server concurrency limit {server_cl} per replica ({source}), {} replica(s), queue wait limit {wait} s\n\n",
        a.replicas
    );
    let mut header = vec![
        "LEVEL",
        "TYPE",
        "SHARES",
        "NOMINAL",
        "LENDABLE",
        "BORROW",
        "MIN",
        "MAX",
        "SEATS/REQ",
        "QUEUES",
        "HAND",
        "QLEN",
    ];
    if a.replicas > 1 {
        header.push("CLUSTER_NOMINAL");
    }
    let mut table = Table::new(&header);
    for l in &capacity.levels {
        let shares = config
            .level(&l.name)
            .map_or(0, |p| p.spec.nominal_concurrency_shares());
        let kind = if l.exempt {
            "exempt"
        } else if l.reject {
            "reject"
        } else {
            "queue"
        };
        let dash = |n: u32, show: bool| if show { n.to_string() } else { "-".to_string() };
        let queued = !l.exempt && !l.reject;
        let mut row = vec![
            l.name.clone(),
            kind.to_string(),
            shares.to_string(),
            l.nominal.to_string(),
            l.lendable.to_string(),
            l.borrowing_limit.to_string(),
            l.min_limit.to_string(),
            l.max_limit.to_string(),
            dash(l.max_seats_per_request, !l.exempt),
            dash(l.queues, queued),
            dash(l.hand_size, queued),
            dash(l.queue_length_limit, queued),
        ];
        if a.replicas > 1 {
            row.push((u64::from(l.nominal) * u64::from(a.replicas)).to_string());
        }
        table.row(row);
    }
    out.push_str(&table.render(""));
    if let Some(s) = &scrape {
        let mismatched: Vec<String> = s
            .nominal
            .iter()
            .filter_map(|(level, seats)| {
                let ours = capacity.level(level).map(|l| f64::from(l.nominal));
                (ours != Some(*seats)).then(|| {
                    format!(
                        "{level} {seats} (computed {})",
                        ours.map_or("-".to_string(), |o| o.to_string())
                    )
                })
            })
            .collect();
        if mismatched.is_empty() {
            out.push_str(&format!(
                "\nThe nominal seats of {} agree with every level above.\n",
                s.name
            ));
        } else {
            out.push_str(&format!(
                "\nnote: {} reports different nominal seats: {}\n",
                s.name,
                mismatched.join(", ")
            ));
        }
    }
    out.push_str(&render_notes(&notes));
    Ok(out)
}

/// What `capacity` reads from a scrape.
struct Scrape {
    name: String,
    version: Option<KubeVersion>,
    nominal: Vec<(String, f64)>,
}

fn read_scrape(spec: &str) -> anyhow::Result<Scrape> {
    let source = open_input(spec, &HttpOpts::default(), DEFAULT_INPUT_TIMEOUT)?;
    let name = source.name.clone();
    let format = source.format;
    let mut version = None;
    let mut nominal = Vec::new();
    let mut first_error = None;
    parse_reader(source.reader, format, |entry| {
        match entry {
            Ok(Entry::Series(s)) => match s.name_bytes() {
                b"apiserver_flowcontrol_nominal_limit_seats" => {
                    if let Some(level) = s.label("priority_level") {
                        nominal.push((level.into_owned(), s.value));
                    }
                }
                b"kubernetes_build_info" => {
                    version = s
                        .label("git_version")
                        .and_then(|v| KubeVersion::parse(&v).ok());
                }
                _ => {}
            },
            Ok(_) => {}
            Err(e) => {
                first_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })
    .with_context(|| format!("{name}: cannot read"))?;
    if let Some(e) = first_error {
        bail!("{name}: not a Prometheus text scrape: {e}");
    }
    Ok(Scrape {
        name,
        version,
        nominal,
    })
}

#[derive(Serialize)]
struct DumpJson<T: Serialize> {
    file: String,
    dump: &'static str,
    rows: Vec<T>,
    notes: Vec<String>,
}

fn run_dump(a: DumpArgs) -> anyhow::Result<String> {
    let mut text_out = String::new();
    let mut json_out: Vec<serde_json::Value> = Vec::new();
    for spec in &a.files {
        let mut source = open_input(spec, &HttpOpts::default(), DEFAULT_INPUT_TIMEOUT)?;
        let mut text = String::new();
        source
            .reader
            .read_to_string(&mut text)
            .with_context(|| format!("{}: cannot read as text", source.name))?;
        let name = source.name;
        let dump = parse_dump(&text, &name)?;
        let kind = dump.kind();
        let notes = dump.notes().to_vec();
        let (table, json) = match dump {
            AnyDump::PriorityLevels(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "ACTIVE_QUEUES",
                    "IDLE",
                    "QUIESCING",
                    "WAITING",
                    "EXECUTING",
                    "DISPATCHED",
                    "REJECTED",
                    "TIMED_OUT",
                    "CANCELLED",
                ]);
                for r in &d.rows {
                    t.row(vec![
                        r.name.clone(),
                        opt(r.active_queues),
                        opt(r.is_idle),
                        opt(r.is_quiescing),
                        opt(r.waiting_requests),
                        opt(r.executing_requests),
                        opt(r.dispatched),
                        opt(r.rejected),
                        opt(r.timed_out),
                        opt(r.cancelled),
                    ]);
                }
                (t, dump_json(&name, kind, d.rows, d.notes)?)
            }
            AnyDump::Queues(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "INDEX",
                    "PENDING",
                    "EXECUTING",
                    "SEATS_IN_USE",
                    "NEXT_DISPATCH_R",
                    "INITIAL_SEATS_SUM",
                    "MAX_SEATS_SUM",
                    "TOTAL_WORK_SUM",
                    "VIRTUAL_START",
                ]);
                for r in &d.rows {
                    t.row(vec![
                        r.priority_level.clone(),
                        r.index.to_string(),
                        r.pending.to_string(),
                        r.executing.to_string(),
                        opt(r.seats_in_use),
                        opt(r.next_dispatch_r),
                        opt(r.initial_seats_sum),
                        opt(r.max_seats_sum),
                        opt(r.total_work_sum),
                        opt(r.virtual_start),
                    ]);
                }
                (t, dump_json(&name, kind, d.rows, d.notes)?)
            }
            AnyDump::Requests(d) => {
                let mut t = Table::new(&[
                    "LEVEL",
                    "FLOW_SCHEMA",
                    "STATE",
                    "QUEUE",
                    "FLOW",
                    "ARRIVED",
                    "SEATS",
                    "USER",
                    "VERB",
                    "PATH",
                ]);
                for r in &d.rows {
                    let seats = match (r.initial_seats, r.final_seats) {
                        (Some(i), Some(f)) if f > 0 => format!("{i}/{f}"),
                        (Some(i), _) => i.to_string(),
                        _ => "-".to_string(),
                    };
                    t.row(vec![
                        r.priority_level.clone(),
                        r.flow_schema.clone(),
                        if r.is_executing() {
                            "executing".to_string()
                        } else {
                            format!("queued #{}", r.request_index_in_queue)
                        },
                        r.queue_index.to_string(),
                        dash_str(&r.flow_distinguisher),
                        r.arrive_time.clone().unwrap_or_else(|| "-".to_string()),
                        seats,
                        r.user.clone().unwrap_or_else(|| "-".to_string()),
                        r.verb.clone().unwrap_or_else(|| "-".to_string()),
                        r.api_path.clone().unwrap_or_else(|| "-".to_string()),
                    ]);
                }
                (t, dump_json(&name, kind, d.rows, d.notes)?)
            }
        };
        if a.files.len() > 1 {
            text_out.push_str(&format!("== {name} ({}) ==\n", kind.endpoint()));
        }
        text_out.push_str(&table.render(""));
        for n in &notes {
            text_out.push_str(&format!("note: {name}: {n}\n"));
        }
        if a.files.len() > 1 {
            text_out.push('\n');
        }
        json_out.push(json);
    }
    if a.format == TextOrJson::Json {
        let value = if json_out.len() == 1 {
            json_out.remove(0)
        } else {
            serde_json::Value::Array(json_out)
        };
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    Ok(text_out)
}

fn dump_json<T: Serialize>(
    file: &str,
    kind: DumpKind,
    rows: Vec<T>,
    notes: Vec<String>,
) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(DumpJson {
        file: file.to_string(),
        dump: kind.endpoint(),
        rows,
        notes,
    })?)
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn dash_str(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}
