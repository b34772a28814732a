//! Recording scrapes into a bundle and replaying them.

use std::sync::Arc;
use std::time::Duration;

use apilens_model::is_stale_nan;
use apilens_scrape::{
    Bundle, BundleWriter, Health, HttpOpts, MemorySink, ScrapeLoop, ScrapeOpts, Target,
    replay_targets,
};

use super::{apiserver_fixture, http_server, sample_lines, series_of};

#[tokio::test]
async fn recorded_scrapes_replay_at_their_times_then_go_stale() {
    let fixture = std::fs::read(apiserver_fixture("1.32.0")).unwrap();
    let expected = sample_lines(std::str::from_utf8(&fixture).unwrap());
    let server = http_server::start(fixture.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let mut writer = BundleWriter::create(&out, 15_000).unwrap();
    let mut good = Target::http("apiserver", &server.url("/gzip"), &HttpOpts::default()).unwrap();
    let mut bad =
        Target::http("broken", &server.url("/garbage-404"), &HttpOpts::default()).unwrap();
    let times = [1_700_000_000_000i64, 1_700_000_015_000];
    for t in times {
        let fetched = good
            .fetch(Duration::from_secs(5), 64 << 20)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fetched.body.as_ref(), fixture.as_slice());
        writer.add(&good, t, 3, Ok(&fetched)).unwrap();
        let err = bad
            .fetch(Duration::from_secs(5), 64 << 20)
            .await
            .unwrap_err();
        writer.add(&bad, t, 1, Err(&err)).unwrap();
    }
    assert_eq!(writer.manifest().scrapes.len(), 4);
    assert!(
        BundleWriter::create(&out, 15_000)
            .unwrap_err()
            .to_string()
            .contains("not empty")
    );

    let bundle = Bundle::open(&out).unwrap();
    assert_eq!(bundle.scrapes().count(), 2);
    let latest = bundle.latest_scrapes().unwrap();
    assert_eq!(latest.len(), 1, "one target succeeded");
    assert_eq!(
        Some(&latest[0].0),
        bundle.scrapes().last().map(|(_, p)| p).as_ref()
    );
    let failed = &bundle.manifest().scrapes[1];
    assert!(
        failed.error.as_deref().unwrap().contains("HTTP 404"),
        "{failed:?}"
    );
    let targets = replay_targets(&out, "ignored").unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].instance, server.addr.to_string());

    let sink = Arc::new(MemorySink::new());
    let health = Health::new();
    let opts = ScrapeOpts {
        interval: Duration::from_secs(15),
        ..ScrapeOpts::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let replay = ScrapeLoop::new(
        targets.into_iter().next().unwrap(),
        opts,
        sink.clone(),
        health.clone(),
    );
    tokio::time::timeout(Duration::from_secs(20), replay.run(rx))
        .await
        .unwrap();
    let up = series_of(&sink, "up", "job", "apiserver");
    let ts: Vec<i64> = up[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, [times[0], times[1], times[1] + 15_000]);
    assert!(is_stale_nan(up[0].samples[2].v));
    let scraped = series_of(&sink, "scrape_samples_scraped", "job", "apiserver");
    assert_eq!(scraped[0].samples[0].v, expected as f64);
    assert!(health.snapshot().is_empty());
}

#[test]
fn a_tampered_manifest_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    BundleWriter::create(&out, 1000).unwrap();
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let evil = text.replace(
        "\"scrapes\": []",
        r#""scrapes": [{"file": "../../etc/passwd", "job": "j", "instance": "i", "source": "s", "timestamp_ms": 1, "duration_ms": 1, "content_type": null, "bytes": 1, "error": null}]"#,
    );
    std::fs::write(&manifest, evil).unwrap();
    let err = Bundle::open(&out).unwrap_err().to_string();
    assert!(err.starts_with(&manifest.display().to_string()), "{err}");
    assert!(err.contains("outside the bundle"), "{err}");
    std::fs::write(&manifest, "{").unwrap();
    assert!(
        Bundle::open(&out)
            .unwrap_err()
            .to_string()
            .contains("invalid manifest")
    );
    assert!(replay_targets(&dir.path().join("missing"), "j").is_err());
}

#[test]
fn latest_scrapes_keep_the_newest_success_of_each_target_with_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    BundleWriter::create(&out, 1000).unwrap();
    let scrape = |file: &str, instance: &str, t: i64, content_type: &str, error: &str| {
        std::fs::write(out.join(file), "up 1\n").unwrap();
        format!(
            r#"{{"file": "{file}", "job": "j", "instance": "{instance}", "source": "s", "timestamp_ms": {t}, "duration_ms": 1, "content_type": {content_type}, "bytes": 5, "error": {error}}}"#
        )
    };
    let scrapes = [
        scrape("a2.txt", "a", 2, "null", "null"),
        scrape("a1.txt", "a", 1, "null", "null"),
        scrape("a3.txt", "a", 3, "null", r#""timeout""#),
        scrape(
            "b1.txt",
            "b",
            1,
            r#""application/openmetrics-text; version=1.0.0""#,
            "null",
        ),
    ];
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let listed = format!("\"scrapes\": [{}]", scrapes.join(", "));
    std::fs::write(&manifest, text.replace("\"scrapes\": []", &listed)).unwrap();
    let latest = Bundle::open(&out).unwrap().latest_scrapes().unwrap();
    let got: Vec<(String, apilens_textparse::Format)> = latest
        .into_iter()
        .map(|(p, f)| (p.file_name().unwrap().to_string_lossy().into_owned(), f))
        .collect();
    assert_eq!(
        got,
        [
            (
                "a2.txt".to_owned(),
                apilens_textparse::Format::PrometheusText
            ),
            ("b1.txt".to_owned(), apilens_textparse::Format::OpenMetrics),
        ]
    );

    let empty = dir.path().join("empty");
    BundleWriter::create(&empty, 1000).unwrap();
    let err = Bundle::open(&empty).unwrap().latest_scrapes().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: the bundle holds no successful scrape", empty.display())
    );
}

#[tokio::test]
async fn external_bodies_are_ingested_like_scrapes_at_their_times() {
    let target = Target::external("apiserver", "sim-0:6443", "simulated replica 0");
    assert_eq!(target.source(), "simulated replica 0");
    let sink = Arc::new(MemorySink::new());
    let health = Health::new();
    let mut scrape_loop =
        ScrapeLoop::new(target, ScrapeOpts::default(), sink.clone(), health.clone());
    let body = |text: &str| apilens_scrape::Fetched {
        content_type: None,
        body: bytes::Bytes::from(text.to_owned()),
        timestamp_ms: Some(1_000_000),
    };
    let first = scrape_loop
        .ingest(body("a 1\nb 2\n"), Duration::from_millis(3))
        .await;
    assert!(first.up);
    assert_eq!((first.t, first.samples_scraped), (1_000_000, 2));
    let mut second = body("a 5\n");
    second.timestamp_ms = Some(1_015_000);
    let second = scrape_loop.ingest(second, Duration::from_millis(3)).await;
    assert_eq!(second.stale_markers, 1);
    let a = series_of(&sink, "a", "instance", "sim-0:6443");
    assert_eq!(
        a[0].samples.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(),
        [(1_000_000, 1.0), (1_015_000, 5.0)]
    );
    let b = series_of(&sink, "b", "job", "apiserver");
    assert!(is_stale_nan(b[0].samples[1].v));
    let up = series_of(&sink, "up", "instance", "sim-0:6443");
    assert_eq!(up[0].samples.len(), 2);
    // Nothing to fetch: a loop run over an external target ends at once.
    assert!(scrape_loop.scrape_once().await.finished);
}
