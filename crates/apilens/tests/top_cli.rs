//! `apilens top` end to end: one frame for scripts from the simulator, errors of bad sources,
//! and the live view in a real terminal (tmux): keys, the culprit on the clients screen, and
//! the terminal put back after `q`; a live cluster through its kubeconfig (fake API servers
//! serving the real fixtures over HTTPS) and its errors.

#[path = "../../kube/tests/support/fake_apiserver.rs"]
mod fake_apiserver;

use std::process::Command;
use std::time::{Duration, Instant};

fn apilens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A store (and its audit log, `audit.log`) of six simulated minutes of APF saturation, filled
/// by `apilens demo` under `dir`.
fn demo_store(dir: &std::path::Path) -> std::path::PathBuf {
    let data = dir.join("store");
    let out = apilens(&[
        "demo",
        "--scenario",
        "apf-saturation",
        "--history",
        "6m",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--exit-after-report",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    data
}

const LOG_AGENT: &str = "system:serviceaccount:logging:log-agent";

#[test]
fn once_json_names_the_log_agent_and_fills_every_screen() {
    let out = apilens(&[
        "top",
        "--sim",
        "chatty-daemonset",
        "--once",
        "--format",
        "json",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let frame: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(frame["culprit"]["user"], LOG_AGENT, "{stdout}");
    assert_eq!(frame["culprit"]["severity"], "CRITICAL", "{stdout}");
    assert!(
        frame["culprit"]["fix_yaml"]
            .as_str()
            .unwrap()
            .contains("kind: FlowSchema"),
        "{stdout}"
    );
    assert_eq!(frame["clients"][0]["user"], LOG_AGENT);
    // Its requests by verb and resource, from the same audit window: the LISTs of pods first.
    let requests = frame["culprit"]["requests"].as_array().unwrap();
    assert_eq!(requests[0]["call"], "list pods", "{requests:?}");
    assert!(requests[0]["count"].as_u64().unwrap() > 100, "{requests:?}");
    let levels = frame["levels"].as_array().unwrap();
    assert!(
        levels
            .iter()
            .any(|l| l["instance"] == "apiserver-1.sim:6443"),
        "every replica's levels: {levels:?}"
    );
    // Seats in use against each replica's limit, and the borrowing between levels.
    for l in levels.iter().filter(|l| l["level"] == "workload-low") {
        let (in_use, limit) = (l["seats_in_use"].as_f64(), l["seats_limit"].as_f64());
        assert!(limit.is_some_and(|v| v > 0.0), "{l}");
        assert!(in_use.is_some_and(|v| v >= 0.0), "{l}");
        assert!(l["seats_borrowed"].is_number(), "{l}");
    }
    assert!(!frame["sections"].as_array().unwrap().is_empty());
    assert!(!frame["calls"].as_array().unwrap().is_empty());
    assert!(!frame["etcd"].as_array().unwrap().is_empty());
    assert!(frame["source"].as_str().unwrap().contains("SIMULATED"));
}

#[test]
fn once_text_fits_80_columns_and_shows_every_screen() {
    let out = apilens(&[
        "top",
        "--sim",
        "chatty-daemonset",
        "--once",
        "--width",
        "80",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for title in [
        "Overview",
        "Priority levels",
        "Clients",
        "Slowest calls",
        "WATCHes",
        "etcd",
    ] {
        assert!(
            stdout.contains(&format!("apilens top · {title}")),
            "{title}\n{stdout}"
        );
    }
    assert!(stdout.contains("sa:logging:log-agent"), "{stdout}");
    let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest <= 80, "a line of {widest} columns\n{stdout}");
}

/// Runs apilens with `args` and checks that it fails with status 2 and `message` on stderr.
fn fails_with(args: &[&str], message: &str) {
    let out = apilens(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{stderr}");
    assert!(stderr.contains(message), "{args:?}: {message}\n{stderr}");
}

#[test]
fn a_missing_store_a_dead_engine_or_a_bad_scenario_is_an_error_naming_it() {
    fails_with(
        &["top", "--data-dir", "/nonexistent/apilens", "--once"],
        "store directory /nonexistent/apilens does not exist",
    );
    fails_with(
        &["top", "--prometheus", "http://127.0.0.1:1", "--once"],
        "http://127.0.0.1:1",
    );
    fails_with(
        &["top", "--sim", "no-such-scenario", "--once"],
        "unknown scenario \"no-such-scenario\"",
    );
    fails_with(
        &[
            "top",
            "--data-dir",
            "/tmp",
            "--audit-log",
            "/tmp",
            "--follow",
            "--once",
        ],
        "--follow follows files, not directories",
    );
}

#[test]
fn the_live_view_refuses_a_pipe() {
    fails_with(&["top", "--sim", "healthy"], "not a terminal");
}

/// A tmux server of the test's own, killed at the end whatever happens.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        text(&out.stdout)
    }

    /// Runs `script` with `sh -c` in a 100x30 pane.
    fn start(&self, script: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            script,
        ]);
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "top"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Sends Escape on its own: a terminal reads Escape followed at once by a key as
    /// Alt+key.
    fn escape(&self) {
        self.keys(&["Escape"]);
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Waits until the pane shows what `done` accepts, and returns it.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let pane = self.capture();
            if done(&pane) {
                return pane;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the pane:\n{pane}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[test]
fn in_a_real_terminal_keys_work_the_culprit_shows_and_q_restores_the_terminal() {
    if !apilens_testkit::peers_run(&[("tmux", &["-V"])]) {
        return;
    }
    let tmux = Tmux {
        socket: format!("apilens-top-test-{}", std::process::id()),
    };
    // After apilens exits, the shell prints the terminal's line discipline: raw mode left on
    // would show as `-icanon -echo`.
    let script = format!(
        "{} top --sim chatty-daemonset --interval 1s; echo \"EXITED $?\"; stty -a | tr ' ' '\\n' | grep -x -e '-\\?icanon' -e '-\\?echo'; sleep 60",
        env!("CARGO_BIN_EXE_apilens")
    );
    tmux.start(&script);
    let pane = tmux.wait_for("the first frame", |p| {
        p.contains("apilens top · Overview") && p.contains("LEVEL") && p.contains("SECTION")
    });
    assert!(pane.contains("q:quit"), "{pane}");

    tmux.keys(&[":clients", "Enter"]);
    let pane = tmux.wait_for("the culprit on the clients screen", |p| {
        p.lines()
            .any(|l| l.contains("CRIT") && l.contains("sa:logging:log-agent"))
    });
    assert!(pane.contains("apilens top · Clients"), "{pane}");

    tmux.keys(&["y"]);
    tmux.wait_for("the fix YAML", |p| {
        p.contains("kind: PriorityLevelConfiguration")
    });
    tmux.escape();
    tmux.keys(&[":pl", "Enter"]);
    tmux.wait_for("the priority levels", |p| {
        p.contains("apilens top · Priority levels") && p.contains("apiserver-1.sim:6443")
    });
    // Seats used over each replica's limit, and the borrowing column.
    tmux.wait_for("seats used/limit and borrowing", |p| {
        p.contains("SEATS")
            && p.contains("BORROW")
            && p.lines().any(|l| {
                l.starts_with("workload-low")
                    && l.split_whitespace().any(|w| {
                        w.split_once('/').is_some_and(|(a, b)| {
                            a.parse::<f64>().is_ok() && b.parse::<f64>().is_ok()
                        })
                    })
            })
    });
    // Drill down: the level, its FlowSchemas and clients, the culprit's finding, its YAML.
    tmux.keys(&["/workload-low", "Enter"]);
    tmux.keys(&["Enter"]);
    let pane = tmux.wait_for("the level's FlowSchemas and clients", |p| {
        p.contains("apilens top · Clients")
            && p.contains("FLOW SCHEMA")
            && p.lines()
                .any(|l| l.contains("CRIT") && l.contains("sa:logging:log-agent"))
    });
    assert!(pane.contains("workload-low"), "{pane}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the culprit's finding", |p| {
        p.contains("client · Esc closes")
            && p.contains("user        system:serviceaccount:logging:log-agent")
    });
    // One more step: its raw audit events, a LIST of pods among them; Esc back to the finding.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the culprit's audit events", |p| {
        p.contains("audit events (Esc: back to the client)")
            && p.lines()
                .any(|l| l.contains(" list ") && l.contains("/api/v1/pods"))
    });
    tmux.escape();
    tmux.wait_for("back on the culprit's finding", |p| {
        p.contains("client · Esc closes")
            && p.contains("user        system:serviceaccount:logging:log-agent")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the culprit's fix YAML", |p| {
        p.contains("kubectl apply -f - for system:serviceaccount:logging:log-agent")
            && p.contains("kind: PriorityLevelConfiguration")
    });
    tmux.escape();
    tmux.keys(&["BSpace"]);
    tmux.wait_for("back on the priority levels", |p| {
        p.contains("apilens top · Priority levels") && p.contains("apiserver-1.sim:6443")
    });
    tmux.keys(&["?"]);
    tmux.wait_for("the help", |p| {
        p.contains(":watches") && p.contains("Esc closes")
    });
    tmux.escape();
    tmux.keys(&["Left"]);
    tmux.wait_for("history one step back", |p| p.contains("1m ago"));

    tmux.keys(&["q"]);
    // `stty` prints a moment after the exit line: wait for its last mode too.
    let pane = tmux.wait_for("the exit and the terminal modes", |p| {
        p.contains("EXITED") && p.lines().any(|l| matches!(l.trim(), "echo" | "-echo"))
    });
    assert!(pane.contains("EXITED 0"), "{pane}");
    assert!(
        !pane.contains("apilens top ·"),
        "the alternate screen was left on:\n{pane}"
    );
    let modes: Vec<&str> = pane
        .lines()
        .map(str::trim)
        .filter(|l| l.ends_with("icanon") || l.ends_with("echo"))
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "{pane}");
}

#[test]
fn a_store_filled_by_the_demo_reads_with_its_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_store(dir.path());
    let data_arg = data.to_str().unwrap();
    let audit = data.join("audit.log");
    let out = apilens(&[
        "top",
        "--data-dir",
        data_arg,
        "--audit-log",
        audit.to_str().unwrap(),
        "--once",
        "--format",
        "json",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let frame: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(frame["source"], format!("store {data_arg}"));
    assert_eq!(frame["culprit"]["severity"], "CRITICAL", "{stdout}");
    assert_eq!(
        frame["culprit"]["priority_level"], "workload-low",
        "{stdout}"
    );
    let full = frame["levels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["level"] == "workload-low")
        .filter_map(|l| l["utilisation_peak_pct"].as_f64())
        .fold(0.0_f64, f64::max);
    assert!(full >= 99.0, "workload-low peaks at {full}%\n{stdout}");
    // Without the audit log the clients screen says where clients come from.
    let out = apilens(&["top", "--data-dir", data_arg, "--once"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("no clients: they come from the audit log"),
        "{stdout}"
    );
}

#[test]
fn a_followed_audit_log_names_the_culprit_once_its_lines_arrive_through_a_rotation() {
    if !apilens_testkit::peers_run(&[("tmux", &["-V"])]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = demo_store(dir.path());
    let followed = dir.path().join("followed.log");
    std::fs::write(&followed, "").unwrap();
    let tmux = Tmux {
        socket: format!("apilens-top-follow-{}", std::process::id()),
    };
    let script = format!(
        "{} top --data-dir {} --audit-log {} --follow --interval 1s; echo \"EXITED $?\"; sleep 60",
        env!("CARGO_BIN_EXE_apilens"),
        data.display(),
        followed.display()
    );
    tmux.start(&script);
    tmux.keys(&["3"]);
    tmux.wait_for("the first frame, no clients yet", |p| {
        p.contains("apilens top · Clients") && p.contains("no clients")
    });
    // The log is rotated away and the requests arrive in the new file.
    std::fs::rename(&followed, dir.path().join("followed.log.1")).unwrap();
    std::fs::copy(data.join("audit.log"), &followed).unwrap();
    let pane = tmux.wait_for("the culprit from the followed log", |p| {
        p.lines()
            .any(|l| l.starts_with("CRIT ") && l.contains("workload-low"))
    });
    assert!(pane.contains("culprit CRITICAL"), "{pane}");
    // Quit and wait for the exit, so that the spool is removed before tmux goes.
    tmux.keys(&["q"]);
    let pane = tmux.wait_for("the exit", |p| p.contains("EXITED"));
    assert!(pane.contains("EXITED 0"), "{pane}");
}

/// True when two JSON numbers (or nulls) agree within 1e-9 relative.
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

#[test]
fn a_frame_reads_the_same_on_prometheus_as_on_the_store() {
    use apilens_testkit::{Prometheus, PrometheusOpts, peers_available, wait_for};
    if !peers_available(&["prometheus", "promtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = demo_store(dir.path());
    let data_arg = data.to_str().unwrap();
    let om = dir.path().join("data.om");
    let out = apilens(&[
        "tsdb",
        "export",
        "--data-dir",
        data_arg,
        "-o",
        om.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let blocks = dir.path().join("prometheus");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&blocks)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "promtool create-blocks-from openmetrics");
    let server = Prometheus::start(&PrometheusOpts {
        tsdb: blocks,
        ..PrometheusOpts::new(dir.path())
    });
    let url = server.url();
    wait_for(
        "prometheus to serve the blocks",
        Duration::from_secs(60),
        || {
            apilens(&["query", "count(up)", "--prometheus", &url])
                .stdout
                .contains(&b'3')
        },
    );
    // Off the 15 s scrape grid, so that no window edge falls on a sample (Prometheus 2 closes
    // its ranges, 3 and apilens leave them open on the left).
    let until = ((std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        / 15_000
        * 15_000
        - 7_000)
        / 1000)
        .to_string();
    let audit = data.join("audit.log");
    let common = [
        "top",
        "--once",
        "--format",
        "json",
        "--until",
        &until,
        "--audit-log",
        audit.to_str().unwrap(),
    ];
    let frame = |source: &[&str]| -> serde_json::Value {
        let out = apilens(&[&common[..], source].concat());
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let ours = frame(&["--data-dir", data_arg]);
    let theirs = frame(&["--prometheus", &url]);
    assert_eq!(ours["level"], theirs["level"]);
    assert_eq!(ours["overall"], theirs["overall"]);
    // Levels and figures; the verdict sentences may differ in the last digit of a quantile
    // (etcd's backend commit p99: 55 ms here, 54.9 ms on Prometheus 2.42).
    for (x, y) in ours["sections"]
        .as_array()
        .unwrap()
        .iter()
        .zip(theirs["sections"].as_array().unwrap())
    {
        assert_eq!(x["title"], y["title"]);
        assert_eq!(x["level"], y["level"], "{}", x["title"]);
        assert!(close(&x["figure"], &y["figure"]), "{x} vs {y}");
    }
    // The culprit, its evidence and its fix; sums over scan threads may differ in the last bits.
    for (key, value) in ours["culprit"].as_object().unwrap() {
        assert!(close(value, &theirs["culprit"][key]), "{key}");
    }
    assert_eq!(
        ours["culprit"]["user"],
        "system:serviceaccount:acme-system:acme-operator"
    );
    let (a, b) = (
        ours["levels"].as_array().unwrap(),
        theirs["levels"].as_array().unwrap(),
    );
    assert!(a.len() >= 8, "{a:?}");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        for (key, value) in x.as_object().unwrap() {
            assert!(close(value, &y[key]), "{key}: {x} vs {y}");
        }
    }
}

#[test]
fn closing_the_terminal_ends_the_view_and_removes_its_temporary_store() {
    if !apilens_testkit::peers_run(&[("tmux", &["-V"])]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("apilens-top-hup-{}", std::process::id()),
    };
    tmux.start(&format!(
        "TMPDIR={} exec {} top --sim healthy --interval 1s",
        tmp.path().display(),
        env!("CARGO_BIN_EXE_apilens")
    ));
    tmux.wait_for("the first frame", |p| p.contains("SECTION"));
    let stored = || std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(stored(), 1, "the simulator's temporary store");
    // Killing the server closes the terminal: the view gets SIGHUP.
    tmux.run(&["kill-server"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored() > 0 {
        assert!(
            Instant::now() < deadline,
            "the temporary store is left behind"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ctrl-C (SIGINT) while `--once` fills the simulator's store removes the temporary store, and
/// the process ends with the status a signal gives (130).
#[test]
fn ctrl_c_during_once_removes_the_temporary_store() {
    let tmp = tempfile::tempdir().unwrap();
    // A long window: the history the simulator stores first takes seconds, time to interrupt.
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["top", "--sim", "healthy", "--window", "6h", "--once"])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stored = || std::fs::read_dir(tmp.path()).unwrap().count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored() == 0 {
        assert!(Instant::now() < deadline, "no temporary store was made");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Two fake API server replicas on 127.0.0.1 and 127.0.0.2 serving the real 1.34 scrape, the
/// real APF dumps and a FlowSchema that jails a client in catch-all, and their kubeconfig.
fn fake_cluster(
    dir: &std::path::Path,
) -> (
    tokio::runtime::Runtime,
    Vec<fake_apiserver::Replica>,
    std::path::PathBuf,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let metrics = bytes::Bytes::from(std::fs::read(fake_apiserver::fixture("1.34.0")).unwrap());
    let (replicas, kubeconfig) =
        runtime.block_on(fake_apiserver::two_replicas_with_apf(metrics, dir));
    (runtime, replicas, kubeconfig)
}

/// One JSON frame of `apilens top --kubeconfig KUBECONFIG [EXTRA]`, two scrapes a second apart,
/// with its temporary files in `tmp`.
fn cluster_once(
    tmp: &std::path::Path,
    kubeconfig: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .arg("top")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--scrape-interval", "1s", "--once", "--format", "json"])
        .args(extra)
        .env("TMPDIR", tmp)
        .output()
        .expect("run apilens")
}

#[test]
fn a_live_cluster_through_its_kubeconfig_gives_levels_per_replica_and_findings_from_its_apf_state()
{
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (_runtime, replicas, kubeconfig) = fake_cluster(dir.path());
    let out = cluster_once(tmp.path(), &kubeconfig, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let frame: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(frame["source"], "cluster test", "{stdout}");
    // Every replica scraped twice, each replica's APF state read.
    for r in &replicas {
        let requests = r.requests.lock().unwrap().clone();
        let count = |path: &str| requests.iter().filter(|q| q.contains(path)).count();
        assert!(count("GET /metrics") >= 2, "{requests:?}");
        for dump in ["dump_priority_levels", "dump_queues", "dump_requests"] {
            assert!(count(dump) >= 1, "{dump}: {requests:?}");
        }
    }
    // The priority levels of the real scrape, per replica.
    let levels = frame["levels"].as_array().unwrap();
    for r in &replicas {
        let instance = r.addr.to_string();
        let names: Vec<&str> = levels
            .iter()
            .filter(|l| l["instance"] == instance.as_str())
            .map(|l| l["level"].as_str().unwrap())
            .collect();
        for level in ["workload-low", "global-default", "system", "catch-all"] {
            assert!(names.contains(&level), "{instance} {level}: {names:?}");
        }
        // The real 1.34 scrape's seats: workload-low lends 189 of its 245 nominal seats
        // (current_limit_seats 56), within 24..=845.
        let low = levels
            .iter()
            .find(|l| l["instance"] == instance.as_str() && l["level"] == "workload-low")
            .unwrap();
        assert_eq!(low["seats_limit"], 56.0, "{low}");
        assert_eq!(low["seats_borrowed"], -189.0, "{low}");
        assert_eq!(low["seats_in_use"], 1.0, "{low}");
        assert_eq!(
            (&low["seats_lower"], &low["seats_upper"]),
            (&24.0.into(), &845.0.into()),
            "{low}"
        );
    }
    // The doctor read the cluster's own FlowSchemas and every replica's dumps.
    let findings = frame["findings"].as_array().unwrap();
    let jail = findings
        .iter()
        .find(|f| f["kind"] == "apf-jail-in-catch-all")
        .unwrap_or_else(|| panic!("{findings:?}"));
    assert!(
        jail["title"].as_str().unwrap().contains("jail-noisy"),
        "{jail}"
    );
    let notes = frame["notes"].to_string();
    for r in &replicas {
        assert!(
            notes.contains(&format!("{} dump_queues", r.addr)),
            "{}: {notes}",
            r.addr
        );
    }
    assert_eq!(frame["errors"], serde_json::json!([]), "{stdout}");
    // The temporary store is gone.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_cluster_scraped_into_a_data_dir_reads_back_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_runtime, replicas, kubeconfig) = fake_cluster(dir.path());
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let out = cluster_once(dir.path(), &kubeconfig, &["--data-dir", data_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let live: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected: std::collections::BTreeSet<String> =
        replicas.iter().map(|r| r.addr.to_string()).collect();
    let levels: std::collections::BTreeSet<String> = live["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["instance"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(levels, expected);
    // The store kept both scrapes of each replica.
    let out = apilens(&[
        "query",
        "--data-dir",
        data_arg,
        "--format",
        "json",
        "count_over_time(apiserver_flowcontrol_nominal_limit_seats{priority_level=\"workload-low\"}[5m])",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stored: std::collections::BTreeSet<String> = answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["value"][1].as_str().unwrap().parse::<f64>().unwrap() >= 2.0)
        .map(|r| r["metric"]["instance"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, expected, "{answer}");
}

#[test]
fn a_dead_server_refused_credentials_or_forbidden_dumps_are_errors_naming_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pki = fake_apiserver::pki();
    let once = |kubeconfig: &std::path::Path| cluster_once(tmp.path(), kubeconfig, &[]);
    // Nothing listens: an error naming the server, exit 2.
    let url = format!("https://localhost:{}", apilens_testkit::free_port());
    let dead = fake_apiserver::kubeconfig(dir.path(), &url, &pki.ca_pem, fake_apiserver::TOKEN);
    let out = once(&dead);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cluster test: no API server answers") && stderr.contains(&url),
        "{stderr}"
    );
    // A token the server refuses: 401 named with the server, the token never printed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let endpoints = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let metrics = bytes::Bytes::from(std::fs::read(fake_apiserver::fixture("1.34.0")).unwrap());
    let replica = runtime.block_on(fake_apiserver::start_replica_forbidding_apf(
        "127.0.0.1",
        &pki,
        metrics,
        std::sync::Arc::clone(&endpoints),
    ));
    *endpoints.lock().unwrap() = vec![replica.addr];
    let server = format!("https://localhost:{}", replica.addr.port());
    let refused = dir.path().join("refused");
    std::fs::create_dir(&refused).unwrap();
    let wrong = fake_apiserver::kubeconfig(&refused, &server, &pki.ca_pem, "wrong-token-3f9a1c");
    let out = once(&wrong);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("HTTP 401") && stderr.contains(&server),
        "{stderr}"
    );
    assert!(!format!("{stdout}{stderr}").contains("wrong-token-3f9a1c"));
    // Dumps and APF objects refused with 403: the frame still comes, its errors name each
    // dump and the replica.
    let allowed = dir.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    let kubeconfig =
        fake_apiserver::kubeconfig(&allowed, &server, &pki.ca_pem, fake_apiserver::TOKEN);
    let out = once(&kubeconfig);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let frame: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let errors: Vec<&str> = frame["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for dump in ["dump_priority_levels", "dump_queues", "dump_requests"] {
        assert!(
            errors.iter().any(|e| e.contains(dump)
                && e.contains("HTTP 403")
                && e.contains(&replica.addr.to_string())),
            "{dump}: {errors:?}"
        );
        assert!(
            stderr.contains(&format!(
                "warning: GET /debug/api_priority_and_fairness/{dump}"
            )),
            "{stderr}"
        );
    }
    assert!(
        errors
            .iter()
            .any(|e| e.contains("flowschemas") && e.contains("HTTP 403")),
        "{errors:?}"
    );
    assert!(!frame["levels"].as_array().unwrap().is_empty(), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    drop(runtime);
}

#[test]
fn in_a_real_terminal_a_dead_cluster_shows_in_the_status_line_and_q_still_quits() {
    if !apilens_testkit::peers_run(&[("tmux", &["-V"])]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = fake_apiserver::pki();
    let port = apilens_testkit::free_port();
    let kubeconfig = fake_apiserver::kubeconfig(
        dir.path(),
        &format!("https://localhost:{port}"),
        &pki.ca_pem,
        fake_apiserver::TOKEN,
    );
    let tmux = Tmux {
        socket: format!("apilens-top-dead-{}", std::process::id()),
    };
    tmux.start(&format!(
        "TMPDIR={} {} top --kubeconfig {} --interval 1s; echo \"EXITED $?\"; sleep 60",
        dir.path().display(),
        env!("CARGO_BIN_EXE_apilens"),
        kubeconfig.display()
    ));
    tmux.wait_for("the error in the status line", |p| {
        p.contains("no API server answers") && p.contains(&format!("localhost:{port}"))
    });
    // The keys still work while the source fails.
    tmux.keys(&[":pl", "Enter"]);
    tmux.wait_for("the levels screen", |p| p.contains("Priority levels"));
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |p| p.contains("EXITED 0"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("apilens-top-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
