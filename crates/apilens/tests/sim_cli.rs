//! `apilens sim` end to end: listing, help, bad input, and a short served run with an audit log.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn apilens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

#[test]
fn list_names_every_scenario_on_one_line() {
    let out = apilens(&["sim", "--list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "healthy",
            "chatty-daemonset",
            "watch-storm",
            "etcd-slow",
            "apf-saturation",
            "webhook-slow",
            "upgrade-skew"
        ]
    );
}

#[test]
fn help_says_the_data_is_simulated() {
    let out = apilens(&["sim", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("SIMULATED"), "{text}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = apilens(&["sim", "--scenario", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown scenario \"nope\", expected one of: healthy,"),
        "{err}"
    );
    let out = apilens(&[
        "sim",
        "--scenario",
        "healthy",
        "--kubernetes-version",
        "latest",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("invalid kubernetes version \"latest\"")
    );
    let out = apilens(&["sim"]);
    assert_eq!(out.status.code(), Some(2), "--scenario is required");
}

#[test]
fn serves_replicas_and_etcd_and_writes_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args([
            "sim",
            "--scenario",
            "chatty-daemonset",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "30",
            "--exit-after",
            "4",
        ])
        .arg("--audit-log")
        .arg(&audit)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut urls = Vec::new();
    let header = lines.next().unwrap().unwrap();
    assert!(header.contains("SIMULATED"), "{header}");
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            urls.push(
                url.trim_start_matches("http://")
                    .trim_end_matches("/metrics")
                    .to_string(),
            );
        }
        if line.contains("audit log:") {
            break;
        }
    }
    assert_eq!(urls.len(), 3, "two replicas and etcd: {urls:?}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut stream = std::net::TcpStream::connect(&urls[0]).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200"),
        "{}",
        &body[..body.len().min(200)]
    );
    assert!(body.contains("apiserver_request_total{"));
    let status = child.wait().unwrap();
    assert!(status.success());
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.lines().count() > 100,
        "{} audit lines",
        log.lines().count()
    );
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["apiVersion"], "audit.k8s.io/v1");
    }
    assert!(log.contains("system:serviceaccount:logging:log-agent"));
}
