//! `apilens report` reads the same on the embedded store and on a real Prometheus (Debian
//! `prometheus` 2.42) holding the same data: a simulated incident is stored by `apilens demo`,
//! exported with `apilens tsdb export`, loaded with `promtool tsdb create-blocks-from
//! openmetrics`, and the report over both must give every panel the same level and headline and
//! every figure within 1e-9 relative (where `topk` keeps one of tied series, the engines may keep
//! different ones, with the tied value). The report ends 7 s off the 15 s scrape grid so that no
//! window boundary falls on a sample, where Prometheus 2's closed and 3's left-open ranges would
//! differ. With `CI` set a missing `prometheus` or `promtool` fails the test.

use apilens_testkit::{Prometheus, PrometheusOpts, peers_available, wait_for};
use std::process::{Command, Stdio};
use std::time::Duration;

fn apilens(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run apilens");
    assert!(
        out.status.success(),
        "apilens {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn report_on_prometheus_matches_report_on_the_store() {
    if !peers_available(&["prometheus", "promtool"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store_arg = store.to_str().unwrap();
    let demo = apilens(&[
        "demo",
        "--scenario",
        "apf-saturation",
        "--history",
        "30m",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        store_arg,
        "--format",
        "json",
        "--exit-after-report",
    ]);
    let demo: serde_json::Value = serde_json::from_slice(&demo.stdout).unwrap();
    let until = (demo["end_ms"].as_i64().unwrap() - 7_000) / 1000;

    let om = dir.path().join("data.om");
    apilens(&[
        "tsdb",
        "export",
        "--data-dir",
        store_arg,
        "-o",
        om.to_str().unwrap(),
    ]);
    let blocks = dir.path().join("prometheus");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&blocks)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "promtool create-blocks-from openmetrics failed"
    );
    let server = Prometheus::start(&PrometheusOpts {
        tsdb: blocks,
        ..PrometheusOpts::new(dir.path())
    });
    let url = server.url();
    wait_for(
        "prometheus to serve the blocks",
        Duration::from_secs(60),
        || {
            Command::new(env!("CARGO_BIN_EXE_apilens"))
                .args(["query", "count(up)", "--prometheus", &url])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains('3'))
        },
    );

    let until = until.to_string();
    let common = [
        "report", "--since", "20m", "--until", &until, "--format", "json",
    ];
    let ours = apilens(&[&common[..], &["--data-dir", store_arg]].concat());
    let theirs = apilens(&[&common[..], &["--prometheus", &url]].concat());
    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&theirs.stdout).unwrap();

    assert_eq!(ours["kubernetes_versions"], theirs["kubernetes_versions"]);
    assert_eq!(ours["targets"], theirs["targets"]);
    let mut compared = 0;
    let mut with_data = 0;
    for (a, b) in ours["sections"]
        .as_array()
        .unwrap()
        .iter()
        .zip(theirs["sections"].as_array().unwrap())
    {
        assert_eq!(a["level"], b["level"], "section {}", a["title"]);
        assert_eq!(a["verdict"], b["verdict"], "section {}", a["title"]);
        for (p, q) in a["panels"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["panels"].as_array().unwrap())
        {
            let id = &p["id"];
            assert_eq!(p["level"], q["level"], "{id}");
            assert_eq!(p["headline"], q["headline"], "{id}");
            assert_eq!(p["promql"], q["promql"], "{id}");
            assert!(
                p["errors"].as_array().unwrap().is_empty(),
                "{id}: {}",
                p["errors"]
            );
            assert!(
                q["errors"].as_array().unwrap().is_empty(),
                "{id}: {}",
                q["errors"]
            );
            let (ps, qs) = (
                p["series"].as_array().unwrap(),
                q["series"].as_array().unwrap(),
            );
            let both = || {
                format!(
                    "{id}: store {} vs prometheus {}",
                    serde_json::Value::Array(ps.clone()),
                    serde_json::Value::Array(qs.clone())
                )
            };
            let peak = |s: &serde_json::Value| s["peak"].as_f64().unwrap();
            // `topk` keeps one of several tied series at each step, and which one Prometheus
            // keeps depends on the order its histogram_quantile walks a Go map. So at a tie the
            // engines may name different series, or Prometheus more of them over the steps:
            // every such series must carry the tied value, and every other one must match.
            let (long, short) = if ps.len() >= qs.len() {
                (ps, qs)
            } else {
                (qs, ps)
            };
            if let Some(floor) = short.last() {
                for extra in &long[short.len()..] {
                    assert!(close(peak(extra), peak(floor)), "{}", both());
                }
            } else {
                assert!(long.is_empty(), "{}", both());
            }
            for (x, y) in ps.iter().zip(qs) {
                assert!(close(peak(x), peak(y)), "{}", both());
                if x["legend"] == y["legend"] {
                    let mean = |s: &serde_json::Value| s["mean"].as_f64().unwrap();
                    assert!(close(mean(x), mean(y)), "{}", both());
                }
            }
            assert_eq!(
                p["rows"].as_array().unwrap().len(),
                q["rows"].as_array().unwrap().len(),
                "{id}"
            );
            compared += 1;
            if p["level"] != "no-data" {
                with_data += 1;
            }
        }
    }
    assert!(compared >= 25, "only {compared} panels compared");
    assert!(with_data >= 20, "only {with_data} panels with data");
    assert_eq!(
        ours["sections"][2]["level"], "critical",
        "{}",
        ours["sections"][2]
    );
}
