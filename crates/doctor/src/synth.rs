//! Audit logs of a busy 150-node cluster built to fool a naive ranking: cheap clients lead by
//! request count (lease renewals, kubelet status updates and GETs, controllers and operators by
//! the dozen, agents on every node), and one [`Case`] adds what really hurts the server, or
//! something that only looks like it. Used by the tests and the benches; the data is synthetic
//! and every event says so (`apilens.io/synthetic` annotation).
//!
//! ```
//! use apilens_doctor::synth::{Case, SynthOpts, write_case};
//!
//! let mut log = Vec::new();
//! let truth = write_case(Case::OperatorUnboundedLists, &SynthOpts { minutes: 2, ..SynthOpts::default() }, &mut log)?;
//! assert_eq!(truth.culprit_user.as_deref(), Some("system:serviceaccount:acme:inventory-operator"));
//! assert!(log.len() > 100_000);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;
use std::io::{self, Write};

/// Which trap the log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// (a) 150 kubelets renewing leases every 10 s vs one operator doing 2 unbounded LISTs a
    /// minute of 30,000 pods from etcd.
    OperatorUnboundedLists,
    /// (b) a victim with many 429s (rejected because another client fills their shared level,
    /// and retrying at once) vs the real culprit in the same level.
    VictimOf429s,
    /// (c) a client whose writes are slow because an admission webhook is slow: the cause is
    /// server-side.
    SlowWebhookVictim,
    /// (d) a paginated client with many small pages from the watch cache vs an unpaginated
    /// one with a few LISTs from etcd.
    PaginatedVsUnbounded,
    /// (e) a DaemonSet in kube-system, whose flow (ByNamespace) it shares with CNI and CoreDNS:
    /// the fix must name its service account, not the namespace.
    KubeSystemDaemonSet,
    /// (f) a client in `system:masters` (exempt) doing huge LISTs.
    ExemptHugeLists,
    /// A client that GETs and LISTs on a timer from many pods.
    PollingLoop,
    /// A client that re-opens short-lived watches without a resourceVersion.
    WatchChurn,
    /// Nothing wrong: the busy cluster alone.
    Healthy,
}

impl Case {
    /// Every case.
    pub const ALL: [Case; 9] = [
        Case::OperatorUnboundedLists,
        Case::VictimOf429s,
        Case::SlowWebhookVictim,
        Case::PaginatedVsUnbounded,
        Case::KubeSystemDaemonSet,
        Case::ExemptHugeLists,
        Case::PollingLoop,
        Case::WatchChurn,
        Case::Healthy,
    ];
}

/// What the log was built to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truth {
    /// The user of the client that really hurts the server (`None`: server-side or nothing).
    pub culprit_user: Option<String>,
    /// The kind slug the first finding should have (`None`: nothing harmful).
    pub kind: Option<&'static str>,
    /// The client that leads by request count or by 429s and must not be blamed.
    pub decoy_user: Option<String>,
}

/// Options of [`write_case`].
#[derive(Debug, Clone)]
pub struct SynthOpts {
    /// Nodes (kubelets, per-node agents).
    pub nodes: u32,
    /// Minutes of traffic.
    pub minutes: u32,
    /// Seed of the draws.
    pub seed: u64,
    /// First second, µs since the epoch.
    pub start_us: i64,
}

impl Default for SynthOpts {
    fn default() -> Self {
        SynthOpts {
            nodes: 150,
            minutes: 10,
            seed: 7,
            start_us: 1_767_225_600_000_000,
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One event to write.
#[derive(Default, Clone)]
struct Ev {
    t_us: i64,
    latency_s: f64,
    user: String,
    groups: &'static [&'static str],
    sa_pod: Option<(String, String)>,
    ip: String,
    ua: String,
    verb: &'static str,
    uri: String,
    resource: &'static str,
    group: &'static str,
    ns: String,
    name: String,
    sub: &'static str,
    code: u16,
    etcd_s: f64,
    wait_s: f64,
    webhook_s: f64,
    rejected: bool,
    /// When rejected, the client sends the same request again 5 ms after the answer.
    retry: bool,
    stage: &'static str,
}

const SA_GROUPS: &[&str] = &["system:serviceaccounts", "system:authenticated"];
const NODE_GROUPS: &[&str] = &["system:nodes", "system:authenticated"];
const USER_GROUPS: &[&str] = &["system:authenticated"];
const MASTERS: &[&str] = &["system:masters", "system:authenticated"];

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

fn go_dur(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.6}s")
    } else {
        format!("{:.3}ms", s * 1e3)
    }
}

fn write_event(out: &mut String, e: &Ev, id: u64) {
    let ns_ref = if e.ns.is_empty() {
        String::new()
    } else {
        format!(r#","namespace":"{}""#, e.ns)
    };
    let name_ref = if e.name.is_empty() {
        String::new()
    } else {
        format!(r#","name":"{}""#, e.name)
    };
    let group_ref = if e.group.is_empty() {
        String::new()
    } else {
        format!(r#","apiGroup":"{}""#, e.group)
    };
    let sub_ref = if e.sub.is_empty() {
        String::new()
    } else {
        format!(r#","subresource":"{}""#, e.sub)
    };
    let groups: Vec<String> = e.groups.iter().map(|g| format!("\"{g}\"")).collect();
    let mut groups = groups.join(",");
    if let Some(ns) = e
        .user
        .strip_prefix("system:serviceaccount:")
        .and_then(|r| r.split(':').next())
    {
        groups = format!("{groups},\"system:serviceaccounts:{ns}\"");
    }
    let extra = match &e.sa_pod {
        Some((pod, node)) => format!(
            r#","extra":{{"authentication.kubernetes.io/node-name":["{node}"],"authentication.kubernetes.io/pod-name":["{pod}"]}}"#
        ),
        None => String::new(),
    };
    let mut ann = String::from(r#""apilens.io/synthetic":"true""#);
    if !e.rejected {
        ann.push_str(r#","authorization.k8s.io/decision":"allow""#);
    }
    if e.latency_s > 0.5 && e.verb != "watch" {
        let _ = write!(
            ann,
            r#","apiserver.latency.k8s.io/total":"{}""#,
            go_dur(e.latency_s)
        );
        if e.etcd_s > 0.0 {
            let _ = write!(
                ann,
                r#","apiserver.latency.k8s.io/etcd":"{}""#,
                go_dur(e.etcd_s)
            );
        }
        if e.wait_s > 0.0 {
            let _ = write!(
                ann,
                r#","apiserver.latency.k8s.io/apf-queue-wait":"{}""#,
                go_dur(e.wait_s)
            );
        }
        if e.webhook_s > 0.0 {
            let _ = write!(
                ann,
                r#","apiserver.latency.k8s.io/validating-webhook":"{}""#,
                go_dur(e.webhook_s)
            );
        }
    }
    let start = e.t_us;
    let end = start + (e.latency_s * 1e6) as i64;
    let _ = writeln!(
        out,
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{:016x}-{id:08x}","stage":"{}","requestURI":"{}","verb":"{}","user":{{"username":"{}","groups":[{groups}]{extra}}},"sourceIPs":["{}"],"userAgent":"{}","objectRef":{{"resource":"{}"{ns_ref}{name_ref}{group_ref},"apiVersion":"v1"{sub_ref}}},"responseStatus":{{"metadata":{{}},"code":{}}},"requestReceivedTimestamp":"{}","stageTimestamp":"{}","annotations":{{{ann}}}}}"#,
        id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        if e.stage.is_empty() {
            "ResponseComplete"
        } else {
            e.stage
        },
        e.uri,
        e.verb,
        e.user,
        e.ip,
        e.ua,
        e.resource,
        e.code,
        rfc3339(start),
        rfc3339(end),
    );
}

/// Makes the event of one copy (given the copy's index) of a periodic request.
type MakeEvent = Box<dyn Fn(&mut Rng, u32) -> Ev>;

/// A periodic request from `copies` copies: one per copy every `period_s`, phases spread.
struct Periodic {
    period_s: f64,
    copies: u32,
    make: MakeEvent,
}

fn node(i: u32) -> String {
    format!("ip-10-0-{}-{}.ec2.internal", i / 250, i % 250)
}

fn node_ip(i: u32) -> String {
    format!("10.0.{}.{}", i / 250, i % 250 + 1)
}

/// The busy cluster every case starts from.
fn baseline(nodes: u32) -> Vec<Periodic> {
    let kubelet_ua = "kubelet/v1.31.4 (linux/amd64) kubernetes/a78aa47";
    let mut v: Vec<Periodic> = vec![
        // Lease renewals every 10 s per node.
        Periodic {
            period_s: 10.0,
            copies: nodes,
            make: Box::new(move |r, i| Ev {
                latency_s: 0.004 + 0.004 * r.f64(),
                user: format!("system:node:{}", node(i)),
                groups: NODE_GROUPS,
                ip: node_ip(i),
                ua: kubelet_ua.into(),
                verb: "update",
                uri: format!(
                    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{}?timeout=10s",
                    node(i)
                ),
                resource: "leases",
                group: "coordination.k8s.io",
                ns: "kube-node-lease".into(),
                name: node(i),
                code: 200,
                ..Ev::default()
            }),
        },
        // Node status: GET then PATCH every 10 s.
        Periodic {
            period_s: 10.0,
            copies: nodes,
            make: Box::new(move |r, i| Ev {
                latency_s: 0.002 + 0.002 * r.f64(),
                user: format!("system:node:{}", node(i)),
                groups: NODE_GROUPS,
                ip: node_ip(i),
                ua: kubelet_ua.into(),
                verb: "get",
                uri: format!("/api/v1/nodes/{}?resourceVersion=0&timeout=10s", node(i)),
                resource: "nodes",
                name: node(i),
                code: 200,
                ..Ev::default()
            }),
        },
        Periodic {
            period_s: 10.0,
            copies: nodes,
            make: Box::new(move |r, i| Ev {
                latency_s: 0.006 + 0.004 * r.f64(),
                user: format!("system:node:{}", node(i)),
                groups: NODE_GROUPS,
                ip: node_ip(i),
                ua: kubelet_ua.into(),
                verb: "patch",
                uri: format!("/api/v1/nodes/{}/status?timeout=10s", node(i)),
                resource: "nodes",
                name: node(i),
                sub: "status",
                code: 200,
                ..Ev::default()
            }),
        },
        // Pod status updates, 30 pods per node, every 60 s.
        Periodic {
            period_s: 2.0,
            copies: nodes,
            make: Box::new(move |r, i| {
                let ns = format!("team-{:02}", r.below(30));
                let pod = format!("app-{}-{}", i, r.below(30));
                Ev {
                    latency_s: 0.007 + 0.005 * r.f64(),
                    user: format!("system:node:{}", node(i)),
                    groups: NODE_GROUPS,
                    ip: node_ip(i),
                    ua: kubelet_ua.into(),
                    verb: "patch",
                    uri: format!("/api/v1/namespaces/{ns}/pods/{pod}/status"),
                    resource: "pods",
                    ns,
                    name: pod,
                    sub: "status",
                    code: 200,
                    ..Ev::default()
                }
            }),
        },
        // Controller manager leader lease every 2 s.
        Periodic {
            period_s: 2.0,
            copies: 1,
            make: Box::new(|r, _| {
                Ev {
                latency_s: 0.005 + 0.003 * r.f64(),
                user: "system:kube-controller-manager".into(),
                groups: USER_GROUPS,
                ip: "10.0.250.10".into(),
                ua: "kube-controller-manager/v1.31.4 (linux/amd64) kubernetes/a78aa47/leader-election".into(),
                verb: "update",
                uri: "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager?timeout=5s".into(),
                resource: "leases",
                group: "coordination.k8s.io",
                ns: "kube-system".into(),
                name: "kube-controller-manager".into(),
                code: 200,
                ..Ev::default()
            }
            }),
        },
        // Controllers updating objects.
        Periodic {
            period_s: 0.25,
            copies: 1,
            make: Box::new(|r, _| {
                let ns = format!("team-{:02}", r.below(30));
                Ev {
                    latency_s: 0.008 + 0.006 * r.f64(),
                    user: "system:kube-controller-manager".into(),
                    groups: USER_GROUPS,
                    ip: "10.0.250.10".into(),
                    ua: "kube-controller-manager/v1.31.4 (linux/amd64) kubernetes/a78aa47/endpointslice-controller".into(),
                    verb: "update",
                    uri: format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/svc-{}", r.below(50)),
                    resource: "endpointslices",
                    group: "discovery.k8s.io",
                    ns,
                    name: format!("svc-{}", r.below(50)),
                    code: 200,
                    ..Ev::default()
                }
            }),
        },
    ];
    // Operators by the dozen: each GETs its objects (cache) and updates status now and then.
    for op in 0..24u32 {
        v.push(Periodic {
            period_s: 1.0,
            copies: 1,
            make: Box::new(move |r, _| {
                let ns = format!("team-{:02}", r.below(30));
                let name = format!("cfg-{}", r.below(40));
                Ev {
                    latency_s: 0.002 + 0.003 * r.f64(),
                    user: format!("system:serviceaccount:operators:operator-{op}"),
                    groups: SA_GROUPS,
                    sa_pod: Some((format!("operator-{op}-7d9f"), node(op))),
                    ip: format!("10.1.{op}.5"),
                    ua: format!("operator-{op}/1.2.0 (linux/amd64) controller-runtime/v0.19.0"),
                    verb: "get",
                    uri: format!("/api/v1/namespaces/{ns}/configmaps/{name}?resourceVersion=0"),
                    resource: "configmaps",
                    ns,
                    name,
                    code: 200,
                    ..Ev::default()
                }
            }),
        });
    }
    // A node agent reading its own node's pods from the cache every 30 s.
    v.push(Periodic {
        period_s: 30.0,
        copies: nodes,
        make: Box::new(|r, i| Ev {
            latency_s: 0.010 + 0.010 * r.f64(),
            user: "system:serviceaccount:monitoring:node-exporter".into(),
            groups: SA_GROUPS,
            sa_pod: Some((format!("node-exporter-{i:04}"), node(i))),
            ip: node_ip(i),
            ua: "node-exporter/1.8.0".into(),
            verb: "list",
            uri: format!(
                "/api/v1/pods?fieldSelector=spec.nodeName%3D{}&resourceVersion=0",
                node(i)
            ),
            resource: "pods",
            code: 200,
            ..Ev::default()
        }),
    });
    v
}

/// An unbounded cluster-wide LIST of `objects` pods from etcd.
fn etcd_list(r: &mut Rng, objects: f64) -> (f64, f64) {
    let etcd = objects * 40e-6 * (0.8 + 0.4 * r.f64());
    (etcd + objects * 60e-6, etcd)
}

/// The client(s) a case adds, and its truth.
fn case_clients(case: Case, nodes: u32) -> (Vec<Periodic>, Truth) {
    let none = Truth {
        culprit_user: None,
        kind: None,
        decoy_user: None,
    };
    match case {
        Case::Healthy => (Vec::new(), none),
        Case::OperatorUnboundedLists => (
            vec![Periodic {
                period_s: 30.0,
                copies: 1,
                make: Box::new(|r, _| {
                    let (lat, etcd) = etcd_list(r, 30_000.0);
                    Ev {
                        latency_s: lat,
                        etcd_s: etcd,
                        user: "system:serviceaccount:acme:inventory-operator".into(),
                        groups: SA_GROUPS,
                        sa_pod: Some(("inventory-operator-5c8b".into(), node(3))),
                        ip: "10.1.200.7".into(),
                        ua: "inventory-operator/0.4.2 (linux/amd64) controller-runtime/v0.18.4"
                            .into(),
                        verb: "list",
                        uri: "/api/v1/pods".into(),
                        resource: "pods",
                        code: 200,
                        ..Ev::default()
                    }
                }),
            }],
            Truth {
                culprit_user: Some("system:serviceaccount:acme:inventory-operator".into()),
                kind: Some("unbounded-list"),
                decoy_user: Some("system:node:*".into()),
            },
        ),
        Case::VictimOf429s => (
            vec![
                Periodic {
                    period_s: 0.1,
                    copies: 1,
                    make: Box::new(|r, _| {
                        let (lat, etcd) = etcd_list(r, 30_000.0);
                        Ev {
                            latency_s: lat,
                            etcd_s: etcd,
                            user: "system:serviceaccount:reporting:report-builder".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some(("report-builder-1".into(), node(9))),
                            ip: "10.1.201.9".into(),
                            ua: "report-builder/2.0.0".into(),
                            verb: "list",
                            uri: "/api/v1/pods".into(),
                            resource: "pods",
                            code: 200,
                            ..Ev::default()
                        }
                    }),
                },
                // The victim: cheap GETs in the same level, rejected (queue time-out) half the
                // time and retried at once.
                Periodic {
                    period_s: 0.05,
                    copies: 1,
                    make: Box::new(|r, _| {
                        let rejected = r.f64() < 0.5;
                        let ns = format!("team-{:02}", r.below(30));
                        Ev {
                            latency_s: if rejected { 15.0 } else { 0.003 },
                            wait_s: if rejected { 15.0 } else { 0.0 },
                            rejected,
                            retry: true,
                            user: "system:serviceaccount:billing:billing-sync".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some(("billing-sync-0".into(), node(11))),
                            ip: "10.1.202.11".into(),
                            ua: "billing-sync/3.1.0".into(),
                            verb: "get",
                            uri: format!("/api/v1/namespaces/{ns}/configmaps/billing"),
                            resource: "configmaps",
                            ns,
                            name: "billing".into(),
                            code: if rejected { 429 } else { 200 },
                            ..Ev::default()
                        }
                    }),
                },
            ],
            Truth {
                culprit_user: Some("system:serviceaccount:reporting:report-builder".into()),
                kind: Some("unbounded-list"),
                decoy_user: Some("system:serviceaccount:billing:billing-sync".into()),
            },
        ),
        Case::SlowWebhookVictim => {
            let writer = |user: &'static str,
                          ua: &'static str,
                          ip: &'static str,
                          period: f64,
                          resource: &'static str,
                          group: &'static str| Periodic {
                period_s: period,
                copies: 1,
                make: Box::new(move |r, _| {
                    let hook = 2.5 + r.f64();
                    let ns = format!("team-{:02}", r.below(30));
                    let name = format!("app-{}", r.below(40));
                    let path = if group.is_empty() {
                        format!("/api/v1/namespaces/{ns}/{resource}/{name}")
                    } else {
                        format!("/apis/{group}/v1/namespaces/{ns}/{resource}/{name}")
                    };
                    Ev {
                        latency_s: hook + 0.01,
                        webhook_s: hook,
                        etcd_s: 0.004,
                        user: user.into(),
                        groups: USER_GROUPS,
                        ip: ip.into(),
                        ua: ua.into(),
                        verb: "patch",
                        uri: path,
                        resource,
                        group,
                        ns,
                        name,
                        code: 200,
                        ..Ev::default()
                    }
                }),
            };
            (
                vec![
                    writer(
                        "ci-deployer",
                        "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
                        "10.2.0.4",
                        0.5,
                        "deployments",
                        "apps",
                    ),
                    writer(
                        "system:serviceaccount:argocd:argocd-application-controller",
                        "argocd-application-controller/v2.13.1",
                        "10.2.0.9",
                        2.0,
                        "configmaps",
                        "",
                    ),
                    writer(
                        "system:serviceaccount:flux-system:helm-controller",
                        "helm-controller/v1.1.0",
                        "10.2.0.12",
                        3.0,
                        "deployments",
                        "apps",
                    ),
                ],
                Truth {
                    culprit_user: None,
                    kind: Some("webhook-slow"),
                    decoy_user: Some("ci-deployer".into()),
                },
            )
        }
        Case::PaginatedVsUnbounded => (
            vec![
                // Many small pages from the watch cache.
                Periodic {
                    period_s: 0.5,
                    copies: 1,
                    make: Box::new(|r, _| {
                        let first = r.f64() < 1.0 / 60.0;
                        Ev {
                            latency_s: 0.02 + 0.01 * r.f64(),
                            user: "system:serviceaccount:tools:inventory-exporter".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some(("inventory-exporter-0".into(), node(20))),
                            ip: "10.1.203.20".into(),
                            ua: "inventory-exporter/1.0.0".into(),
                            verb: "list",
                            uri: if first {
                                "/api/v1/pods?limit=500&resourceVersion=0".into()
                            } else {
                                format!(
                                    "/api/v1/pods?continue=eyJ2IjoibWV0YS{}&limit=500",
                                    r.below(1000)
                                )
                            },
                            resource: "pods",
                            code: 200,
                            ..Ev::default()
                        }
                    }),
                },
                Periodic {
                    period_s: 60.0,
                    copies: 1,
                    make: Box::new(|r, _| {
                        let (lat, etcd) = etcd_list(r, 30_000.0);
                        Ev {
                            latency_s: lat,
                            etcd_s: etcd,
                            user: "system:serviceaccount:tools:cost-reporter".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some(("cost-reporter-0".into(), node(21))),
                            ip: "10.1.204.21".into(),
                            ua: "cost-reporter/0.9.1".into(),
                            verb: "list",
                            uri: "/api/v1/pods".into(),
                            resource: "pods",
                            code: 200,
                            ..Ev::default()
                        }
                    }),
                },
            ],
            Truth {
                culprit_user: Some("system:serviceaccount:tools:cost-reporter".into()),
                kind: Some("unbounded-list"),
                decoy_user: Some("system:serviceaccount:tools:inventory-exporter".into()),
            },
        ),
        Case::KubeSystemDaemonSet => (
            vec![
                Periodic {
                    period_s: 30.0,
                    copies: nodes,
                    make: Box::new(|r, i| {
                        let (lat, etcd) = etcd_list(r, 30_000.0);
                        Ev {
                            latency_s: lat,
                            etcd_s: etcd,
                            user: "system:serviceaccount:kube-system:log-shipper".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some((format!("log-shipper-{i:04}"), node(i))),
                            ip: node_ip(i),
                            ua: "log-shipper/5.2.0 (linux/amd64) client-go/v0.30.1".into(),
                            verb: "list",
                            uri: "/api/v1/pods".into(),
                            resource: "pods",
                            code: 200,
                            ..Ev::default()
                        }
                    }),
                },
                // CoreDNS and the CNI agent share the kube-system flow.
                Periodic {
                    period_s: 5.0,
                    copies: nodes,
                    make: Box::new(|r, i| {
                        let ns = format!("team-{:02}", r.below(30));
                        Ev {
                            latency_s: 0.003,
                            user: "system:serviceaccount:kube-system:cni-agent".into(),
                            groups: SA_GROUPS,
                            sa_pod: Some((format!("cni-agent-{i:04}"), node(i))),
                            ip: node_ip(i),
                            ua: "cni-agent/1.16.0".into(),
                            verb: "get",
                            uri: format!("/api/v1/namespaces/{ns}/pods/app-{i}-1"),
                            resource: "pods",
                            ns,
                            name: format!("app-{i}-1"),
                            code: 200,
                            ..Ev::default()
                        }
                    }),
                },
            ],
            Truth {
                culprit_user: Some("system:serviceaccount:kube-system:log-shipper".into()),
                kind: Some("unbounded-list"),
                decoy_user: Some("system:serviceaccount:kube-system:cni-agent".into()),
            },
        ),
        Case::ExemptHugeLists => (
            vec![Periodic {
                period_s: 20.0,
                copies: 1,
                make: Box::new(|r, _| {
                    let (lat, etcd) = etcd_list(r, 30_000.0);
                    Ev {
                        latency_s: lat,
                        etcd_s: etcd,
                        user: "backup-admin".into(),
                        groups: MASTERS,
                        ip: "10.3.0.8".into(),
                        ua: "velero/v1.15.0 (linux/amd64) kubernetes/abc1234".into(),
                        verb: "list",
                        uri: "/api/v1/pods".into(),
                        resource: "pods",
                        code: 200,
                        ..Ev::default()
                    }
                }),
            }],
            Truth {
                culprit_user: Some("backup-admin".into()),
                kind: Some("apf-exempt-application"),
                decoy_user: Some("system:node:*".into()),
            },
        ),
        Case::PollingLoop => (
            vec![Periodic {
                period_s: 2.0,
                copies: 20,
                make: Box::new(|r, i| Ev {
                    latency_s: 0.35 + 0.05 * r.f64(),
                    etcd_s: 0.0,
                    user: "system:serviceaccount:payments:quota-watcher".into(),
                    groups: SA_GROUPS,
                    sa_pod: Some((format!("quota-watcher-{i}"), node(i))),
                    ip: format!("10.1.210.{}", i + 1),
                    ua: "quota-watcher/0.3.0".into(),
                    verb: "list",
                    uri: "/api/v1/namespaces/payments/pods".into(),
                    resource: "pods",
                    ns: "payments".into(),
                    code: 200,
                    ..Ev::default()
                }),
            }],
            Truth {
                culprit_user: Some("system:serviceaccount:payments:quota-watcher".into()),
                kind: Some("polling-loop"),
                decoy_user: Some("system:node:*".into()),
            },
        ),
        Case::WatchChurn => (
            vec![Periodic {
                period_s: 5.0,
                copies: 40,
                make: Box::new(|r, i| Ev {
                    latency_s: 4.0 + r.f64(),
                    user: "system:serviceaccount:mesh:sidecar-injector".into(),
                    groups: SA_GROUPS,
                    sa_pod: Some((format!("sidecar-injector-{i}"), node(i))),
                    ip: format!("10.1.220.{}", i + 1),
                    ua: "sidecar-injector/1.22.0".into(),
                    verb: "watch",
                    uri: "/api/v1/configmaps?watch=true".into(),
                    resource: "configmaps",
                    code: 200,
                    ..Ev::default()
                }),
            }],
            Truth {
                culprit_user: Some("system:serviceaccount:mesh:sidecar-injector".into()),
                kind: Some("watch-churn"),
                decoy_user: Some("system:node:*".into()),
            },
        ),
    }
}

/// Writes the log of `case` to `out` and says what it holds.
///
/// # Errors
///
/// Errors of `out`.
pub fn write_case(case: Case, opts: &SynthOpts, out: &mut dyn Write) -> io::Result<Truth> {
    let mut clients = baseline(opts.nodes);
    let (extra, truth) = case_clients(case, opts.nodes);
    clients.extend(extra);
    let mut rng = Rng(opts.seed.max(1) ^ 0x5eed);
    // Each copy of each client gets a random phase.
    let phases: Vec<Vec<f64>> = clients
        .iter()
        .map(|p| (0..p.copies).map(|_| rng.f64() * p.period_s).collect())
        .collect();
    let mut id = 0u64;
    let mut buf = String::new();
    let mut second: Vec<Ev> = Vec::new();
    for s in 0..i64::from(opts.minutes) * 60 {
        second.clear();
        for (ci, p) in clients.iter().enumerate() {
            for copy in 0..p.copies {
                let phase = phases[ci][copy as usize];
                // Requests of this copy that start in [s, s + 1).
                let mut k = ((s as f64 - phase) / p.period_s).ceil().max(0.0);
                loop {
                    let t = phase + k * p.period_s;
                    if t >= (s + 1) as f64 {
                        break;
                    }
                    let mut e = (p.make)(&mut rng, copy);
                    e.t_us = opts.start_us + (t * 1e6) as i64;
                    if e.rejected && e.retry {
                        let mut again = e.clone();
                        again.t_us = e.t_us + (e.latency_s * 1e6) as i64 + 5_000;
                        again.rejected = false;
                        again.code = 200;
                        again.wait_s = 0.0;
                        again.latency_s = 0.003;
                        second.push(again);
                    }
                    second.push(e);
                    k += 1.0;
                }
            }
        }
        second.sort_by_key(|e| e.t_us);
        buf.clear();
        for e in &second {
            id += 1;
            write_event(&mut buf, e, id);
        }
        out.write_all(buf.as_bytes())?;
    }
    Ok(truth)
}
