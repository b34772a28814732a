//! A real etcd server, started on loopback ports with client-certificate TLS, loaded with
//! `etcdctl`, and scraped for real.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apilens_scrape::{Health, HttpOpts, JOB_ETCD, MemorySink, ScrapeLoop, ScrapeOpts, Target};

use super::series_of;

/// Kills the etcd child when the test ends, however it ends.
struct Etcd {
    child: Child,
    client_url: String,
    certs: Certs,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Certs {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn certs(dir: &Path) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "etcd test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let server_key = KeyPair::generate().unwrap();
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "apilens");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client = client_params.signed_by(&client_key, &issuer).unwrap();
    let write = |name: &str, pem: String| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    Certs {
        ca: write("ca.pem", ca.pem()),
        server_cert: write("server.pem", server.pem()),
        server_key: write("server-key.pem", server_key.serialize_pem()),
        client_cert: write("client.pem", client.pem()),
        client_key: write("client-key.pem", client_key.serialize_pem()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `program` runs and answers `arg` (`etcd --version`, `etcdctl version`: etcdctl 3.4
/// has no `--version` flag).
fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts etcd, or returns `None` (with a note) when it is not installed outside CI. In CI a
/// missing etcd fails the test.
fn start_etcd(dir: &Path) -> Option<Etcd> {
    if !have("etcd", "--version") || !have("etcdctl", "version") {
        assert!(
            std::env::var_os("CI").is_none(),
            "etcd and etcdctl are required in CI (Debian packages etcd-server and etcd-client)"
        );
        eprintln!("note: etcd or etcdctl not installed; skipping the real etcd test");
        return None;
    }
    let certs = certs(dir);
    let (client_port, peer_port) = (free_port(), free_port());
    let client_url = format!("https://127.0.0.1:{client_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let log = std::fs::File::create(dir.join("etcd.log")).unwrap();
    let child = Command::new("etcd")
        .args(["--name", "apilens-test"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .args(["--initial-cluster", &format!("apilens-test={peer_url}")])
        .arg("--client-cert-auth")
        .arg("--trusted-ca-file")
        .arg(&certs.ca)
        .arg("--cert-file")
        .arg(&certs.server_cert)
        .arg("--key-file")
        .arg(&certs.server_key)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let etcd = Etcd {
        child,
        client_url,
        certs,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if etcdctl(&etcd, &["endpoint", "health"]).is_ok() {
            return Some(etcd);
        }
        assert!(
            Instant::now() < deadline,
            "etcd did not become healthy in 20 s; log: {}",
            std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn etcdctl(etcd: &Etcd, args: &[&str]) -> Result<String, String> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(&etcd.client_url)
        .arg("--cacert")
        .arg(&etcd.certs.ca)
        .arg("--cert")
        .arg(&etcd.certs.client_cert)
        .arg("--key")
        .arg(&etcd.certs.client_key)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The latest value of the one series of `name` with `label=value` (and, for gRPC counters,
/// which etcd 3.4 pre-creates for every status code, `grpc_code="OK"`).
fn last_value(sink: &MemorySink, name: &str, label: &str, value: &str) -> f64 {
    let found = sink.series(|l| {
        l.metric_name() == Some(name)
            && l.get(label) == Some(value)
            && l.get("job") == Some(JOB_ETCD)
            && l.get("grpc_code").is_none_or(|code| code == "OK")
    });
    assert_eq!(found.len(), 1, "{name}{{{label}={value:?}}}: {found:?}");
    found[0].samples.last().unwrap().v
}

#[tokio::test]
async fn real_etcd_is_scraped_over_client_certificate_tls() {
    let dir = tempfile::tempdir().unwrap();
    // Set-up blocks, which is fine: nothing else runs on this test's runtime yet.
    let Some(etcd) = start_etcd(dir.path()) else {
        return;
    };
    let url = format!("{}/metrics", etcd.client_url);
    let opts = HttpOpts {
        ca_file: Some(etcd.certs.ca.clone()),
        cert_file: Some(etcd.certs.client_cert.clone()),
        key_file: Some(etcd.certs.client_key.clone()),
        ..HttpOpts::default()
    };
    let target = Target::http(JOB_ETCD, &url, &opts).unwrap();
    let sink = Arc::new(MemorySink::new());
    let scrape_opts = ScrapeOpts {
        timeout: Duration::from_secs(5),
        ..ScrapeOpts::default()
    };
    let mut scrape_loop = ScrapeLoop::new(target, scrape_opts, sink.clone(), Health::new());
    let first = scrape_loop.scrape_once().await;
    assert!(first.up, "{:?}", first.error.map(|e| e.to_string()));
    let puts_before = last_value(&sink, "grpc_server_handled_total", "grpc_method", "Put");

    for i in 0..25 {
        etcdctl(
            &etcd,
            &["put", &format!("/apilens/key{i}"), &format!("value{i}")],
        )
        .unwrap();
    }
    let got = etcdctl(&etcd, &["get", "/apilens/key7"]).unwrap();
    assert!(got.contains("value7"), "{got}");

    let second = scrape_loop.scrape_once().await;
    assert!(second.up, "{:?}", second.error.map(|e| e.to_string()));
    assert!(second.samples_scraped > 100);
    let leader = series_of(&sink, "etcd_server_has_leader", "job", JOB_ETCD);
    assert_eq!(leader.len(), 1);
    assert!(leader[0].samples.iter().all(|s| s.v == 1.0));
    let puts_after = last_value(&sink, "grpc_server_handled_total", "grpc_method", "Put");
    assert!(
        puts_after >= puts_before + 25.0,
        "{puts_before} -> {puts_after}"
    );
    let instance = leader[0].labels.get("instance").unwrap();
    assert_eq!(instance, etcd.client_url.trim_start_matches("https://"));

    // Without the client certificate etcd refuses the handshake: the scrape fails, names the
    // target and the other settings stay untouched.
    let no_cert = HttpOpts {
        ca_file: Some(etcd.certs.ca.clone()),
        ..HttpOpts::default()
    };
    let mut target = Target::http(JOB_ETCD, &url, &no_cert).unwrap();
    let err = target
        .fetch(Duration::from_secs(5), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("target etcd {instance}")),
        "{err}"
    );
}
