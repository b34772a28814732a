//! `apilens demo` and `apilens report` end to end: a simulated problem shows in its section and
//! its culprit is named; the stored data reads the same afterwards; the live demo serves the
//! dashboard and the query API and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn apilens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run apilens")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn demo_reports_apf_saturation_and_names_the_client_then_report_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let data_arg = data.to_str().unwrap();
    let out = apilens(&[
        "demo",
        "--scenario",
        "apf-saturation",
        "--history",
        "10m",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_arg,
        "--exit-after-report",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("overall: CRITICAL: APF workload-low saturated by LISTs of widgets"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[CRITICAL] API Priority and Fairness"),
        "{stdout}"
    );
    assert!(stdout.contains("APF rejections by reason"), "{stdout}");
    assert!(
        stdout.contains("[WHO] the clients behind the metrics"),
        "{stdout}"
    );
    // The report fits a screen, and so does the WHO section after it.
    let (report, who) = stdout.split_once("[WHO]").unwrap_or((&stdout, ""));
    assert!(
        report.lines().count() <= 60,
        "a report of more than a screen:\n{stdout}"
    );
    assert!(
        who.lines().count() <= 20,
        "a WHO section of more than 20 lines:\n{stdout}"
    );
    assert!(
        stderr.contains("dashboard:     http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(data.join("audit.log").metadata().unwrap().len() > 0);

    let out = apilens(&[
        "report",
        "--data-dir",
        data_arg,
        "--since",
        "10m",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sections = json["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 10);
    let apf = sections
        .iter()
        .find(|s| s["row"] == "priority-and-fairness")
        .unwrap();
    assert_eq!(apf["level"], "critical", "{apf}");
    assert_eq!(json["targets"][0], serde_json::json!(["apiserver", 2]));

    let out = apilens(&[
        "report",
        "--data-dir",
        data_arg,
        "--since",
        "10m",
        "--format",
        "markdown",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("# apilens report: CRITICAL"));

    let out = apilens(&[
        "report",
        "--data-dir",
        data_arg,
        "--since",
        "10m",
        "--audit-log",
        data.join("audit.log").to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The clients behind the metrics, through the doctor's ranking.
    let who = stdout.split("[WHO]").nth(1).unwrap_or_default();
    assert!(
        who.contains("acme-operator (system:serviceaccount:acme-system:acme-operator) hurts the API server most"),
        "{stdout}"
    );
}

#[test]
fn bad_report_and_demo_arguments_say_what_is_wrong() {
    let out = apilens(&["report", "--data-dir", "/nonexistent/apilens-store"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/apilens-store does not exist"),
        "{}",
        text(&out.stderr)
    );
    let out = apilens(&["report", "--prometheus", "http://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("127.0.0.1:1"),
        "{}",
        text(&out.stderr)
    );
    let out = apilens(&["report", "--since", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--since soon: cannot parse \"soon\""),
        "{}",
        text(&out.stderr)
    );
    let out = apilens(&["demo", "--scenario", "meltdown"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("unknown scenario \"meltdown\", expected one of: healthy, chatty-daemonset"),
        "{}",
        text(&out.stderr)
    );
    let full = tempfile::tempdir().unwrap();
    std::fs::write(full.path().join("keep"), "x").unwrap();
    let out = apilens(&["demo", "--data-dir", full.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not empty"),
        "{}",
        text(&out.stderr)
    );
    let out = apilens(&["demo", "--history", "1m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("at least 5m"));
}

#[test]
fn live_demo_serves_the_dashboard_and_the_query_api_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args([
            "demo",
            "--scenario",
            "healthy",
            "--history",
            "5m",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr on a thread that keeps draining it, and hand over the dashboard URL.
    let stderr = child.stderr.take().unwrap();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("dashboard:") {
                let _ = url_tx.send(url.trim().trim_end_matches('/').to_owned());
            }
        }
    });
    let base = url_rx.recv_timeout(Duration::from_secs(300)).ok();
    let base = base.expect("the demo prints its dashboard URL");
    apilens_model::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let page = client.get(format!("{base}/")).send().unwrap();
    assert!(page.status().is_success());
    assert!(page.text().unwrap().contains("<html"));
    let up: serde_json::Value = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", "sum(up)")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(up["status"], "success", "{up}");
    assert_eq!(up["data"]["result"][0]["value"][1], "3", "{up}");
    let targets: serde_json::Value = client
        .get(format!("{base}/api/v1/targets"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        targets["data"]["activeTargets"].as_array().unwrap().len(),
        3,
        "{targets}"
    );
    // The culprit panel reads the doctor's findings over the simulated audit log: a healthy
    // cluster has none that is critical.
    let findings: serde_json::Value = client
        .get(format!("{base}/api/findings"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        findings["inputs"]["audit"]["requests"]
            .as_u64()
            .unwrap_or(0)
            > 1000,
        "{findings}"
    );
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "critical"),
        "{findings}"
    );

    // The store is held by the demo: the report says how to read it through the demo's API,
    // and that works.
    let out = apilens(&["report", "--data-dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(
        stderr.contains("--prometheus http://127.0.0.1:9797"),
        "{stderr}"
    );
    let out = apilens(&["report", "--prometheus", &base, "--since", "5m"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("overall: OK"), "{stdout}");
    assert!(stdout.contains(&format!("source {base}")), "{stdout}");

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    // The store closed cleanly and reopens with the scrapes.
    let out = apilens(&[
        "query",
        "count(up)",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("no series matched"));
    // An empty answer is an answer (exit 0), and says so on stderr.
    // See: issue 16 (`apilens query` with an empty result printed nothing).
    let out = apilens(&[
        "query",
        r#"up{job="nothing"}"#,
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).starts_with(r#"no series matched "up{job=\"nothing\"}" at "#),
        "{}",
        text(&out.stderr)
    );
}
