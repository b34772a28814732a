//! Requests per second of classification and of the dispatching model.

use apilens_apf::{
    ApfConfig, KubeVersion, ReplayOpts, ReplayRequest, RequestDigest, ResourceAttributes,
    flow_hash, replay,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn classify(c: &mut Criterion) {
    let config = ApfConfig::defaults(KubeVersion::minor(1, 34));
    let sa = vec![
        "system:serviceaccounts".to_string(),
        "system:authenticated".to_string(),
    ];
    let nodes = vec![
        "system:nodes".to_string(),
        "system:authenticated".to_string(),
    ];
    let agent = RequestDigest {
        user: "system:serviceaccount:logging:agent",
        groups: &sa,
        verb: "list",
        resource: Some(ResourceAttributes {
            resource: "pods",
            ..Default::default()
        }),
        path: "/api/v1/pods",
    };
    let kubelet = RequestDigest {
        user: "system:node:ip-10-0-1-2",
        groups: &nodes,
        verb: "update",
        resource: Some(ResourceAttributes {
            api_group: "coordination.k8s.io",
            resource: "leases",
            namespace: "kube-node-lease",
            name: "ip-10-0-1-2",
            ..Default::default()
        }),
        path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/ip-10-0-1-2",
    };
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("match_request/service-account", |b| {
        b.iter(|| {
            black_box(config.match_request(black_box(&agent)))
                .level
                .name
                .len()
        })
    });
    g.bench_function("match_request/node-lease", |b| {
        b.iter(|| {
            black_box(config.match_request(black_box(&kubelet)))
                .level
                .name
                .len()
        })
    });
    g.bench_function("classify/service-account", |b| {
        b.iter(|| black_box(config.classify(black_box(&agent))).why.len())
    });
    g.finish();
}

/// A 1.34 cluster of two replicas for 100 s at 2000 requests/s: node leases, controllers,
/// users, and LISTs of 10 seats from one service account that saturate workload-low when
/// `heavy` is set.
fn workload(heavy: bool) -> Vec<ReplayRequest> {
    let mut out = Vec::with_capacity(200_000);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let pick = x % 100;
        let (level, flow, seats, exec) = match pick {
            0..=39 => ("node-high", format!("node-{}", x % 300), 1, 0.005),
            40..=59 => ("workload-high", format!("ns-{}", x % 20), 1, 0.02),
            60..=79 => ("global-default", format!("user-{}", x % 50), 1, 0.05),
            80..=89 => ("system", format!("node-{}", x % 300), 1, 0.01),
            _ if heavy => ("workload-low", "agent".to_string(), 10, 1.5),
            _ => ("workload-low", format!("sa-{}", x % 40), 2, 0.1),
        };
        out.push(ReplayRequest {
            arrival_s: f64::from(i) * 0.0005,
            replica: (x % 2) as u32,
            level: level.to_string(),
            flow: flow_hash("fs", &flow),
            seats,
            final_seats: 0,
            additional_latency_s: 0.0,
            execution_s: exec,
            tag: (pick % 10) as u32,
        });
    }
    out
}

fn replay_bench(c: &mut Criterion) {
    let version = KubeVersion::minor(1, 34);
    let config = ApfConfig::defaults(version);
    let opts = ReplayOpts {
        replicas: 2,
        ..ReplayOpts::default()
    };
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    for (name, heavy) in [("steady", false), ("saturated", true)] {
        let requests = workload(heavy);
        g.throughput(Throughput::Elements(requests.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(replay(&config, version, &requests, &opts))
                    .levels
                    .len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, classify, replay_bench);
criterion_main!(benches);
