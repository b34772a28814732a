//! The API router over a remote engine answers as the router over the store it reads: a server
//! over a store is the remote engine, and every endpoint (queries, series, label names and
//! values, errors) gives the same status and body through the relay.

use apilens_model::{Labels, Sample};
use apilens_promapi::{QueryEngine, RemoteAuth, RemoteClient, RemoteEngine};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{ApiState, PoolOpts, api_router};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

fn store() -> Arc<MemQueryable> {
    let mut store = MemQueryable::new();
    for (code, verb, step) in [
        ("200", "LIST", 10.0),
        ("429", "LIST", 1.0),
        ("200", "GET", 3.0),
    ] {
        let l = Labels::from_pairs([
            ("__name__", "apiserver_request_total"),
            ("code", code),
            ("verb", verb),
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

fn local_router() -> axum::Router {
    api_router(ApiState::new(
        store(),
        Engine::new(EngineOpts::default()),
        PoolOpts::default(),
    ))
}

/// Serves the router over the store on a runtime of its own; returns its address.
fn start_local() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            apilens_web::serve(listener, local_router(), None, std::future::pending())
                .await
                .unwrap();
        });
    });
    addr
}

async fn call(app: axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn the_router_over_a_remote_engine_answers_as_the_store_it_reads() {
    let addr = start_local();
    let client = RemoteClient::new(
        &format!("http://{addr}"),
        RemoteAuth::None,
        Duration::from_secs(30),
    )
    .unwrap();
    // The engine blocks on the network: it is built and dropped outside the runtime.
    let engine: Arc<dyn QueryEngine> = Arc::new(RemoteEngine::new(client));
    let remote = api_router(ApiState::with_engine(
        Arc::clone(&engine),
        PoolOpts::default(),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for uri in [
            "/api/v1/query?query=sum%20by%20(code)%20(rate(apiserver_request_total%5B1m%5D))&time=300",
            "/api/v1/query_range?query=apiserver_request_total%7Bverb%3D%22GET%22%7D&start=0&end=300&step=60",
            "/api/v1/series?match%5B%5D=apiserver_request_total%7Bcode%3D%22200%22%7D",
            "/api/v1/series?match%5B%5D=apiserver_request_total&start=0&end=100",
            "/api/v1/labels",
            "/api/v1/label/verb/values",
            "/api/v1/label/code/values?match%5B%5D=apiserver_request_total%7Bverb%3D%22LIST%22%7D",
            "/api/v1/query?query=sum(&time=300",
            "/api/v1/query?query=rate(apiserver_request_total)&time=300",
        ] {
            let (local_status, local_body) = call(local_router(), uri).await;
            let (remote_status, remote_body) = call(remote.clone(), uri).await;
            assert_eq!(local_status, remote_status, "{uri}: {remote_body}");
            assert_eq!(local_body, remote_body, "{uri}");
            assert!(local_body.starts_with(r#"{"status":"#), "{uri}: {local_body}");
        }
        // A query string the relay cannot send as a path is refused as Prometheus would.
        let (status, body) = call(remote.clone(), "/api/v1/label/a%2Fb/values").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    });
    drop(rt);
    drop(remote);
    drop(engine);
}

/// A remote engine that cannot be reached is 503 `unavailable` naming it, on every endpoint.
#[test]
fn an_unreachable_remote_engine_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = RemoteClient::new(
        &format!("http://127.0.0.1:{port}"),
        RemoteAuth::None,
        Duration::from_secs(5),
    )
    .unwrap();
    let engine: Arc<dyn QueryEngine> = Arc::new(RemoteEngine::new(client));
    let remote = api_router(ApiState::with_engine(
        Arc::clone(&engine),
        PoolOpts::default(),
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for uri in ["/api/v1/query?query=up", "/api/v1/labels"] {
            let (status, body) = call(remote.clone(), uri).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
            assert!(body.contains(r#""errorType":"unavailable""#), "{body}");
            assert!(body.contains(&format!("127.0.0.1:{port}")), "{body}");
        }
    });
    drop(rt);
    drop(remote);
    drop(engine);
}
