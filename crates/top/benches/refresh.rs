//! One refresh of `apilens top`: the report over a store of about 50,000 active series (the
//! simulator's real metric catalog, stored through the scrape loop as `apilens top --sim` stores
//! it) through the cache the view keeps, then the frame: a refresh with new data, one at the
//! same end (before the next scrape), and the doctor over the window's audit log (which the
//! view runs on its own cadence).

use apilens_promapi::LocalEngine;
use apilens_promql::{Engine, EngineOpts};
use apilens_report::{QueryCache, ReportOpts, build_report};
use apilens_scrape::{Fetched, Health, JOB_APISERVER, ScrapeLoop, ScrapeOpts, Sink, Target};
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use apilens_top::{SERIES_PER_PANEL, build_frame};
use apilens_tsdb::{Db, DbOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;

const TARGET_SERIES: usize = 50_000;
const MAX_REPLICAS: usize = 16;
const STEP_MS: i64 = 15_000;
const WINDOW: Duration = Duration::from_secs(300);

fn config(replicas: usize, start_unix_ms: i64) -> ScenarioConfig {
    ScenarioConfig {
        scenario: "chatty-daemonset".to_owned(),
        kubernetes_version: KubeVersion::parse("1.34").unwrap(),
        replicas,
        seed: 1,
        start_unix_ms,
    }
}

/// Fills a store with enough replicas for [`TARGET_SERIES`] series over the window and its
/// lookback; returns the store, its end and the audit log's path.
fn store(dir: &std::path::Path) -> (Arc<Db>, i64, std::path::PathBuf, usize) {
    let end = 1_767_229_200_000_i64;
    let start = end - WINDOW.as_millis() as i64 - 60_000;
    let mut probe = Simulator::new(config(1, start)).unwrap();
    probe.advance_to(start + STEP_MS).unwrap();
    let per_replica = probe
        .render_metrics(0)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count();
    let replicas = TARGET_SERIES.div_ceil(per_replica);
    // The simulator runs at most 16 replicas: several simulated clusters feed one store, each
    // replica a target of its own.
    let mut sims: Vec<Simulator> = (0..replicas.div_ceil(MAX_REPLICAS))
        .map(|k| {
            let n = (replicas - k * MAX_REPLICAS).min(MAX_REPLICAS);
            let mut cfg = config(n, start);
            cfg.seed = 1 + k as u64;
            Simulator::new(cfg).unwrap()
        })
        .collect();
    let audit_path = dir.join("audit.log");
    sims[0].set_audit_sink(Box::new(std::fs::File::create(&audit_path).unwrap()));
    let db = Arc::new(Db::open(&dir.join("store"), DbOptions::default()).unwrap());
    let sink: Arc<dyn Sink> = Arc::clone(&db) as Arc<dyn Sink>;
    let health = Health::new();
    let mut loops: Vec<(usize, usize, ScrapeLoop)> = (0..replicas)
        .map(|i| {
            let scrape_loop = ScrapeLoop::new(
                Target::external(JOB_APISERVER, &format!("apiserver-{i}:6443"), "bench"),
                ScrapeOpts::default(),
                Arc::clone(&sink),
                health.clone(),
            );
            (i / MAX_REPLICAS, i % MAX_REPLICAS, scrape_loop)
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut t = start + STEP_MS;
    while t <= end {
        for sim in &mut sims {
            sim.advance_to(t).unwrap();
        }
        for (k, i, l) in &mut loops {
            let fetched = Fetched {
                content_type: None,
                body: sims[*k].render_metrics(*i).unwrap().into(),
                timestamp_ms: Some(t),
            };
            let report = runtime.block_on(l.ingest(fetched, Duration::ZERO));
            assert!(report.error.is_none() && report.store_error.is_none());
        }
        t += STEP_MS;
    }
    drop(sims);
    (db, end, audit_path, per_replica * replicas)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (db, end, audit_path, series) = store(dir.path());
    eprintln!("store: {series} active series");
    let opts = ReportOpts {
        end_ms: end,
        range: WINDOW,
        selector: String::new(),
        top: SERIES_PER_PANEL,
    };
    let local = LocalEngine::new(Engine::new(EngineOpts::default()), db.as_ref(), "bench");
    let mut g = c.benchmark_group("top");
    g.sample_size(10);
    // A refresh with new data: every panel over the window, its selects read and its
    // aggregations evaluated once each, as `top` reads the store.
    g.bench_function("refresh-metrics-50k-series", |b| {
        b.iter(|| {
            let fresh = LocalEngine::snapshot(db.as_ref(), "bench");
            let cache = QueryCache::new();
            let report = build_report(&cache.source(&fresh, end), &opts).unwrap();
            build_frame("bench", &report, None)
        })
    });
    // A refresh before the next scrape: the same end, nothing evaluated again.
    let cache = QueryCache::new();
    let report = build_report(&cache.source(&local, end), &opts).unwrap();
    g.bench_function("refresh-same-end-50k-series", |b| {
        b.iter(|| {
            let report = build_report(&cache.source(&local, end), &opts).unwrap();
            build_frame("bench", &report, None)
        })
    });
    // The doctor over the window's audit log, run on its own cadence in the live view.
    let audit = vec![apilens_audit::Input::Path(audit_path)];
    g.bench_function("doctor-50k-series", |b| {
        b.iter(|| {
            let inputs = apilens_doctor::DoctorInputs {
                audit: audit.clone(),
                metrics: Some(report.clone()),
                ..apilens_doctor::DoctorInputs::default()
            };
            let d = apilens_doctor::diagnose(&inputs).unwrap();
            build_frame("bench", &report, Some(&d))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
