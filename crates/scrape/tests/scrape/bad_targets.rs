//! Misbehaving targets fail with their name and reason and never stop the others.

use std::sync::Arc;
use std::time::Duration;

use apilens_model::is_stale_nan;
use apilens_scrape::{
    Health, HttpOpts, MemorySink, ScrapeError, ScrapeLoop, ScrapeOpts, Scraper, Target,
};

use super::{apiserver_fixture, http_server, sample_lines, series_of};

fn opts() -> ScrapeOpts {
    ScrapeOpts {
        interval: Duration::from_millis(700),
        timeout: Duration::from_millis(500),
        body_limit: 16 << 20,
        sample_limit: 200_000,
        max_retry_after: Duration::from_secs(300),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_are_reported_and_good_ones_keep_going() {
    let fixture = std::fs::read(apiserver_fixture("1.34.0")).unwrap();
    let expected_samples = sample_lines(std::str::from_utf8(&fixture).unwrap());
    let server = http_server::start(fixture).await;
    let paths = [
        "/good",
        "/gzip",
        "/garbage",
        "/truncated",
        "/hang",
        "/huge",
        "/throttle",
    ];
    let targets: Vec<Target> = paths
        .iter()
        .map(|p| Target::http(&p[1..], &server.url(p), &HttpOpts::default()).unwrap())
        .collect();
    let sink = Arc::new(MemorySink::new());
    let health = Health::new();
    let scraper = Scraper::start(targets, opts(), sink.clone(), health.clone());
    // Wait for three scrapes of each good target (parsing is slow in unoptimised test builds).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while (server.hits("/good") < 3 || server.hits("/gzip") < 3)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    scraper.shutdown().await;

    let instance = server.addr.to_string();
    for job in ["good", "gzip"] {
        let up = series_of(&sink, "up", "job", job);
        assert_eq!(up.len(), 1, "{job}");
        assert!(up[0].samples.len() >= 2, "{job}: {:?}", up[0].samples);
        assert!(up[0].samples.iter().all(|s| s.v == 1.0), "{job}");
        let scraped = series_of(&sink, "scrape_samples_scraped", "job", job);
        assert!(
            scraped[0]
                .samples
                .iter()
                .all(|s| s.v == expected_samples as f64),
            "{job}"
        );
        let requests = sink.series(|l| {
            l.metric_name() == Some("apiserver_request_total")
                && l.get("job") == Some(job)
                && l.get("instance") == Some(instance.as_str())
        });
        assert!(requests.len() > 10, "{job}: {}", requests.len());
    }
    assert!(
        server
            .gzip_requests
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 3
    );

    let states = health.snapshot();
    let reason = |job: &str| {
        let h = states.iter().find(|h| h.job == job).unwrap();
        assert_eq!(h.health, "down", "{job}");
        assert!(
            h.last_error.contains(&format!("{job} {instance}")),
            "{}",
            h.last_error
        );
        h.last_error.clone()
    };
    assert!(
        reason("garbage").contains("invalid exposition at 1:"),
        "{}",
        reason("garbage")
    );
    assert!(
        reason("truncated").contains("request failed"),
        "{}",
        reason("truncated")
    );
    assert!(
        reason("hang").contains("within the timeout of 500 ms"),
        "{}",
        reason("hang")
    );
    // Under load the 100 MB stream may hit the timeout before the size cap; both stop it.
    assert!(
        reason("huge").contains("body larger than the limit of 16777216 bytes")
            || reason("huge").contains("within the timeout of 500 ms"),
        "{}",
        reason("huge")
    );
    assert!(
        reason("throttle").contains("HTTP 429"),
        "{}",
        reason("throttle")
    );
    for job in ["garbage", "truncated", "hang", "huge", "throttle"] {
        let up = series_of(&sink, "up", "job", job);
        assert!(!up[0].samples.is_empty(), "{job}");
        assert!(up[0].samples.iter().all(|s| s.v == 0.0), "{job}");
    }
    // Retry-After: 30 holds the throttled target back although the interval passed thrice.
    assert_eq!(server.hits("/throttle"), 1);
    assert!(server.hits("/good") >= 3);
    assert!(states.iter().filter(|h| h.health == "up").count() == 2);
}

#[tokio::test]
async fn vanished_series_and_failed_scrapes_get_staleness_markers() {
    let server = http_server::start(b"x 1\n".to_vec()).await;
    let target = Target::http("changing", &server.url("/changing"), &HttpOpts::default()).unwrap();
    let sink = Arc::new(MemorySink::new());
    let mut scrape_loop = ScrapeLoop::new(target, opts(), sink.clone(), Health::new());
    let first = scrape_loop.scrape_once().await;
    assert!(first.up);
    assert_eq!((first.samples_scraped, first.series_added), (2, 2));
    let second = scrape_loop.scrape_once().await;
    assert!(second.up);
    assert_eq!(second.stale_markers, 1);
    let b = series_of(&sink, "b", "job", "changing");
    assert_eq!(b[0].samples.len(), 2);
    assert_eq!(b[0].samples[0].v, 1.0);
    assert!(is_stale_nan(b[0].samples[1].v));
    assert_eq!(b[0].samples[1].t, second.t);

    scrape_loop.finish().await;
    let a = series_of(&sink, "a", "job", "changing");
    assert!(is_stale_nan(a[0].samples.last().unwrap().v));
    let up = series_of(&sink, "up", "job", "changing");
    assert!(is_stale_nan(up[0].samples.last().unwrap().v));
}

#[tokio::test]
async fn sample_limit_fails_the_scrape_and_marks_the_previous_one_stale() {
    let fixture = std::fs::read(apiserver_fixture("1.35.0")).unwrap();
    let server = http_server::start(fixture).await;
    let target = Target::http("good", &server.url("/good"), &HttpOpts::default()).unwrap();
    let sink = Arc::new(MemorySink::new());
    let mut scrape_loop = ScrapeLoop::new(
        target,
        ScrapeOpts {
            sample_limit: 100,
            ..opts()
        },
        sink.clone(),
        Health::new(),
    );
    let report = scrape_loop.scrape_once().await;
    assert!(!report.up);
    let err = report.error.unwrap();
    assert!(
        matches!(err, ScrapeError::TooManySamples { limit: 100, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("target good {}", server.addr)),
        "{err}"
    );
}

#[tokio::test]
async fn bad_target_specs_are_refused_with_the_target() {
    let err = Target::http("x", "ftp://example.com/metrics", &HttpOpts::default()).unwrap_err();
    assert!(err.to_string().contains("unsupported scheme"), "{err}");
    let err = Target::http(
        "x",
        "https://user:hunter2@example.com/metrics",
        &HttpOpts::default(),
    )
    .unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = Target::http(
        "x",
        "https://127.0.0.1:1/metrics",
        &HttpOpts {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..HttpOpts::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    // Nothing listens on port 1: a connection failure names the target.
    let mut target = Target::http("x", "http://127.0.0.1:1/metrics", &HttpOpts::default()).unwrap();
    let err = target
        .fetch(Duration::from_secs(2), 1024)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("target x 127.0.0.1:1 (http://127.0.0.1:1/metrics): request failed"),
        "{err}"
    );
}

#[tokio::test]
async fn a_100_mb_body_stops_at_the_size_cap() {
    let server = http_server::start(b"x 1\n".to_vec()).await;
    let mut target = Target::http("huge", &server.url("/huge"), &HttpOpts::default()).unwrap();
    let err = target
        .fetch(Duration::from_secs(60), 16 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ScrapeError::BodyTooLarge {
                limit: 16_777_216,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("target huge {}", server.addr)),
        "{err}"
    );
}

/// A target that answers every scrape with HTTP 500 and a body quoting the request's
/// `Authorization` header back, as some proxies' debug pages do.
fn echoing_target() -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut auth = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line.trim_end().to_owned();
                }
            }
            let body = format!(
                "upstream refused\r\n\trequest headers: {auth}\u{7}\n{}",
                "padding ".repeat(100)
            );
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// See: issue 15 ("Secrets"): the body went whole into WARN logs and `/api/v1/targets`.
#[tokio::test]
async fn an_error_body_echoing_the_token_shows_a_short_printable_excerpt_without_it() {
    let addr = echoing_target();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let token = "not-a-jwt-but-a-secret-0123456789";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let target = Target::http(
        "echo",
        &format!("http://{addr}/metrics"),
        &HttpOpts {
            bearer_token_file: Some(token_file),
            ..HttpOpts::default()
        },
    )
    .unwrap();
    let health = Health::new();
    let mut scrape_loop =
        ScrapeLoop::new(target, opts(), Arc::new(MemorySink::new()), health.clone());
    let report = scrape_loop.scrape_once().await;
    let err = report.error.unwrap().to_string();
    assert!(!err.contains(token), "{err}");
    assert!(!err.contains(&token[..12]), "{err}");
    assert!(
        err.contains(
            "HTTP 500: upstream refused request headers: authorization: Bearer <redacted>"
        ),
        "{err}"
    );
    assert!(!err.chars().any(char::is_control), "{err:?}");
    assert!(err.len() < 400, "{err}");
    let last_error = &health.snapshot()[0].last_error;
    assert_eq!(last_error, &err);
}
