//! `apilens serve --remote-write` end to end against a real Prometheus started with
//! `--web.enable-remote-write-receiver`: what apilens stores and what Prometheus received read
//! back the same through both query APIs, and samples queued while Prometheus is down arrive
//! after an apilens restart. With `CI` set a missing `prometheus` fails these tests.

use apilens_testkit::{
    KillOnDrop, Prometheus, PrometheusOpts, free_port, peers_available, wait_for,
};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.32.0-minikube.txt",
    )
}

fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// Prometheus on `addr` with the remote-write receiver; its TSDB survives a restart in `dir`.
fn start_prometheus(dir: &Path, addr: SocketAddr) -> Prometheus {
    apilens_model::install_crypto_provider();
    let mut opts = PrometheusOpts::new(dir);
    opts.port = Some(addr.port());
    opts.args
        .push("--web.enable-remote-write-receiver".to_owned());
    Prometheus::start(&opts)
}

/// `apilens serve` replaying the fixture once into `data`, writing to `remote`.
fn start_serve(data: &Path, listen: SocketAddr, remote: &str) -> KillOnDrop {
    apilens_model::install_crypto_provider();
    let child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .arg("serve")
        .arg("--target")
        .arg(fixture())
        .arg("--data-dir")
        .arg(data)
        .args(["--scrape-interval", "1s", "--listen", &listen.to_string()])
        .args(["--remote-write", remote])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let p = KillOnDrop(child);
    wait_for("the replay to finish", Duration::from_secs(60), || {
        reqwest::blocking::get(format!("http://{listen}/api/v1/targets"))
            .and_then(|r| r.text())
            .is_ok_and(|t| t.contains(r#""activeTargets":[]"#))
    });
    p
}

/// Stops `apilens serve` with SIGTERM; returns its log.
fn stop(mut p: KillOnDrop) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &p.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = p.0.wait().unwrap();
    let mut log = String::new();
    p.0.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(exit.success(), "{log}");
    log
}

/// A point whose value compares as a number (`3.33e-07` equals `0.000000333`, NaN equals
/// NaN).
#[derive(Debug, Clone, Copy)]
struct Point(f64, f64);

impl PartialEq for Point {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && (self.1 == o.1 || (self.1.is_nan() && o.1.is_nan()))
    }
}

fn query(base: &str, query: &str, t: f64) -> serde_json::Value {
    let resp: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", query.to_owned()), ("time", format!("{t:.3}"))])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(resp["status"], "success", "{resp}");
    resp["data"]["result"].clone()
}

/// A range-vector query's series: labels (as JSON) to their points.
fn matrix(base: &str, q: &str, t: f64) -> BTreeMap<String, Vec<Point>> {
    query(base, q, t)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"].to_string(),
                r["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        Point(
                            p[0].as_f64().unwrap(),
                            p[1].as_str().unwrap().parse().unwrap(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn serve_forwards_what_it_stores_to_prometheus() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prom_addr = free_addr();
    let _prom = start_prometheus(dir.path(), prom_addr);
    let prom = format!("http://{prom_addr}");
    let listen = free_addr();
    let serve = start_serve(
        &dir.path().join("data"),
        listen,
        &format!("{prom}/api/v1/write"),
    );
    let t = now() + 1.0;
    let q = r#"{instance=~".+"}[10m]"#;
    // The replay is over when the store answers the same non-empty matrix twice in a row: the
    // targets list can be empty for an instant before the scraper registers the file.
    let mut ours = BTreeMap::new();
    wait_for("the replay to be stored", Duration::from_secs(60), || {
        let again = matrix(&format!("http://{listen}"), q, t);
        let settled = !again.is_empty() && again == ours;
        ours = again;
        settled
    });
    let total: usize = ours.values().map(Vec::len).sum();
    assert!(ours.len() > 20_000, "apilens stored {} series", ours.len());
    let mut theirs = BTreeMap::new();
    wait_for(
        "prometheus to hold every sample",
        Duration::from_secs(60),
        || {
            theirs = matrix(&prom, q, t);
            theirs.values().map(Vec::len).sum::<usize>() >= total
        },
    );
    assert_eq!(theirs.len(), ours.len());
    for (labels, points) in &ours {
        assert_eq!(theirs.get(labels), Some(points), "{labels}");
    }
    let log = stop(serve);
    assert!(log.contains("remote write stopped"), "{log}");
}

#[test]
fn samples_queued_while_prometheus_is_down_arrive_after_a_restart() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let prom_addr = free_addr();
    let remote = format!("http://{prom_addr}/api/v1/write");
    let first = now();
    let log = stop(start_serve(&data, free_addr(), &remote));
    assert!(log.contains("remote write failed; retrying"), "{log}");
    let queued = std::fs::read_dir(data.join("remote-write"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum::<u64>();
    assert!(queued > 100_000, "{queued} bytes queued");

    let _prom = start_prometheus(dir.path(), prom_addr);
    let prom = format!("http://{prom_addr}");
    let listen = free_addr();
    let serve = start_serve(&data, listen, &remote);
    // Both runs' scrapes reach Prometheus: `up` has a sample from each.
    let q = r#"up{job="apiserver"}[10m]"#;
    let mut ups = BTreeMap::new();
    // The queue is sent in order: once the staleness markers that end the replay are in,
    // everything before them is too.
    wait_for(
        "both runs' samples in prometheus",
        Duration::from_secs(60),
        || {
            ups = matrix(&prom, q, now());
            ups.values().next().is_some_and(|p| p.len() >= 2)
                && query(&prom, r#"count({job="apiserver"})"#, now()) == serde_json::json!([])
        },
    );
    let points = ups.values().next().unwrap();
    assert!(
        points[0].0 >= first - 1.0 && points[0].0 < points[1].0,
        "{points:?}"
    );
    let log = stop(serve);
    assert!(
        log.contains("resending samples queued by an earlier run"),
        "{log}"
    );
    assert!(log.contains("pending=0"), "{log}");

    // Everything was acknowledged: a third run sends nothing again.
    let log = stop(start_serve(&data, free_addr(), &remote));
    assert!(
        !log.contains("resending samples queued by an earlier run"),
        "{log}"
    );
}
