//! The `/api/v1` routes answer as Prometheus does, checked through the router.

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{ApiState, api_router};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn state() -> ApiState {
    ApiState::new(
        store(),
        Engine::new(EngineOpts::default()),
        apilens_web::PoolOpts::default(),
    )
}

/// Two counters of requests, by code, over five minutes.
fn store() -> Arc<MemQueryable> {
    let mut store = MemQueryable::new();
    for (code, step) in [("200", 10.0), ("429", 1.0)] {
        let l = Labels::from_pairs([
            ("__name__", "apiserver_request_total"),
            ("code", code),
            ("verb", "LIST"),
        ]);
        for i in 0..=20 {
            store.append(
                &l,
                Sample {
                    t: i * 15_000,
                    v: i as f64 * step,
                },
            );
        }
    }
    Arc::new(store)
}

async fn call(req: Request<Body>) -> (StatusCode, String) {
    let resp = api_router(state()).oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn instant_query_get_and_post_agree() {
    let (status, body) = call(get(
        "/api/v1/query?query=sum%20by%20(code)%20(rate(apiserver_request_total%5B1m%5D))&time=300",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"code":"200"},"value":[300,"0.6666666666666666"]},{"metric":{"code":"429"},"value":[300,"0.06666666666666665"]}]}}"#
    );
    let post = Request::post("/api/v1/query")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "query=sum+by+(code)+(rate(apiserver_request_total%5B1m%5D))&time=300",
        ))
        .unwrap();
    assert_eq!(call(post).await.1, body);
}

#[tokio::test]
async fn range_query_returns_matrix() {
    let (status, body) = call(get(
        "/api/v1/query_range?query=count(apiserver_request_total)&start=0&end=60&step=30",
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[0,"2"],[30,"2"],[60,"2"]]}]}}"#
    );
}

#[tokio::test]
async fn errors_use_prometheus_types_and_codes() {
    let (status, body) = call(get("/api/v1/query?query=sum(")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.starts_with(r#"{"status":"error","errorType":"bad_data","error":"parse error"#),
        "{body}"
    );
    let (status, body) = call(get("/api/v1/query_range?query=up&start=10&end=0&step=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(get(
        "/api/v1/query?query=rate(apiserver_request_total%5B1m%5D)%5B5m%5D%20%2B%201",
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn series_labels_and_values() {
    let (_, body) = call(get(
        "/api/v1/series?match[]=apiserver_request_total%7Bcode%3D%22429%22%7D",
    ))
    .await;
    assert_eq!(
        body,
        r#"{"status":"success","data":[{"__name__":"apiserver_request_total","code":"429","verb":"LIST"}]}"#
    );
    let (_, body) = call(get("/api/v1/labels")).await;
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","code","verb"]}"#
    );
    let (_, body) = call(get("/api/v1/label/code/values")).await;
    assert_eq!(body, r#"{"status":"success","data":["200","429"]}"#);
    let (status, _) = call(get("/api/v1/series")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, body) = call(get("/api/v1/status/buildinfo")).await;
    assert!(body.contains(r#""version":"3.5.0""#));
}

// ---- limits: deep queries, timeouts, the query threads -----------------------------------
// See: issue 15 ("No request can crash it").

fn form(uri: &str, body: String) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// Only what a query string must escape, as a browser sends it: `(` and `)` stay.
fn encode(q: &str) -> String {
    q.replace('+', "%2B")
}

#[tokio::test]
async fn deep_queries_are_bad_data_by_get_and_post() {
    let sum = vec!["up"; 3000].join("+");
    let parens = format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000));
    let abs = format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000));
    for q in [sum, parens, abs] {
        let (status, body) =
            call(get(&format!("/api/v1/query?query={}&time=300", encode(&q)))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains(r#""errorType":"bad_data""#), "{body}");
        assert!(body.contains("expression nested too deeply"), "{body}");
        let (status, body) = call(form(
            "/api/v1/query_range",
            format!("query={}&start=0&end=60&step=15", encode(&q)),
        ))
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn the_timeout_parameter_is_honoured_and_checked() {
    let (status, body) = call(get(
        "/api/v1/query?query=max_over_time(apiserver_request_total%5B1h:1ms%5D)&time=300&timeout=20ms",
    ))
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains(r#""errorType":"timeout""#), "{body}");
    let (status, body) = call(get("/api/v1/query?query=up&timeout=soon")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains(r#"invalid parameter \"timeout\""#), "{body}");
    let (status, _) = call(get("/api/v1/query?query=up&timeout=1s")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn heavy_queries_queue_past_the_limit_get_503_and_up_keeps_answering() {
    let store = store();
    let engine = Engine::new(EngineOpts {
        max_samples: 10_000_000,
        ..EngineOpts::default()
    });
    let state = ApiState::new(
        store,
        engine,
        apilens_web::PoolOpts {
            max_concurrency: 1,
            max_queue: 1,
            queue_timeout: Duration::from_secs(60),
        },
    );
    let app = api_router(state);
    let heavy =
        "/api/v1/query?query=count(max_over_time(apiserver_request_total%5B1h:1ms%5D))&time=3600";
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let app = app.clone();
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            let resp = app.oneshot(get(heavy)).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (status, String::from_utf8_lossy(&body).into_owned())
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The cheap query runs in the fast lane while the heavy one holds the only heavy thread.
    let resp = app
        .clone()
        .oneshot(get(
            "/api/v1/query?query=count(apiserver_request_total)&time=300",
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst) < 4,
        "up waited for every heavy query"
    );
    let mut statuses = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(body.contains(r#""errorType":"unavailable""#), "{body}");
            assert!(body.contains("too many queries"), "{body}");
        } else {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        statuses.push(status);
    }
    // One running, one waiting, the two others refused at once.
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!(refused, 2, "{statuses:?}");
}
