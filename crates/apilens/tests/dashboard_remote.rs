//! `apilens dashboard --prometheus URL` against a real Prometheus (Debian `prometheus`): the page
//! and the panel catalog are served locally, and the query API answers exactly what Prometheus
//! answers. With `CI` set a missing `prometheus` fails the test.

use apilens_testkit::{
    KillOnDrop, Prometheus, PrometheusOpts, free_port, peers_available, wait_for,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn dashboard_over_a_real_prometheus_passes_its_answers_through() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Prometheus::start(&PrometheusOpts {
        config: format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
        port: Some(port),
        ..PrometheusOpts::new(dir.path())
    });
    let prometheus = server.url();
    let http = reqwest::blocking::Client::new();
    wait_for(
        "prometheus to scrape itself",
        Duration::from_secs(60),
        || {
            http.get(format!("{prometheus}/api/v1/query"))
                .query(&[("query", "up")])
                .send()
                .ok()
                .and_then(|r| r.json::<serde_json::Value>().ok())
                .is_some_and(|v| {
                    v["data"]["result"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty())
                })
        },
    );
    // A few scrapes, so that whole-second steps find samples.
    std::thread::sleep(Duration::from_secs(3));

    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args([
            "dashboard",
            "--prometheus",
            &prometheus,
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let apilens = line
        .strip_prefix("dashboard: ")
        .and_then(|l| l.split('/').nth(2))
        .map(|host| format!("http://{host}"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let mut child = KillOnDrop(child);

    let page = http.get(format!("{apilens}/")).send().unwrap();
    assert!(page.status().is_success());
    let panels: serde_json::Value = http
        .get(format!("{apilens}/api/panels"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        panels
            .to_string()
            .contains("apiserver_current_inflight_requests")
    );

    // Same question, same answer, byte for byte.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 30).to_string(), now.to_string());
    let range = [
        ("query", "sum by (job) (up)"),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", "5s"),
    ];
    let theirs = http
        .get(format!("{prometheus}/api/v1/query_range"))
        .query(&range)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let ours = http
        .post(format!("{apilens}/api/v1/query_range"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            range
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.replace(' ', "+").replace('(', "%28").replace(')', "%29")
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
        )
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(ours, theirs);
    assert!(ours.contains(r#""job":"self""#), "{ours}");
    let instant = [("query", "count(up) * 2"), ("time", end.as_str())];
    let theirs = http
        .get(format!("{prometheus}/api/v1/query"))
        .query(&instant)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let ours = http
        .get(format!("{apilens}/api/v1/query"))
        .query(&instant)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(ours, theirs);

    // A query Prometheus refuses comes back as a Prometheus-style error naming the engine.
    let bad = http
        .get(format!("{apilens}/api/v1/query"))
        .query(&[("query", "sum(")])
        .send()
        .unwrap();
    assert!(!bad.status().is_success());
    let body: serde_json::Value = bad.json().unwrap();
    assert_eq!(body["status"], "error");
    assert!(
        body["error"].as_str().unwrap().contains(&prometheus),
        "{body}"
    );
    let missing = http
        .get(format!("{apilens}/api/v1/query_range?query=up"))
        .send()
        .unwrap();
    assert_eq!(missing.status().as_u16(), 400);

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.0.wait().unwrap().success());
}
