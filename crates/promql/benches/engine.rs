//! Engine benchmarks over the differential test's dataset in the embedded store: the heavy
//! `histogram_quantile(... rate(..._bucket[5m]))` range query, a rate aggregation, and a
//! selector that matches nothing (the fixed cost of a query).
//!
//! `cargo bench -p apilens-promql --bench engine`; `bench/promql.sh` compares with Prometheus.

use apilens_promql::{Engine, EngineOpts};
use apilens_tsdb::{Db, DbOptions, import_openmetrics};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/dataset/mod.rs"]
mod dataset;

const QUERIES: &[(&str, &str)] = &[
    (
        "histogram_quantile",
        "histogram_quantile(0.99, sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket{job=\"apiserver\", verb!~\"WATCH|CONNECT\"}[5m])))",
    ),
    (
        "sum_rate",
        "sum by (verb, code) (rate(apiserver_request_total{job=~\".*\"}[1m]))",
    ),
    (
        "max_increase_many_matchers",
        "max(increase(apiserver_request_duration_seconds_bucket{job=~\".*\",subresource!=\"status\",subresource!=\"token\",subresource!=\"scale\",subresource!=\"/healthz\",subresource!=\"binding\",subresource!=\"proxy\",verb!=\"WATCH\"}[1m])) by (le)",
    ),
    (
        "empty_selector",
        "go_goroutines{job=~\".*\", instance=~\".*\", cluster=~\".*\"}",
    ),
];

fn engine(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let om = dir.path().join("data.om");
    std::fs::write(&om, dataset::openmetrics(&dataset::dataset())).expect("write dataset");
    let db = Db::open(&dir.path().join("db"), DbOptions::default()).expect("open store");
    import_openmetrics(&db, &om).expect("import dataset");
    let engine = Engine::new(EngineOpts::default());
    let (start, end, step) = (
        dataset::T0 + 20 * 60_000,
        dataset::T0 + dataset::HOURS * 3_600_000 - 60_000,
        60_000,
    );
    for (name, q) in QUERIES {
        // Parsing (and compiling the matchers) is outside the clock, as in Prometheus's
        // `execTotalTime`; `parse_and_exec` times both.
        let prepared = engine
            .prepare_range(q, start, end, step)
            .expect("query parses");
        c.bench_function(name, |b| {
            b.iter(|| engine.exec(&db, &prepared).expect("query"))
        });
        c.bench_function(&format!("{name}/parse_and_exec"), |b| {
            b.iter(|| engine.range_query(&db, q, start, end, step).expect("query"))
        });
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
