//! API server replicas through a kubeconfig: discovery, per-replica scrapes of the real
//! fixtures behind a bearer token, and a refused token.

use std::sync::{Arc, Mutex};

use apilens_kube::{Cluster, ClusterOpts};
use apilens_scrape::{
    Health, JOB_APISERVER, MemorySink, ScrapeLoop, ScrapeOpts, api_server_targets,
};
use bytes::Bytes;

use super::{apiserver_fixture, fake_apiserver as fake, sample_lines};

#[tokio::test]
async fn every_replica_is_scraped_with_its_own_instance() {
    let pki = fake::pki();
    let endpoints = Arc::new(Mutex::new(Vec::new()));
    let v134 = std::fs::read(apiserver_fixture("1.34.0")).unwrap();
    let v135 = std::fs::read(apiserver_fixture("1.35.0")).unwrap();
    let expected = [
        sample_lines(std::str::from_utf8(&v134).unwrap()),
        sample_lines(std::str::from_utf8(&v135).unwrap()),
    ];
    let a = fake::start_replica("127.0.0.1", &pki, Bytes::from(v134), Arc::clone(&endpoints)).await;
    let b = fake::start_replica("127.0.0.2", &pki, Bytes::from(v135), Arc::clone(&endpoints)).await;
    *endpoints.lock().unwrap() = vec![a.addr, b.addr];
    let dir = tempfile::tempdir().unwrap();
    let server = format!("https://localhost:{}", a.addr.port());
    let kubeconfig = fake::kubeconfig(dir.path(), &server, &pki.ca_pem, fake::TOKEN);
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(kubeconfig),
        context: None,
    })
    .await
    .unwrap();
    let (targets, warnings) = api_server_targets(&cluster, JOB_APISERVER).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let instances: Vec<_> = targets.iter().map(|t| t.instance.clone()).collect();
    assert_eq!(instances, [a.addr.to_string(), b.addr.to_string()]);

    let sink = Arc::new(MemorySink::new());
    for (target, expected) in targets.into_iter().zip(expected) {
        let mut scrape_loop =
            ScrapeLoop::new(target, ScrapeOpts::default(), sink.clone(), Health::new());
        let report = scrape_loop.scrape_once().await;
        assert!(report.up, "{:?}", report.error.map(|e| e.to_string()));
        assert_eq!(report.samples_scraped, expected);
    }
    let build = sink.series(|l| l.metric_name() == Some("kubernetes_build_info"));
    let versions: Vec<_> = build
        .iter()
        .map(|s| {
            (
                s.labels.get("instance").unwrap().to_owned(),
                s.labels.get("git_version").unwrap().to_owned(),
                s.labels.get("job").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            (
                a.addr.to_string(),
                "v1.34.0".to_owned(),
                "apiserver".to_owned()
            ),
            (
                b.addr.to_string(),
                "v1.35.0".to_owned(),
                "apiserver".to_owned()
            )
        ]
    );
}

#[tokio::test]
async fn a_refused_token_fails_the_scrape_naming_the_target_not_the_token() {
    let pki = fake::pki();
    let endpoints = Arc::new(Mutex::new(Vec::new()));
    let a = fake::start_replica(
        "127.0.0.1",
        &pki,
        Bytes::from_static(b"up 1\n"),
        Arc::clone(&endpoints),
    )
    .await;
    *endpoints.lock().unwrap() = vec![a.addr];
    let dir = tempfile::tempdir().unwrap();
    let server = format!("https://localhost:{}", a.addr.port());
    let kubeconfig = fake::kubeconfig(dir.path(), &server, &pki.ca_pem, "not-the-token-xyz789");
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(kubeconfig),
        context: None,
    })
    .await
    .unwrap();
    // Discovery is refused too, so the service URL is the fallback target.
    let (targets, warnings) = api_server_targets(&cluster, JOB_APISERVER).await;
    assert_eq!(targets.len(), 1);
    assert!(warnings[0].contains("HTTP 401"), "{warnings:?}");
    let sink = Arc::new(MemorySink::new());
    let health = Health::new();
    let mut scrape_loop = ScrapeLoop::new(
        targets.into_iter().next().unwrap(),
        ScrapeOpts::default(),
        sink.clone(),
        health.clone(),
    );
    let report = scrape_loop.scrape_once().await;
    assert!(!report.up);
    let msg = report.error.unwrap().to_string();
    assert!(
        msg.starts_with(&format!("target apiserver localhost:{}", a.addr.port())),
        "{msg}"
    );
    assert!(msg.contains("HTTP 401: unauthorized"), "{msg}");
    assert!(!msg.contains("not-the-token-xyz789"), "{msg}");
    assert!(!format!("{warnings:?}").contains("not-the-token-xyz789"));
    assert_eq!(health.snapshot()[0].health, "down");
}
