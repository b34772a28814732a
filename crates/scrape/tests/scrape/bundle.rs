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
