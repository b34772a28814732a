//! The server and the demo in-process: a real recorded scrape served and stored, and the
//! simulator's problem stored, reported and traced to its client.

use apilens_model::{Matcher, Queryable, SelectHints};
use apilens_remotewrite::RemoteWriteSpec;
use apilens_scrape::{ScrapeOpts, TargetSources};
use apilens_serve::{Demo, ServeError, ServeOpts, serve_until};
use apilens_sim::{KubeVersion, ScenarioConfig};
use apilens_tsdb::{Db, DbOptions};
use apilens_web::{Listening, PoolOpts, QueryLimits, Site};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A real kube-apiserver 1.21 scrape from the shared fixtures.
fn recorded_scrape() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.21.14-minikube.txt",
    )
}

fn limits() -> QueryLimits {
    QueryLimits {
        timeout: Duration::from_secs(30),
        max_samples: 1_000_000,
        pool: PoolOpts::default(),
    }
}

async fn listening() -> Listening {
    let addr = "127.0.0.1:0".parse().unwrap();
    let (site, _) = Site::load(None, &[], &[], addr).unwrap();
    Listening::bind(addr, site).await.unwrap()
}

/// The body of `GET path` on `addr`, HTTP/1.1 with the connection closed after it.
async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scrape_is_served_while_it_is_stored_and_the_store_is_closed_at_the_stop() {
    let dir = tempfile::tempdir().unwrap();
    let sources = TargetSources {
        targets: vec![recorded_scrape().display().to_string()],
        job: "apiserver".to_owned(),
        ..TargetSources::default()
    };
    let opts = ServeOpts {
        targets: sources.build().await.unwrap(),
        data_dir: dir.path().to_owned(),
        db: DbOptions::default(),
        scrape: ScrapeOpts {
            interval: Duration::from_millis(200),
            timeout: Duration::from_millis(200),
            ..ScrapeOpts::default()
        },
        remote_write: None,
        limits: limits(),
    };
    let listening = listening().await;
    let addr = listening.local;
    // The stop: once the API answers with the scrape's `up` (a one-file replay ends after its
    // scrape, so `up` is stale at once: its count over the last minute is what stays).
    let query = "/api/v1/query?query=count_over_time(up%5B1m%5D)";
    let stop = async move {
        for _ in 0..100 {
            let body = get(addr, query).await;
            if body.contains("\"value\"") {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no scrape served within 10s: {}", get(addr, query).await);
    };
    let answered = serve_until(opts, listening, stop).await.unwrap();
    assert!(answered.contains("\"status\":\"success\""), "{answered}");
    assert!(answered.contains("\"job\":\"apiserver\""), "{answered}");

    // Closed at the stop: a reader opens it, and every scrape's samples are there.
    let db = Db::open_read_only(dir.path()).unwrap();
    let name = Matcher::equal("__name__", "apiserver_request_total");
    let series = (db.select(&[name], i64::MIN, i64::MAX, SelectHints::default())).unwrap();
    assert!(series.len() > 10, "{} series", series.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_open_stops_the_server_before_it_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let opts = ServeOpts {
        targets: Vec::new(),
        data_dir: file.clone(),
        db: DbOptions::default(),
        scrape: ScrapeOpts::default(),
        remote_write: None,
        limits: limits(),
    };
    let err = serve_until(opts, listening().await, async {})
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::Store { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_writer_that_cannot_start_closes_the_store_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let opts = || ServeOpts {
        targets: Vec::new(),
        data_dir: dir.path().to_owned(),
        db: DbOptions::default(),
        scrape: ScrapeOpts::default(),
        remote_write: Some(RemoteWriteSpec {
            url: "ftp://receiver.example/write?token=secret".to_owned(),
            queue_dir: dir.path().join("remote-write"),
            max_queue_bytes: 1 << 20,
            max_samples_per_send: 100,
            bearer_token_file: None,
            basic_auth: None,
            sigv4: false,
            sigv4_region: None,
        }),
        limits: limits(),
    };
    let err = serve_until(opts(), listening().await, async {})
        .await
        .unwrap_err();
    assert!(matches!(err, ServeError::RemoteWrite { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("ftp://receiver.example/write"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    // Nothing is left holding the store: a writer opens it at once.
    Db::open(dir.path(), DbOptions::default()).unwrap().close();
}

fn chatty(replicas: usize) -> ScenarioConfig {
    ScenarioConfig {
        replicas,
        ..ScenarioConfig::new("chatty-daemonset", KubeVersion::parse("1.34").unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stores_its_history_reports_it_and_names_the_daemonset_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("demo");
    let mut demo = Demo::start(chatty(2), Duration::from_secs(600), &data_dir)
        .await
        .unwrap();
    demo.fill_history().await.unwrap();
    let report = demo.report().await.unwrap();
    let text = apilens_report::render_text(&report);
    assert!(text.contains("CRITICAL"), "{text}");
    let d = demo.culprits(&report).await.unwrap();
    let who = apilens_doctor::render_who_text(&d, 3);
    assert!(who.contains("log-agent"), "{who}");
    assert!(demo.audit_log().starts_with(&data_dir));
    demo.close().await;

    // Another demo in the same directory would store older samples than the first: refused.
    let err = Demo::start(chatty(2), Duration::from_secs(600), &data_dir)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("is not empty"), "{err}");
}

#[test]
fn the_demo_refuses_an_unknown_scenario_and_a_history_too_short_for_rates() {
    let err = Demo::check("meltdown", Duration::from_secs(600)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown scenario \"meltdown\", expected one of: healthy,"),
        "{err}"
    );
    let err = Demo::check("healthy", Duration::from_secs(299)).unwrap_err();
    assert!(err.to_string().contains("at least 5m"), "{err}");
    Demo::check("healthy", Duration::from_secs(300)).unwrap();
}
