//! The named scenarios: a cluster, its clients, and what goes wrong.

use crate::workload::{ClientSpec, Identity, RequestSpec, Resource, Scope, Verb};
use crate::{KubeVersion, SimError};
use std::collections::BTreeMap;

/// A scenario's name and one-line summary.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioInfo {
    /// Name given to `--scenario`.
    pub name: &'static str,
    /// One line saying what it shows.
    pub summary: &'static str,
}

/// Every scenario, in the order `apilens sim --list` prints them.
pub const SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "healthy",
        summary: "1,000 nodes, 30,000 pods, well-behaved kubelets, controllers and agents: the baseline",
    },
    ScenarioInfo {
        name: "chatty-daemonset",
        summary: "a log agent DaemonSet on 1,000 nodes LISTs all 50,000 pods cluster-wide every minute without limit; etcd serves them",
    },
    ScenarioInfo {
        name: "watch-storm",
        summary: "5,000 small nodes x 5 DaemonSets each watching pods, configmaps, services and endpointslices cluster-wide",
    },
    ScenarioInfo {
        name: "etcd-slow",
        summary: "etcd's disk is slow (fsync ~100 ms) and stalls for 12 s every 5 min from minute 4: requests served by etcd slow down, cached reads do not, and requests caught in a stall fail with 500 after etcd's 7 s request timeout",
    },
    ScenarioInfo {
        name: "apf-saturation",
        summary: "a new operator floods workload-low with unbounded LISTs: queueing, 429s, and node heartbeats delayed by a loaded etcd",
    },
    ScenarioInfo {
        name: "webhook-slow",
        summary: "a validating admission webhook adds ~2.5 s to every write of pods, deployments and configmaps; 2% of its calls hang until its 10 s timeout and the write fails with 500",
    },
    ScenarioInfo {
        name: "upgrade-skew",
        summary: "mid-upgrade: replica 0 runs the new version with 10% of the load, the older replicas carry the rest",
    },
];

/// Refuses a scenario name the simulator does not have, listing those it has, before anything
/// is started for it.
///
/// # Errors
///
/// [`SimError::UnknownScenario`].
pub fn check_scenario(name: &str) -> Result<(), SimError> {
    if SCENARIOS.iter().any(|s| s.name == name) {
        return Ok(());
    }
    Err(SimError::UnknownScenario {
        name: name.to_owned(),
        known: scenario_names().join(", "),
    })
}

/// The names of every scenario.
pub fn scenario_names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.name).collect()
}

/// Every scenario on a line of its own, its name in an aligned column then its summary, as
/// `apilens sim --list` prints them.
pub fn scenario_list() -> String {
    let width = SCENARIOS.iter().map(|s| s.name.len()).max().unwrap_or(0);
    SCENARIOS
        .iter()
        .map(|s| format!("{:width$}  {}\n", s.name, s.summary))
        .collect()
}

/// An admission webhook that slows writes.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) name: &'static str,
    pub(crate) resources: Vec<Resource>,
    pub(crate) median_seconds: f64,
    /// Share of calls that hang until the webhook's timeout; with `failurePolicy: Fail` the
    /// request is answered 500.
    pub(crate) hang_share: f64,
    /// The webhook's `timeoutSeconds`.
    pub(crate) timeout_seconds: f64,
}

/// Periodic etcd disk stalls: while one lasts, etcd answers nothing; requests that would wait
/// longer than etcd's request timeout fail with `etcdserver: request timed out`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stalls {
    /// Simulated second of the first stall.
    pub(crate) first_s: f64,
    /// Seconds between stall starts.
    pub(crate) every_s: f64,
    /// Length of each stall in seconds.
    pub(crate) length_s: f64,
}

impl Stalls {
    /// Seconds left in the stall at simulated second `t`, when one is under way.
    pub(crate) fn remaining(&self, t: f64) -> Option<f64> {
        if t < self.first_s {
            return None;
        }
        let phase = (t - self.first_s) % self.every_s;
        (phase < self.length_s).then_some(self.length_s - phase)
    }
}

/// A scenario made concrete: cluster, clients and faults.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) nodes: u32,
    pub(crate) namespaces: Vec<String>,
    pub(crate) objects: BTreeMap<Resource, f64>,
    pub(crate) clients: Vec<ClientSpec>,
    /// Multiplier of etcd's disk latency (1 = healthy SSD).
    pub(crate) etcd_disk_factor: f64,
    pub(crate) webhook: Option<Webhook>,
    /// etcd disk stalls, if any.
    pub(crate) etcd_stalls: Option<Stalls>,
    /// Share of client connections per replica.
    pub(crate) replica_weights: Vec<f64>,
    pub(crate) replica_versions: Vec<KubeVersion>,
    /// etcd answers progress-notify requests, so consistent LISTs can be served from the
    /// watch cache from 1.31 on.
    pub(crate) progress_notify: bool,
    /// Clients that start with the simulation and reach full strength after this many
    /// seconds, by client name (a DaemonSet's pods starting across the nodes).
    pub(crate) ramp_up_s: BTreeMap<String, f64>,
}

fn sa(namespace: &str, name: &str) -> Identity {
    Identity::ServiceAccount {
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

fn user(name: &str, groups: &[&str]) -> Identity {
    Identity::User {
        name: name.to_string(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn ns(name: &str) -> Scope {
    Scope::Namespace(name.to_string())
}

/// The clients of a healthy cluster of `nodes` nodes.
fn base_clients(nodes: u32, kube: &str, commit: &str) -> Vec<ClientSpec> {
    let ua = |bin: &str, suffix: &str| {
        format!("{bin}/v{kube} (linux/amd64) kubernetes/{commit}{suffix}")
    };
    vec![
        ClientSpec {
            name: "kubelet".into(),
            user_agent: ua("kubelet", ""),
            identity: Identity::Node,
            instances: nodes,
            per_node: true,
            requests: vec![
                RequestSpec::new(Verb::Update, Resource::Leases, 0.1)
                    .scope(ns("kube-node-lease"))
                    .named("{node}"),
                RequestSpec::new(Verb::Get, Resource::Nodes, 1.0 / 60.0).named("{node}"),
                RequestSpec::new(Verb::Patch, Resource::Nodes, 1.0 / 60.0)
                    .named("{node}")
                    .subresource("status"),
                RequestSpec::new(Verb::Patch, Resource::Pods, 0.01)
                    .scope(Scope::AnyNamespace)
                    .named("{pod}")
                    .subresource("status"),
                RequestSpec::new(Verb::Get, Resource::Secrets, 0.005)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                RequestSpec::new(Verb::Create, Resource::Events, 0.005).scope(Scope::AnyNamespace),
                RequestSpec::new(Verb::Watch, Resource::Pods, 1.0).node_selector(),
                RequestSpec::new(Verb::Watch, Resource::Nodes, 1.0).named("{node}"),
                RequestSpec::new(Verb::Watch, Resource::ConfigMaps, 2.0)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
            ],
        },
        ClientSpec {
            name: "kube-proxy".into(),
            user_agent: ua("kube-proxy", ""),
            identity: sa("kube-system", "kube-proxy"),
            instances: nodes,
            per_node: true,
            requests: vec![
                RequestSpec::new(Verb::Watch, Resource::Services, 1.0),
                RequestSpec::new(Verb::Watch, Resource::EndpointSlices, 1.0),
            ],
        },
        ClientSpec {
            name: "kube-controller-manager".into(),
            user_agent: ua("kube-controller-manager", "/leader-election"),
            identity: user("system:kube-controller-manager", &[]),
            instances: 1,
            per_node: false,
            requests: vec![
                RequestSpec::new(Verb::Update, Resource::Leases, 0.5)
                    .scope(ns("kube-system"))
                    .named("kube-controller-manager"),
                RequestSpec::new(Verb::Update, Resource::EndpointSlices, 4.0)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                // The endpoints controller still mirrors Services into core/v1 Endpoints.
                RequestSpec::new(Verb::Update, Resource::Endpoints, 1.0)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                RequestSpec::new(Verb::Update, Resource::ReplicaSets, 1.0)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}")
                    .subresource("status"),
                RequestSpec::new(Verb::Update, Resource::Deployments, 0.5)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}")
                    .subresource("status"),
                RequestSpec::new(Verb::Create, Resource::Pods, 1.0).scope(Scope::AnyNamespace),
                RequestSpec::new(Verb::Delete, Resource::Pods, 1.0)
                    .scope(Scope::AnyNamespace)
                    .named("{pod}"),
                RequestSpec::new(Verb::Create, Resource::Events, 3.0).scope(Scope::AnyNamespace),
                RequestSpec::new(Verb::Watch, Resource::Pods, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Nodes, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Deployments, 1.0),
                RequestSpec::new(Verb::Watch, Resource::ReplicaSets, 1.0),
                RequestSpec::new(Verb::Watch, Resource::EndpointSlices, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Services, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Namespaces, 1.0),
            ],
        },
        ClientSpec {
            name: "kube-scheduler".into(),
            user_agent: ua("kube-scheduler", "/scheduler"),
            identity: user("system:kube-scheduler", &[]),
            instances: 1,
            per_node: false,
            requests: vec![
                RequestSpec::new(Verb::Update, Resource::Leases, 0.5)
                    .scope(ns("kube-system"))
                    .named("kube-scheduler"),
                RequestSpec::new(Verb::Create, Resource::Pods, 1.0)
                    .scope(Scope::AnyNamespace)
                    .named("{pod}")
                    .subresource("binding"),
                RequestSpec::new(Verb::Watch, Resource::Pods, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Nodes, 1.0),
            ],
        },
        ClientSpec {
            name: "coredns".into(),
            user_agent: "coredns/v1.11.3 (linux/amd64) kubernetes/v1.11.3".into(),
            identity: sa("kube-system", "coredns"),
            instances: 2,
            per_node: false,
            requests: vec![
                RequestSpec::new(Verb::Watch, Resource::Services, 1.0),
                RequestSpec::new(Verb::Watch, Resource::EndpointSlices, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Namespaces, 1.0),
            ],
        },
        ClientSpec {
            name: "prometheus".into(),
            user_agent: "prometheus/v3.5.0".into(),
            identity: sa("monitoring", "prometheus"),
            instances: 1,
            per_node: false,
            requests: vec![
                RequestSpec::new(Verb::List, Resource::Pods, 1.0 / 300.0)
                    .limit(500)
                    .rv_zero(),
                RequestSpec::new(Verb::Watch, Resource::Pods, 1.0),
                RequestSpec::new(Verb::Watch, Resource::EndpointSlices, 1.0),
                // The `endpoints` role of Prometheus's Kubernetes service discovery still
                // watches core/v1 Endpoints, deprecated from 1.33.
                RequestSpec::new(Verb::Watch, Resource::Endpoints, 1.0),
                RequestSpec::new(Verb::Watch, Resource::Nodes, 1.0),
            ],
        },
        ClientSpec {
            name: "ci-deployer".into(),
            user_agent: "kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9".into(),
            identity: user("ci-deployer", &["ci"]),
            instances: 1,
            per_node: false,
            requests: vec![
                RequestSpec::new(Verb::Get, Resource::Deployments, 1.0)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                RequestSpec::new(Verb::Patch, Resource::Deployments, 0.2)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                RequestSpec::new(Verb::Patch, Resource::ConfigMaps, 0.2)
                    .scope(Scope::AnyNamespace)
                    .named("{obj}"),
                RequestSpec::new(Verb::List, Resource::Pods, 0.5)
                    .scope(Scope::AnyNamespace)
                    .limit(500),
            ],
        },
    ]
}

fn namespaces() -> Vec<String> {
    let mut v: Vec<String> = [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "monitoring",
        "logging",
        "acme-system",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend((0..33).map(|i| format!("team-{i:02}")));
    v
}

fn objects(nodes: u32, pods: f64, n_namespaces: usize) -> BTreeMap<Resource, f64> {
    let n = f64::from(nodes);
    let ns = n_namespaces as f64;
    BTreeMap::from([
        (Resource::Pods, pods),
        (Resource::Nodes, n),
        (Resource::Leases, n + 12.0),
        (Resource::ConfigMaps, 60.0 * ns),
        (Resource::Secrets, 45.0 * ns),
        (Resource::Services, (pods / 30.0).round()),
        (Resource::EndpointSlices, (pods / 25.0).round()),
        (Resource::Endpoints, (pods / 30.0).round()),
        (Resource::Events, 3.0 * n),
        (Resource::Deployments, (pods / 30.0).round()),
        (Resource::ReplicaSets, (pods / 10.0).round()),
        (Resource::Namespaces, ns),
        (Resource::Widgets, 0.0),
    ])
}

fn previous_minor(v: KubeVersion) -> KubeVersion {
    KubeVersion {
        major: v.major,
        minor: v.minor.saturating_sub(1),
        patch: None,
    }
}

/// Builds a scenario for a version and replica count.
pub(crate) fn build(
    name: &str,
    version: KubeVersion,
    replicas: usize,
    commit: &str,
) -> Result<Scenario, SimError> {
    let kube = format!(
        "{}.{}.{}",
        version.major,
        version.minor,
        crate::version::effective_patch(version)
    );
    let mut nodes = 1_000;
    let mut pods = 30_000.0;
    let mut clients;
    let mut s = Scenario {
        nodes,
        namespaces: namespaces(),
        objects: BTreeMap::new(),
        clients: Vec::new(),
        etcd_disk_factor: 1.0,
        webhook: None,
        etcd_stalls: None,
        replica_weights: vec![1.0; replicas],
        replica_versions: vec![version; replicas],
        progress_notify: true,
        ramp_up_s: BTreeMap::new(),
    };
    match name {
        "healthy" => clients = base_clients(nodes, &kube, commit),
        "chatty-daemonset" => {
            pods = 50_000.0;
            clients = base_clients(nodes, &kube, commit);
            clients.push(ClientSpec {
                name: "log-agent".into(),
                user_agent: "log-agent/2.3.1 (linux/amd64) client-go/v0.29.0".into(),
                identity: sa("logging", "log-agent"),
                instances: nodes,
                per_node: true,
                requests: vec![RequestSpec::new(Verb::List, Resource::Pods, 1.0 / 60.0)],
            });
            // etcd without progress notification: consistent LISTs are not served from the
            // watch cache on any version.
            s.progress_notify = false;
            // The DaemonSet was just created: its pods start on every node within a minute.
            s.ramp_up_s.insert("log-agent".into(), 60.0);
        }
        "watch-storm" => {
            nodes = 5_000;
            pods = 50_000.0;
            clients = base_clients(nodes, &kube, commit);
            for (agent, namespace) in [
                ("node-exporter-sidecar", "monitoring"),
                ("security-agent", "security"),
                ("cni-agent", "kube-system"),
                ("log-forwarder", "logging"),
                ("mesh-proxy-init", "mesh-system"),
            ] {
                clients.push(ClientSpec {
                    name: agent.into(),
                    user_agent: format!("{agent}/1.4.0 (linux/amd64) client-go/v0.31.2"),
                    identity: sa(namespace, agent),
                    instances: nodes,
                    per_node: true,
                    requests: vec![
                        RequestSpec::new(Verb::Watch, Resource::Pods, 1.0),
                        RequestSpec::new(Verb::Watch, Resource::ConfigMaps, 1.0),
                        RequestSpec::new(Verb::Watch, Resource::Services, 1.0),
                        RequestSpec::new(Verb::Watch, Resource::EndpointSlices, 1.0),
                    ],
                });
            }
        }
        "etcd-slow" => {
            clients = base_clients(nodes, &kube, commit);
            s.etcd_disk_factor = 50.0;
            s.etcd_stalls = Some(Stalls {
                first_s: 240.0,
                every_s: 300.0,
                length_s: 12.0,
            });
        }
        "apf-saturation" => {
            clients = base_clients(nodes, &kube, commit);
            clients.push(ClientSpec {
                name: "acme-operator".into(),
                user_agent: "acme-operator/0.1.0 (linux/amd64) controller-runtime/v0.19.0".into(),
                identity: sa("acme-system", "acme-operator"),
                instances: 2,
                per_node: false,
                requests: vec![
                    RequestSpec::new(Verb::List, Resource::Widgets, 30.0),
                    RequestSpec::new(Verb::List, Resource::ConfigMaps, 6.0),
                ],
            });
            // The operator's LISTs are consistent reads that etcd must serve.
            s.progress_notify = false;
        }
        "webhook-slow" => {
            clients = base_clients(nodes, &kube, commit);
            s.webhook = Some(Webhook {
                name: "validate.policy.acme.example.com",
                resources: vec![Resource::Pods, Resource::Deployments, Resource::ConfigMaps],
                median_seconds: 2.5,
                hang_share: 0.02,
                timeout_seconds: 10.0,
            });
        }
        "upgrade-skew" => {
            if replicas < 2 {
                return Err(SimError::InvalidConfig {
                    what: format!(
                        "scenario upgrade-skew needs at least 2 replicas, got {replicas}"
                    ),
                });
            }
            clients = base_clients(nodes, &kube, commit);
            let rest = 0.9 / (replicas - 1) as f64;
            s.replica_weights = (0..replicas)
                .map(|i| if i == 0 { 0.1 } else { rest })
                .collect();
            s.replica_versions = (0..replicas)
                .map(|i| {
                    if i == 0 {
                        version
                    } else {
                        previous_minor(version)
                    }
                })
                .collect();
        }
        other => {
            return Err(SimError::UnknownScenario {
                name: other.to_string(),
                known: scenario_names().join(", "),
            });
        }
    }
    if name == "watch-storm" {
        s.namespaces.push("security".into());
        s.namespaces.push("mesh-system".into());
    }
    s.nodes = nodes;
    s.objects = objects(nodes, pods, s.namespaces.len());
    if name == "apf-saturation" {
        s.objects.insert(Resource::Widgets, 6_000.0);
    }
    s.clients = clients;
    Ok(s)
}
