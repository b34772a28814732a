//! The remote writer end to end: against a real Prometheus started with
//! `--web.enable-remote-write-receiver` (read back through its query API), and against a
//! scripted local receiver for the retry, refusal, cap and SigV4 cases. With `CI` set a
//! missing `prometheus` fails the Prometheus tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apilens_model::{Batch, Sink};
use apilens_model::{Labels, Sample, now_ms};
use apilens_remotewrite::{RemoteWriteOpts, RemoteWriter, WriteAuth, decode_write_request};
use apilens_sigv4::{Credentials, CredentialsChain, Signer};
use apilens_testkit::{Prometheus, PrometheusOpts, free_port, peers_available};
use apilens_textparse::{Entry, Format, Parser};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.32.0-minikube.txt",
    )
}

/// One scrape of the real fixture at `t`, as the scrape loop labels it.
fn scrape(t: i64) -> Batch {
    let body = std::fs::read(fixture()).unwrap();
    let mut samples = Vec::new();
    for e in Parser::new(&body, Format::PrometheusText) {
        if let Entry::Series(s) = e.unwrap() {
            let mut l = s.to_labels();
            l.set("job", "apiserver");
            l.set("instance", "minikube:8443");
            samples.push((l, Sample { t, v: s.value }));
        }
    }
    Batch { samples }
}

fn opts(url: &str, dir: &Path) -> RemoteWriteOpts {
    let mut o = RemoteWriteOpts::new(url, dir.join("queue"));
    o.min_backoff = Duration::from_millis(20);
    o.max_backoff = Duration::from_millis(200);
    o.timeout = Duration::from_secs(10);
    o
}

/// Prometheus on `port` with the remote-write receiver; its TSDB survives a restart in `dir`.
fn start_prometheus(dir: &Path, port: u16) -> Prometheus {
    apilens_model::install_crypto_provider();
    let mut opts = PrometheusOpts::new(dir);
    opts.port = Some(port);
    opts.args
        .push("--web.enable-remote-write-receiver".to_owned());
    Prometheus::start(&opts)
}

/// Every series of an instant query at `t`, keyed by labels: its value, or for a range
/// vector its number of samples.
fn prometheus_series(url: &str, query: &str, t: i64) -> BTreeMap<Labels, f64> {
    let resp: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{url}/api/v1/query"))
        .query(&[
            ("query", query.to_owned()),
            ("time", format!("{}.{:03}", t / 1000, t % 1000)),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(resp["status"], "success", "{resp}");
    resp["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let labels = Labels::from_pairs(
                r["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
            );
            if let Some(values) = r["values"].as_array() {
                return (labels, values.len() as f64);
            }
            let v = match r["value"][1].as_str().unwrap() {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                s => s.parse().unwrap(),
            };
            (labels, v)
        })
        .collect()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

#[test]
fn scrapes_reach_prometheus_and_read_back_identically() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(dir.path(), free_port());
    let writer =
        RemoteWriter::start(opts(&format!("{}/api/v1/write", prom.url()), dir.path())).unwrap();
    let t1 = now_ms() - 60_000;
    let t2 = t1 + 15_000;
    let first = scrape(t1);
    let mut second = scrape(t2);
    for (_, s) in &mut second.samples {
        s.v += 1.0;
    }
    let started = Instant::now();
    writer.append(&first).unwrap();
    let append = started.elapsed();
    writer.append(&second).unwrap();
    assert!(
        writer.flush(Duration::from_secs(60)),
        "{:?}",
        writer.stats()
    );
    let stats = writer.stats();
    println!(
        "one scrape of {} samples queued in {append:?}; {} samples sent in {} requests in {:?}",
        first.samples.len(),
        stats.samples_sent,
        stats.requests_sent,
        started.elapsed()
    );
    let n = first.samples.len() as u64;
    assert!(n > 20_000, "the fixture has {n} samples");
    assert_eq!(stats.samples_sent, 2 * n);
    assert_eq!(stats.samples_dropped, 0);
    // At most 2000 samples per request.
    assert!(stats.requests_sent >= 2 * n / 2000, "{stats:?}");

    let theirs = prometheus_series(&prom.url(), r#"{job="apiserver"}"#, t2);
    let ours: BTreeMap<Labels, f64> = second
        .samples
        .iter()
        .map(|(l, s)| (l.clone(), s.v))
        .collect();
    assert_eq!(theirs.len(), ours.len());
    for (l, v) in &ours {
        let got = theirs
            .get(l)
            .unwrap_or_else(|| panic!("{l} missing in prometheus"));
        assert!(same(*v, *got), "{l}: {v} != {got}");
    }
    // The first scrape is there too.
    let earlier = prometheus_series(&prom.url(), r#"{job="apiserver"}"#, t1);
    assert_eq!(earlier.len(), first.samples.len());
    for (l, s) in &first.samples {
        assert!(same(s.v, earlier[l]), "{l}");
    }
}

#[test]
fn queued_while_prometheus_is_down_then_delivered_after_a_restart() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/api/v1/write");
    let t1 = now_ms() - 60_000;
    let first = scrape(t1);
    {
        let writer = RemoteWriter::start(opts(&url, dir.path())).unwrap();
        writer.append(&first).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let s = writer.stats();
        assert!(s.requests_retried > 0, "{s:?}");
        assert_eq!(s.samples_sent, 0);
        assert_eq!(s.samples_pending, first.samples.len() as u64);
        writer.shutdown();
    }
    // A new writer over the same queue: the first scrape is still pending.
    let writer = RemoteWriter::start(opts(&url, dir.path())).unwrap();
    assert_eq!(writer.stats().samples_pending, first.samples.len() as u64);
    let second = scrape(t1 + 15_000);
    writer.append(&second).unwrap();
    let prom = start_prometheus(dir.path(), port);
    assert!(
        writer.flush(Duration::from_secs(60)),
        "{:?}",
        writer.stats()
    );
    let s = writer.stats();
    assert_eq!(
        s.samples_sent,
        (first.samples.len() + second.samples.len()) as u64
    );
    let n = prometheus_series(&prom.url(), r#"{job="apiserver"}[1m]"#, t1 + 15_000);
    assert_eq!(n.len(), first.samples.len());
    assert!(
        n.values().all(|c| *c == 2.0),
        "each series has both samples"
    );
    writer.shutdown();
    // Acknowledged data is not sent again by the next run.
    let writer = RemoteWriter::start(opts(&url, dir.path())).unwrap();
    assert_eq!(writer.stats().samples_pending, 0);
    assert_eq!(writer.stats().queue_bytes, 0);
}

#[test]
fn a_request_prometheus_refuses_is_dropped_without_blocking_the_queue() {
    if !peers_available(&["prometheus"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prom = start_prometheus(dir.path(), free_port());
    let writer =
        RemoteWriter::start(opts(&format!("{}/api/v1/write", prom.url()), dir.path())).unwrap();
    let l = Labels::from_pairs([("__name__", "apilens_test"), ("job", "rw")]);
    let at = |t: i64, v: f64| Batch {
        samples: vec![(l.clone(), Sample { t, v })],
    };
    let t = now_ms() - 60_000;
    writer.append(&at(t, 1.0)).unwrap();
    assert!(writer.flush(Duration::from_secs(30)));
    // Out of order for Prometheus: refused with 400 (the whole request, as Prometheus rolls
    // it back), then the next request goes through.
    writer.append(&at(t - 600_000, 2.0)).unwrap();
    assert!(
        writer.flush(Duration::from_secs(30)),
        "{:?}",
        writer.stats()
    );
    writer.append(&at(t + 15_000, 3.0)).unwrap();
    assert!(
        writer.flush(Duration::from_secs(30)),
        "{:?}",
        writer.stats()
    );
    let s = writer.stats();
    assert_eq!((s.samples_sent, s.samples_dropped), (2, 1), "{s:?}");
    let got = prometheus_series(&prom.url(), "apilens_test", t + 15_000);
    assert_eq!(got.into_values().collect::<Vec<_>>(), [3.0]);
}

/// One request seen by [`Receiver`].
#[derive(Debug, Clone)]
struct Seen {
    headers: Vec<(String, String)>,
    samples: usize,
}

/// A local receiver answering requests with scripted statuses (then 204), decoding each body.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn receiver(script: Vec<(u16, &'static str)>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let req = decode_write_request(&body).unwrap();
            let samples = req.timeseries.iter().map(|t| t.samples.len()).sum();
            log.lock().unwrap().push(Seen { headers, samples });
            let (status, extra) = script.next().unwrap_or((204, ""));
            let text = "x".repeat(300);
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 {status} S\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Receiver { url, seen }
}

fn one(name: &str, t: i64) -> Batch {
    Batch {
        samples: vec![(
            Labels::from_pairs([("__name__", name)]),
            Sample { t, v: 1.0 },
        )],
    }
}

#[test]
fn retries_5xx_and_429_with_retry_after_and_drops_4xx() {
    let r = receiver(vec![(503, ""), (429, "retry-after: 1\r\n"), (400, "")]);
    let dir = tempfile::tempdir().unwrap();
    let writer = RemoteWriter::start(opts(&r.url, dir.path())).unwrap();
    let started = Instant::now();
    writer.append(&one("a", 1)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    // 503 then 429 with Retry-After: 1 s, then accepted.
    assert!(started.elapsed() >= Duration::from_secs(1));
    writer.append(&one("b", 2)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    writer.append(&one("c", 3)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    let s = writer.stats();
    assert_eq!(s.requests_retried, 2);
    assert_eq!((s.samples_sent, s.samples_dropped), (2, 1), "{s:?}");
    let seen = r.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for h in [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ] {
        assert!(seen[0].headers.contains(&(h.0.into(), h.1.into())), "{h:?}");
    }
}

#[test]
fn batches_of_at_most_max_samples_and_the_queue_cap() {
    let r = receiver(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&r.url, dir.path());
    o.max_samples_per_send = 1000;
    let writer = RemoteWriter::start(o).unwrap();
    let batch = scrape(now_ms());
    writer.append(&batch).unwrap();
    assert!(writer.flush(Duration::from_secs(30)));
    let seen = r.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| s.samples <= 1000));
    assert_eq!(
        seen.iter().map(|s| s.samples).sum::<usize>(),
        batch.samples.len()
    );
    drop(writer);

    // Nothing listens: scrapes pile up until the cap drops the oldest.
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts("http://127.0.0.1:1/api/v1/write", dir.path());
    o.max_queue_bytes = 2 << 20;
    o.segment_bytes = 256 << 10;
    let writer = RemoteWriter::start(o).unwrap();
    for i in 0..10 {
        writer.append(&scrape(i * 15_000)).unwrap();
        assert!(writer.stats().queue_bytes <= 2 << 20);
    }
    let s = writer.stats();
    assert!(s.samples_dropped > 0, "{s:?}");
    assert_eq!(
        s.samples_dropped + s.samples_pending,
        10 * batch.samples.len() as u64
    );
    let on_disk: u64 = std::fs::read_dir(dir.path().join("queue"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk <= (2 << 20) + 64, "{on_disk}");
}

#[test]
fn sigv4_headers_on_each_request() {
    let r = receiver(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&r.url, dir.path());
    o.auth = WriteAuth::SigV4(Signer::new(
        "eu-west-1",
        "aps",
        CredentialsChain::fixed(Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("session-token"),
        )),
    ));
    let writer = RemoteWriter::start(o).unwrap();
    writer.append(&one("a", 1)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    let seen = r.seen.lock().unwrap().clone();
    let get = |k: &str| {
        seen[0]
            .headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let auth = get("authorization");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/")
            && auth.contains("/eu-west-1/aps/aws4_request")
            && auth.contains("SignedHeaders=content-encoding;content-type;host;x-amz-date;x-amz-security-token;x-prometheus-remote-write-version"),
        "{auth}"
    );
    assert_eq!(get("x-amz-date").len(), 16);
    assert_eq!(get("x-amz-security-token"), "session-token");
    assert!(!format!("{writer:?}").contains("secret"));
}

#[test]
fn bearer_and_basic_auth_read_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-1\n").unwrap();
    let r = receiver(vec![]);
    let mut o = opts(&r.url, dir.path());
    o.auth = WriteAuth::BearerFile(token.clone());
    let writer = RemoteWriter::start(o).unwrap();
    writer.append(&one("a", 1)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    std::fs::write(&token, "tok-2\n").unwrap();
    writer.append(&one("a", 2)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    drop(writer);
    let seen = r.seen.lock().unwrap().clone();
    assert!(
        seen[0]
            .headers
            .contains(&("authorization".into(), "Bearer tok-1".into()))
    );
    assert!(
        seen[1]
            .headers
            .contains(&("authorization".into(), "Bearer tok-2".into()))
    );

    let r = receiver(vec![]);
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let mut o = RemoteWriteOpts::new(&r.url, dir.path().join("q2"));
    o.auth = WriteAuth::Basic {
        user: "alice".into(),
        password_file: pw,
    };
    let writer = RemoteWriter::start(o).unwrap();
    writer.append(&one("a", 1)).unwrap();
    assert!(writer.flush(Duration::from_secs(10)));
    let seen = r.seen.lock().unwrap().clone();
    // base64("alice:s3cret")
    assert!(
        seen[0]
            .headers
            .contains(&("authorization".into(), "Basic YWxpY2U6czNjcmV0".into()))
    );
}
