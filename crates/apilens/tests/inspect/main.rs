//! `apilens inspect` end to end: the real scrapes of every Kubernetes version, bad input, URLs,
//! pipes.

use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

mod pipes;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver")
        .join(name)
}

fn apiserver(version: &str) -> PathBuf {
    fixture(&format!(
        "newrelic-nri-kubernetes-apiserver-{version}-minikube.txt"
    ))
}

fn apilens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

fn inspect_json(path: &std::path::Path) -> Value {
    let out = apilens(&["inspect", path.to_str().unwrap(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn coverage_metric(report: &Value, id: &str) -> Option<String> {
    report["coverage"]
        .as_array()
        .expect("coverage list")
        .iter()
        .find(|c| c["id"] == id)
        .and_then(|c| c["metric"].as_str().map(str::to_owned))
}

#[test]
fn bundled_scrape_text_report() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/apiserver-1.34.0.txt");
    let out = apilens(&["inspect", data.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Kubernetes version:  v1.34.0 (from kubernetes_build_info)"),
        "{text}"
    );
    assert!(
        text.contains("Families: 272   Series: 24311   Samples: 24311"),
        "{text}"
    );
    assert!(
        text.contains("WATCH connections now: 166 in all (from apiserver_longrunning_requests)"),
        "{text}"
    );
    assert!(text.contains("etcd database size: 2.0 MiB"), "{text}");
    // The verdict first, the load before the coverage, and every line within 120 columns.
    // See: issue 16 (verdict first, load before coverage, tables that fit 120 columns).
    assert!(
        text.starts_with("Verdict:             OK: nothing in this scrape is at or near a limit"),
        "{text}"
    );
    let load = text.find("In-flight requests now").unwrap();
    let coverage = text.find("Troubleshooter coverage").unwrap();
    assert!(load < coverage, "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 120, "{line}");
    }
    assert!(
        text.contains("602  0.3%  APF seat pool: apiserver_flowcontrol_nominal_limit_seats summed"),
        "{text}"
    );
}

/// A server whose priority level queues and rejects reads WARNING first, and the level carries
/// its mark.
#[test]
fn a_saturated_scrape_reads_its_warning_first_with_marks() {
    let config = apilens_sim::ScenarioConfig::new(
        "apf-saturation",
        apilens_sim::KubeVersion::parse("1.34").unwrap(),
    );
    let mut sim = apilens_sim::Simulator::new(config).unwrap();
    sim.advance(std::time::Duration::from_secs(180)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.txt");
    std::fs::write(&path, sim.render_metrics(0).unwrap()).unwrap();
    let out = apilens(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Verdict:             WARNING: "), "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("priority level workload-low"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("  !  workload-low")),
        "{text}"
    );
    for line in text.lines() {
        assert!(line.chars().count() <= 120, "{line}");
    }
}

#[test]
fn json_report_of_1_34() {
    let r = inspect_json(&apiserver("1.34.0"));
    assert_eq!(r["kubernetes_version"], "v1.34.0");
    assert_eq!(
        (
            r["families"].as_u64(),
            r["series"].as_u64(),
            r["samples"].as_u64()
        ),
        (Some(272), Some(24311), Some(24311))
    );
    assert_eq!(
        coverage_metric(&r, "object_counts").as_deref(),
        Some("apiserver_resource_objects")
    );
    assert_eq!(coverage_metric(&r, "apf_rejected"), None);
    // In flight against the server's own APF seat pool, which the JSON names.
    let inflight = r["inflight"].as_array().unwrap();
    assert_eq!(inflight.len(), 3);
    let all = inflight.iter().find(|f| f["kind"] == "all").unwrap();
    assert_eq!(all["limit"], 602.0);
    assert_eq!(
        all["limit_source"],
        "APF seat pool: apiserver_flowcontrol_nominal_limit_seats summed"
    );
    // The db size gauge of this scrape: apiserver_storage_size_bytes{storage_cluster_id="etcd-0"} 2.064384e+06
    assert_eq!(r["etcd_db_size_bytes"], 2_064_384.0);
    // Configmaps have the most watchers: 12, summed over the apiserver_longrunning_requests
    // series with verb="WATCH",resource="configmaps".
    assert_eq!(r["watches"]["by_resource"][0]["name"], "configmaps");
    assert_eq!(r["watches"]["by_resource"][0]["value"], 12.0);
    let workload_low = r["priority_levels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "workload-low")
        .unwrap();
    assert_eq!(workload_low["limit_seats"], 56.0);
    let slow = r["slowest_calls"].as_array().unwrap();
    assert_eq!(slow.len(), 10);
    assert!(slow.iter().all(|c| c["verb"] != "WATCH"));
    assert!(
        slow.windows(2)
            .all(|w| w[0]["p99"].as_f64() >= w[1]["p99"].as_f64())
    );
}

#[test]
fn every_version_is_detected_and_mapped_to_its_metric_names() {
    // (version, detected, watches metric, APF limit metric, object count metric, db size metric)
    type Row = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let table: &[Row] = &[
        (
            "1.16.15",
            "v1.16.15",
            Some("apiserver_longrunning_gauge"),
            None,
            Some("etcd_object_counts"),
            None,
        ),
        (
            "1.18.20",
            // No kubernetes_build_info: the newest marker (1.18) and the oldest family hidden
            // after it (etcd_object_counts, last shown in 1.22) bound the release.
            "1.18-1.22",
            Some("apiserver_longrunning_gauge"),
            None,
            Some("etcd_object_counts"),
            None,
        ),
        (
            "1.20.15",
            "v1.20.15",
            Some("apiserver_longrunning_gauge"),
            Some("apiserver_flowcontrol_request_concurrency_limit"),
            Some("etcd_object_counts"),
            Some("etcd_db_total_size_in_bytes"),
        ),
        (
            "1.21.14",
            "v1.21.14",
            Some("apiserver_longrunning_gauge"),
            Some("apiserver_flowcontrol_request_concurrency_limit"),
            Some("apiserver_storage_objects"),
            Some("etcd_db_total_size_in_bytes"),
        ),
        (
            "1.24.17",
            "v1.24.17",
            Some("apiserver_longrunning_requests"),
            Some("apiserver_flowcontrol_request_concurrency_limit"),
            Some("apiserver_storage_objects"),
            Some("etcd_db_total_size_in_bytes"),
        ),
        (
            "1.26.8",
            "v1.26.8",
            Some("apiserver_longrunning_requests"),
            Some("apiserver_flowcontrol_current_limit_seats"),
            Some("apiserver_storage_objects"),
            Some("apiserver_storage_db_total_size_in_bytes"),
        ),
        (
            "1.31.0",
            "v1.31.0",
            Some("apiserver_longrunning_requests"),
            Some("apiserver_flowcontrol_current_limit_seats"),
            Some("apiserver_storage_objects"),
            Some("apiserver_storage_size_bytes"),
        ),
        (
            "1.35.0",
            "v1.35.0",
            Some("apiserver_longrunning_requests"),
            Some("apiserver_flowcontrol_current_limit_seats"),
            Some("apiserver_resource_objects"),
            Some("apiserver_storage_size_bytes"),
        ),
    ];
    for &(version, detected, watches, apf_limit, objects, db) in table {
        let r = inspect_json(&apiserver(version));
        assert_eq!(r["kubernetes_version"], detected, "{version}");
        assert_eq!(
            coverage_metric(&r, "watches").as_deref(),
            watches,
            "{version} watches"
        );
        assert_eq!(
            coverage_metric(&r, "apf_limit").as_deref(),
            apf_limit,
            "{version} apf"
        );
        assert_eq!(
            coverage_metric(&r, "object_counts").as_deref(),
            objects,
            "{version} objects"
        );
        assert_eq!(
            coverage_metric(&r, "db_size").as_deref(),
            db,
            "{version} db size"
        );
    }
}

#[test]
fn every_real_scrape_is_inspected() {
    let dir = fixture("");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let r = inspect_json(&path);
        assert!(r["series"].as_u64().unwrap() > 0, "{}", path.display());
    }
}

#[test]
fn invalid_input_exits_2_with_source_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, "# TYPE up gauge\nup 1\nup{job=\"x\" 1\n").unwrap();
    let out = apilens(&["inspect", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let want = format!(
        "error: {}:3:12: expected ',' or '}}' after label value, got \"1\"\n",
        path.display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), want);
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_file_is_named() {
    let out = apilens(&["inspect", "/nonexistent/metrics.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: /nonexistent/metrics.txt: cannot open"),
        "{err}"
    );
}

#[test]
fn gzip_is_read_by_content_and_stdin_works() {
    use flate2::{Compression, write::GzEncoder};
    let raw = std::fs::read(apiserver("1.28.3")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz_path = dir.path().join("scrape.bin");
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(&raw).unwrap();
    std::fs::write(&gz_path, enc.finish().unwrap()).unwrap();
    let from_gzip = inspect_json(&gz_path);
    assert_eq!(from_gzip["series"], 19007);

    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["inspect", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&raw).unwrap();
    let out = child.wait_with_output().unwrap();
    let from_stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_stdin["series"], 19007);
    assert_eq!(from_stdin["kubernetes_version"], "v1.28.3");
}

/// Serves `status` and `body` as a scrape on every connection; its `/metrics` URL.
fn serve(status: &'static str, body: Vec<u8>) -> String {
    let addr = apilens_testkit::serve_fixed(status, "text/plain; version=0.0.4", body);
    format!("http://{addr}/metrics")
}

#[test]
fn url_is_scraped() {
    let url = serve("200 OK", std::fs::read(apiserver("1.32.0")).unwrap());
    let out = apilens(&["inspect", &url, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["source"], url.as_str());
    assert_eq!(r["series"], 23967);
}

#[test]
fn failing_urls_say_which_and_why() {
    let url = serve("403 Forbidden", b"forbidden".to_vec());
    let out = apilens(&["inspect", &url]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {url}: server answered HTTP 403 Forbidden\n")
    );

    // A port nobody listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/metrics", l.local_addr().unwrap())
    };
    let out = apilens(&["inspect", &dead]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with(&format!("error: {dead}: ")), "{err}");
    assert!(err.contains("onnection refused"), "{err}");
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["inspect", apiserver("1.34.0").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn support_bundle_shows_the_latest_scrape_of_each_target() {
    use apilens_scrape::{BUNDLE_FORMAT, BUNDLE_VERSION, MANIFEST, Manifest, RecordedScrape};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scrapes")).unwrap();
    let scrape = |file: &str, instance: &str, t: i64, version: &str| {
        std::fs::copy(apiserver(version), dir.path().join(file)).unwrap();
        RecordedScrape {
            file: Some(file.to_owned()),
            job: "apiserver".into(),
            instance: instance.into(),
            source: format!("https://{instance}/metrics"),
            timestamp_ms: t,
            duration_ms: 5,
            content_type: Some("text/plain; version=0.0.4".into()),
            bytes: 0,
            error: None,
        }
    };
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        created_by: "test".into(),
        interval_ms: 15_000,
        scrapes: vec![
            scrape("scrapes/000001-a.txt", "10.0.0.1:443", 1_000, "1.32.0"),
            scrape("scrapes/000002-b.txt", "10.0.0.2:443", 1_000, "1.31.0"),
            scrape("scrapes/000003-a.txt", "10.0.0.1:443", 16_000, "1.34.0"),
        ],
    };
    std::fs::write(
        dir.path().join(MANIFEST),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let out = apilens(&["inspect", dir.path().to_str().unwrap(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let versions: Vec<&str> = reports
        .iter()
        .map(|r| r["kubernetes_version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1.34.0", "v1.31.0"]);
}
