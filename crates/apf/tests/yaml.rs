//! Reading and writing APF objects: the real OpenShift manifests, every served API version,
//! lists and JSON, the v1 YAML read back by k8s-openapi, and input that is not APF.

use apilens_apf::{
    ApfConfig, ApfError, Distinguisher, KubeVersion, LevelSpec, LimitResponse, RequestDigest,
    ResourceAttributes, Subject, load_objects, to_yaml_v1,
};
use std::path::PathBuf;

fn fixture(name: &str) -> (String, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/apf")
        .join(name);
    (
        std::fs::read_to_string(&path).unwrap(),
        path.display().to_string(),
    )
}

const OPENSHIFT: [&str; 3] = [
    "openshift-cluster-authentication-operator-flowschema.yaml",
    "openshift-cluster-kube-apiserver-operator-flowschema.yaml",
    "openshift-cluster-openshift-apiserver-operator-flowschema.yaml",
];

#[test]
fn openshift_manifests_read_in_full() {
    let (text, source) = fixture(OPENSHIFT[0]);
    let (schemas, levels, notes) = load_objects(&text, &source).unwrap();
    assert!(levels.is_empty() && notes.is_empty(), "{notes:?}");
    let names: Vec<(&str, u32, &str)> = schemas
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.matching_precedence,
                s.priority_level.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("openshift-oauth-apiserver-sar", 2, "exempt"),
            ("openshift-oauth-apiserver", 1000, "workload-high"),
            (
                "openshift-authentication-operator",
                2000,
                "openshift-control-plane-operators"
            ),
            ("openshift-oauth-server", 1000, "workload-high"),
        ]
    );
    let sar = &schemas[0];
    assert_eq!(sar.distinguisher, Some(Distinguisher::ByUser));
    assert_eq!(sar.rules.len(), 1);
    assert_eq!(
        sar.rules[0].subjects,
        [Subject::service_account(
            "openshift-oauth-apiserver",
            "oauth-apiserver-sa"
        )]
    );
    let rr = &sar.rules[0].resource_rules;
    assert_eq!(rr.len(), 2);
    assert_eq!(
        (rr[0].api_groups.as_slice(), rr[0].resources.as_slice()),
        (
            &["authorization.k8s.io".to_string()][..],
            &["subjectaccessreviews".to_string()][..]
        )
    );
    assert!(rr[0].cluster_scope);
    assert_eq!(rr[0].namespaces, ["*"]);

    let (text, source) = fixture(OPENSHIFT[1]);
    let (schemas, levels, _) = load_objects(&text, &source).unwrap();
    assert_eq!(schemas.len(), 2);
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0].name, "openshift-control-plane-operators");
    assert_eq!(
        levels[0].spec,
        LevelSpec::Limited {
            nominal_concurrency_shares: 10,
            lendable_percent: 33,
            borrowing_limit_percent: None,
            limit_response: LimitResponse::Queue {
                queues: 128,
                hand_size: 6,
                queue_length_limit: 50
            },
        }
    );
}

#[test]
fn openshift_objects_classify_on_top_of_the_defaults() {
    let v = KubeVersion::minor(1, 31);
    let mut schemas = Vec::new();
    let mut levels = Vec::new();
    for name in OPENSHIFT {
        let (text, source) = fixture(name);
        let (s, l, _) = load_objects(&text, &source).unwrap();
        schemas.extend(s);
        levels.extend(l);
    }
    let config = ApfConfig::defaults(v).with_objects(&schemas, &levels);
    assert!(!config.is_dangling("openshift-authentication-operator"));
    let groups = vec![
        "system:serviceaccounts".to_string(),
        "system:authenticated".to_string(),
    ];
    let sar = RequestDigest {
        user: "system:serviceaccount:openshift-oauth-apiserver:oauth-apiserver-sa",
        groups: &groups,
        verb: "create",
        resource: Some(ResourceAttributes {
            api_group: "authorization.k8s.io",
            resource: "subjectaccessreviews",
            ..Default::default()
        }),
        path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    };
    let c = config.classify(&sar);
    assert_eq!(
        (c.flow_schema.as_str(), c.priority_level.as_str(), c.exempt),
        ("openshift-oauth-apiserver-sar", "exempt", true)
    );
    let pods = RequestDigest {
        verb: "list",
        resource: Some(ResourceAttributes {
            resource: "pods",
            namespace: "x",
            ..Default::default()
        }),
        path: "/api/v1/namespaces/x/pods",
        ..sar
    };
    let c = config.classify(&pods);
    assert_eq!(
        (c.flow_schema.as_str(), c.priority_level.as_str()),
        ("openshift-oauth-apiserver", "workload-high")
    );
    let cap = config.capacity(v, 600);
    assert!(
        cap.level("openshift-control-plane-operators")
            .unwrap()
            .nominal
            > 0
    );
}

#[test]
fn v1_yaml_round_trips_and_deserialises_into_k8s_openapi() {
    let mut schemas = ApfConfig::defaults(KubeVersion::minor(1, 35))
        .schemas()
        .to_vec();
    let mut levels = ApfConfig::defaults(KubeVersion::minor(1, 35))
        .levels()
        .to_vec();
    for name in OPENSHIFT {
        let (text, source) = fixture(name);
        let (s, l, _) = load_objects(&text, &source).unwrap();
        schemas.extend(s);
        levels.extend(l);
    }
    levels.push(apilens_apf::PriorityLevel {
        name: "jail".to_string(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: 0,
            lendable_percent: 0,
            borrowing_limit_percent: Some(0),
            limit_response: LimitResponse::Reject,
        },
    });
    let yaml = to_yaml_v1(&levels, &schemas);
    let (s2, l2, notes) = load_objects(&yaml, "written").unwrap();
    assert!(notes.is_empty());
    assert_eq!(s2, schemas);
    assert_eq!(l2, levels);
    let docs: Vec<&str> = yaml
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .collect();
    assert_eq!(docs.len(), schemas.len() + levels.len());
    let mut fs_seen = 0;
    let mut pl_seen = 0;
    for doc in docs {
        if doc.contains("kind: FlowSchema") {
            let fs: k8s_openapi::api::flowcontrol::v1::FlowSchema =
                serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
            let spec = fs.spec.unwrap();
            let ours = schemas
                .iter()
                .find(|s| Some(&s.name) == fs.metadata.name.as_ref())
                .unwrap();
            assert_eq!(
                spec.matching_precedence,
                Some(ours.matching_precedence as i32)
            );
            assert_eq!(spec.priority_level_configuration.name, ours.priority_level);
            assert_eq!(spec.rules.map(|r| r.len()).unwrap_or(0), ours.rules.len());
            fs_seen += 1;
        } else {
            let pl: k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration =
                serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
            let spec = pl.spec.unwrap();
            let ours = levels
                .iter()
                .find(|l| Some(&l.name) == pl.metadata.name.as_ref())
                .unwrap();
            match ours.spec {
                LevelSpec::Exempt { .. } => assert_eq!(spec.type_, "Exempt"),
                LevelSpec::Limited {
                    nominal_concurrency_shares,
                    borrowing_limit_percent,
                    ..
                } => {
                    let limited = spec.limited.unwrap();
                    assert_eq!(
                        limited.nominal_concurrency_shares,
                        Some(nominal_concurrency_shares as i32)
                    );
                    assert_eq!(
                        limited.borrowing_limit_percent,
                        borrowing_limit_percent.map(|p| p as i32)
                    );
                }
            }
            pl_seen += 1;
        }
    }
    assert_eq!((fs_seen, pl_seen), (schemas.len(), levels.len()));
}

#[test]
fn every_api_version_lists_and_json() {
    let beta = r#"
apiVersion: flowcontrol.apiserver.k8s.io/v1beta1
kind: PriorityLevelConfiguration
metadata: {name: old}
spec:
  type: Limited
  limited:
    assuredConcurrencyShares: 7
    limitResponse:
      type: Queue
      queuing: {queues: 16}
---
# a comment-only document
---
apiVersion: flowcontrol.apiserver.k8s.io/v1beta3
kind: PriorityLevelConfiguration
metadata: {name: defaulted}
spec:
  type: Limited
  limited:
    limitResponse: {type: Reject}
"#;
    let (s, l, _) = load_objects(beta, "beta.yaml").unwrap();
    assert!(s.is_empty());
    assert_eq!(
        l[0].spec,
        LevelSpec::Limited {
            nominal_concurrency_shares: 7,
            lendable_percent: 0,
            borrowing_limit_percent: None,
            limit_response: LimitResponse::Queue {
                queues: 16,
                hand_size: 8,
                queue_length_limit: 50
            }
        }
    );
    assert_eq!(
        l[1].spec,
        LevelSpec::Limited {
            nominal_concurrency_shares: 30,
            lendable_percent: 0,
            borrowing_limit_percent: None,
            limit_response: LimitResponse::Reject
        }
    );
    let list = r#"
apiVersion: v1
kind: List
items:
- apiVersion: flowcontrol.apiserver.k8s.io/v1beta2
  kind: FlowSchema
  metadata: {name: a}
  spec:
    priorityLevelConfiguration: {name: global-default}
    rules:
    - subjects: [{kind: User, user: {name: alice}}]
      nonResourceRules: [{verbs: ["get"], nonResourceURLs: ["/metrics"]}]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: not-apf}
"#;
    let (s, l, notes) = load_objects(list, "list.yaml").unwrap();
    assert_eq!((s.len(), l.len()), (1, 0));
    assert_eq!(
        s[0].matching_precedence, 1000,
        "the API's default precedence"
    );
    assert_eq!(notes.len(), 1);
    assert!(notes[0].message.contains("v1 ConfigMap"), "{notes:?}");
    let json = r#"{"apiVersion":"flowcontrol.apiserver.k8s.io/v1","kind":"FlowSchemaList","items":[
      {"metadata":{"name":"b"},"spec":{"priorityLevelConfiguration":{"name":"workload-low"},"matchingPrecedence":42,
       "distinguisherMethod":{"type":"ByNamespace"},"rules":[]}}]}"#;
    let (s, _, _) = load_objects(json, "list.json").unwrap();
    assert_eq!(
        (
            s[0].name.as_str(),
            s[0].matching_precedence,
            s[0].distinguisher
        ),
        ("b", 42, Some(Distinguisher::ByNamespace))
    );
}

#[test]
fn input_that_is_not_apf_is_a_clear_error() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
    match load_objects(deployment, "web.yaml") {
        Err(e @ ApfError::NotApf { .. }) => {
            assert_eq!(
                e.to_string(),
                "web.yaml: document 1 is a apps/v1 Deployment, not a FlowSchema or PriorityLevelConfiguration"
            );
        }
        other => panic!("{other:?}"),
    }
    let second = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n- just\n- a list\n";
    let err = load_objects(second, "two.yaml").unwrap_err().to_string();
    assert!(
        err.starts_with("two.yaml: document 1 is a v1 Namespace"),
        "{err}"
    );
    for empty in ["", "\n\n  \n", "---\n"] {
        let err = load_objects(empty, "empty.yaml").unwrap_err();
        assert!(
            matches!(err, ApfError::Empty { .. } | ApfError::NotApf { .. }),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("empty.yaml"), "{err}");
    }
    let garbage = "kind: FlowSchema\n  bad: [unclosed\n";
    let err = load_objects(garbage, "bad.yaml").unwrap_err();
    assert!(matches!(err, ApfError::Yaml { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("bad.yaml: document 1: invalid YAML"),
        "{err}"
    );
    let malformed = "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: x}\nspec:\n  priorityLevelConfiguration: {name: y}\n  matchingPrecedence: high\n";
    let err = load_objects(malformed, "m.yaml").unwrap_err().to_string();
    assert_eq!(
        err,
        "m.yaml: document 1: FlowSchema x: matchingPrecedence is \"high\", not a non-negative integer"
    );
    let yes = "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: on}\nspec:\n  priorityLevelConfiguration: {name: y}\n  rules:\n  - subjects: [{kind: Group, group: {name: g}}]\n    resourceRules: [{verbs: [get], apiGroups: [''], resources: [pods], clusterScope: yes}]\n";
    let err = load_objects(yes, "yes.yaml").unwrap_err().to_string();
    assert_eq!(
        err,
        "yes.yaml: document 1: FlowSchema on: rules[0]: clusterScope is \"yes\", not true or false"
    );
    let no_name = "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nspec: {type: Exempt}\n";
    let err = load_objects(no_name, "n.yaml").unwrap_err().to_string();
    assert_eq!(err, "n.yaml: document 1: metadata.name is missing");
    let csv = "PriorityLevelName, ActiveQueues\nexempt, 0\n";
    let err = load_objects(csv, "dump.csv").unwrap_err().to_string();
    assert!(err.starts_with("dump.csv: document 1"), "{err}");
}

#[test]
fn written_yaml_reads_as_kubectl_writes_it() {
    let config = ApfConfig::defaults(KubeVersion::minor(1, 35));
    let level = config.level("catch-all").unwrap().clone();
    let schema = config.schema("system-node-high").unwrap().clone();
    let yaml = to_yaml_v1(&[level], &[schema]);
    assert_eq!(
        yaml,
        r#"---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata:
  name: catch-all
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 5
    lendablePercent: 0
    limitResponse:
      type: Reject
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata:
  name: system-node-high
spec:
  priorityLevelConfiguration:
    name: node-high
  matchingPrecedence: 400
  distinguisherMethod:
    type: ByUser
  rules:
  - subjects:
    - kind: Group
      group:
        name: system:nodes
    resourceRules:
    - verbs:
      - "*"
      apiGroups:
      - ""
      resources:
      - nodes
      - nodes/status
      clusterScope: true
      namespaces:
      - "*"
    - verbs:
      - "*"
      apiGroups:
      - coordination.k8s.io
      resources:
      - leases
      namespaces:
      - "*"
"#
    );
}
