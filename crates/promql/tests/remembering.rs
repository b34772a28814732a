//! An engine that remembers its aggregations answers exactly as a fresh engine does (values,
//! warnings and infos) on a real kube-apiserver scrape (`shared/fixtures/real/metrics-apiserver`,
//! Kubernetes 1.24) replayed as four scrapes 15 s apart, across queries that share
//! aggregations in other contexts: other quantiles, `@`, `offset`, subqueries, other steps,
//! instant and range; and it reads the store less.

use apilens_model::{Matcher, Queryable, SelectError, SelectHints, Series};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use std::sync::atomic::{AtomicUsize, Ordering};

mod replayed;

use replayed::{T, replayed_fixture};

/// The fixture's series, counting the selects made on it.
struct Counted {
    store: MemQueryable,
    selects: AtomicUsize,
}

impl Queryable for Counted {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        hints: SelectHints,
    ) -> Result<Vec<Series>, SelectError> {
        self.selects.fetch_add(1, Ordering::Relaxed);
        self.store.select(matchers, mint, maxt, hints)
    }
}

fn store() -> Counted {
    Counted {
        store: replayed_fixture(4),
        selects: AtomicUsize::new(0),
    }
}

const BUCKETS: &str = "sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket[1m]))";

/// Queries that share aggregations, some in contexts that change their value.
fn queries() -> Vec<String> {
    vec![
        format!("histogram_quantile(0.5, {BUCKETS})"),
        format!("histogram_quantile(0.9, {BUCKETS})"),
        format!("histogram_quantile(0.99, {BUCKETS}) > 0"),
        format!("topk(3, {BUCKETS})"),
        "sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket[1m] offset 15s))".into(),
        "sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket[1m] @ end()))".into(),
        format!("max_over_time({BUCKETS}[30s:15s])"),
        format!("max_over_time({BUCKETS}[45s:15s])"),
        // A gauge under rate: an info the memo must not lose on the second evaluation.
        "sum(rate(apiserver_current_inflight_requests[1m]))".into(),
        "sum(rate(apiserver_current_inflight_requests[1m])) * 2".into(),
        "sum by (verb) (rate(apiserver_request_total[1m])) / on() group_left sum(rate(apiserver_request_total[1m]))".into(),
        "sum(rate(apiserver_request_total[1m]))".into(),
    ]
}

#[test]
fn answers_as_a_fresh_engine_does_and_selects_less() {
    let fresh_store = store();
    let memo_store = store();
    let remembering = Engine::remembering(EngineOpts::default());
    let mut compared = 0;
    for round in 0..2 {
        for q in queries() {
            for t in [T + 30_000, T + 45_000] {
                let fresh = Engine::new(EngineOpts::default())
                    .instant_query_annotated(&fresh_store, &q, t)
                    .unwrap();
                let kept = remembering
                    .instant_query_annotated(&memo_store, &q, t)
                    .unwrap();
                assert_eq!(
                    format!("{kept:?}"),
                    format!("{fresh:?}"),
                    "round {round}: {q} at {t}"
                );
                compared += 1;
            }
            for (start, step) in [(T, 15_000), (T + 15_000, 30_000)] {
                let fresh = Engine::new(EngineOpts::default())
                    .range_query_annotated(&fresh_store, &q, start, T + 45_000, step)
                    .unwrap();
                let kept = remembering
                    .range_query_annotated(&memo_store, &q, start, T + 45_000, step)
                    .unwrap();
                assert_eq!(
                    format!("{kept:?}"),
                    format!("{fresh:?}"),
                    "round {round}: {q} over {start}/{step}"
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 2 * 12 * 4);
    // The info of `rate` over a gauge is raised every time.
    let r = remembering
        .instant_query_annotated(
            &memo_store,
            "sum(rate(apiserver_current_inflight_requests[1m]))",
            T + 30_000,
        )
        .unwrap();
    assert_eq!(r.annotations.infos.len(), 1, "{r:?}");
    let fresh = fresh_store.selects.load(Ordering::Relaxed);
    let kept = memo_store.selects.load(Ordering::Relaxed);
    assert!(
        kept * 2 < fresh,
        "{kept} selects remembering, {fresh} fresh"
    );
}

#[test]
fn a_fresh_engine_remembers_nothing() {
    let s = store();
    let engine = Engine::new(EngineOpts::default());
    let q = format!("histogram_quantile(0.9, {BUCKETS})");
    engine.instant_query(&s, &q, T + 30_000).unwrap();
    let once = s.selects.load(Ordering::Relaxed);
    engine.instant_query(&s, &q, T + 30_000).unwrap();
    assert_eq!(s.selects.load(Ordering::Relaxed), 2 * once);
}
