//! `apilens doctor` end to end: every simulator scenario through the demo's store and audit log,
//! the report's clients section, live APF state from a fake API server, and bad input.

#[path = "../../kube/tests/support/fake_apiserver.rs"]
mod fake_apiserver;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn apilens() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the demo for `scenario` into a new store; returns the directory.
fn demo(scenario: &str, text: bool) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(apilens()
        .args([
            "demo",
            "--scenario",
            scenario,
            "--history",
            "6m",
            "--listen",
            "127.0.0.1:0",
            "--exit-after-report",
            "--format",
            if text { "text" } else { "json" },
            "--data-dir",
        ])
        .arg(&data));
    assert!(
        out.status.success(),
        "demo {scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir, data, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the doctor over the demo's audit log and store.
fn doctor(data: &Path, extra: &[&str]) -> (Output, Value) {
    let out = run(apilens()
        .arg("doctor")
        .arg("--audit-log")
        .arg(data.join("audit.log"))
        .arg("--data-dir")
        .arg(data)
        .args(["--format", "json"])
        .args(extra));
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

fn first(json: &Value) -> &Value {
    &json["findings"][0]
}

fn summary(json: &Value) -> String {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["severity"], f["kind"], f["title"]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first finding's kind, severity and culprit user.
fn check_first(json: &Value, kind: &str, severity: &str, user: Option<&str>) {
    let f = first(json);
    let all = summary(json);
    assert_eq!(f["kind"], kind, "{all}");
    assert_eq!(f["severity"], severity, "{all}");
    match user {
        Some(u) => assert_eq!(f["culprit"]["user"], u, "{all}"),
        None => assert!(f.get("culprit").is_none(), "{all}"),
    }
    // Metrics were read and used.
    assert_eq!(json["inputs"]["kubernetes_version"], "1.34");
    assert_eq!(json["inputs"]["replicas"], 2);
}

#[test]
fn chatty_daemonset_demo_report_and_doctor_name_the_log_agent() {
    let (_dir, data, demo_out) = demo("chatty-daemonset", true);
    // The demo prints the doctor's top findings.
    let who = demo_out.split("[WHO]").nth(1).expect("a WHO section");
    assert!(
        who.contains(
            "log-agent (system:serviceaccount:logging:log-agent) hurts the API server most"
        ),
        "{who}"
    );
    let (out, json) = doctor(&data, &["--fail-on", "critical"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "--fail-on critical with a critical finding"
    );
    check_first(
        &json,
        "unbounded-list",
        "critical",
        Some("system:serviceaccount:logging:log-agent"),
    );
    let f = first(&json);
    assert!(
        f["fix"]["yaml"]
            .as_str()
            .unwrap()
            .contains("kind: FlowSchema")
    );
    assert!(
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "panels"
                && e["text"]
                    .as_str()
                    .unwrap()
                    .contains("confirm the level was saturated")),
        "{f:#}"
    );
    // The report's clients section, and its JSON, through the same ranking.
    let report = run(apilens()
        .args(["report", "--data-dir"])
        .arg(&data)
        .arg("--audit-log")
        .arg(data.join("audit.log")));
    let text = String::from_utf8_lossy(&report.stdout);
    let who = text.split("[WHO]").nth(1).expect("a WHO section");
    assert!(who.contains("log-agent"), "{who}");
    assert!(
        !who.contains("kubectl (ci-deployer)"),
        "a victim is blamed: {who}"
    );
    let report = run(apilens()
        .args(["report", "--format", "json", "--data-dir"])
        .arg(&data)
        .arg("--audit-log")
        .arg(data.join("audit.log")));
    let json: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert!(json["sections"].is_array());
    assert_eq!(json["doctor"]["findings"][0]["kind"], "unbounded-list");
    assert_eq!(
        json["doctor"]["clients"][0]["user"],
        "system:serviceaccount:logging:log-agent"
    );
}

#[test]
fn apf_saturation_names_the_operator() {
    let (_dir, data, _) = demo("apf-saturation", false);
    let (_, json) = doctor(&data, &[]);
    check_first(
        &json,
        "unbounded-list",
        "critical",
        Some("system:serviceaccount:acme-system:acme-operator"),
    );
}

#[test]
fn watch_storm_names_a_per_node_agents_fan_out() {
    let (_dir, data, _) = demo("watch-storm", false);
    let (_, json) = doctor(&data, &[]);
    let f = first(&json);
    assert_eq!(f["kind"], "watch-fanout", "{}", summary(&json));
    let user = f["culprit"]["user"].as_str().unwrap();
    assert!(
        [
            "node-exporter-sidecar",
            "security-agent",
            "cni-agent",
            "log-forwarder",
            "mesh-proxy-init"
        ]
        .iter()
        .any(|a| user.ends_with(a)),
        "{user}"
    );
}

#[test]
fn etcd_slow_names_etcd_in_the_doctor_and_the_report() {
    let (_dir, data, _) = demo("etcd-slow", false);
    let (_, json) = doctor(&data, &[]);
    check_first(&json, "etcd-slow", "critical", None);
    let report = run(apilens()
        .args(["report", "--data-dir"])
        .arg(&data)
        .arg("--audit-log")
        .arg(data.join("audit.log")));
    let text = String::from_utf8_lossy(&report.stdout);
    let who = text.split("[WHO]").nth(1).expect("a WHO section");
    assert!(
        who.contains("the cause is inside the server: etcd is slow"),
        "{who}"
    );
    assert!(
        !who.contains("kubelet (system:node:"),
        "victims blamed: {who}"
    );
}

#[test]
fn webhook_slow_names_the_webhook() {
    let (_dir, data, _) = demo("webhook-slow", false);
    let (_, json) = doctor(&data, &[]);
    check_first(&json, "webhook-slow", "critical", None);
    assert!(
        first(&json)["title"]
            .as_str()
            .unwrap()
            .contains("validate.policy.acme.example.com"),
        "{}",
        summary(&json)
    );
}

#[test]
fn healthy_and_upgrade_skew_have_nothing_critical() {
    let (_dir, data, _) = demo("healthy", false);
    let (out, json) = doctor(&data, &["--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(0), "{}", summary(&json));
    let (_dir, data, _) = demo("upgrade-skew", false);
    let (out, json) = doctor(&data, &["--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(0), "{}", summary(&json));
    // The skew itself is what is true: supported, harmless, reported as information.
    assert_eq!(first(&json)["kind"], "version-skew", "{}", summary(&json));
    assert_eq!(first(&json)["severity"], "info");
    // The text form reads at 100 columns.
    let text = run(apilens()
        .arg("doctor")
        .arg("--audit-log")
        .arg(data.join("audit.log"))
        .arg("--data-dir")
        .arg(&data));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("apilens doctor: OK"), "{text}");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "longer than 100 columns: {line:?}"
        );
    }
}

#[test]
fn live_apf_objects_and_every_replicas_dumps() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_servers, kubeconfig, dir) = runtime.block_on(async {
        let pki = fake_apiserver::pki();
        let endpoints = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let metrics = bytes::Bytes::from_static(b"up 1\n");
        let a = fake_apiserver::start_replica_with_apf(
            "127.0.0.1",
            &pki,
            metrics.clone(),
            endpoints.clone(),
        )
        .await;
        let b =
            fake_apiserver::start_replica_with_apf("127.0.0.2", &pki, metrics, endpoints.clone())
                .await;
        *endpoints.lock().unwrap() = vec![a.addr, b.addr];
        let dir = tempfile::tempdir().unwrap();
        let server = format!("https://localhost:{}", a.addr.port());
        let kubeconfig =
            fake_apiserver::kubeconfig(dir.path(), &server, &pki.ca_pem, fake_apiserver::TOKEN);
        (vec![a, b], kubeconfig, dir)
    });
    let log = dir.path().join("audit.log");
    let mut f = std::fs::File::create(&log).unwrap();
    apilens_doctor::synth::write_case(
        apilens_doctor::synth::Case::Healthy,
        &apilens_doctor::synth::SynthOpts {
            minutes: 1,
            ..Default::default()
        },
        &mut f,
    )
    .unwrap();
    // The fake servers run on the runtime's threads while the doctor runs.
    let out = run(apilens()
        .arg("doctor")
        .arg("--audit-log")
        .arg(&log)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--format", "json"]));
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let inputs = &json["inputs"];
    assert_eq!(inputs["apf_config"], "cluster test (v1)", "{inputs:#}");
    assert_eq!(inputs["kubernetes_version"], "1.34");
    assert_eq!(inputs["version_from"], "/version of test");
    assert_eq!(inputs["dumps"].as_array().unwrap().len(), 2, "{inputs:#}");
    let notes = inputs["notes"].to_string();
    // The real dump_queues of the docs elides lines with "...": a note, not a failure.
    assert!(notes.contains("dump_queues"), "{notes}");
    let kinds: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"apf-jail-in-catch-all"), "{kinds:?}");
    drop(runtime);
}

#[test]
fn bad_input_is_a_clear_error_or_note_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    std::fs::write(&log, "").unwrap();
    // An unreachable engine: a note naming it, the audit log still read; an audit log with no
    // event in it is no diagnosis (exit 2, said on standard error).
    let out = run(apilens().arg("doctor").arg("--audit-log").arg(&log).args([
        "--prometheus",
        "http://127.0.0.1:1",
        "--format",
        "json",
    ]));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no audit event could be read"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = json["inputs"]["metrics_error"].as_str().unwrap();
    assert!(err.contains("127.0.0.1:1"), "{err}");
    // YAML that is not APF: exit 2 naming the file and what it holds.
    let cm = dir.path().join("cm.yaml");
    std::fs::write(
        &cm,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .unwrap();
    let out = run(apilens()
        .arg("doctor")
        .arg("--audit-log")
        .arg(&log)
        .arg("--apf-config")
        .arg(&cm));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cm.yaml") && stderr.contains("ConfigMap"),
        "{stderr}"
    );
    // --what-if without an audit log.
    let out = run(apilens().arg("doctor").arg("--what-if").arg(&cm));
    assert_eq!(out.status.code(), Some(2));
    // A missing audit log.
    let out = run(apilens().args(["doctor", "--audit-log", "/no/such/audit.log"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/audit.log"));
}
