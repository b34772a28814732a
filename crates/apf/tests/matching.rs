//! Classification as kube-apiserver does it: `rule.go`'s literal cases (re-expressed from
//! `match_test.go`'s `TestLiterals`), the default schemas of each version, implicit groups,
//! dangling and missing objects.

use apilens_apf::{
    ApfConfig, Distinguisher, FlowSchema, KubeVersion, LevelSpec, LimitResponse, NonResourceRule,
    PolicyRule, PriorityLevel, RequestDigest, ResourceAttributes, ResourceRule, Subject,
};

fn v(minor: u32) -> KubeVersion {
    KubeVersion::minor(1, minor)
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

struct Req {
    user: &'static str,
    groups: Vec<String>,
    verb: &'static str,
    res: Option<ResourceAttributes<'static>>,
    path: &'static str,
}

impl Req {
    fn digest(&self) -> RequestDigest<'_> {
        RequestDigest {
            user: self.user,
            groups: &self.groups,
            verb: self.verb,
            resource: self.res,
            path: self.path,
        }
    }
}

fn res(
    group: &'static str,
    resource: &'static str,
    namespace: &'static str,
) -> Option<ResourceAttributes<'static>> {
    Some(ResourceAttributes {
        api_group: group,
        resource,
        namespace,
        ..Default::default()
    })
}

fn level(name: &str, queues: u32) -> PriorityLevel {
    PriorityLevel {
        name: name.to_string(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: 10,
            lendable_percent: 0,
            borrowing_limit_percent: Some(0),
            limit_response: if queues == 0 {
                LimitResponse::Reject
            } else {
                LimitResponse::Queue {
                    queues,
                    hand_size: 1.min(queues),
                    queue_length_limit: 50,
                }
            },
        },
    }
}

/// A configuration of one schema `rule0` (precedence 10) holding `rule`, on a queued level.
fn one_rule(rule: PolicyRule) -> ApfConfig {
    let schema = FlowSchema::new("rule0", 10, "pl1", None, vec![rule]);
    ApfConfig::from_objects(v(35), vec![schema], vec![level("pl1", 8)]).0
}

fn matches(rule: PolicyRule, req: &Req) -> bool {
    one_rule(rule).classify(&req.digest()).flow_schema == "rule0"
}

fn user(name: &str) -> Subject {
    Subject::user(name)
}

fn rr(
    verbs: &[&str],
    groups: &[&str],
    resources: &[&str],
    namespaces: &[&str],
    cluster: bool,
) -> ResourceRule {
    ResourceRule::new(verbs, groups, resources, namespaces, cluster)
}

fn resource_rule(subject: Subject, r: ResourceRule) -> PolicyRule {
    PolicyRule {
        subjects: vec![subject],
        resource_rules: vec![r],
        non_resource_rules: vec![],
    }
}

fn non_resource_rule(subject: Subject, verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        subjects: vec![subject],
        resource_rules: vec![],
        non_resource_rules: vec![NonResourceRule::new(verbs, urls)],
    }
}

#[test]
fn literal_rules_match_as_upstream() {
    let ui = groups(&["goodg1", "goodg2"]);
    let namespaced = Req {
        user: "goodu",
        groups: ui.clone(),
        verb: "goodverb",
        res: res("goodapig", "goodrscs", "goodns"),
        path: "/apis/goodapig/v1/namespaces/goodns/goodrscs",
    };
    let cluster = Req {
        res: res("goodapig", "goodrscs", ""),
        path: "/apis/goodapig/v1/goodrscs",
        groups: ui.clone(),
        ..namespaced
    };
    let non_resource = Req {
        user: "goodu",
        groups: ui,
        verb: "goodverb",
        res: None,
        path: "/openapi/v2",
    };
    let good = rr(
        &["goodverb"],
        &["goodapig"],
        &["goodrscs"],
        &["goodns"],
        false,
    );
    let yes = [
        resource_rule(user("goodu"), good.clone()),
        resource_rule(Subject::group("goodg1"), good.clone()),
        resource_rule(user("*"), good.clone()),
        resource_rule(Subject::group("*"), good.clone()),
        resource_rule(
            user("goodu"),
            rr(&["*"], &["goodapig"], &["goodrscs"], &["goodns"], false),
        ),
        resource_rule(
            user("goodu"),
            rr(&["goodverb"], &["*"], &["goodrscs"], &["goodns"], false),
        ),
        resource_rule(
            user("goodu"),
            rr(&["goodverb"], &["goodapig"], &["*"], &["goodns"], false),
        ),
        resource_rule(
            user("goodu"),
            rr(&["goodverb"], &["goodapig"], &["goodrscs"], &["*"], false),
        ),
    ];
    for (i, rule) in yes.into_iter().enumerate() {
        assert!(matches(rule, &namespaced), "namespaced yes {i}");
    }
    let no = [
        resource_rule(user("badu"), good.clone()),
        resource_rule(Subject::group("badg"), good.clone()),
        resource_rule(
            user("goodu"),
            rr(
                &["badverb"],
                &["goodapig"],
                &["goodrscs"],
                &["goodns"],
                false,
            ),
        ),
        resource_rule(
            user("goodu"),
            rr(
                &["goodverb"],
                &["badapig"],
                &["goodrscs"],
                &["goodns"],
                false,
            ),
        ),
        resource_rule(
            user("goodu"),
            rr(
                &["goodverb"],
                &["goodapig"],
                &["badrscs"],
                &["goodns"],
                false,
            ),
        ),
        resource_rule(
            user("goodu"),
            rr(
                &["goodverb"],
                &["goodapig"],
                &["goodrscs"],
                &["badns"],
                false,
            ),
        ),
    ];
    for (i, rule) in no.into_iter().enumerate() {
        assert!(!matches(rule, &namespaced), "namespaced no {i}");
    }
    let cluster_yes = [
        rr(&["goodverb"], &["goodapig"], &["goodrscs"], &[], true),
        rr(&["*"], &["goodapig"], &["goodrscs"], &[], true),
        rr(&["goodverb"], &["*"], &["goodrscs"], &[], true),
        rr(&["goodverb"], &["goodapig"], &["*"], &[], true),
    ];
    for (i, r) in cluster_yes.into_iter().enumerate() {
        assert!(
            matches(resource_rule(user("goodu"), r), &cluster),
            "cluster yes {i}"
        );
    }
    let cluster_no = [
        rr(&["badverb"], &["goodapig"], &["goodrscs"], &[], true),
        rr(&["goodverb"], &["badapig"], &["goodrscs"], &[], true),
        rr(&["goodverb"], &["goodapig"], &["badrscs"], &[], true),
        rr(&["goodverb"], &["goodapig"], &["goodrscs"], &[], false),
        // namespaces ["*"] never matches a request without a namespace
        rr(&["goodverb"], &["goodapig"], &["goodrscs"], &["*"], false),
    ];
    for (i, r) in cluster_no.into_iter().enumerate() {
        assert!(
            !matches(resource_rule(user("goodu"), r), &cluster),
            "cluster no {i}"
        );
    }
    for urls in [&["/openapi/v2"][..], &["*"], &["/openapi"], &["/openapi/*"]] {
        assert!(
            matches(
                non_resource_rule(user("goodu"), &["goodverb"], urls),
                &non_resource
            ),
            "{urls:?}"
        );
    }
    assert!(matches(
        non_resource_rule(user("goodu"), &["*"], &["/openapi/v2"]),
        &non_resource
    ));
    for urls in [
        &["/closedapi/v2"][..],
        &["/open"],
        &["/openapi/v2/x"],
        &["/openapi/v3/*"],
    ] {
        assert!(
            !matches(
                non_resource_rule(user("goodu"), &["goodverb"], urls),
                &non_resource
            ),
            "{urls:?}"
        );
    }
    assert!(!matches(
        non_resource_rule(user("goodu"), &["badverb"], &["/openapi/v2"]),
        &non_resource
    ));
    // A non-resource request never matches resource rules, nor the reverse.
    assert!(!matches(
        resource_rule(user("goodu"), rr(&["*"], &["*"], &["*"], &["*"], true)),
        &non_resource
    ));
    assert!(!matches(
        non_resource_rule(user("goodu"), &["*"], &["*"]),
        &namespaced
    ));
}

#[test]
fn a_wildcard_beside_other_values_is_only_a_value() {
    let req = Req {
        user: "u",
        groups: groups(&["g"]),
        verb: "list",
        res: res("", "pods", "ns1"),
        path: "/api/v1/namespaces/ns1/pods",
    };
    assert!(!matches(
        resource_rule(
            user("u"),
            rr(&["get", "*"], &[""], &["pods"], &["ns1"], false)
        ),
        &req
    ));
    assert!(!matches(
        resource_rule(
            user("u"),
            rr(&["list"], &[""], &["pods"], &["ns2", "*"], false)
        ),
        &req
    ));
}

#[test]
fn subresources_match_only_as_resource_slash_subresource() {
    let log = Req {
        user: "u",
        groups: vec![],
        verb: "get",
        res: Some(ResourceAttributes {
            resource: "pods",
            subresource: "log",
            namespace: "ns1",
            name: "p",
            ..Default::default()
        }),
        path: "/api/v1/namespaces/ns1/pods/p/log",
    };
    assert!(!matches(
        resource_rule(user("u"), rr(&["get"], &[""], &["pods"], &["*"], false)),
        &log
    ));
    assert!(matches(
        resource_rule(user("u"), rr(&["get"], &[""], &["pods/log"], &["*"], false)),
        &log
    ));
    assert!(!matches(
        resource_rule(
            user("u"),
            rr(&["get"], &[""], &["pods/status"], &["*"], false)
        ),
        &log
    ));
    assert!(matches(
        resource_rule(user("u"), rr(&["get"], &[""], &["*"], &["*"], false)),
        &log
    ));
}

#[test]
fn service_account_subjects() {
    let sa = |name: &'static str| Req {
        user: name,
        groups: vec![],
        verb: "get",
        res: res("", "pods", "x"),
        path: "/api/v1/namespaces/x/pods/p",
    };
    let rule = |ns: &str, name: &str| {
        resource_rule(
            Subject::service_account(ns, name),
            rr(&["*"], &["*"], &["*"], &["*"], true),
        )
    };
    assert!(matches(
        rule("kube-system", "*"),
        &sa("system:serviceaccount:kube-system:foo")
    ));
    assert!(matches(
        rule("kube-system", "foo"),
        &sa("system:serviceaccount:kube-system:foo")
    ));
    assert!(!matches(
        rule("kube-system", "foo"),
        &sa("system:serviceaccount:kube-system:foobar")
    ));
    assert!(!matches(
        rule("kube-system", "*"),
        &sa("system:serviceaccount:kube-systemx:foo")
    ));
    assert!(!matches(
        rule("kube-system", "*"),
        &sa("system:serviceaccount:kube-system")
    ));
    assert!(!matches(rule("kube-system", "*"), &sa("kube-system:foo")));
}

/// What the defaults of `minor` make of a request: (schema, level, distinguisher).
fn classify(minor: u32, req: &Req) -> (String, String, String) {
    let c = ApfConfig::defaults(v(minor)).classify(&req.digest());
    (c.flow_schema, c.priority_level, c.distinguisher)
}

fn expect(got: (String, String, String), schema: &str, level: &str, distinguisher: &str) {
    assert_eq!(
        (got.0.as_str(), got.1.as_str(), got.2.as_str()),
        (schema, level, distinguisher)
    );
}

#[test]
fn default_schemas_per_version() {
    let admin = Req {
        user: "kubernetes-admin",
        groups: groups(&["system:masters", "system:authenticated"]),
        verb: "delete",
        res: res("apps", "deployments", "prod"),
        path: "/apis/apps/v1/namespaces/prod/deployments/web",
    };
    for minor in 20..=35 {
        expect(classify(minor, &admin), "exempt", "exempt", "");
    }
    let probe = Req {
        user: "system:anonymous",
        groups: groups(&["system:unauthenticated"]),
        verb: "get",
        res: None,
        path: "/readyz",
    };
    expect(
        classify(21, &probe),
        "global-default",
        "global-default",
        "system:anonymous",
    );
    expect(classify(22, &probe), "probes", "exempt", "");
    let probe_sub = Req {
        path: "/livez/etcd",
        groups: groups(&["system:unauthenticated"]),
        ..probe
    };
    expect(classify(30, &probe_sub), "probes", "exempt", "");

    let kcm_endpoints = Req {
        user: "system:kube-controller-manager",
        groups: groups(&["system:authenticated"]),
        verb: "update",
        res: res("", "endpoints", "kube-system"),
        path: "/api/v1/namespaces/kube-system/endpoints/kube-controller-manager",
    };
    expect(
        classify(20, &kcm_endpoints),
        "system-leader-election",
        "leader-election",
        "system:kube-controller-manager",
    );
    expect(
        classify(23, &kcm_endpoints),
        "system-leader-election",
        "leader-election",
        "system:kube-controller-manager",
    );
    expect(
        classify(24, &kcm_endpoints),
        "endpoint-controller",
        "workload-high",
        "system:kube-controller-manager",
    );
    expect(
        classify(33, &kcm_endpoints),
        "endpoint-controller",
        "workload-high",
        "system:kube-controller-manager",
    );
    expect(
        classify(34, &kcm_endpoints),
        "kube-controller-manager",
        "workload-high",
        "kube-system",
    );

    let kcm_lease = Req {
        verb: "get",
        res: res("coordination.k8s.io", "leases", "kube-system"),
        path: "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager",
        groups: groups(&["system:authenticated"]),
        ..kcm_endpoints
    };
    for minor in 20..=35 {
        expect(
            classify(minor, &kcm_lease),
            "system-leader-election",
            "leader-election",
            "system:kube-controller-manager",
        );
    }
    // A watch of leases is not leader election.
    let kcm_watch = Req {
        verb: "watch",
        groups: groups(&["system:authenticated"]),
        ..kcm_lease
    };
    expect(
        classify(35, &kcm_watch),
        "kube-controller-manager",
        "workload-high",
        "kube-system",
    );

    let ks_configmap = Req {
        user: "system:serviceaccount:kube-system:cloud-controller",
        groups: groups(&[
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ]),
        verb: "update",
        res: res("", "configmaps", "kube-system"),
        path: "/api/v1/namespaces/kube-system/configmaps/lock",
    };
    expect(
        classify(20, &ks_configmap),
        "system-leader-election",
        "leader-election",
        "system:serviceaccount:kube-system:cloud-controller",
    );
    expect(
        classify(24, &ks_configmap),
        "workload-leader-election",
        "leader-election",
        "system:serviceaccount:kube-system:cloud-controller",
    );
    expect(
        classify(34, &ks_configmap),
        "kube-system-service-accounts",
        "workload-high",
        "kube-system",
    );

    let node_lease = Req {
        user: "system:node:n1",
        groups: groups(&["system:nodes", "system:authenticated"]),
        verb: "update",
        res: res("coordination.k8s.io", "leases", "kube-node-lease"),
        path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
    };
    expect(
        classify(21, &node_lease),
        "system-nodes",
        "system",
        "system:node:n1",
    );
    expect(
        classify(22, &node_lease),
        "system-node-high",
        "node-high",
        "system:node:n1",
    );
    let node_status = Req {
        verb: "patch",
        res: Some(ResourceAttributes {
            resource: "nodes",
            subresource: "status",
            name: "n1",
            ..Default::default()
        }),
        path: "/api/v1/nodes/n1/status",
        groups: groups(&["system:nodes", "system:authenticated"]),
        ..node_lease
    };
    expect(
        classify(35, &node_status),
        "system-node-high",
        "node-high",
        "system:node:n1",
    );
    let node_pods = Req {
        verb: "list",
        res: res("", "pods", ""),
        path: "/api/v1/pods",
        groups: groups(&["system:nodes", "system:authenticated"]),
        ..node_status
    };
    expect(
        classify(35, &node_pods),
        "system-nodes",
        "system",
        "system:node:n1",
    );

    let agent = Req {
        user: "system:serviceaccount:logging:agent",
        groups: groups(&[
            "system:serviceaccounts",
            "system:serviceaccounts:logging",
            "system:authenticated",
        ]),
        verb: "list",
        res: res("", "pods", ""),
        path: "/api/v1/pods",
    };
    for minor in 20..=35 {
        expect(
            classify(minor, &agent),
            "service-accounts",
            "workload-low",
            "system:serviceaccount:logging:agent",
        );
    }
    let alice = Req {
        user: "alice",
        groups: groups(&["dev", "system:authenticated"]),
        verb: "get",
        res: res("", "secrets", "dev"),
        path: "/api/v1/namespaces/dev/secrets/s",
    };
    expect(
        classify(35, &alice),
        "global-default",
        "global-default",
        "alice",
    );
}

#[test]
fn a_namespace_object_carries_its_own_namespace() {
    // GET /api/v1/namespaces/foo: RequestInfo gives namespace "foo", so ByNamespace flows by it
    // and namespace lists (not clusterScope) decide.
    let req = Req {
        user: "system:serviceaccount:kube-system:namespace-controller",
        groups: groups(&[
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ]),
        verb: "get",
        res: Some(ResourceAttributes {
            resource: "namespaces",
            namespace: "foo",
            name: "foo",
            ..Default::default()
        }),
        path: "/api/v1/namespaces/foo",
    };
    expect(
        classify(35, &req),
        "kube-system-service-accounts",
        "workload-high",
        "foo",
    );
    let rule = resource_rule(
        user("*"),
        rr(&["get"], &[""], &["namespaces"], &["foo"], false),
    );
    assert!(matches(rule, &req));
    let rule = resource_rule(user("*"), rr(&["get"], &[""], &["namespaces"], &[], true));
    assert!(!matches(rule, &req));
}

#[test]
fn implicit_groups_follow_authentication() {
    // No groups known: a service account gets its groups, everyone system:authenticated.
    let sa = Req {
        user: "system:serviceaccount:team:bot",
        groups: vec![],
        verb: "list",
        res: res("", "pods", "team"),
        path: "/api/v1/namespaces/team/pods",
    };
    expect(
        classify(35, &sa),
        "service-accounts",
        "workload-low",
        "system:serviceaccount:team:bot",
    );
    let only_ns_group = resource_rule(
        Subject::group("system:serviceaccounts:team"),
        rr(&["*"], &["*"], &["*"], &["*"], true),
    );
    assert!(matches(only_ns_group.clone(), &sa));
    // Impersonation with explicit groups: those are the authority, no service-account groups.
    let impersonated = Req {
        groups: groups(&["auditors"]),
        ..sa
    };
    expect(
        classify(35, &impersonated),
        "global-default",
        "global-default",
        "system:serviceaccount:team:bot",
    );
    assert!(!matches(only_ns_group, &impersonated));
    // system:unauthenticated is never authenticated.
    let anon = Req {
        user: "system:anonymous",
        groups: vec![],
        verb: "get",
        res: None,
        path: "/version",
    };
    let authenticated_only =
        non_resource_rule(Subject::group("system:authenticated"), &["*"], &["*"]);
    assert!(!matches(authenticated_only, &anon));
    let unauthenticated =
        non_resource_rule(Subject::group("system:unauthenticated"), &["*"], &["*"]);
    assert!(matches(unauthenticated, &anon));
}

#[test]
fn dangling_schemas_are_skipped_and_missing_mandatory_objects_come_back() {
    let jail = FlowSchema::new(
        "jail",
        50,
        "no-such-level",
        Some(Distinguisher::ByUser),
        vec![resource_rule(
            user("bob"),
            rr(&["*"], &["*"], &["*"], &["*"], true),
        )],
    );
    let bob = Req {
        user: "bob",
        groups: groups(&["system:authenticated"]),
        verb: "list",
        res: res("", "pods", ""),
        path: "/api/v1/pods",
    };
    let (config, notes) = ApfConfig::from_objects(v(35), vec![jail], vec![]);
    assert!(config.is_dangling("jail"));
    assert!(
        notes
            .iter()
            .any(|n| n.object == "FlowSchema/jail" && n.message.contains("dangling")),
        "{notes:?}"
    );
    for mandatory in [
        "FlowSchema/exempt",
        "FlowSchema/catch-all",
        "PriorityLevelConfiguration/exempt",
        "PriorityLevelConfiguration/catch-all",
    ] {
        assert!(
            notes.iter().any(|n| n.object == mandatory),
            "{mandatory}: {notes:?}"
        );
    }
    let c = config.classify(&bob.digest());
    assert_eq!(
        (c.flow_schema.as_str(), c.priority_level.as_str()),
        ("catch-all", "catch-all")
    );
    // catch-all rejects rather than queues, so its flows carry no distinguisher.
    assert_eq!(c.distinguisher, "");
    let names: Vec<&str> = config.schemas().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["exempt", "jail", "catch-all"]);
    // A schema that points at the catch-all level while no catch-all level object exists
    // dangles too: the server imagines the mandatory level only after judging the schemas.
    let to_catch_all = FlowSchema::new(
        "to-catch-all",
        60,
        "catch-all",
        None,
        vec![resource_rule(
            user("bob"),
            rr(&["*"], &["*"], &["*"], &["*"], true),
        )],
    );
    let (config, _) = ApfConfig::from_objects(v(35), vec![to_catch_all], vec![]);
    assert!(config.is_dangling("to-catch-all"));
    assert_eq!(config.classify(&bob.digest()).flow_schema, "catch-all");
    // The same schema with the level given matches.
    let config = ApfConfig::defaults(v(35));
    let jail_level = level("jail", 16);
    let jail = FlowSchema::new(
        "jail",
        50,
        "jail",
        Some(Distinguisher::ByUser),
        vec![resource_rule(
            user("bob"),
            rr(&["list"], &[""], &["pods"], &["*"], true),
        )],
    );
    let fixed = config.with_objects(&[jail], &[jail_level]);
    let c = fixed.classify(&bob.digest());
    assert_eq!(
        (
            c.flow_schema.as_str(),
            c.priority_level.as_str(),
            c.distinguisher.as_str()
        ),
        ("jail", "jail", "bob")
    );
    assert_eq!(config.classify(&bob.digest()).flow_schema, "global-default");
}

#[test]
fn nothing_matching_falls_back_to_catch_all() {
    let narrow_catch_all = FlowSchema::new(
        "catch-all",
        10000,
        "catch-all",
        Some(Distinguisher::ByUser),
        vec![resource_rule(
            Subject::group("nobody"),
            rr(&["*"], &["*"], &["*"], &["*"], true),
        )],
    );
    let (config, _) =
        ApfConfig::from_objects(v(35), vec![narrow_catch_all], vec![level("catch-all", 0)]);
    let req = Req {
        user: "carol",
        groups: groups(&["system:authenticated"]),
        verb: "get",
        res: None,
        path: "/metrics",
    };
    let c = config.classify(&req.digest());
    assert_eq!(c.flow_schema, "catch-all");
    assert!(c.why.contains("no FlowSchema matched"), "{}", c.why);
}

#[test]
fn why_names_the_schema_rule_subject_and_request() {
    let agent = Req {
        user: "system:serviceaccount:logging:agent",
        groups: groups(&["system:serviceaccounts", "system:authenticated"]),
        verb: "list",
        res: res("", "pods", "default"),
        path: "/api/v1/namespaces/default/pods",
    };
    let c = ApfConfig::defaults(v(35)).classify(&agent.digest());
    assert_eq!(
        c.why,
        "FlowSchema service-accounts (precedence 9000): group system:serviceaccounts, list pods in namespace default -> priority level workload-low, flow system:serviceaccount:logging:agent"
    );
    let lease = Req {
        user: "system:node:n1",
        groups: groups(&["system:nodes"]),
        verb: "update",
        res: res("coordination.k8s.io", "leases", "kube-node-lease"),
        path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
    };
    let c = ApfConfig::defaults(v(35)).classify(&lease.digest());
    assert_eq!(
        c.why,
        "FlowSchema system-node-high (precedence 400): group system:nodes, update leases.coordination.k8s.io in namespace kube-node-lease -> priority level node-high, flow system:node:n1"
    );
    assert!(!c.exempt);
    assert_eq!(c.matching_precedence, 400);
}
