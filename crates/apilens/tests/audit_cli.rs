//! `apilens audit` end to end: every view on the real audit fixtures, formats, stdin, bad input.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/audit")
}

fn apilens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = apilens(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn row<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key}: {doc:#}"))
}

#[test]
fn every_view_runs_on_the_fixture_directory() {
    let dir = fixtures();
    let dir = dir.to_str().unwrap();
    // 51 native events, 2 AKS records, 1 GKE entry (see crates/audit/tests/audit.rs).
    for view in ["top", "lists", "watches", "throttled", "slow", "timeline"] {
        let doc = json(&["audit", view, dir]);
        assert_eq!(doc["view"], view);
        assert_eq!(doc["events"], 54, "{view}");
        assert_eq!(doc["malformed"]["count"], 0, "{view}");
        assert!(doc["rows"].is_array(), "{view}");
    }
    // jq -r '.user.username' liggitt-audit2rbac-demo.log | sort | uniq -c  ->  37 system:admin
    let top = json(&["audit", "top", "--by", "user", dir]);
    assert_eq!(row(&top, "system:admin")["count"], 37);
    assert_eq!(row(&top, "system:admin")["errors"], 11);
    // Every request has one verb: the verb rows add up to the 54 requests.
    let verbs = json(&["audit", "top", "--by", "verb", dir]);
    let total: u64 = verbs["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 54);
    // 14 LISTs in liggitt-audit2rbac-demo.log: jq 'select(.verb=="list")' | grep -c auditID
    let lists = json(&["audit", "lists", dir]);
    let n_lists: u64 = lists["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(n_lists, 14);
}

#[test]
fn filters_and_several_keys() {
    let dir = fixtures();
    let doc = json(&[
        "audit",
        "top",
        "--by",
        "user,verb",
        "--verb",
        "list",
        "--code",
        "-403",
        dir.to_str().unwrap(),
    ]);
    // jq 'select(.verb=="list" and .responseStatus.code!=403)' liggitt-audit2rbac-demo.log -> 3
    assert_eq!(doc["events"], 3);
    assert_eq!(row(&doc, "system:admin | list")["count"], 3);
}

#[test]
fn stdin_and_text_formats() {
    let log = std::fs::read(fixtures().join("liggitt-audit2rbac-demo.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["audit", "top", "--by", "verb", "--format", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("verb,count,share_pct,"), "{csv}");
    assert!(csv.contains("\nget,23,"), "{csv}");
    assert!(csv.contains("\nlist,14,"), "{csv}");
    // No progress bar and no ANSI codes when stderr is not a terminal.
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));

    let path = fixtures().join("liggitt-audit2rbac-demo.log");
    let out = apilens(&[
        "audit",
        "timeline",
        "--step",
        "5m",
        "--format",
        "markdown",
        path.to_str().unwrap(),
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("| time | count | - (system:admin) | other |"),
        "{md}"
    );
    // jq -r '.timestamp' liggitt-audit2rbac-demo.log | cut -c12-16 | sort | uniq -c: 2 at 19:55,
    // 1 at 19:58, 1 at 19:59, so 4 in the 19:55 step.
    assert!(md.contains("| 2017-09-11T19:55:00Z | 4 | 4 | 0 |"), "{md}");
}

#[test]
fn relative_and_absolute_time_filters() {
    let dir = fixtures();
    let dir = dir.to_str().unwrap();
    // The fixtures were logged between 2017-09-11 and 2025-09-30: all older than an hour, all
    // younger than 10 years before this test runs (the machine clock is past 2026).
    let events = |args: &[&str]| {
        let mut all = vec!["audit", "top"];
        all.extend(args);
        all.push(dir);
        json(&all)["events"].as_u64().unwrap()
    };
    assert_eq!(events(&["--since", "1h"]), 0);
    assert_eq!(events(&["--until", "30m"]), 54);
    assert_eq!(events(&["--since", "87600h", "--until", "1m"]), 54);
    // Native events of the audit2rbac demo (2017) and nothing later.
    assert_eq!(events(&["--until", "2018-01-01T00:00:00Z"]), 37);
    assert_eq!(events(&["--since", "2018-01-01T00:00:00+00:00"]) + 37, 54);
}

#[test]
fn bad_input_names_the_problem() {
    let out = apilens(&["audit", "top", "/nonexistent/audit.log"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/audit.log: No such file or directory"),
        "{err}"
    );
    let out = apilens(&[
        "audit",
        "top",
        "--since",
        "yesterday",
        fixtures().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --since \"yesterday\""));
    let out = apilens(&[
        "audit",
        "top",
        "--by",
        "color",
        fixtures().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key \"color\""));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let good =
        std::fs::read_to_string(fixtures().join("falco-k8s_audit-create_secret.json")).unwrap();
    std::fs::write(&path, format!("{}\nnot json at all\n", good.trim())).unwrap();
    let doc = json(&["audit", "top", path.to_str().unwrap()]);
    assert_eq!(doc["events"], 1);
    assert_eq!(doc["malformed"]["count"], 1);
    let example = doc["malformed"]["examples"][0].as_str().unwrap();
    assert_eq!(
        example,
        format!(
            "{}:2: expected a JSON object or `prefix {{json}}` (line starts \"not json at all\")",
            path.display()
        )
    );
}
