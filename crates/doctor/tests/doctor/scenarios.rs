//! Every simulator scenario, from its audit log alone: the scenario's culprit first, with a fix
//! that reads as Kubernetes objects and moves only the culprit's offending requests. (The same
//! scenarios with their metrics in a store, through `apilens demo`, are tested in the binary.)

use super::{fixes, inputs, summary};
use apilens_doctor::{Diagnosis, Severity, diagnose};
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use std::time::Duration;

const VERSION: &str = "1.34";

fn scenario(name: &str, minutes: u64) -> (Diagnosis, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut sim = Simulator::new(ScenarioConfig::new(
        name,
        KubeVersion::parse(VERSION).unwrap(),
    ))
    .unwrap();
    sim.set_audit_sink(Box::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    )));
    sim.advance(Duration::from_secs(minutes * 60)).unwrap();
    drop(sim);
    let d = diagnose(&inputs(&path, VERSION)).unwrap();
    (d, dir)
}

fn first_client(d: &Diagnosis, kind: &str, user: &str, dir: &tempfile::TempDir) {
    let all = summary(d);
    let f = d.findings.first().unwrap_or_else(|| panic!("no finding"));
    assert_eq!(f.kind.slug(), kind, "{all}");
    assert_eq!(f.severity, Severity::Critical, "{all}");
    assert_eq!(f.culprit.as_ref().unwrap().user, user, "{all}");
    fixes::check_fix(f, &dir.path().join("audit.log"), VERSION);
}

#[test]
fn chatty_daemonset_names_the_log_agent() {
    let (d, dir) = scenario("chatty-daemonset", 5);
    first_client(
        &d,
        "unbounded-list",
        "system:serviceaccount:logging:log-agent",
        &dir,
    );
    let c = d.findings[0].culprit.as_ref().unwrap();
    assert!(c.source_ips > 900 && c.pods.unwrap_or(0) > 900, "{c:?}");
}

#[test]
fn apf_saturation_names_the_operator() {
    let (d, dir) = scenario("apf-saturation", 5);
    first_client(
        &d,
        "unbounded-list",
        "system:serviceaccount:acme-system:acme-operator",
        &dir,
    );
}

#[test]
fn watch_storm_names_the_per_node_agents_fan_out() {
    let (d, dir) = scenario("watch-storm", 4);
    let agents = [
        "node-exporter-sidecar",
        "security-agent",
        "cni-agent",
        "log-forwarder",
        "mesh-proxy-init",
    ];
    let f = &d.findings[0];
    assert_eq!(f.kind.slug(), "watch-fanout", "{}", summary(&d));
    let user = &f.culprit.as_ref().unwrap().user;
    assert!(
        agents.iter().any(|a| user.ends_with(&format!(":{a}"))),
        "{user}"
    );
    // Every agent is reported, none of the kubelets or kube-proxy.
    let fanouts: Vec<&str> = d
        .findings
        .iter()
        .filter(|f| f.kind.slug() == "watch-fanout")
        .map(|f| f.culprit.as_ref().unwrap().user.as_str())
        .collect();
    assert_eq!(fanouts.len(), 5, "{fanouts:?}");
    fixes::check_fix(f, &dir.path().join("audit.log"), VERSION);
}

#[test]
fn etcd_slow_names_etcd_and_no_client() {
    let (d, _dir) = scenario("etcd-slow", 6);
    let f = &d.findings[0];
    assert_eq!(f.kind.slug(), "etcd-slow", "{}", summary(&d));
    assert!(f.culprit.is_none());
    assert!(f.title.contains("no client stands out"), "{}", f.title);
    assert!(
        d.findings
            .iter()
            .all(|f| f.severity < Severity::Warning || f.culprit.is_none()),
        "{}",
        summary(&d)
    );
}

#[test]
fn webhook_slow_names_the_webhook_and_no_client() {
    let (d, _dir) = scenario("webhook-slow", 4);
    let f = &d.findings[0];
    assert_eq!(f.kind.slug(), "webhook-slow", "{}", summary(&d));
    assert!(f.culprit.is_none());
    assert!(
        d.findings
            .iter()
            .all(|f| f.severity < Severity::Warning || f.culprit.is_none()),
        "{}",
        summary(&d)
    );
}

#[test]
fn healthy_and_upgrade_skew_have_nothing_harmful() {
    for name in ["healthy", "upgrade-skew"] {
        let (d, _dir) = scenario(name, 4);
        assert!(
            d.findings.iter().all(|f| f.severity == Severity::Info),
            "{name}:\n{}",
            summary(&d)
        );
    }
}
