//! Busy-cluster logs where cheap clients lead by count (or by 429s) and the culprit leads by
//! cost: the culprit must come first, and the decoy must not be blamed.

use super::{fixes, run, summary};
use apilens_doctor::synth::Case;
use apilens_doctor::{Finding, Kind, Severity};

/// Asserts the first finding names the case's culprit with the expected kind, that the decoy is
/// never above it, and that its fix passes every check.
fn check(case: Case, version: &str) -> Vec<Finding> {
    let (d, log) = run(case, version);
    let all = summary(&d);
    let first = d
        .findings
        .first()
        .unwrap_or_else(|| panic!("{case:?}: no finding"));
    assert_eq!(
        Some(first.kind.slug()),
        log.truth.kind,
        "{case:?}: first finding\n{all}"
    );
    let culprit = first.culprit.as_ref().map(|c| c.user.clone());
    assert_eq!(culprit, log.truth.culprit_user, "{case:?}: culprit\n{all}");
    if let Some(decoy) = &log.truth.decoy_user {
        let blamed = d
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .any(|f| f.culprit.as_ref().is_some_and(|c| &c.user == decoy));
        assert!(!blamed, "{case:?}: the decoy {decoy} is blamed\n{all}");
    }
    if first.culprit.is_some() {
        fixes::check_fix(first, &log.path, version);
    }
    d.findings
}

#[test]
fn kubelet_lease_renewals_lead_by_count_an_operators_unbounded_lists_by_cost() {
    let findings = check(Case::OperatorUnboundedLists, "1.30");
    let f = &findings[0];
    // 2 LISTs a minute, against thousands of lease renewals.
    assert_eq!(f.figure("lists"), Some(20.0));
    // 1.30 serves consistent LISTs from etcd.
    assert!(
        f.evidence
            .iter()
            .any(|e| format!("{e:?}").contains("list-from-etcd")),
        "{f:#?}"
    );
}

#[test]
fn a_victim_with_many_429s_is_not_the_culprit_of_its_full_level() {
    let findings = check(Case::VictimOf429s, "1.34");
    let f = &findings[0];
    assert_eq!(f.severity, Severity::Critical, "{f:#?}");
    // Without it, the others are neither rejected nor kept waiting as they are with it.
    assert!(
        f.harm.others_429 >= 10.0 || f.harm.others_wait_s >= 30.0,
        "the replay blames it for others' 429s or wait: {:?}",
        f.harm
    );
    // The victim retries at once: a finding of its own, below the culprit and not critical.
    let victim = findings
        .iter()
        .find(|f| {
            f.culprit
                .as_ref()
                .is_some_and(|c| c.user.ends_with(":billing-sync"))
        })
        .expect("the victim's retry storm is reported");
    assert_eq!(victim.kind, Kind::RetryStorm429);
    assert!(victim.severity < Severity::Critical, "{victim:#?}");
}

#[test]
fn writes_slowed_by_a_webhook_blame_the_webhook_not_the_writer() {
    let findings = check(Case::SlowWebhookVictim, "1.32");
    assert!(findings[0].culprit.is_none());
    assert!(
        findings[0].title.contains("no client stands out"),
        "{}",
        findings[0].title
    );
}

#[test]
fn few_unbounded_lists_from_etcd_outrank_many_small_pages_from_the_cache() {
    check(Case::PaginatedVsUnbounded, "1.34");
}

#[test]
fn a_kube_system_daemonset_is_contained_by_its_service_account_not_its_namespace() {
    let findings = check(Case::KubeSystemDaemonSet, "1.34");
    let f = &findings[0];
    let c = f.culprit.as_ref().unwrap();
    assert_eq!(c.flow_schema, "kube-system-service-accounts");
    assert_eq!(c.priority_level, "workload-high");
    let schema = &f.fix.schemas[0];
    // Just below kube-system-service-accounts (900).
    assert_eq!(schema.matching_precedence, 899);
    assert_eq!(
        schema.rules[0].subjects,
        vec![apilens_apf::Subject::ServiceAccount {
            namespace: "kube-system".to_owned(),
            name: "log-shipper".to_owned()
        }]
    );
    assert!(f.fix.yaml.contains("share one flow"), "{}", f.fix.yaml);
    assert!(c.pods.unwrap_or(0) >= 140, "{c:?}");
}

#[test]
fn huge_lists_from_an_exempt_client_are_a_misconfiguration() {
    let findings = check(Case::ExemptHugeLists, "1.33");
    let f = &findings[0];
    let c = f.culprit.as_ref().unwrap();
    assert_eq!(
        (c.flow_schema.as_str(), c.priority_level.as_str()),
        ("exempt", "exempt")
    );
    // Precedence 1 cannot go lower: the same value with a name that sorts before `exempt`.
    let schema = &f.fix.schemas[0];
    assert_eq!(schema.matching_precedence, 1);
    assert!(schema.name.as_str() < "exempt", "{}", schema.name);
    assert!(f.fix.advice.iter().any(|a| a.contains("system:masters")));
}

#[test]
fn a_timer_polling_from_many_pods_is_a_polling_loop() {
    let findings = check(Case::PollingLoop, "1.30");
    let p = findings[0].figure("period_s").unwrap();
    assert!((p - 2.0).abs() < 0.1, "period {p}");
}

#[test]
fn watches_reopened_every_few_seconds_without_a_resource_version_are_churn() {
    let findings = check(Case::WatchChurn, "1.34");
    let life = findings[0].figure("watch_lifetime_s").unwrap();
    assert!(life < 10.0, "{life}");
}

#[test]
fn the_busy_cluster_alone_has_nothing_harmful() {
    let (d, _log) = run(Case::Healthy, "1.34");
    assert!(
        d.findings.iter().all(|f| f.severity == Severity::Info),
        "{}",
        summary(&d)
    );
}
