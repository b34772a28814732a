//! How fast the simulator produces data: simulated seconds per wall second, and rendering.

use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

fn advance(c: &mut Criterion) {
    let mut group = c.benchmark_group("advance");
    group.sample_size(10);
    group.throughput(Throughput::Elements(60));
    for scenario in ["healthy", "chatty-daemonset", "watch-storm"] {
        group.bench_function(format!("{scenario}/60s"), |b| {
            b.iter_batched(
                || {
                    let mut sim =
                        Simulator::new(ScenarioConfig::new(scenario, KubeVersion::new(1, 34, 7)))
                            .unwrap();
                    sim.advance(Duration::from_secs(5)).unwrap();
                    sim
                },
                |mut sim| sim.advance(Duration::from_secs(60)).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.bench_function("healthy/60s+audit", |b| {
        b.iter_batched(
            || {
                let mut sim =
                    Simulator::new(ScenarioConfig::new("healthy", KubeVersion::new(1, 34, 7)))
                        .unwrap();
                sim.set_audit_sink(Box::new(std::io::sink()));
                sim
            },
            |mut sim| sim.advance(Duration::from_secs(60)).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
    let mut sim = Simulator::new(ScenarioConfig::new(
        "apf-saturation",
        KubeVersion::new(1, 34, 7),
    ))
    .unwrap();
    sim.advance(Duration::from_secs(120)).unwrap();
    let bytes = sim.render_metrics(0).unwrap().len() as u64;
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("apf-saturation/replica0", |b| {
        b.iter(|| sim.render_metrics(0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, advance);
criterion_main!(benches);
