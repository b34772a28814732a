//! `apilens dashboard --prometheus URL` against a real Prometheus (Debian `prometheus`): the page
//! and the panel catalog are served locally, and the query API answers exactly what Prometheus
//! answers. With `CI` set a missing `prometheus` fails the test.

use apilens_testkit::{
    KillOnDrop, Prometheus, PrometheusOpts, free_port, peers_available, serve_fixed, wait_for,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `apilens dashboard --prometheus URL` on a free loopback port: its base URL and the process.
fn start_dashboard(prometheus: &str) -> (String, KillOnDrop) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args([
            "dashboard",
            "--prometheus",
            prometheus,
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
    (apilens, KillOnDrop(child))
}

/// An engine that answers every request with `status`, `content_type` and `body`.
fn fake_engine(status: &'static str, content_type: &'static str, body: &'static str) -> String {
    format!("http://{}", serve_fixed(status, content_type, body.into()))
}

/// An engine that cannot be reached, or answers with something that is not the Prometheus
/// API, is a Prometheus-style 503 `unavailable` naming the engine and what it said; a
/// Prometheus API error is passed on with its own status and body.
#[test]
fn dashboard_over_a_dead_or_foreign_engine_says_which() {
    apilens_model::install_crypto_provider();
    let http = reqwest::blocking::Client::new();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let html = "text/html";
    for (engine, says) in [
        (dead, "Connection refused"),
        (
            fake_engine("502 Bad Gateway", html, "<html>502 Bad Gateway</html>"),
            "status 502: <html>502 Bad Gateway</html>",
        ),
        (
            fake_engine("200 OK", html, "<html>Sign in</html>"),
            "not a Prometheus API answer: <html>Sign in</html>",
        ),
    ] {
        let (apilens, _child) = start_dashboard(&engine);
        let resp = http
            .get(format!("{apilens}/api/v1/query"))
            .query(&[("query", "up")])
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 503);
        let body: serde_json::Value = resp.json().unwrap();
        assert_eq!(body["errorType"], "unavailable", "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(&engine) && error.contains(says), "{error}");
    }
    let json = "application/json";
    for (status, body) in [
        (
            "422 Unprocessable Entity",
            r#"{"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"}"#,
        ),
        (
            "503 Service Unavailable",
            r#"{"status":"error","errorType":"unavailable","error":"too many concurrent queries"}"#,
        ),
    ] {
        let (apilens, _child) = start_dashboard(&fake_engine(status, json, body));
        let resp = http
            .post(format!("{apilens}/api/v1/query_range"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("query=up&start=0&end=60&step=15")
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16().to_string(), status[..3]);
        assert_eq!(resp.text().unwrap(), body);
    }
}

#[test]
fn dashboard_over_a_real_prometheus_passes_its_answers_through() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    apilens_model::install_crypto_provider();
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

    let (apilens, mut child) = start_dashboard(&prometheus);

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

    // A query Prometheus refuses comes back as Prometheus answered it: its status and body.
    let refused = [("query", "sum("), ("time", end.as_str())];
    let theirs = http
        .get(format!("{prometheus}/api/v1/query"))
        .query(&refused)
        .send()
        .unwrap();
    let ours = http
        .get(format!("{apilens}/api/v1/query"))
        .query(&refused)
        .send()
        .unwrap();
    assert_eq!(theirs.status().as_u16(), 400);
    assert_eq!(ours.status(), theirs.status());
    let ours = ours.text().unwrap();
    assert_eq!(ours, theirs.text().unwrap());
    assert!(ours.contains(r#""errorType":"bad_data""#), "{ours}");
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

/// With `--audit-log`, the culprit panel's `/api/findings` answers 404 until the doctor has read
/// the log in the background, then its findings over that log.
#[test]
fn dashboard_serves_the_doctors_findings_over_an_audit_log() {
    let log = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/real/audit/liggitt-audit2rbac-demo.log"
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args([
            "dashboard",
            "--prometheus",
            &dead,
            "--listen",
            "127.0.0.1:0",
            "--audit-log",
            log,
            "--kubernetes-version",
            "1.29",
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
    let _child = KillOnDrop(child);
    let base = line
        .strip_prefix("dashboard: ")
        .and_then(|l| l.split('/').nth(2))
        .map(|host| format!("http://{host}"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    apilens_model::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let mut body = serde_json::Value::Null;
    wait_for(
        "the culprit panel",
        Duration::from_secs(60),
        || match client.get(format!("{base}/api/findings")).send() {
            Ok(r) if r.status().is_success() => {
                body = r.json().unwrap();
                true
            }
            Ok(r) => {
                assert_eq!(r.status().as_u16(), 404, "before the diagnosis");
                false
            }
            Err(_) => false,
        },
    );
    assert!(
        body["inputs"]["audit"]["requests"].as_u64().unwrap_or(0) > 10,
        "{body}"
    );
    assert_eq!(body["inputs"]["kubernetes_version"], "1.29", "{body}");
    assert!(body["findings"].is_array(), "{body}");
}
