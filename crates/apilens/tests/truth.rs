//! The truth test: every scenario of the simulator, read through the same path as `apilens
//! demo` (simulator, scrape ingest, embedded store, report), must tell its own story: `healthy`
//! flags nothing, and every other scenario's overall line names its true cause first, with the
//! section that shows it at the top.
//!
//! Ten simulated minutes per scenario keep it quick (about a minute for all of them in a debug
//! build on two cores) and still cover what each scenario does: etcd-slow's first two stalls
//! (minutes 4 and 9), the log agent's LISTs every minute, the webhook's hung calls.
//!
//! See: issue 16 (verdicts an on-call engineer can trust).

use serde_json::Value;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

fn apilens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run apilens")
}

/// What a scenario's report must say: the kind of cause, how the overall line starts, what
/// else it names, and the row of the first section.
struct Truth {
    scenario: &'static str,
    kind: &'static str,
    starts: &'static str,
    names: &'static [&'static str],
    first_row: &'static str,
}

const TRUTHS: &[Truth] = &[
    Truth {
        scenario: "chatty-daemonset",
        kind: "unbounded-lists",
        starts: "CRITICAL: unbounded LISTs of pods",
        names: &["→ API server memory"],
        first_row: "storage",
    },
    Truth {
        scenario: "watch-storm",
        kind: "watch-fan-out",
        starts: "CRITICAL: watch fan-out:",
        names: &["events/s per server"],
        first_row: "watches",
    },
    Truth {
        scenario: "etcd-slow",
        kind: "etcd",
        starts: "CRITICAL: etcd slow: WAL fsync p99",
        names: &["leader changes"],
        first_row: "etcd-server",
    },
    Truth {
        scenario: "apf-saturation",
        kind: "apf-saturation",
        starts: "CRITICAL: APF workload-low saturated by LISTs of widgets",
        names: &["429s"],
        first_row: "priority-and-fairness",
    },
    Truth {
        scenario: "webhook-slow",
        kind: "webhook",
        starts: "CRITICAL: webhook validate.policy.acme.example.com p99 above 10 s",
        names: &["slow (p99"],
        first_row: "extensions",
    },
    Truth {
        scenario: "upgrade-skew",
        kind: "version-skew",
        starts: "WARNING: version skew mid-upgrade: v1.33.0 and v1.34.7",
        names: &["carries"],
        first_row: "storage",
    },
];

/// The scenarios `apilens sim --list` names.
fn scenarios() -> Vec<String> {
    let out = apilens(&["sim", "--list"]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The JSON report of ten simulated minutes of `scenario`, through `apilens demo`.
fn demo(scenario: &str, data_dir: &std::path::Path) -> Value {
    let out = apilens(&[
        "demo",
        "--scenario",
        scenario,
        "--history",
        "10m",
        "--listen",
        "127.0.0.1:0",
        "--exit-after-report",
        "--format",
        "json",
        "--data-dir",
        data_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{scenario}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{scenario}: {e}"))
}

fn check(scenario: &str, report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let overall = report["overall"].as_str().unwrap_or("");
    let sections = report["sections"].as_array().cloned().unwrap_or_default();
    let flagged: Vec<String> = sections
        .iter()
        .filter(|s| s["level"] == "warning" || s["level"] == "critical")
        .map(|s| format!("{}: {}", s["title"], s["verdict"]))
        .collect();
    if scenario == "healthy" {
        if !overall.starts_with("OK:") || !flagged.is_empty() {
            problems.push(format!("healthy reads {overall:?}, flags {flagged:#?}"));
        }
        return problems;
    }
    let Some(truth) = TRUTHS.iter().find(|t| t.scenario == scenario) else {
        problems.push(format!(
            "scenario {scenario} has no expected cause here: add one to TRUTHS"
        ));
        return problems;
    };
    if report["cause"]["kind"] != truth.kind {
        problems.push(format!(
            "{scenario}: cause {} instead of {}: {overall}",
            report["cause"]["kind"], truth.kind
        ));
    }
    if !overall.starts_with(truth.starts) {
        problems.push(format!(
            "{scenario}: overall line {overall:?} does not start with {:?}",
            truth.starts
        ));
    }
    for name in truth.names {
        if !overall.contains(name) {
            problems.push(format!(
                "{scenario}: overall line {overall:?} lacks {name:?}"
            ));
        }
    }
    if sections.first().map(|s| &s["row"]) != Some(&Value::from(truth.first_row)) {
        problems.push(format!(
            "{scenario}: first section {} instead of {}",
            sections
                .first()
                .map(|s| s["title"].clone())
                .unwrap_or_default(),
            truth.first_row
        ));
    }
    problems
}

#[test]
fn every_scenario_names_its_true_cause_first_and_healthy_flags_nothing() {
    let started = Instant::now();
    let names = scenarios();
    assert!(names.contains(&"healthy".to_owned()), "{names:?}");
    assert!(names.len() >= 7, "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    // Two at a time: the machine has two cores, and each demo writes its audit log.
    let queue = Mutex::new(names.clone());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some(scenario) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let data = dir.path().join(&scenario);
                    let report = demo(&scenario, &data);
                    let mut problems = check(&scenario, &report);
                    if scenario == "chatty-daemonset" {
                        problems.extend(lists_say_etcd_served_them(&data));
                    }
                    // The store and the audit log are not needed any more: free the disk.
                    let _ = std::fs::remove_dir_all(&data);
                    results
                        .lock()
                        .unwrap()
                        .push((scenario, report["overall"].clone(), problems));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let problems: Vec<String> = results.iter().flat_map(|(_, _, p)| p.clone()).collect();
    for (scenario, overall, _) in &results {
        println!("{scenario:17} {}", overall.as_str().unwrap_or(""));
    }
    println!(
        "{} scenarios in {:.1} s",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The log agent's consistent LISTs on 1.34 read from the watch cache only when etcd supports
/// progress notify, which the chatty-daemonset cluster's etcd does not: the audit log's etcd
/// latency annotations on its slow LISTs settle it, and `audit lists` says etcd.
///
/// See: issue 16 (`audit lists --kubernetes-version 1.34` said cache where etcd served).
fn lists_say_etcd_served_them(data: &std::path::Path) -> Vec<String> {
    let log = data.join("audit.log");
    let out = apilens(&[
        "audit",
        "lists",
        "--kubernetes-version",
        "1.34",
        "--format",
        "json",
        log.to_str().unwrap(),
    ]);
    if !out.status.success() {
        return vec![format!(
            "audit lists failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )];
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let agent = report["rows"].as_array().and_then(|rows| {
        rows.iter().find(|r| {
            r["key"]
                .as_str()
                .is_some_and(|k| k.starts_with("log-agent"))
        })
    });
    match agent.and_then(|r| r["served"].as_str()) {
        Some(served) if served.starts_with("etcd (etcd time in") => Vec::new(),
        other => vec![format!(
            "audit lists: the log agent's LISTs read as served from {other:?}"
        )],
    }
}
