//! `apilens record` and `apilens serve` end to end: record a live target into a bundle, serve
//! the bundle into the store, stop with SIGTERM, read the store back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use apilens_model::{MatchOp, Matcher, Queryable, SelectHints, is_stale_nan};

fn apilens() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
}

fn fixture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.32.0-minikube.txt",
    ))
    .unwrap()
}

/// A plain HTTP server on a thread answering every request with `body` as a scrape.
fn serve_body(body: Vec<u8>) -> SocketAddr {
    apilens_testkit::serve_fixed("200 OK", "text/plain; version=0.0.4", body)
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn record_then_serve_the_bundle_into_the_store() {
    let body = fixture();
    let addr = serve_body(body.clone());
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let out = apilens()
        .args([
            "record",
            "--count",
            "2",
            "--interval",
            "300ms",
            "--job",
            "apiserver",
        ])
        .arg("--target")
        .arg(format!("http://{addr}/metrics"))
        .arg("--target")
        .arg("http://127.0.0.1:1/metrics")
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The dead target is reported with its name and does not stop the live one.
    assert!(
        stderr
            .contains("target apiserver 127.0.0.1:1 (http://127.0.0.1:1/metrics): request failed"),
        "{stderr}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let scrapes = manifest["scrapes"].as_array().unwrap();
    assert_eq!(scrapes.len(), 4);
    let recorded: Vec<&serde_json::Value> =
        scrapes.iter().filter(|s| s["file"].is_string()).collect();
    assert_eq!(recorded.len(), 2);
    for s in &recorded {
        assert_eq!(s["instance"], addr.to_string());
        let file = bundle.join(s["file"].as_str().unwrap());
        assert_eq!(std::fs::read(file).unwrap(), body);
    }
    let times: Vec<i64> = recorded
        .iter()
        .map(|s| s["timestamp_ms"].as_i64().unwrap())
        .collect();

    let data = dir.path().join("data");
    let listen = free_addr();
    let mut child = apilens()
        .arg("serve")
        .arg("--target")
        .arg(&bundle)
        .arg("--data-dir")
        .arg(&data)
        .args(["--scrape-interval", "1s", "--listen", &listen.to_string()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(targets) = get(listen, "/api/v1/targets") {
            // The replay target leaves the list once its two scrapes are in.
            if targets.contains(r#""activeTargets":[]"#) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "serve did not finish the replay in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        get(listen, "/-/healthy")
            .unwrap()
            .contains("apilens is Healthy.")
    );
    assert!(get(listen, "/-/ready").unwrap().contains("200 OK"));
    // The query API reads what the scrapes stored.
    let query = get(
        listen,
        &format!(
            "/api/v1/query?query=count(apiserver_request_total)&time={}",
            times[1] as f64 / 1000.0
        ),
    )
    .unwrap();
    assert!(query.contains(r#""status":"success""#), "{query}");
    assert!(
        query.contains(r#""resultType":"vector","result":[{"metric":{},"value":["#),
        "{query}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(exit.success(), "{log}");
    assert!(
        log.contains("shutting down") && log.contains("SIGTERM"),
        "{log}"
    );

    let db = apilens_tsdb::Db::open(&data, apilens_tsdb::DbOptions::default()).unwrap();
    let up = db
        .select(
            &[
                Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
                Matcher::new(MatchOp::Equal, "job", "apiserver").unwrap(),
            ],
            i64::MIN,
            i64::MAX,
            SelectHints::default(),
        )
        .unwrap();
    assert_eq!(up.len(), 1);
    let samples = &up[0].samples;
    assert_eq!(samples.len(), 3, "{samples:?}");
    assert_eq!((samples[0].t, samples[0].v), (times[0], 1.0));
    assert_eq!((samples[1].t, samples[1].v), (times[1], 1.0));
    assert!(is_stale_nan(samples[2].v));
    let objects = db
        .select(
            &[Matcher::new(MatchOp::Equal, "__name__", "apiserver_request_total").unwrap()],
            i64::MIN,
            i64::MAX,
            SelectHints::default(),
        )
        .unwrap();
    assert!(objects.len() > 10);
    assert!(
        objects
            .iter()
            .all(|s| s.labels.get("instance") == Some(addr.to_string().as_str()))
    );
}

#[test]
fn serve_without_anything_to_scrape_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = apilens()
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to scrape"), "{stderr}");
    assert!(stderr.contains("apilens serve --kubeconfig"), "{stderr}");
}

/// An unreachable target is reported once, on one line naming its address and why, retried
/// with back-off in silence, and reported once more when it comes back.
///
/// See: issue 16 (serve with an unreachable cluster).
#[test]
fn serve_says_once_that_a_target_is_down_and_once_that_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let dead = free_addr();
    let listen = free_addr();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = apilens_testkit::KillOnDrop(
        apilens()
            .arg("serve")
            .arg("--target")
            .arg(format!("http://{dead}/metrics"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args([
                "--scrape-interval",
                "200ms",
                "--scrape-timeout",
                "200ms",
                "--listen",
                &listen.to_string(),
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Long enough for a dozen scrapes at the interval; the back-off makes it a handful.
    std::thread::sleep(Duration::from_secs(3));
    let down_log = std::fs::read_to_string(&log_path).unwrap();
    // Every line a person is shown about the target beyond the start-up ones.
    let about = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.contains(&dead.to_string()))
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("back up"))
            .map(str::to_owned)
            .collect()
    };
    let lines = about(&down_log);
    assert_eq!(lines.len(), 1, "one line for the dead target:\n{down_log}");
    assert!(
        lines[0].contains(&format!("target apiserver {dead} (http://{dead}/metrics)"))
            && lines[0].contains("request failed")
            && lines[0].contains("retrying with back-off"),
        "{}",
        lines[0]
    );

    // The target comes up on the same address.
    apilens_testkit::serve_fixed_on(
        TcpListener::bind(dead).unwrap(),
        "200 OK",
        "text/plain; version=0.0.4",
        fixture(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if get(listen, "/api/v1/targets").is_some_and(|t| t.contains(r#""health":"up""#)) {
            break;
        }
        assert!(Instant::now() < deadline, "the target never came back up");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(600));
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.0.wait().unwrap();
    let full = std::fs::read_to_string(&log_path).unwrap();
    let lines = about(&full);
    assert_eq!(lines.len(), 2, "down once, back once:\n{full}");
    assert!(lines[1].contains("back up"), "{}", lines[1]);
}
