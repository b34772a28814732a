//! The audit log describes the same requests as the metrics, with realistic events.

use crate::common::total;
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Runs a scenario for `secs` with an audit log and returns the events and summed metrics.
fn audited(scenario: &str, version: &str, secs: u64) -> (Vec<Value>, crate::common::Samples) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut sim = Simulator::new(ScenarioConfig::new(
        scenario,
        KubeVersion::parse(version).unwrap(),
    ))
    .unwrap();
    sim.set_audit_sink(Box::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    )));
    sim.advance(Duration::from_secs(secs)).unwrap();
    let metrics = crate::common::all_replicas(&sim);
    drop(sim);
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("line {}: {e}: {l}", i + 1))
        })
        .collect();
    (events, metrics)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter().fold(v, |v, k| &v[*k]).as_str().unwrap_or("")
}

#[test]
fn events_are_well_formed_audit_v1() {
    let (events, _) = audited("chatty-daemonset", "1.34", 60);
    assert!(events.len() > 5_000, "{} events", events.len());
    let mut ids = BTreeSet::new();
    for e in &events {
        assert_eq!(e["kind"], "Event");
        assert_eq!(e["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(e["level"], "Metadata");
        let id = str_at(e, &["auditID"]);
        assert_eq!(id.len(), 36, "{id}");
        assert!(ids.insert(id.to_string()), "duplicate auditID {id}");
        assert!(matches!(
            str_at(e, &["stage"]),
            "ResponseComplete" | "ResponseStarted"
        ));
        let received = str_at(e, &["requestReceivedTimestamp"]);
        let stage = str_at(e, &["stageTimestamp"]);
        assert_eq!(received.len(), 27, "{received}");
        assert!(received <= stage, "{received} > {stage}");
        assert!(str_at(e, &["requestURI"]).starts_with("/api"));
        assert!(!str_at(e, &["user", "username"]).is_empty());
        assert!(
            e["user"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == "system:authenticated")
        );
        assert!(e["sourceIPs"][0].as_str().unwrap().starts_with("10."));
        assert!(!str_at(e, &["userAgent"]).is_empty());
        assert!(!str_at(e, &["objectRef", "resource"]).is_empty());
        assert!(e["responseStatus"]["code"].as_u64().is_some());
    }
    // Watches: reconnects appear as ResponseStarted with watch=true.
    let started: Vec<&Value> = events
        .iter()
        .filter(|e| e["stage"] == "ResponseStarted")
        .collect();
    assert!(!started.is_empty());
    assert!(
        started
            .iter()
            .all(|e| e["verb"] == "watch" && str_at(e, &["requestURI"]).contains("watch=true"))
    );
}

#[test]
fn audit_and_metrics_count_the_same_requests() {
    let (events, metrics) = audited("chatty-daemonset", "1.34", 90);
    let complete: Vec<&Value> = events
        .iter()
        .filter(|e| e["stage"] == "ResponseComplete")
        .collect();
    let cluster_pod_lists = complete
        .iter()
        .filter(|e| {
            e["verb"] == "list"
                && e["objectRef"]["resource"] == "pods"
                && e["objectRef"]["namespace"].is_null()
        })
        .count() as f64;
    let metric = total(
        &metrics,
        &[
            "apiserver_request_total{",
            "verb=\"LIST\"",
            "resource=\"pods\"",
            "scope=\"cluster\"",
        ],
    );
    assert_eq!(cluster_pod_lists, metric);
    let audited_429 = complete
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 429)
        .count() as f64;
    assert_eq!(
        audited_429,
        total(&metrics, &["apiserver_request_total{", "code=\"429\""])
    );
    assert_eq!(
        complete.len() as f64,
        total(&metrics, &["apiserver_request_total{"])
    );
}

#[test]
fn the_culprit_has_a_name_in_the_audit_log() {
    let (events, _) = audited("chatty-daemonset", "1.34", 90);
    let mut by_user: BTreeMap<&str, usize> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e["verb"] == "list" && e["objectRef"]["resource"] == "pods")
    {
        *by_user.entry(str_at(e, &["user", "username"])).or_default() += 1;
    }
    let (top, n) = by_user.iter().max_by_key(|(_, n)| **n).unwrap();
    assert_eq!(*top, "system:serviceaccount:logging:log-agent");
    assert!(*n > 1_000);
    let agent: Vec<&Value> = events
        .iter()
        .filter(|e| e["user"]["username"] == "system:serviceaccount:logging:log-agent")
        .collect();
    // Unbounded, cluster-wide, from many pods on many nodes.
    assert!(agent.iter().all(|e| e["requestURI"] == "/api/v1/pods"));
    let pods: BTreeSet<&str> = agent
        .iter()
        .map(|e| {
            e["user"]["extra"]["authentication.kubernetes.io/pod-name"][0]
                .as_str()
                .unwrap()
        })
        .collect();
    let nodes: BTreeSet<&str> = agent
        .iter()
        .map(|e| {
            e["user"]["extra"]["authentication.kubernetes.io/node-name"][0]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(
        pods.len() > 500 && nodes.len() > 500,
        "{} pods on {} nodes",
        pods.len(),
        nodes.len()
    );
    assert!(pods.iter().all(|p| p.starts_with("log-agent-")));
    // Slow ones carry latency annotations, with the etcd share.
    let slow: Vec<&&Value> = agent
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 200)
        .collect();
    assert!(!slow.is_empty());
    for e in &slow {
        let total = str_at(e, &["annotations", "apiserver.latency.k8s.io/total"]);
        let etcd = str_at(e, &["annotations", "apiserver.latency.k8s.io/etcd"]);
        assert!(total.ends_with('s') && etcd.ends_with('s'), "{e}");
        assert_eq!(
            str_at(e, &["annotations", "authorization.k8s.io/decision"]),
            "allow"
        );
    }
    // APF rejections carry no authorization annotations.
    let rejected: Vec<&&Value> = agent
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 429)
        .collect();
    assert!(!rejected.is_empty());
    assert!(rejected.iter().all(|e| {
        e["annotations"]
            .get("authorization.k8s.io/decision")
            .is_none()
    }));
}

#[test]
fn latency_annotations_follow_the_version() {
    // Fast requests never carry them.
    let (events, _) = audited("apf-saturation", "1.34", 60);
    for e in events
        .iter()
        .filter(|e| e["stage"] == "ResponseComplete" && e["verb"] != "watch")
    {
        let has = e["annotations"]
            .get("apiserver.latency.k8s.io/total")
            .is_some();
        let ms = |k: &str| str_at(e, &[k]).to_string();
        let slow = ms("stageTimestamp") > ms("requestReceivedTimestamp") && {
            let parse = |t: &str| -> f64 {
                t[17..26].parse::<f64>().unwrap() + 60.0 * t[14..16].parse::<f64>().unwrap()
            };
            let (a, b) = (
                parse(&ms("requestReceivedTimestamp")),
                parse(&ms("stageTimestamp")),
            );
            (b - a).rem_euclid(3600.0) > 0.5
        };
        assert_eq!(has, slow, "{e}");
    }
    assert!(events.iter().any(|e| {
        e["annotations"]
            .get("apiserver.latency.k8s.io/apf-queue-wait")
            .is_some()
    }));
    // 1.34.0 had the regression that dropped them (kubernetes#135684); 1.23 predates them.
    for version in ["1.34.0", "1.23"] {
        let (events, _) = audited("chatty-daemonset", version, 60);
        assert!(
            events.iter().all(|e| e["annotations"]
                .get("apiserver.latency.k8s.io/total")
                .is_none()),
            "{version}"
        );
    }
}

#[test]
fn metrics_are_the_same_with_or_without_an_audit_sink() {
    let config = ScenarioConfig::new("webhook-slow", KubeVersion::parse("1.30").unwrap());
    let mut with_sink = Simulator::new(config.clone()).unwrap();
    with_sink.set_audit_sink(Box::new(std::io::sink()));
    with_sink.advance(Duration::from_secs(30)).unwrap();
    let mut plain = Simulator::new(config).unwrap();
    plain.advance(Duration::from_secs(30)).unwrap();
    assert_eq!(
        plain.render_metrics(0).unwrap(),
        with_sink.render_metrics(0).unwrap()
    );
    assert_eq!(plain.render_etcd_metrics(), with_sink.render_etcd_metrics());
}

#[test]
fn failed_requests_carry_their_status_in_the_audit_log() {
    // etcd-slow stalls from minute 4: audit the 30 s around it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut sim = crate::common::sim("etcd-slow", "1.34");
    sim.advance(Duration::from_secs(230)).unwrap();
    let before = crate::common::all_replicas(&sim);
    sim.set_audit_sink(Box::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    )));
    sim.advance(Duration::from_secs(30)).unwrap();
    let after = crate::common::all_replicas(&sim);
    drop(sim);
    let text = std::fs::read_to_string(&path).unwrap();
    let failed: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["stage"] == "ResponseComplete" && e["responseStatus"]["code"] == 500)
        .collect();
    let metric = crate::common::increase(
        &before,
        &after,
        &["apiserver_request_total{", "code=\"500\""],
    );
    assert!(metric > 100.0, "{metric} answers 500");
    assert_eq!(failed.len() as f64, metric);
    for e in &failed {
        assert_eq!(e["responseStatus"]["status"], "Failure");
        assert_eq!(
            e["responseStatus"]["message"],
            "etcdserver: request timed out"
        );
        // Over 500 ms: the latency annotations say where the time went.
        let etcd = str_at(e, &["annotations", "apiserver.latency.k8s.io/etcd"]);
        assert!(etcd.starts_with("7."), "{etcd}");
    }
}
