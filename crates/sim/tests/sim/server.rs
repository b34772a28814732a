//! The HTTP server: one port per replica plus etcd, gzip on request, time moving at `speed`.

use apilens_sim::{KubeVersion, ScenarioConfig, ServeConfig, SimServer, Simulator, Target};
use std::io::Read;
use std::time::Duration;

async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    gzip: bool,
) -> (String, Option<String>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let enc = if gzip {
        "Accept-Encoding: gzip\r\n"
    } else {
        ""
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{enc}Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let encoding = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-encoding: ")
            .map(str::to_string)
    });
    (head, encoding, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + n]);
        b = &b[line_end + 4 + n..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_each_replica_and_etcd_with_gzip_and_moving_time() {
    let sim = Simulator::new(ScenarioConfig::new(
        "apf-saturation",
        KubeVersion::parse("1.34").unwrap(),
    ))
    .unwrap();
    let server = SimServer::bind(
        sim,
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            speed: 60.0,
        },
    )
    .await
    .unwrap();
    let addrs = server.addresses();
    assert_eq!(
        addrs.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [Target::Apiserver(0), Target::Apiserver(1), Target::Etcd]
    );
    assert!(addrs.iter().all(|(_, a)| a.ip().is_loopback()));
    let listing = server.describe();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 4, "{listing}");
    assert_eq!(
        lines[0],
        "apilens sim: scenario apf-saturation, Kubernetes 1.34, 2 replica(s), speed 60x, seed 1 (SIMULATED data)"
    );
    for (line, (target, addr)) in lines[1..].iter().zip(&addrs) {
        let what = match target {
            Target::Apiserver(i) => format!("kube-apiserver replica {i}"),
            Target::Etcd => "etcd".to_owned(),
        };
        let url = format!("  {what}: http://{addr}/metrics  (names from ");
        assert!(
            line.starts_with(&url) && line.ends_with(".txt)"),
            "{listing}"
        );
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    // A moment of wall time is a few simulated seconds at 60x.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (head, enc, body) = get(addrs[0].1, "/metrics", false).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert_eq!(enc, None);
    let first = String::from_utf8(body).unwrap();
    assert!(first.contains("# TYPE apiserver_request_total counter"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, enc, body) = get(addrs[1].1, "/metrics", true).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    let count = |t: &str| -> f64 {
        crate::common::total(&crate::common::samples(t), &["apiserver_request_total{"])
    };
    // At 60x, 1.5 s of wall time is 90 simulated seconds: replica 1 has served far more than
    // replica 0 had at the first scrape.
    assert!(
        count(&text) > count(&first) + 1_000.0,
        "{} vs {}",
        count(&text),
        count(&first)
    );
    let (_, _, etcd) = get(addrs[2].1, "/metrics", false).await;
    assert!(
        String::from_utf8(etcd)
            .unwrap()
            .contains("etcd_disk_wal_fsync_duration_seconds_bucket")
    );
    let (head, _, _) = get(addrs[0].1, "/nope", false).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn bad_speed_and_busy_port_are_clear_errors() {
    let config = ScenarioConfig::new("healthy", KubeVersion::parse("1.34").unwrap());
    let err = SimServer::bind(
        Simulator::new(config.clone()).unwrap(),
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            speed: 0.0,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: speed must be above 0 and at most 100000, got 0"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = SimServer::bind(
        Simulator::new(config).unwrap(),
        ServeConfig {
            listen: addr,
            speed: 1.0,
        },
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot listen on {addr}: ")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_limit_ends_at_the_limit_without_a_shutdown() {
    let config = ScenarioConfig::new("healthy", KubeVersion::parse("1.34").unwrap());
    let listen = "127.0.0.1:0".parse().unwrap();
    let server = SimServer::bind(
        Simulator::new(config).unwrap(),
        ServeConfig { listen, speed: 1.0 },
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let limit = Some(Duration::from_millis(300));
    let run = server.run_for(limit, std::future::pending::<()>());
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the limit ends the run")
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}
