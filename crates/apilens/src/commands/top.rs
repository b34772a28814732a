//! `apilens top`: the live terminal view, or one frame of it with `--once`.

use crate::output::TextOrJson;
use crate::shared::live_apf::read_cluster;
use crate::shared::remote::RemoteArgs;
use crate::shared::runtime::{Workers, async_runtime};
use crate::shared::sim_store::{AuditFile, SimTarget, scrape_all, sim_targets};
use crate::shared::targets::{EtcdArgs, KubeArgs};
use anyhow::{Context as _, bail};
use apilens_doctor::DoctorInputs;
use apilens_model::parse_duration;
use apilens_scrape::{Health, JOB_APISERVER, api_server_targets};
use apilens_sim::{KubeVersion, SCENARIOS, ScenarioConfig, Simulator};
use apilens_top::{
    ClusterSettings, ClusterSource, LiveOpts, RemoteStoreSource, Settings, SimSource, SimStart,
    Simulation, Source, StoreSource, Theme,
};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    kubernetes_version: String,
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
    if args.window < Duration::from_secs(60) {
        bail!("--window must be at least 1m: rates look a minute or more back");
    }
    if args.interval < Duration::from_millis(100) {
        bail!("--interval must be at least 100ms");
    }
    if args.scrape_interval < Duration::from_secs(1) {
        bail!("--scrape-interval must be at least 1s");
    }
    if args.once {
        remove_scratch_on_signal()?;
    }
    let mut source = open_source(&args)?;
    if args.once {
        let frame = source.read(Duration::ZERO).map_err(anyhow::Error::msg)?;
        for e in &frame.errors {
            let _ = writeln!(std::io::stderr().lock(), "warning: {e}");
        }
        let text = match args.format {
            TextOrJson::Json => apilens_top::render_json(&frame) + "\n",
            TextOrJson::Text => apilens_top::render_text(&frame, args.width.max(60)),
        };
        return match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            other => {
                other.context("writing to standard output")?;
                Ok(ExitCode::SUCCESS)
            }
        };
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!("standard output is not a terminal: use --once [--format text|json] in scripts");
    }
    apilens_top::run_live(
        source,
        LiveOpts {
            interval: args.interval,
            history_step: args.history_step,
            theme: Theme::from_env(),
            stop: Some(stop_on_signal()?),
        },
    )?;
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
    if let Some(scenario) = &args.sim {
        let _ = writeln!(
            std::io::stderr().lock(),
            "apilens top: simulating {scenario} (SIMULATED data): storing the first {} ...",
            apilens_top::duration_text(args.window.as_secs() + 60)
        );
        return Ok(Box::new(start_sim(args, scenario, settings)?));
    }
    let remote = args.remote.prometheus.is_some() || args.remote.amp_workspace.is_some();
    let named_cluster = args.kube.given() || !args.etcd.etcd.is_empty();
    if remote && named_cluster {
        bail!(
            "--prometheus and --amp-workspace read an engine, --kubeconfig, --context and --etcd a cluster: choose one"
        );
    }
    if let Some(client) = args.remote.client(Duration::from_secs(30))? {
        return Ok(Box::new(RemoteStoreSource::new(client, settings)?));
    }
    if named_cluster || (args.data_dir.is_none() && KubeArgs::default_found()) {
        let source = start_cluster(args, settings)?;
        let _ = writeln!(
            std::io::stderr().lock(),
            "apilens top: scraping every API server replica of {}{}",
            source.name(),
            if args.once {
                format!(
                    ", twice {} apart for rates, before the frame ...",
                    apilens_top::duration_text(args.scrape_interval.as_secs())
                )
            } else {
                String::new()
            }
        );
        return Ok(Box::new(source));
    }
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("data"));
    if !dir.is_dir() {
        bail!(
            "store directory {} does not exist (pass --kubeconfig PATH for a cluster, --sim SCENARIO to try it, --data-dir DIR, or --prometheus URL)",
            dir.display()
        );
    }
    Ok(Box::new(StoreSource::new(dir, settings)?))
}

/// The simulator in-process, its scrapes stored as `demo` stores them.
fn start_sim(args: &Args, scenario: &str, settings: Settings) -> anyhow::Result<SimSource> {
    if !SCENARIOS.iter().any(|s| s.name == scenario) {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!(
            "unknown scenario {scenario:?}: choose one of {}",
            names.join(", ")
        );
    }
    let version = KubeVersion::parse(&args.kubernetes_version)?;
    let name = format!("simulator {scenario} (SIMULATED)");
    Ok(SimSource::start(name, settings, |start| {
        open_sim(scenario, version, args.replicas, args.seed, &start).map_err(|e| format!("{e:#}"))
    })?)
}

/// The simulator with its scrape loops and audit log, as `demo` runs it.
struct SimRun {
    runtime: tokio::runtime::Runtime,
    sim: Simulator,
    targets: Vec<SimTarget>,
    audit: AuditFile,
}

fn open_sim(
    scenario: &str,
    kubernetes_version: KubeVersion,
    replicas: usize,
    seed: u64,
    start: &SimStart<'_>,
) -> anyhow::Result<Box<dyn Simulation>> {
    let mut sim = Simulator::new(ScenarioConfig {
        scenario: scenario.to_owned(),
        kubernetes_version,
        replicas,
        seed,
        start_unix_ms: start.start_ms,
    })?;
    let audit = AuditFile::create(start.audit_log)?;
    sim.set_audit_sink(Box::new(audit.clone()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let targets = sim_targets(&sim, &start.sink, &Health::new(), start.scrape_every);
    Ok(Box::new(SimRun {
        runtime,
        sim,
        targets,
        audit,
    }))
}

impl Simulation for SimRun {
    fn scrape_at(&mut self, t_ms: i64) -> Result<(), String> {
        self.runtime
            .block_on(scrape_all(&mut self.sim, &mut self.targets, t_ms))
            .map_err(|e| format!("{e:#}"))?;
        self.audit
            .flush()
            .map_err(|e| format!("writing the simulated audit log: {e}"))
    }
}

/// A live cluster through the kubeconfig: the replicas `serve` scrapes and etcd, and the APF
/// state `doctor --kubeconfig` reads.
fn start_cluster(args: &Args, settings: Settings) -> anyhow::Result<ClusterSource> {
    let runtime = async_runtime(Workers::Two)?;
    let kube = runtime.block_on(args.kube.connect())?;
    let etcd = args.etcd.targets()?;
    let discover = {
        let kube = kube.clone();
        Box::pin(async move {
            let (mut targets, warnings) = api_server_targets(&kube, JOB_APISERVER).await;
            targets.extend(etcd);
            (targets, warnings)
        })
    };
    let read_apf = {
        let kube = kube.clone();
        Box::new(move || {
            let kube = kube.clone();
            Box::pin(async move {
                let state = read_cluster(&kube).await;
                DoctorInputs {
                    version: state
                        .version
                        .map(|v| (v, format!("/version of {}", state.context))),
                    apf: state.objects,
                    dumps: state.dumps,
                    notes: state.notes,
                    ..DoctorInputs::default()
                }
            }) as apilens_top::ClusterFuture<DoctorInputs>
        })
    };
    Ok(ClusterSource::start(
        ClusterSettings {
            name: format!("cluster {}", kube.context()),
            runtime,
            discover,
            read_apf,
            data_dir: args.data_dir.clone(),
            scrape_interval: args.scrape_interval,
            first_scrapes: if args.once { 2 } else { 1 },
        },
        settings,
    )?)
}

/// Calls `then` on a thread of its own when the terminal closes (SIGHUP) or the process is
/// asked to stop (SIGINT, SIGTERM); the signals no longer end the process by themselves.
fn on_signal(then: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("cannot start the signal listener")?;
    let (mut hup, mut int, mut term) = runtime.block_on(async {
        Ok::<_, anyhow::Error>((
            signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
            signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        ))
    })?;
    std::thread::Builder::new()
        .name("top-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = hup.recv() => {}
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            then();
        })
        .context("cannot start the signal listener")?;
    Ok(())
}

/// `--once`: a signal (Ctrl-C while the first frame is read) removes the temporary store and
/// spool directories, then ends the process as the signal would have (exit status 130).
fn remove_scratch_on_signal() -> anyhow::Result<()> {
    on_signal(|| {
        apilens_top::remove_scratch_dirs();
        std::process::exit(130);
    })
}

/// A flag set when the terminal closes (SIGHUP) or the process is asked to stop (SIGINT,
/// SIGTERM), so that the view leaves as `q` leaves: terminal restored, temporary store removed.
fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    on_signal(move || {
        flag.store(true, Ordering::Relaxed);
        // A closed terminal can leave the main thread stuck in the terminal library; the
        // reader thread has dropped the source (and its temporary store) by now.
        std::thread::sleep(Duration::from_secs(3));
        std::process::exit(0);
    })?;
    Ok(stop)
}
