//! Bad input: each a clear error or note naming the input, never a panic.

use super::inputs;
use apilens_doctor::{ApfObjects, ReplicaDumps, diagnose, render_text};

#[test]
fn events_without_object_ref_and_garbage_lines_are_read_or_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut text = String::new();
    // No objectRef: resource from the URI; a non-resource URL; a garbage line.
    for i in 0..200 {
        text.push_str(&format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a{i}","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{{"username":"system:serviceaccount:x:lister","groups":["system:serviceaccounts","system:authenticated"]}},"sourceIPs":["10.0.0.{}"],"userAgent":"lister/1.0","responseStatus":{{"code":200}},"requestReceivedTimestamp":"2026-01-01T00:{m:02}:{s:02}.000000Z","stageTimestamp":"2026-01-01T00:{m:02}:{e:02}.900000Z","annotations":{{"apiserver.latency.k8s.io/total":"2.9s","apiserver.latency.k8s.io/etcd":"1.5s"}}}}"#,
            i % 50,
            m = i / 20,
            s = (i % 20) * 3,
            e = (i % 20) * 3 + 2,
        ));
        text.push('\n');
    }
    text.push_str(r#"{"kind":"Event","auditID":"h","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"system:anonymous"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:01Z","stageTimestamp":"2026-01-01T00:00:01.001Z"}"#);
    text.push_str("\nnot an audit event\n{\"truncated\": \n");
    std::fs::write(&path, text).unwrap();
    let d = diagnose(&inputs(&path, "1.30")).unwrap();
    let audit = d.inputs.audit.as_ref().unwrap();
    assert_eq!(audit.requests, 201);
    assert_eq!(audit.malformed, 2);
    assert!(
        audit.malformed_examples[0].contains("audit.log:202"),
        "{:?}",
        audit.malformed_examples
    );
    let f = &d.findings[0];
    assert_eq!(f.culprit.as_ref().unwrap().resource, "pods");
    assert!(render_text(&d, true).contains("malformed"));
    assert!(d.read_failures().is_empty(), "{:?}", d.read_failures());
}

#[test]
fn dump_parse_errors_and_unknown_columns_are_notes_naming_the_replica() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, "").unwrap();
    let levels = apilens_apf::parse_priority_levels(
        "PriorityLevelName, ActiveQueues, IsIdle, IsQuiescing, WaitingRequests, ExecutingRequests, Frobnication\nworkload-low, 3, false, false, 12, 40, 7\n",
        "10.0.0.1:6443 dump_priority_levels",
    )
    .unwrap();
    let mut inputs = inputs(&path, "1.34");
    inputs.dumps = vec![ReplicaDumps {
        replica: "10.0.0.1:6443".to_owned(),
        priority_levels: Some(levels),
        errors: vec![
            "GET /debug/api_priority_and_fairness/dump_queues from 10.0.0.1:6443: 403 forbidden"
                .to_owned(),
        ],
        ..ReplicaDumps::default()
    }];
    let d = diagnose(&inputs).unwrap();
    let notes = d.inputs.notes.join("\n");
    assert!(
        notes.contains("10.0.0.1:6443 dump_priority_levels"),
        "{notes}"
    );
    assert!(notes.contains("Frobnication"), "{notes}");
    assert!(notes.contains("403 forbidden"), "{notes}");
}

#[test]
fn a_dangling_schema_and_a_catch_all_jail_in_the_clusters_objects_are_findings() {
    let yaml = r#"
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: jail-noisy}
spec:
  matchingPrecedence: 500
  priorityLevelConfiguration: {name: catch-all}
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {namespace: x, name: noisy}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"]}]
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: orphan}
spec:
  matchingPrecedence: 600
  priorityLevelConfiguration: {name: no-such-level}
  rules:
  - subjects: [{kind: Group, group: {name: team-a}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true}]
"#;
    let (schemas, levels, notes) = apilens_apf::load_objects(yaml, "cluster.yaml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, "").unwrap();
    let mut inputs = inputs(&path, "1.34");
    inputs.apf = Some(ApfObjects {
        source: "cluster.yaml".to_owned(),
        schemas,
        levels,
        notes,
        over_defaults: false,
    });
    let d = diagnose(&inputs).unwrap();
    let kinds: Vec<&str> = d.findings.iter().map(|f| f.kind.slug()).collect();
    assert!(kinds.contains(&"apf-jail-in-catch-all"), "{kinds:?}");
    assert!(kinds.contains(&"apf-dangling-flowschema"), "{kinds:?}");
    assert_eq!(d.inputs.apf_config, "cluster.yaml");
}

#[test]
fn yaml_that_is_not_apf_is_an_error_naming_the_file_and_document() {
    let err = apilens_apf::load_objects(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "cm.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cm.yaml") && err.contains("ConfigMap"),
        "{err}"
    );
}

#[test]
fn an_apf_config_file_that_is_not_apf_says_what_to_give() {
    let mut objects = ApfObjects::over_defaults();
    let err = objects
        .add_config_file(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--apf-config cm.yaml: cm.yaml: document 1"),
        "{err}"
    );
    assert!(
        err.ends_with("(kubectl get flowschemas,prioritylevelconfigurations -o yaml)"),
        "{err}"
    );
    let err = objects
        .add_config_file(
            "bad.yaml",
            "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nspec: 3\n",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("--apf-config bad.yaml: bad.yaml: document 1"),
        "{err}"
    );
    assert!(
        !err.contains("kubectl get"),
        "a malformed object needs no hint: {err}"
    );
    assert!(objects.source.is_empty(), "nothing was added");
}

#[test]
fn an_audit_log_without_one_event_is_a_read_failure_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::fs::write(&path, "not an audit event\n{\"truncated\": \n").unwrap();
    let d = diagnose(&inputs(&path, "1.30")).unwrap();
    assert_eq!(
        d.read_failures(),
        [format!(
            "no audit event could be read from {} (2 malformed lines): nothing was diagnosed",
            path.display()
        )]
    );
}
