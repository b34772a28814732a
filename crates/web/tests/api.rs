//! The `/api/v1` routes answer as Prometheus does, checked through the router.

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{ApiState, api_router};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

fn state() -> ApiState {
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
    ApiState {
        queryable: Arc::new(store),
        engine: Engine::new(EngineOpts::default()),
    }
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
