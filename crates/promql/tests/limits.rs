//! The limits that keep any query from taking the process down: nesting depth, the stack of
//! query threads, the samples cap counted before allocating, timeouts and cancellation.
//! See: issue 15 ("No request can crash it").

use apilens_model::{Labels, Sample};
use apilens_promql::{
    Engine, EngineOpts, Error, ExecControl, MAX_QUERY_DEPTH, MemQueryable, with_query_stack,
};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const T: i64 = 1_700_003_600_000;

/// `m{i="0"}` … `m{i="<n-1>"}` (0 to 6) and `up` (1), every 15 s over the hour before `T`.
fn store(n: usize) -> MemQueryable {
    let mut store = MemQueryable::new();
    let mut add = |labels: Labels, value: &dyn Fn(i64) -> f64| {
        for k in 0..=240 {
            let t = T - 3_600_000 + k * 15_000;
            store.append(&labels, Sample { t, v: value(k) });
        }
    };
    for i in 0..n {
        add(
            Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]),
            &|k| (k % 7) as f64,
        );
    }
    add(
        Labels::from_pairs([("__name__", "up"), ("job", "a")]),
        &|_| 1.0,
    );
    store
}

fn instant(engine: &Engine, store: &MemQueryable, q: &str) -> Result<apilens_promql::Value, Error> {
    with_query_stack(|| engine.instant_query(store, q, T))
}

#[test]
fn the_deep_queries_of_the_report_are_refused_as_bad_data() {
    let store = store(1);
    let engine = Engine::default();
    let sum = vec!["up"; 3000].join("+");
    let parens = format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000));
    let abs = format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000));
    for q in [&sum, &parens, &abs] {
        // On a thread with a tokio worker's stack: the check runs before any recursion.
        let q2 = q.clone();
        let err = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || Engine::default().prepare_instant(&q2, T).map(|_| ()))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(err.kind(), "bad_data", "{err}");
        assert!(
            err.to_string().contains(&format!(
                "expression nested too deeply: more than {MAX_QUERY_DEPTH} levels"
            )),
            "{err}"
        );
        assert!(instant(&engine, &store, q).is_err());
    }
}

#[test]
fn queries_at_the_depth_limit_parse_evaluate_and_drop_on_a_query_thread() {
    let store = store(1);
    let engine = Engine::default();
    let n = MAX_QUERY_DEPTH;
    // Each exactly at the limit: n operators or n open brackets.
    let cases = [
        (vec!["up"; n + 1].join("+"), (n + 1) as f64),
        (format!("{}up{}", "(".repeat(n), ")".repeat(n)), 1.0),
        (format!("{}up{}", "abs(".repeat(n), ")".repeat(n)), 1.0),
        (format!("{}up{}", "sum(".repeat(n), ")".repeat(n)), 1.0),
        (format!("{}up", "- ".repeat(n)), 1.0),
    ];
    for (q, want) in cases {
        let apilens_promql::Value::Vector(v) = instant(&engine, &store, &q).unwrap() else {
            panic!("a vector")
        };
        assert_eq!(v[0].v, want, "{}", &q[..40]);
        assert!(instant(&engine, &store, &format!("({q})")).is_err_and(|e| e.kind() == "bad_data"));
    }
}

#[test]
fn a_subquery_over_many_steps_stops_at_the_cap() {
    let store = store(100);
    let engine = Engine::new(EngineOpts {
        max_samples: 2_000_000,
        ..EngineOpts::default()
    });
    let started = Instant::now();
    let err = instant(&engine, &store, "max_over_time(m[1h:1ms])").unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    // The whole subquery would be 360 million points; stopping at the cap is quick.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // A subquery whose steps alone pass the cap fails before evaluating anything.
    let err = instant(&engine, &store, "max_over_time(up[1h:1ms])").unwrap_err();
    assert!(
        matches!(err, Error::TooManySamples("subquery evaluation")),
        "{err}"
    );
    // Within the cap the same shape answers.
    let ok = instant(&engine, &store, "max_over_time(m[1h:1s])").unwrap();
    let apilens_promql::Value::Vector(v) = ok else {
        panic!()
    };
    assert_eq!(v.len(), 100);
}

#[test]
fn a_range_function_over_many_steps_stops_at_the_cap() {
    let store = store(100);
    let engine = Engine::new(EngineOpts {
        max_samples: 200_000,
        ..EngineOpts::default()
    });
    let err =
        with_query_stack(|| engine.range_query(&store, "rate(m[5m])", T - 3_600_000, T, 1_000))
            .map(|_| ())
            .unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
}

#[test]
fn the_timeout_of_a_request_and_cancellation_stop_a_query() {
    let store = store(100);
    let engine = Engine::default();
    let p = engine
        .prepare_instant("max_over_time(m[1h:1ms])", T)
        .unwrap();
    let started = Instant::now();
    let ctl = ExecControl {
        timeout: Some(Duration::from_millis(50)),
        ..ExecControl::default()
    };
    let err = with_query_stack(|| engine.exec_with(&store, &p, &ctl)).unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let ctl = ExecControl {
        cancel: Some(Arc::new(AtomicBool::new(true))),
        ..ExecControl::default()
    };
    let err = with_query_stack(|| engine.exec_with(&store, &p, &ctl)).unwrap_err();
    assert!(matches!(err, Error::Canceled(_)), "{err}");
    assert_eq!(err.kind(), "canceled");
}

#[test]
fn the_cost_estimate_counts_steps_per_series() {
    let engine = Engine::default();
    let cost = |q: &str| engine.prepare_instant(q, T).unwrap().steps_per_series();
    assert_eq!(cost("up"), 1);
    assert_eq!(cost("sum(rate(m[5m])) / 2"), 2);
    assert_eq!(cost("max_over_time(m[1h:1ms])"), 3_600_001);
    assert_eq!(cost("max_over_time(m[1h:1m])"), 61);
    let range = engine
        .prepare_range("up", T - 3_600_000, T, 15_000)
        .unwrap()
        .steps_per_series();
    assert_eq!(range, 241);
}
