//! `apilens top`: the live terminal view, or one frame of it with `--once`.

use crate::output::TextOrJson;
use crate::shared::remote::RemoteArgs;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::targets::{EtcdArgs, KubeArgs};
use anyhow::Context as _;
use apilens_kube::ClusterOpts;
use apilens_model::parse_duration;
use apilens_sim::{KubeVersion, ScenarioConfig};
use apilens_top::{
    ClusterSettings, ClusterSource, OnceFormat, RemoteStoreSource, Settings, SimSource, Source,
    SourceChoice, SourceFlags, StoreSource,
};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The API server's load per priority level, per client and per flow, live in the terminal,
/// with the doctor's culprit and its fix one key away.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no source named, the cluster of the default kubeconfig is read (KUBECONFIG, ~/.kube/config
or the in-cluster service account), as `serve` and `record` scrape it; without one, the store in
./data.

Examples:
  apilens top --kubeconfig ~/.kube/config --context prod --audit-log audit.log --follow
  apilens top --sim chatty-daemonset
  apilens top --prometheus http://127.0.0.1:9797 --once --format json")]
pub(crate) struct Args {
    /// Run the simulator in-process with this scenario (healthy, chatty-daemonset,
    /// watch-storm, etcd-slow, apf-saturation, webhook-slow, upgrade-skew): no cluster needed.
    /// The data is SIMULATED.
    #[arg(long, value_name = "SCENARIO", conflicts_with_all = ["prometheus", "data_dir", "kubeconfig", "context", "etcd"])]
    sim: Option<String>,
    /// Kubernetes version the simulator imitates.
    #[arg(long, default_value = "1.34", value_name = "VERSION", requires = "sim")]
    kubernetes_version: KubeVersion,
    /// API server replicas of the simulator.
    #[arg(long, default_value_t = 2, value_name = "N", requires = "sim")]
    replicas: usize,
    /// Seed of the simulator's random draws.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "sim")]
    seed: u64,
    /// The embedded store directory to read (what `apilens serve` or `apilens demo --data-dir`
    /// fills); with `--kubeconfig`, the store the cluster's scrapes are kept in (default: a
    /// temporary one, removed on exit).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    kube: KubeArgs,
    #[command(flatten)]
    etcd: EtcdArgs,
    /// Time between two scrapes of every API server replica and etcd, and between two reads of
    /// the replicas' APF debug dumps, FlowSchemas and PriorityLevelConfigurations.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    scrape_interval: Duration,
    /// Audit log files or directories of the same cluster: the clients screen ranks their
    /// clients by harm (the doctor's ranking) and `y` shows the fix. Repeat for more.
    #[arg(long = "audit-log", value_name = "PATH")]
    audit_logs: Vec<PathBuf>,
    /// Follow the audit logs as they grow, by name as `tail -F` does (through rotation and
    /// truncation), from their current end, instead of reading them whole at every refresh.
    #[arg(long, requires = "audit_logs", conflicts_with = "sim")]
    follow: bool,
    /// The window every figure is read over, ending at the newest data.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    window: Duration,
    /// End of the window instead of now (RFC 3339 or Unix seconds), for `--data-dir` and
    /// `--prometheus`: a frame of an incident that is over, for a ticket.
    #[arg(long, conflicts_with_all = ["sim", "kubeconfig", "context", "etcd"])]
    until: Option<String>,
    /// Time between two refreshes.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    interval: Duration,
    /// Time between two runs of the doctor over the audit log in the live view (it reads the
    /// whole window's requests, so it runs less often than the panels); the clients screen
    /// says how much older its figures are.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    doctor_interval: Duration,
    /// How far `←` and `→` move through stored history.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    history_step: Duration,
    /// Label matchers that scope every query, without braces, e.g. `cluster="prod"`.
    #[arg(long, default_value = "")]
    selector: String,
    /// Print one frame (every screen) and exit, for scripts and tickets.
    #[arg(long)]
    once: bool,
    /// Output of `--once`.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text, requires = "once")]
    format: TextOrJson,
    /// Width of `--once --format text`.
    #[arg(long, default_value_t = 120, value_name = "COLUMNS", requires = "once")]
    width: u16,
}

/// Runs `apilens top`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    apilens_top::check_cadence(args.window, args.interval, args.scrape_interval)?;
    if args.once {
        apilens_top::remove_scratch_on_signal()?;
    }
    let mut source = open_source(&args)?;
    if args.once {
        let format = match args.format {
            TextOrJson::Json => OnceFormat::Json,
            TextOrJson::Text => OnceFormat::Text { width: args.width },
        };
        apilens_top::print_once(source.as_mut(), format)?;
        return Ok(ExitCode::SUCCESS);
    }
    apilens_top::run_on_terminal(source, args.interval, args.history_step)?;
    Ok(ExitCode::SUCCESS)
}

fn open_source(args: &Args) -> anyhow::Result<Box<dyn Source>> {
    let settings = Settings {
        window: args.window,
        selector: args.selector.clone(),
        audit_logs: args.audit_logs.clone(),
        follow: args.follow,
        until_ms: args
            .until
            .as_deref()
            .map(apilens_promql::parse_time)
            .transpose()
            .context("--until")?,
        doctor_interval: args.doctor_interval,
    };
    let choice = apilens_top::choose_source(&SourceFlags {
        sim: args.sim.is_some(),
        remote: args.remote.prometheus.is_some() || args.remote.amp_workspace.is_some(),
        named_cluster: args.kube.given() || !args.etcd.etcd.is_empty(),
        data_dir: args.data_dir.clone(),
        default_kubeconfig: ClusterOpts::default_config_found(),
    })?;
    Ok(match choice {
        SourceChoice::Sim => {
            let scenario = args.sim.clone().unwrap_or_default();
            note(&SimSource::opening_note(&scenario, args.window));
            let (replicas, seed) = (args.replicas, args.seed);
            let config = ScenarioConfig {
                replicas,
                seed,
                ..ScenarioConfig::new(&scenario, args.kubernetes_version)
            };
            Box::new(SimSource::simulate(config, settings)?)
        }
        SourceChoice::Remote => {
            let client = args.remote.client(Duration::from_secs(30))?;
            let client = client.context("--prometheus or --amp-workspace")?;
            Box::new(RemoteStoreSource::new(client, settings)?)
        }
        SourceChoice::Cluster => {
            let source = start_cluster(args, settings)?;
            note(&source.opening_note());
            Box::new(source)
        }
        SourceChoice::Store(dir) => Box::new(StoreSource::new(dir, settings)?),
    })
}

/// Writes one line on standard error; a closed stderr does not stop the view.
fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A live cluster through the kubeconfig: the replicas `serve` scrapes and etcd, and the APF
/// state `doctor --kubeconfig` reads.
fn start_cluster(args: &Args, settings: Settings) -> anyhow::Result<ClusterSource> {
    let runtime = async_runtime(Workers::Two)?;
    let kube = runtime.block_on(args.kube.connect())?;
    let (etcd, data_dir) = (args.etcd.targets()?, args.data_dir.clone());
    let first_scrapes = if args.once { 2 } else { 1 };
    let cluster = ClusterSettings::connected(
        runtime,
        kube,
        etcd,
        data_dir,
        args.scrape_interval,
        first_scrapes,
    );
    Ok(ClusterSource::start(cluster, settings)?)
}
