//! The mandatory and suggested objects kube-apiserver creates, per version.
//!
//! Follows `k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap/default.go` at `kubernetes-1.20.0`
//! through `kubernetes-1.35.0`. What changed between those tags:
//! - 1.22: the `node-high` level with the `system-node-high` schema (nodes, nodes/status and
//!   leases of the `system:nodes` group), and the `probes` schema (`/healthz`, `/readyz`,
//!   `/livez` exempt for everyone);
//! - 1.24: `system-leader-election` keeps only its leases rule (its kube-system endpoints and
//!   configmaps rule goes), and `endpoint-controller` (precedence 150, workload-high) appears;
//! - 1.26 (v1beta3): `lendablePercent` on every limited level (system 33, node-high 25,
//!   workload-high 50, workload-low 90, global-default 50, others 0);
//! - 1.28: the exempt level carries `nominalConcurrencyShares: 0` and `lendablePercent: 0`;
//! - 1.29 (v1): the same values written as pointers, nothing else;
//! - 1.34: `endpoint-controller` and `workload-leader-election` are removed.

use crate::KubeVersion;
use crate::objects::{
    Distinguisher, FlowSchema, LevelSpec, LimitResponse, NonResourceRule, PolicyRule,
    PriorityLevel, ResourceRule, Subject,
};

/// The oldest version whose defaults and rules apf knows.
pub const OLDEST: KubeVersion = KubeVersion::minor(1, 20);
/// The newest version whose defaults and rules apf knows.
pub const NEWEST: KubeVersion = KubeVersion::minor(1, 35);

/// The names of the mandatory levels and schemas.
pub(crate) const EXEMPT: &str = "exempt";
/// The catch-all level and schema.
pub(crate) const CATCH_ALL: &str = "catch-all";

/// `version` clamped into [`OLDEST`, `NEWEST`], patch kept.
pub(crate) fn clamp(version: KubeVersion) -> KubeVersion {
    if version.without_patch() < OLDEST {
        OLDEST
    } else if version.without_patch() > NEWEST {
        NEWEST
    } else {
        version
    }
}

const KCM: &str = "system:kube-controller-manager";
const SCHEDULER: &str = "system:kube-scheduler";
const NODES: &str = "system:nodes";
const MASTERS: &str = "system:masters";
const UNAUTHENTICATED: &str = "system:unauthenticated";
const AUTHENTICATED: &str = "system:authenticated";
const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
const COORDINATION: &str = "coordination.k8s.io";

/// The mandatory levels (`exempt`, `catch-all`) as `version` defines them.
pub(crate) fn mandatory_levels(version: KubeVersion) -> Vec<PriorityLevel> {
    let version = clamp(version);
    vec![
        PriorityLevel {
            name: CATCH_ALL.to_string(),
            spec: LevelSpec::Limited {
                nominal_concurrency_shares: 5,
                lendable_percent: 0,
                borrowing_limit_percent: None,
                limit_response: LimitResponse::Reject,
            },
        },
        exempt_level(version),
    ]
}

fn exempt_level(_version: KubeVersion) -> PriorityLevel {
    // Before 1.28 the exempt spec has no fields; reading them as 0 is what the server does
    // once it has them, and before then the exempt level takes no part in the division.
    PriorityLevel {
        name: EXEMPT.to_string(),
        spec: LevelSpec::Exempt {
            nominal_concurrency_shares: 0,
            lendable_percent: 0,
        },
    }
}

/// The mandatory schemas (`exempt`, `catch-all`).
pub(crate) fn mandatory_schemas() -> Vec<FlowSchema> {
    vec![exempt_schema(), catch_all_schema()]
}

fn exempt_schema() -> FlowSchema {
    FlowSchema::new(
        EXEMPT,
        1,
        EXEMPT,
        None,
        vec![everything(vec![Subject::group(MASTERS)])],
    )
}

fn catch_all_schema() -> FlowSchema {
    FlowSchema::new(
        CATCH_ALL,
        10000,
        CATCH_ALL,
        Some(Distinguisher::ByUser),
        vec![everything(vec![
            Subject::group(UNAUTHENTICATED),
            Subject::group(AUTHENTICATED),
        ])],
    )
}

/// A rule for every resource (all namespaces and cluster scope) and every non-resource path.
fn everything(subjects: Vec<Subject>) -> PolicyRule {
    PolicyRule {
        subjects,
        resource_rules: vec![ResourceRule::new(&["*"], &["*"], &["*"], &["*"], true)],
        non_resource_rules: vec![NonResourceRule::new(&["*"], &["*"])],
    }
}

fn queued(name: &str, shares: u32, lendable: u32, queues: u32, hand_size: u32) -> PriorityLevel {
    PriorityLevel {
        name: name.to_string(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: shares,
            lendable_percent: lendable,
            borrowing_limit_percent: None,
            limit_response: LimitResponse::Queue {
                queues,
                hand_size,
                queue_length_limit: 50,
            },
        },
    }
}

/// The suggested levels of `version`, in the order of `default.go`.
pub(crate) fn suggested_levels(version: KubeVersion) -> Vec<PriorityLevel> {
    let version = clamp(version);
    // lendablePercent exists from v1beta3 (1.26); before, no level lends.
    let lend = |p: u32| if version.at_least(1, 26) { p } else { 0 };
    let mut levels = vec![queued("system", 30, lend(33), 64, 6)];
    if version.at_least(1, 22) {
        levels.push(queued("node-high", 40, lend(25), 64, 6));
    }
    levels.push(queued("leader-election", 10, 0, 16, 4));
    levels.push(queued("workload-high", 40, lend(50), 128, 6));
    levels.push(queued("workload-low", 100, lend(90), 128, 6));
    levels.push(queued("global-default", 20, lend(50), 128, 6));
    levels
}

fn get_create_update(api_group: &str, resources: &[&str], namespaces: &[&str]) -> ResourceRule {
    ResourceRule::new(
        &["get", "create", "update"],
        &[api_group],
        resources,
        namespaces,
        false,
    )
}

/// The suggested schemas of `version`, in matching order.
pub(crate) fn suggested_schemas(version: KubeVersion) -> Vec<FlowSchema> {
    let version = clamp(version);
    let leader_subjects = vec![
        Subject::user(KCM),
        Subject::user(SCHEDULER),
        Subject::service_account("kube-system", "*"),
    ];
    let leases = get_create_update(COORDINATION, &["leases"], &["*"]);
    let mut out = Vec::new();
    if version.at_least(1, 22) {
        out.push(FlowSchema::new(
            "probes",
            2,
            EXEMPT,
            None,
            vec![PolicyRule {
                subjects: vec![
                    Subject::group(UNAUTHENTICATED),
                    Subject::group(AUTHENTICATED),
                ],
                resource_rules: vec![],
                non_resource_rules: vec![NonResourceRule::new(
                    &["get"],
                    &["/healthz", "/readyz", "/livez"],
                )],
            }],
        ));
    }
    let mut leader_rules = Vec::new();
    if !version.at_least(1, 24) {
        leader_rules.push(get_create_update(
            "",
            &["endpoints", "configmaps"],
            &["kube-system"],
        ));
    }
    leader_rules.push(leases.clone());
    out.push(FlowSchema::new(
        "system-leader-election",
        100,
        "leader-election",
        Some(Distinguisher::ByUser),
        vec![PolicyRule {
            subjects: leader_subjects,
            resource_rules: leader_rules,
            non_resource_rules: vec![],
        }],
    ));
    if version.at_least(1, 24) && !version.at_least(1, 34) {
        out.push(FlowSchema::new(
            "endpoint-controller",
            150,
            "workload-high",
            Some(Distinguisher::ByUser),
            vec![PolicyRule {
                subjects: vec![
                    Subject::user(KCM),
                    Subject::service_account("kube-system", "endpoint-controller"),
                    Subject::service_account("kube-system", "endpointslicemirroring-controller"),
                ],
                resource_rules: vec![get_create_update("", &["endpoints"], &["*"])],
                non_resource_rules: vec![],
            }],
        ));
    }
    if !version.at_least(1, 34) {
        out.push(FlowSchema::new(
            "workload-leader-election",
            200,
            "leader-election",
            Some(Distinguisher::ByUser),
            vec![PolicyRule {
                subjects: vec![Subject::service_account("kube-system", "*")],
                resource_rules: vec![
                    get_create_update("", &["endpoints", "configmaps"], &["*"]),
                    leases,
                ],
                non_resource_rules: vec![],
            }],
        ));
    }
    if version.at_least(1, 22) {
        out.push(FlowSchema::new(
            "system-node-high",
            400,
            "node-high",
            Some(Distinguisher::ByUser),
            vec![PolicyRule {
                subjects: vec![Subject::group(NODES)],
                resource_rules: vec![
                    ResourceRule::new(&["*"], &[""], &["nodes", "nodes/status"], &["*"], true),
                    ResourceRule::new(&["*"], &[COORDINATION], &["leases"], &["*"], false),
                ],
                non_resource_rules: vec![],
            }],
        ));
    }
    out.push(FlowSchema::new(
        "system-nodes",
        500,
        "system",
        Some(Distinguisher::ByUser),
        vec![everything(vec![Subject::group(NODES)])],
    ));
    out.push(FlowSchema::new(
        "kube-controller-manager",
        800,
        "workload-high",
        Some(Distinguisher::ByNamespace),
        vec![everything(vec![Subject::user(KCM)])],
    ));
    out.push(FlowSchema::new(
        "kube-scheduler",
        800,
        "workload-high",
        Some(Distinguisher::ByNamespace),
        vec![everything(vec![Subject::user(SCHEDULER)])],
    ));
    out.push(FlowSchema::new(
        "kube-system-service-accounts",
        900,
        "workload-high",
        Some(Distinguisher::ByNamespace),
        vec![everything(vec![Subject::service_account(
            "kube-system",
            "*",
        )])],
    ));
    out.push(FlowSchema::new(
        "service-accounts",
        9000,
        "workload-low",
        Some(Distinguisher::ByUser),
        vec![everything(vec![Subject::group(SERVICE_ACCOUNTS)])],
    ));
    out.push(FlowSchema::new(
        "global-default",
        9900,
        "global-default",
        Some(Distinguisher::ByUser),
        vec![everything(vec![
            Subject::group(UNAUTHENTICATED),
            Subject::group(AUTHENTICATED),
        ])],
    ));
    out
}

/// The mandatory exempt schema, as the server re-adds it when missing.
pub(crate) fn mandatory_schema(name: &str) -> Option<FlowSchema> {
    match name {
        EXEMPT => Some(exempt_schema()),
        CATCH_ALL => Some(catch_all_schema()),
        _ => None,
    }
}
