//! Logs built against the doctor: a lease storm no narrower pattern names, user names that try
//! to escape the fix's YAML or match everyone, impersonation, and figures that must not depend
//! on the number of threads.

use super::{inputs, log};
use apilens_audit::ScanOpts;
use apilens_doctor::synth::Case;
use apilens_doctor::{diagnose, render_json};
use std::fmt::Write as _;

/// One audit event, as kube-apiserver writes it at the Metadata level. An APF rejection has no
/// authorization annotation and no status message (APF runs before authorization).
struct Ev<'a> {
    user: &'a str,
    groups: &'a str,
    impersonated: Option<&'a str>,
    verb: &'a str,
    uri: &'a str,
    resource: &'a str,
    group: &'a str,
    namespace: &'a str,
    code: u16,
    t_ms: u64,
    latency_ms: u64,
    ip: u32,
}

fn time(ms: u64) -> String {
    format!(
        "2026-01-01T00:{:02}:{:02}.{:03}000Z",
        ms / 60_000,
        ms / 1000 % 60,
        ms % 1000
    )
}

fn write(out: &mut String, e: &Ev<'_>) {
    let user = serde_json::to_string(e.user).unwrap();
    let imp = e.impersonated.map_or(String::new(), |u| {
        format!(
            r#","impersonatedUser":{{"username":{}}}"#,
            serde_json::to_string(u).unwrap()
        )
    });
    let annotations = if e.code == 429 {
        String::new()
    } else {
        r#","annotations":{"authorization.k8s.io/decision":"allow"}"#.to_owned()
    };
    writeln!(
        out,
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{}-{}","stage":"ResponseComplete","requestURI":"{}","verb":"{}","user":{{"username":{},"groups":{}}}{},"sourceIPs":["10.1.{}.{}"],"userAgent":"agent/1.0","objectRef":{{"resource":"{}","namespace":"{}","apiGroup":"{}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":{}}},"requestReceivedTimestamp":"{}","stageTimestamp":"{}"{}}}"#,
        e.t_ms,
        e.ip,
        e.uri,
        e.verb,
        user,
        e.groups,
        imp,
        e.ip / 250,
        e.ip % 250,
        e.resource,
        e.namespace,
        e.group,
        e.code,
        time(e.t_ms),
        time(e.t_ms + e.latency_ms),
        annotations
    )
    .unwrap();
}

const SA_GROUPS: &str = r#"["system:serviceaccounts","system:authenticated"]"#;

/// A cheap, busy background: kubelets renewing node leases.
fn background(out: &mut String, seconds: u64) {
    for node in 0..100u32 {
        for s in (0..seconds).step_by(10) {
            write(
                out,
                &Ev {
                    user: &format!("system:node:n{node}"),
                    groups: r#"["system:nodes","system:authenticated"]"#,
                    impersonated: None,
                    verb: "update",
                    uri: &format!(
                        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n{node}"
                    ),
                    resource: "leases",
                    group: "coordination.k8s.io",
                    namespace: "kube-node-lease",
                    code: 200,
                    t_ms: s * 1000 + u64::from(node) * 7,
                    latency_ms: 8,
                    ip: node + 1000,
                },
            );
        }
    }
}

fn diagnose_text(text: &str, version: &str) -> (apilens_doctor::Diagnosis, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, text).unwrap();
    let d = diagnose(&inputs(&path, version)).unwrap();
    (d, dir)
}

#[test]
fn a_lease_storm_that_starves_the_level_is_named_and_queued_never_rejected() {
    let mut log = String::new();
    background(&mut log, 60);
    // 40 replicas of one controller fight for its lease ten times a second, each update
    // holding a seat for half a second; the scheduler's own lease updates are rejected.
    let mut t = 0;
    while t < 60_000 {
        for r in 0..40u32 {
            write(
                &mut log,
                &Ev {
                    user: "system:serviceaccount:kube-system:netpol-operator",
                    groups: SA_GROUPS,
                    impersonated: None,
                    verb: "update",
                    uri: "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/netpol-operator-lock",
                    resource: "leases",
                    group: "coordination.k8s.io",
                    namespace: "kube-system",
                    code: 409,
                    t_ms: t + u64::from(r),
                    latency_ms: 500,
                    ip: r,
                },
            );
        }
        if t % 2000 == 0 {
            write(
                &mut log,
                &Ev {
                    user: "system:kube-scheduler",
                    groups: r#"["system:authenticated"]"#,
                    impersonated: None,
                    verb: "update",
                    uri: "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler",
                    resource: "leases",
                    group: "coordination.k8s.io",
                    namespace: "kube-system",
                    code: 429,
                    t_ms: t + 50,
                    latency_ms: 1,
                    ip: 999,
                },
            );
        }
        t += 100;
    }
    let (d, _dir) = diagnose_text(&log, "1.29");
    let f = d.findings.first().expect("a finding");
    assert_eq!(f.kind.slug(), "level-hog", "{}", super::summary(&d));
    let c = f.culprit.as_ref().unwrap();
    assert_eq!(c.user, "system:serviceaccount:kube-system:netpol-operator");
    assert!(f.fix.yaml.contains("type: Queue"), "{}", f.fix.yaml);
    assert!(!f.fix.yaml.contains("type: Reject"), "{}", f.fix.yaml);
    assert!(
        f.fix.advice.iter().any(|a| a.contains("leader election")),
        "{:?}",
        f.fix.advice
    );
}

/// An unbounded LIST of every pod, every few seconds, by `user`.
fn unbounded_lists(out: &mut String, user: &str, impersonated: Option<&str>) {
    for i in 0..40u64 {
        write(
            out,
            &Ev {
                user,
                groups: r#"["system:masters","system:authenticated"]"#,
                impersonated,
                verb: "list",
                uri: "/api/v1/pods",
                resource: "pods",
                group: "",
                namespace: "",
                code: 200,
                t_ms: i * 1500,
                latency_ms: 6000,
                ip: 7,
            },
        );
    }
}

#[test]
fn a_user_name_cannot_write_yaml_or_match_everyone() {
    let mut log = String::new();
    background(&mut log, 60);
    unbounded_lists(
        &mut log,
        "mallory\u{1b}[2J\n---\nkind: ClusterRoleBinding\nmetadata:\n  name: own",
        None,
    );
    let (d, _dir) = diagnose_text(&log, "1.34");
    let f = d.findings.first().expect("a finding");
    assert!(f.culprit.as_ref().unwrap().user.starts_with("mallory"));
    let documents: Vec<&str> = f
        .fix
        .yaml
        .split("\n---")
        .filter(|d| d.lines().any(|l| l.starts_with("kind:")))
        .collect();
    assert!(
        documents
            .iter()
            .all(|d| d.contains("kind: FlowSchema")
                || d.contains("kind: PriorityLevelConfiguration")),
        "{}",
        f.fix.yaml
    );
    assert!(
        !f.fix.yaml.contains("\nkind: ClusterRoleBinding"),
        "{}",
        f.fix.yaml
    );
    // Nor reach the terminal: the escape sequence is shown, not sent.
    for text in [
        apilens_doctor::render_text(&d, true),
        apilens_doctor::render_markdown(&d),
        apilens_doctor::render_who_text(&d, 3),
    ] {
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text}");
        assert!(text.contains("mallory\\u{1b}[2J"), "{text}");
    }

    // A user named `*` cannot be a FlowSchema subject: no fix, never one for everyone.
    let mut log = String::new();
    background(&mut log, 60);
    unbounded_lists(&mut log, "*", None);
    let (d, _dir) = diagnose_text(&log, "1.34");
    for f in &d.findings {
        assert!(
            !f.fix.yaml.contains("name: '*'") && !f.fix.yaml.contains("name: \"*\""),
            "{}",
            f.fix.yaml
        );
    }
}

#[test]
fn an_impersonated_user_is_classified_with_its_own_groups() {
    let mut log = String::new();
    background(&mut log, 60);
    // A system:masters proxy impersonates jane: jane is not exempt.
    unbounded_lists(
        &mut log,
        "system:serviceaccount:proxy:gateway",
        Some("jane@example.com"),
    );
    let (d, _dir) = diagnose_text(&log, "1.34");
    let f = d.findings.first().expect("a finding");
    let c = f.culprit.as_ref().unwrap();
    assert_eq!(c.user, "jane@example.com", "{}", super::summary(&d));
    assert_eq!(c.priority_level, "global-default", "{}", super::summary(&d));
    assert_ne!(f.kind.slug(), "apf-exempt-application");
}

#[test]
fn the_figures_do_not_depend_on_the_number_of_threads() {
    let log = log(Case::VictimOf429s, 4);
    let mut one = inputs(&log.path, "1.34");
    one.scan = ScanOpts {
        threads: 1,
        ..ScanOpts::default()
    };
    let mut four = inputs(&log.path, "1.34");
    four.scan = ScanOpts {
        threads: 4,
        ..ScanOpts::default()
    };
    let (a, b) = (diagnose(&one).unwrap(), diagnose(&four).unwrap());
    // The same findings, and the same verdict and harm for the culprit (sums in another order
    // may differ in the last bits).
    let kinds = |d: &apilens_doctor::Diagnosis| -> Vec<(String, String)> {
        d.findings
            .iter()
            .map(|f| (f.kind.slug().to_owned(), f.title.clone()))
            .collect()
    };
    assert_eq!(kinds(&a), kinds(&b));
    let (fa, fb) = (&a.findings[0], &b.findings[0]);
    assert_eq!(
        (fa.kind, fa.severity, &fa.culprit, &fa.fix.yaml),
        (fb.kind, fb.severity, &fb.culprit, &fb.fix.yaml),
        "{}\n{}",
        render_json(&a),
        render_json(&b)
    );
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0);
    for (x, y) in [
        (fa.harm.others_429, fb.harm.others_429),
        (fa.harm.others_wait_s, fb.harm.others_wait_s),
        (fa.harm.seat_seconds, fb.harm.seat_seconds),
        (fa.harm.level_share, fb.harm.level_share),
    ] {
        assert!(close(x, y), "{:?} vs {:?}", fa.harm, fb.harm);
    }
}
