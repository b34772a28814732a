//! Integration tests of the kube crate against a fake HTTPS API server with two replicas.

mod support {
    pub mod fake_apiserver;
}

use std::sync::{Arc, Mutex};

use apilens_kube::{ApfDump, Cluster, ClusterOpts, KubeError};
use bytes::Bytes;
use support::fake_apiserver as fake;

struct Setup {
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
    bad_kubeconfig: std::path::PathBuf,
    replicas: Vec<fake::Replica>,
}

async fn setup() -> Setup {
    let pki = fake::pki();
    let endpoints = Arc::new(Mutex::new(Vec::new()));
    let a = fake::start_replica(
        "127.0.0.1",
        &pki,
        Bytes::from_static(b"up 1\n"),
        Arc::clone(&endpoints),
    )
    .await;
    let b = fake::start_replica(
        "127.0.0.2",
        &pki,
        Bytes::from_static(b"up 2\n"),
        Arc::clone(&endpoints),
    )
    .await;
    *endpoints.lock().unwrap() = vec![a.addr, b.addr];
    let dir = tempfile::tempdir().unwrap();
    // The service URL names `localhost`, the only name in the certificate.
    let server = format!("https://localhost:{}", a.addr.port());
    let kubeconfig = fake::kubeconfig(dir.path(), &server, &pki.ca_pem, fake::TOKEN);
    let bad_dir = dir.path().join("bad");
    std::fs::create_dir(&bad_dir).unwrap();
    let bad_kubeconfig = fake::kubeconfig(&bad_dir, &server, &pki.ca_pem, "wrong-token-abc123");
    Setup {
        _dir: dir,
        kubeconfig,
        bad_kubeconfig,
        replicas: vec![a, b],
    }
}

#[tokio::test]
async fn discovers_every_replica_and_reaches_each_by_ip() {
    let s = setup().await;
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(s.kubeconfig.clone()),
        context: None,
    })
    .await
    .unwrap();
    assert_eq!(cluster.context(), "test");
    let endpoints = cluster.discover().await.unwrap();
    let instances: Vec<String> = endpoints.iter().map(|e| e.instance()).collect();
    assert_eq!(
        instances,
        [
            s.replicas[0].addr.to_string(),
            s.replicas[1].addr.to_string()
        ]
    );
    let mut bodies = Vec::new();
    for endpoint in &endpoints {
        // The certificate has no IP SAN: this only verifies because the replica client checks
        // the name from the kubeconfig while connecting to the IP.
        let replica = cluster.replica(endpoint).unwrap();
        let res = replica.get_ok("/metrics", 1 << 20).await.unwrap();
        bodies.push(String::from_utf8(res.body.to_vec()).unwrap());
    }
    assert_eq!(bodies, ["up 1\n", "up 2\n"]);
    for r in &s.replicas {
        assert_eq!(
            r.metrics_requests.load(std::sync::atomic::Ordering::SeqCst),
            1
        );
    }
}

#[tokio::test]
async fn version_and_apf_dump() {
    let s = setup().await;
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(s.kubeconfig.clone()),
        context: Some("test".to_owned()),
    })
    .await
    .unwrap();
    let version = cluster.server().version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "34")
    );
    let dump = cluster
        .server()
        .apf_dump(ApfDump::PriorityLevels)
        .await
        .unwrap();
    assert!(dump.starts_with("PriorityLevelName, ActiveQueues"));
    let err = cluster
        .server()
        .apf_dump(ApfDump::Queues)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KubeError::Status { status: 404, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_token_is_reported_without_the_token() {
    let s = setup().await;
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(s.bad_kubeconfig.clone()),
        context: None,
    })
    .await
    .unwrap();
    let err = cluster
        .server()
        .get_ok("/metrics", 1 << 20)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("HTTP 401"), "{msg}");
    assert!(msg.contains("unauthorized"), "{msg}");
    assert!(
        msg.contains(&format!("localhost:{}", s.replicas[0].addr.port())),
        "{msg}"
    );
    assert!(!msg.contains("wrong-token-abc123"), "{msg}");
    let err = cluster.discover().await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cannot discover"), "{msg}");
    assert!(!msg.contains("wrong-token-abc123"), "{msg}");
}

#[tokio::test]
async fn body_cap_and_bad_kubeconfig_name_their_input() {
    let s = setup().await;
    let cluster = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(s.kubeconfig.clone()),
        context: None,
    })
    .await
    .unwrap();
    let err = cluster.server().get("/metrics", 3).await.unwrap_err();
    assert!(
        matches!(err, KubeError::BodyTooLarge { limit: 3, .. }),
        "{err}"
    );

    let err = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(s.kubeconfig.clone()),
        context: Some("nope".to_owned()),
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("kubeconfig"), "{err}");
    let missing = s.kubeconfig.with_file_name("missing");
    let err = Cluster::connect(&ClusterOpts {
        kubeconfig: Some(missing.clone()),
        context: None,
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}
