//! Reports through a [`QueryCache`]: the same report as without it; at the same end, nothing
//! evaluated again.

use apilens_model::Sample;
use apilens_promapi::{
    Answer, EngineLimits, LocalEngine, PromApiError, QueryEngine, QueryPlan, QueryRequest,
    Selection,
};
use apilens_promql::{Engine, EngineOpts, ExecControl, MemQueryable, Value};
use apilens_report::{QueryCache, ReportOpts, build_report, render_json};
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use apilens_textparse::{Entry, Format, Parser};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const STEP_MS: i64 = 15_000;

/// `minutes` of a scenario scraped every 15 s; the store and the time of the last scrape.
fn simulate(scenario: &str, minutes: u64) -> (MemQueryable, i64) {
    let config = ScenarioConfig::new(scenario, KubeVersion::parse("1.34").unwrap());
    let mut sim = Simulator::new(config).unwrap();
    let mut store = MemQueryable::new();
    for _ in 0..minutes * 4 {
        sim.advance(Duration::from_millis(STEP_MS as u64)).unwrap();
        let t = sim.now_unix_ms();
        for i in 0..sim.replicas() {
            let text = sim.render_metrics(i).unwrap();
            for entry in Parser::new(text.as_bytes(), Format::PrometheusText) {
                if let Entry::Series(series) = entry.unwrap() {
                    let mut labels = series.to_labels();
                    labels.set("job", "apiserver");
                    labels.set("instance", &format!("10.0.0.{}:6443", i + 1));
                    store.append(&labels, Sample { t, v: series.value });
                }
            }
        }
    }
    (store, sim.now_unix_ms())
}

/// An engine that counts the steps it evaluates.
struct Counting<'a> {
    inner: LocalEngine<'a>,
    steps: AtomicI64,
}

impl QueryEngine for Counting<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn limits(&self) -> EngineLimits {
        self.inner.limits()
    }
    fn plan(&self, request: QueryRequest) -> Result<QueryPlan, PromApiError> {
        self.inner.plan(request)
    }
    fn execute(&self, plan: &QueryPlan, control: &ExecControl) -> Result<Answer, PromApiError> {
        self.inner.execute(plan, control)
    }
    fn evaluate(&self, request: &QueryRequest) -> Result<Value, PromApiError> {
        let steps = match request {
            QueryRequest::Instant { .. } => 1,
            QueryRequest::Range {
                start, end, step, ..
            } => (end - start) / step + 1,
        };
        self.steps.fetch_add(steps, Ordering::Relaxed);
        self.inner.evaluate(request)
    }
    fn body(&self, request: &QueryRequest) -> Result<String, PromApiError> {
        self.inner.body(request)
    }
    fn series(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.series(selection)
    }
    fn label_names(&self, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.label_names(selection)
    }
    fn label_values(&self, name: &str, selection: &Selection) -> Result<Answer, PromApiError> {
        self.inner.label_values(name, selection)
    }
}

fn opts(end_ms: i64) -> ReportOpts {
    ReportOpts::new(end_ms, Duration::from_secs(300))
}

#[test]
fn another_end_evaluates_again_and_reads_as_the_report() {
    let (store, last) = simulate("apf-saturation", 8);
    let counting = Counting {
        inner: LocalEngine::new(Engine::new(EngineOpts::default()), &store, "memory"),
        steps: AtomicI64::new(0),
    };
    let cache = QueryCache::new();
    build_report(
        &cache.source(&counting, last - STEP_MS),
        &opts(last - STEP_MS),
    )
    .unwrap();
    let before = counting.steps.load(Ordering::Relaxed);
    let cached = build_report(&cache.source(&counting, last), &opts(last)).unwrap();
    assert!(counting.steps.load(Ordering::Relaxed) > before);
    let direct = build_report(&counting.inner, &opts(last)).unwrap();
    assert_eq!(render_json(&cached), render_json(&direct));
}

#[test]
fn the_same_end_twice_evaluates_nothing() {
    let (store, last) = simulate("healthy", 7);
    let counting = Counting {
        inner: LocalEngine::new(Engine::new(EngineOpts::default()), &store, "memory"),
        steps: AtomicI64::new(0),
    };
    let cache = QueryCache::new();
    let first = build_report(&cache.source(&counting, last), &opts(last)).unwrap();
    let before = counting.steps.load(Ordering::Relaxed);
    let again = build_report(&cache.source(&counting, last), &opts(last)).unwrap();
    assert_eq!(counting.steps.load(Ordering::Relaxed), before);
    assert_eq!(render_json(&first), render_json(&again));
}
