//! Warnings, infos and limits of the engine on a real kube-apiserver scrape
//! (`shared/fixtures/real/metrics-apiserver`, Kubernetes 1.24), replayed as three scrapes 15 s
//! apart with counters growing: Prometheus's annotation texts, their place in the API body, and
//! the timeout and samples-per-query errors with Prometheus's error types and status codes, and
//! the error of a range function whose results share a label set.

use apilens_promql::{Engine, EngineOpts, Error, MemQueryable, api_error, api_response_annotated};
use std::time::Duration;

mod replayed;

use replayed::{T, replayed_fixture};

fn store() -> MemQueryable {
    replayed_fixture(3)
}

fn engine() -> Engine {
    Engine::new(EngineOpts::default())
}

#[test]
fn rate_of_a_gauge_gets_prometheus_info() {
    let store = store();
    let q = "sum(rate(apiserver_current_inflight_requests[1m]))";
    let r = engine()
        .instant_query_annotated(&store, q, T + 30_000)
        .unwrap();
    assert_eq!(
        r.annotations.infos,
        [
            "PromQL info: metric might not be a counter, name does not end in \
             _total/_sum/_count/_bucket: \"apiserver_current_inflight_requests\" (1:10)"
        ]
    );
    assert!(r.annotations.warnings.is_empty());
    let body = api_response_annotated(&r);
    assert!(
        body.ends_with(
            "]},\"infos\":[\"PromQL info: metric might not be a counter, name does not end in \
             _total/_sum/_count/_bucket: \\\"apiserver_current_inflight_requests\\\" (1:10)\"]}"
        ),
        "{body}"
    );
    assert!(!body.contains("\"warnings\""), "{body}");
    // Counters, and rates over subqueries, raise nothing.
    for q in [
        "sum(rate(apiserver_request_total[1m]))",
        "rate(apiserver_request_duration_seconds_bucket{verb=\"LIST\"}[1m])",
        "rate(apiserver_current_inflight_requests[1m:15s])",
        "delta(apiserver_current_inflight_requests[1m])",
    ] {
        let r = engine()
            .range_query_annotated(&store, q, T + 15_000, T + 30_000, 15_000)
            .unwrap();
        assert!(r.annotations.is_empty(), "{q}: {:?}", r.annotations);
        assert_eq!(
            api_response_annotated(&r),
            apilens_promql::api_response(&r.value)
        );
    }
}

#[test]
fn histogram_quantile_warns_on_bad_buckets_and_quantiles() {
    let store = store();
    // A rate of `_count` has no `le`: every series is dropped with a warning naming it.
    let q = "histogram_quantile(0.9, rate(apiserver_request_duration_seconds_count{verb=\"LIST\"}[1m]))";
    let r = engine()
        .range_query_annotated(&store, q, T + 15_000, T + 30_000, 15_000)
        .unwrap();
    assert_eq!(
        r.annotations.warnings,
        [
            "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"\" for metric name \"\""
        ]
    );
    assert!(matches!(&r.value, apilens_promql::Value::Matrix(m) if m.is_empty()));
    assert!(api_response_annotated(&r).contains(",\"warnings\":[\"PromQL warning: bucket label"));
    // φ outside [0, 1]: once per distinct value, still answered (+Inf), as Prometheus does.
    let q = "histogram_quantile(1.5, sum by (le) (rate(apiserver_request_duration_seconds_bucket[1m])))";
    let r = engine()
        .range_query_annotated(&store, q, T + 15_000, T + 30_000, 15_000)
        .unwrap();
    assert_eq!(
        r.annotations.warnings,
        ["PromQL warning: quantile value should be between 0 and 1, got 1.5"]
    );
    let apilens_promql::Value::Matrix(m) = &r.value else {
        panic!("range query answers a matrix")
    };
    assert!(m[0].samples.iter().all(|s| s.v == f64::INFINITY));
    let r = engine()
        .instant_query_annotated(
            &store,
            "quantile(NaN, apiserver_current_inflight_requests)",
            T,
        )
        .unwrap();
    assert_eq!(
        r.annotations.warnings,
        ["PromQL warning: quantile value should be between 0 and 1, got NaN"]
    );
    // Good buckets: no annotation.
    let q = "histogram_quantile(0.99, sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket[1m])))";
    let r = engine()
        .range_query_annotated(&store, q, T + 15_000, T + 30_000, 15_000)
        .unwrap();
    assert!(r.annotations.is_empty(), "{:?}", r.annotations);
}

#[test]
fn queries_past_the_timeout_fail_as_prometheus_does() {
    let store = store();
    let engine = Engine::new(EngineOpts {
        timeout: Duration::ZERO,
        ..EngineOpts::default()
    });
    let err = engine
        .range_query(
            &store,
            "sum(rate(apiserver_request_total[1m]))",
            T,
            T + 30_000,
            1_000,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    let (status, body) = api_error(&err);
    assert_eq!(status, 503);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"timeout","error":"query timed out in query execution"}"#
    );
}

#[test]
fn queries_over_the_sample_cap_fail_as_prometheus_does() {
    let store = store();
    let q = "sum(rate(apiserver_request_duration_seconds_bucket[1m]))";
    // The selector alone loads every bucket series' three samples: a cap below that fails, one
    // that leaves room for the rates computed from them passes.
    let loaded = {
        let r = engine().instant_query(
            &store,
            "count(apiserver_request_duration_seconds_bucket)",
            T,
        );
        let apilens_promql::Value::Vector(v) = r.unwrap() else {
            panic!("count answers a vector")
        };
        v[0].v as usize * 3
    };
    assert!(loaded > 1000, "{loaded}");
    let capped = |max_samples| {
        Engine::new(EngineOpts {
            max_samples,
            ..EngineOpts::default()
        })
        .instant_query(&store, q, T + 30_000)
    };
    assert!(capped(loaded * 2).is_ok());
    let err = capped(loaded - 1).unwrap_err();
    assert!(matches!(err, Error::TooManySamples(_)), "{err}");
    let (status, body) = api_error(&err);
    assert_eq!(status, 422);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}"#
    );
}

#[test]
fn range_functions_fail_on_series_that_differ_only_by_name() {
    let store = store();
    let at = T + 30_000;
    let one = engine()
        .instant_query(
            &store,
            "rate(apiserver_request_duration_seconds_count[1m])",
            at,
        )
        .unwrap();
    let apilens_promql::Value::Vector(one) = one else {
        panic!("a vector")
    };
    assert!(one.len() > 10, "{} series", one.len());
    assert!(one.iter().all(|s| s.labels.metric_name().is_none()));
    // `_sum` and `_count` share every label but the name: without it they collide.
    let both = r#"{__name__=~"apiserver_request_duration_seconds_(sum|count)"}"#;
    let err = engine()
        .instant_query(&store, &format!("rate({both}[1m])"), at)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("vector cannot contain metrics with the same labelset"),
        "{err}"
    );
    // A function that keeps the name keeps them apart.
    let kept = engine()
        .instant_query(&store, &format!("last_over_time({both}[1m])"), at)
        .unwrap();
    let apilens_promql::Value::Vector(kept) = kept else {
        panic!("a vector")
    };
    assert_eq!(kept.len(), 2 * one.len());
}
