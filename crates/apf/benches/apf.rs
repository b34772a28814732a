//! Requests per second of classification and of the dispatching model.

use apilens_apf::{
    ApfConfig, KubeVersion, ReplayOpts, ReplayRequest, RequestDigest, ResourceAttributes, replay,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn classify(c: &mut Criterion) {
    let config = ApfConfig::defaults(KubeVersion::minor(1, 34));
    let groups = vec![
        "system:serviceaccounts".to_string(),
        "system:authenticated".to_string(),
    ];
    let req = RequestDigest {
        user: "system:serviceaccount:logging:agent",
        groups: &groups,
        verb: "list",
        resource: Some(ResourceAttributes {
            resource: "pods",
            ..Default::default()
        }),
        path: "/api/v1/pods",
    };
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("match_request", |b| {
        b.iter(|| {
            black_box(config.match_request(black_box(&req)))
                .level
                .name
                .len()
        })
    });
    g.finish();
}

fn replay_bench(c: &mut Criterion) {
    let version = KubeVersion::minor(1, 34);
    let config = ApfConfig::defaults(version);
    let requests: Vec<ReplayRequest> = (0..100_000u32)
        .map(|i| ReplayRequest {
            arrival_s: f64::from(i) * 0.001,
            replica: i % 2,
            level: if i % 3 == 0 {
                "workload-low"
            } else {
                "global-default"
            }
            .to_string(),
            flow: u64::from(i % 17),
            seats: 1 + i % 3,
            final_seats: 0,
            additional_latency_s: 0.0,
            execution_s: 0.05,
            tag: i % 10,
        })
        .collect();
    let opts = ReplayOpts {
        replicas: 2,
        ..ReplayOpts::default()
    };
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(requests.len() as u64));
    g.sample_size(10);
    g.bench_function("100k", |b| {
        b.iter(|| {
            black_box(replay(&config, version, &requests, &opts))
                .levels
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, classify, replay_bench);
criterion_main!(benches);
