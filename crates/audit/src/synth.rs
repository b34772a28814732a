//! A generator of realistic synthetic audit logs, for benchmarks and demos.
//!
//! The events follow the layout of real kube-apiserver v1 events (the shared fixtures): Metadata
//! level for most, RequestResponse with object bodies for some, RequestReceived stages logged
//! before a share of the final events, latency annotations on requests over 500 ms. The client
//! mix is a cluster's: kubelets on every node, controller-manager controllers, the scheduler,
//! operators, a DaemonSet agent listing pods cluster-wide without a limit, watches, and a client
//! throttled by APF. The data is synthetic and says so in its `level`-independent
//! `annotations` key `apilens.io/synthetic`.

use std::io::{self, Write};

/// Options of [`write_synthetic`].
#[derive(Debug, Clone)]
pub struct SynthOpts {
    /// Stop after at least this many bytes.
    pub bytes: u64,
    /// Random seed; the same seed gives the same log.
    pub seed: u64,
    /// Nodes in the simulated cluster (kubelets and DaemonSet pods).
    pub nodes: u32,
    /// First `requestReceivedTimestamp`, µs since the epoch.
    pub start_us: i64,
    /// Requests per second the simulated cluster serves (spaces the timestamps).
    pub requests_per_second: u32,
}

impl Default for SynthOpts {
    fn default() -> Self {
        SynthOpts {
            bytes: 64 << 20,
            seed: 42,
            nodes: 500,
            start_us: 1_714_557_600_000_000,
            requests_per_second: 2000,
        }
    }
}

/// What [`write_synthetic`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthStats {
    /// Lines (audit events) written.
    pub lines: u64,
    /// Requests (final events) written.
    pub requests: u64,
    /// Bytes written.
    pub bytes: u64,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Call {
    user: String,
    groups: &'static str,
    ua: String,
    verb: &'static str,
    uri: String,
    resource: &'static str,
    group: &'static str,
    namespace: String,
    name: String,
    code: u16,
    latency_us: i64,
}

const NAMESPACES: [&str; 8] = [
    "default",
    "kube-system",
    "monitoring",
    "web",
    "payments",
    "ingress",
    "logging",
    "batch",
];
const CONTROLLERS: [&str; 8] = [
    "replicaset-controller",
    "deployment-controller",
    "endpointslice-controller",
    "job-controller",
    "namespace-controller",
    "garbage-collector",
    "horizontal-pod-autoscaler",
    "resourcequota-controller",
];

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

fn call(rng: &mut Rng, nodes: u32) -> Call {
    let ns = pick(rng, &NAMESPACES).to_owned();
    let node = format!(
        "ip-10-0-{}-{}.ec2.internal",
        rng.below(u64::from(nodes)) / 250,
        rng.below(250)
    );
    let roll = rng.below(1000);
    let lat = |rng: &mut Rng, base: i64| base + (rng.below(base as u64 * 3) as i64);
    match roll {
        // Kubelets: node status, leases, pod status patches, secret/configmap GETs.
        0..=349 => {
            let (verb, uri, resource, group, namespace, name) = match rng.below(4) {
                0 => (
                    "update",
                    format!(
                        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s"
                    ),
                    "leases",
                    "coordination.k8s.io",
                    "kube-node-lease".to_owned(),
                    node.clone(),
                ),
                1 => (
                    "patch",
                    format!("/api/v1/nodes/{node}/status?timeout=10s"),
                    "nodes",
                    "",
                    String::new(),
                    node.clone(),
                ),
                2 => (
                    "get",
                    format!(
                        "/api/v1/namespaces/{ns}/configmaps/app-config-{}",
                        rng.below(40)
                    ),
                    "configmaps",
                    "",
                    ns.clone(),
                    "app-config".to_owned(),
                ),
                _ => (
                    "patch",
                    format!(
                        "/api/v1/namespaces/{ns}/pods/web-{}/status",
                        rng.below(5000)
                    ),
                    "pods",
                    "",
                    ns.clone(),
                    "web".to_owned(),
                ),
            };
            Call {
                user: format!("system:node:{node}"),
                groups: r#"["system:nodes","system:authenticated"]"#,
                ua: "kubelet/v1.30.4 (linux/amd64) kubernetes/a51b3b7".to_owned(),
                verb,
                uri,
                resource,
                group,
                namespace,
                name,
                code: if rng.chance(1) { 409 } else { 200 },
                latency_us: lat(rng, 2_000),
            }
        }
        // Controller-manager controllers.
        350..=549 => {
            let ctrl = pick(rng, &CONTROLLERS);
            let (verb, uri, resource, group) = match rng.below(3) {
                0 => (
                    "get",
                    format!(
                        "/apis/apps/v1/namespaces/{ns}/replicasets/web-{}",
                        rng.below(300)
                    ),
                    "replicasets",
                    "apps",
                ),
                1 => (
                    "update",
                    format!(
                        "/apis/apps/v1/namespaces/{ns}/replicasets/web-{}/status",
                        rng.below(300)
                    ),
                    "replicasets",
                    "apps",
                ),
                _ => (
                    "create",
                    format!("/api/v1/namespaces/{ns}/pods"),
                    "pods",
                    "",
                ),
            };
            Call {
                user: format!("system:serviceaccount:kube-system:{ctrl}"),
                groups: r#"["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]"#,
                ua: format!(
                    "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a51b3b7/{ctrl}"
                ),
                verb,
                uri,
                resource,
                group,
                namespace: ns,
                name: String::new(),
                code: if verb == "create" {
                    201
                } else if rng.chance(3) {
                    404
                } else {
                    200
                },
                latency_us: lat(rng, 3_000),
            }
        }
        // The DaemonSet agent: unbounded cluster-wide LIST of pods from every node.
        550..=629 => Call {
            user: "system:serviceaccount:logging:log-agent".to_owned(),
            groups: r#"["system:serviceaccounts","system:serviceaccounts:logging","system:authenticated"]"#,
            ua: "fluent-bit/2.2.0".to_owned(),
            verb: "list",
            uri: format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"),
            resource: "pods",
            group: "",
            namespace: String::new(),
            name: String::new(),
            code: 200,
            latency_us: lat(rng, 150_000),
        },
        // A paginated operator LIST and its watches.
        630..=729 => {
            let watch = rng.chance(50);
            Call {
                user: "system:serviceaccount:argocd:argocd-application-controller".to_owned(),
                groups: r#"["system:serviceaccounts","system:serviceaccounts:argocd","system:authenticated"]"#,
                ua: "argocd-application-controller/v2.11.0 (linux/amd64) kubernetes/$Format"
                    .to_owned(),
                verb: if watch { "watch" } else { "list" },
                uri: if watch {
                    format!(
                        "/apis/apps/v1/deployments?allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds=540&watch=true",
                        1_000_000 + rng.below(100_000)
                    )
                } else {
                    "/apis/apps/v1/deployments?limit=500".to_owned()
                },
                resource: "deployments",
                group: "apps",
                namespace: String::new(),
                name: String::new(),
                code: 200,
                latency_us: if watch {
                    lat(rng, 60_000_000)
                } else {
                    lat(rng, 40_000)
                },
            }
        }
        // A client throttled by APF.
        730..=769 => Call {
            user: "system:serviceaccount:batch:report-cron".to_owned(),
            groups: r#"["system:serviceaccounts","system:serviceaccounts:batch","system:authenticated"]"#,
            ua: "python-requests/2.31.0".to_owned(),
            verb: "list",
            uri: "/api/v1/namespaces/batch/events".to_owned(),
            resource: "events",
            group: "",
            namespace: "batch".to_owned(),
            name: String::new(),
            code: if rng.chance(30) { 429 } else { 200 },
            latency_us: lat(rng, 20_000),
        },
        // Scheduler bindings and people with kubectl.
        _ => {
            let kubectl = rng.chance(50);
            Call {
                user: if kubectl {
                    format!("alice-{}@example.com", rng.below(20))
                } else {
                    "system:kube-scheduler".to_owned()
                },
                groups: r#"["system:authenticated"]"#,
                ua: if kubectl {
                    "kubectl/v1.30.2 (darwin/arm64) kubernetes/39683505".to_owned()
                } else {
                    "kube-scheduler/v1.30.4 (linux/amd64) kubernetes/a51b3b7/scheduler".to_owned()
                },
                verb: if kubectl { "get" } else { "create" },
                uri: if kubectl {
                    format!("/api/v1/namespaces/{ns}/pods/web-{}", rng.below(5000))
                } else {
                    format!(
                        "/api/v1/namespaces/{ns}/pods/web-{}/binding",
                        rng.below(5000)
                    )
                },
                resource: "pods",
                group: "",
                namespace: ns,
                name: "web".to_owned(),
                code: if kubectl && rng.chance(10) {
                    404
                } else if kubectl {
                    200
                } else {
                    201
                },
                latency_us: lat(rng, 4_000),
            }
        }
    }
}

fn timestamp(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us)
        .map(|t| format!("{t:.6}"))
        .unwrap_or_default()
}

/// Writes a synthetic audit log of at least `opts.bytes` bytes as JSON lines.
///
/// # Errors
///
/// Any error of the writer.
pub fn write_synthetic(w: &mut dyn Write, opts: &SynthOpts) -> io::Result<SynthStats> {
    let mut rng = Rng(opts.seed | 1);
    let mut stats = SynthStats::default();
    let step_us = (1_000_000 / i64::from(opts.requests_per_second.max(1))).max(1);
    let mut now = opts.start_us;
    let mut line = String::with_capacity(4096);
    let blob = "x".repeat(3000);
    while stats.bytes < opts.bytes {
        let c = call(&mut rng, opts.nodes.max(1));
        now += step_us;
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            rng.next() as u32,
            rng.below(0x10000),
            rng.below(0x1000),
            rng.below(0x1000),
            rng.next() & 0xffff_ffff_ffff
        );
        let received = timestamp(now);
        let ip = format!("10.0.{}.{}", rng.below(8), rng.below(250));
        let object_ref = format!(
            r#""objectRef":{{"resource":"{}","namespace":"{}","name":"{}","apiGroup":"{}","apiVersion":"v1"}},"#,
            c.resource, c.namespace, c.name, c.group
        );
        let head = format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"{{LEVEL}}","auditID":"{id}","stage":"{{STAGE}}","requestURI":"{uri}","verb":"{verb}","user":{{"username":"{user}","uid":"{uid:08x}-1f6e-4b1a-9c3e-5d2a7e8b9c01","groups":{groups}}},"sourceIPs":["{ip}"],"userAgent":"{ua}",{object_ref}"#,
            uri = c.uri,
            verb = c.verb,
            user = c.user,
            uid = rng.next() as u32,
            groups = c.groups,
            ua = c.ua,
        );
        let request_response = c.verb != "watch" && c.verb != "list" && rng.chance(8);
        let level = if request_response {
            "RequestResponse"
        } else {
            "Metadata"
        };
        let head = head.replace("{LEVEL}", level);
        // A quarter of the requests also log their RequestReceived stage.
        if rng.chance(25) {
            line.clear();
            line.push_str(&head.replace("{STAGE}", "RequestReceived"));
            line.push_str(&format!(
                r#""requestReceivedTimestamp":"{received}","stageTimestamp":"{received}","annotations":{{"apilens.io/synthetic":"true"}}}}"#
            ));
            line.push('\n');
            w.write_all(line.as_bytes())?;
            stats.lines += 1;
            stats.bytes += line.len() as u64;
        }
        line.clear();
        line.push_str(&head.replace("{STAGE}", "ResponseComplete"));
        if c.code >= 400 {
            let reason = match c.code {
                404 => "NotFound",
                409 => "Conflict",
                _ => "TooManyRequests",
            };
            if c.code == 429 {
                line.push_str(r#""responseStatus":{"metadata":{},"code":429},"#);
            } else {
                line.push_str(&format!(
                    r#""responseStatus":{{"metadata":{{}},"status":"Failure","message":"{} \"{}\" {}","reason":"{reason}","code":{}}},"#,
                    c.resource,
                    c.name,
                    reason.to_lowercase(),
                    c.code
                ));
            }
        } else {
            line.push_str(&format!(
                r#""responseStatus":{{"metadata":{{}},"code":{}}},"#,
                c.code
            ));
        }
        if request_response {
            line.push_str(&format!(
                r#""requestObject":{{"kind":"Status","apiVersion":"v1","metadata":{{"name":"{}","annotations":{{"blob":"{blob}"}}}}}},"responseObject":{{"kind":"Status","apiVersion":"v1","metadata":{{"resourceVersion":"{}"}}}},"#,
                c.name,
                rng.below(10_000_000)
            ));
        }
        let done = timestamp(now + c.latency_us);
        line.push_str(&format!(r#""requestReceivedTimestamp":"{received}","stageTimestamp":"{done}","annotations":{{"apilens.io/synthetic":"true""#));
        if c.code != 429 {
            line.push_str(r#","authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\" to Group \"system:authenticated\"""#);
        }
        if c.latency_us > 500_000 && c.verb != "watch" {
            let total = c.latency_us as f64 / 1e6;
            line.push_str(&format!(
                r#","apiserver.latency.k8s.io/total":"{total:.6}s","apiserver.latency.k8s.io/etcd":"{:.6}s","apiserver.latency.k8s.io/serialize-response-object":"{:.3}ms""#,
                total * 0.7,
                total * 100.0
            ));
        }
        line.push_str("}}\n");
        w.write_all(line.as_bytes())?;
        stats.lines += 1;
        stats.requests += 1;
        stats.bytes += line.len() as u64;
    }
    Ok(stats)
}
