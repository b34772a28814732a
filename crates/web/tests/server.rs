//! The HTTP server as clients meet it: HTTPS and basic auth from an exporter-toolkit web
//! configuration, errors of a bad configuration, 414 for a huge GET, cross-site refusal.
//! See: issue 15 ("Exposure").

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{AccessPolicy, ApiState, PoolOpts, WebConfig, api_router};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn app() -> axum::Router {
    let mut store = MemQueryable::new();
    let labels = Labels::from_pairs([("__name__", "up"), ("job", "apiserver")]);
    for i in 0..=20 {
        store.append(
            &labels,
            Sample {
                t: i * 15_000,
                v: 1.0,
            },
        );
    }
    api_router(ApiState::new(
        Arc::new(store),
        Engine::new(EngineOpts::default()),
        PoolOpts::default(),
    ))
}

/// Serves `app` with `web` on a background runtime; returns the address.
fn start(web: WebConfig, hosts: &[String], origins: &[String]) -> SocketAddr {
    let policy = AccessPolicy::new(&web, hosts, origins).unwrap();
    let app = policy.apply(app());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            apilens_web::serve(listener, app, web.tls.clone(), std::future::pending())
                .await
                .unwrap();
        });
    });
    addr
}

/// Sends raw bytes and returns the whole answer.
fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as `cert.pem`/`key.pem`.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    Pki {
        dir,
        ca_pem: cert.pem(),
    }
}

fn config(dir: &Path, text: &str) -> Result<WebConfig, apilens_web::WebError> {
    let path = dir.join("web.yml");
    std::fs::write(&path, text).unwrap();
    WebConfig::load(&path)
}

#[test]
fn https_and_basic_auth_from_an_exporter_toolkit_file() {
    apilens_model::install_crypto_provider();
    let pki = pki();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    // Relative names are read beside the file, as exporter-toolkit does.
    let web = config(
        pki.dir.path(),
        &format!(
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS12\nbasic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    let addr = start(web, &[], &[]);
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!(
        "https://localhost:{}/api/v1/query?query=up&time=300",
        addr.port()
    );
    let anonymous = client.get(&url).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic");
    let wrong = client
        .get(&url)
        .basic_auth("alice", Some("guess"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let nobody = client
        .get(&url)
        .basic_auth("bob", Some("s3cret"))
        .send()
        .unwrap();
    assert_eq!(nobody.status(), 401);
    for _ in 0..2 {
        let ok = client
            .get(&url)
            .basic_auth("alice", Some("s3cret"))
            .send()
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["x-frame-options"], "deny");
        assert!(ok.text().unwrap().contains(r#""job":"apiserver""#));
    }
    // Plain HTTP to the TLS port gets no answer.
    let plain = raw(
        addr,
        b"GET /api/v1/query?query=up HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    assert!(plain.map_or(true, |a| !a.contains("200 OK")));
}

#[test]
fn a_bad_web_config_names_the_file_and_the_field() {
    let pki = pki();
    let dir = pki.dir.path();
    let file = dir.join("web.yml").display().to_string();
    let cases = [
        (
            "tls_server_config:\n  cert_file: cert.pem\n",
            "tls_server_config.key_file",
        ),
        (
            "tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem\n",
            "nope.pem",
        ),
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS10\n",
            "tls_server_config.min_version",
        ),
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_ca_file",
        ),
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
            "tls_server_config.cipher_suites",
        ),
        (
            "basic_auth_users:\n  alice: plaintext\n",
            "basic_auth_users",
        ),
        (
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  cert_fille: x\n",
            "cert_fille",
        ),
        (
            "http_server_config:\n  headers:\n    Server: apilens\n",
            "http_server_config.headers",
        ),
    ];
    for (text, field) in cases {
        let err = config(dir, text).unwrap_err().to_string();
        assert!(err.contains(&file), "{err}");
        assert!(err.contains(field), "{field}: {err}");
    }
    let missing = WebConfig::load(&dir.join("absent.yml"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("absent.yml"), "{missing}");
    // A good file with a client CA.
    std::fs::copy(dir.join("cert.pem"), dir.join("ca.pem")).unwrap();
    let ok = config(
        dir,
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\n",
    )
    .unwrap();
    assert!(ok.tls.is_some());
}

#[test]
fn a_one_megabyte_get_is_answered_414_and_a_larger_head_431() {
    let addr = start(WebConfig::default(), &[], &[]);
    let mut request = b"GET /api/v1/query?query=".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1 << 20));
    request.extend(b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    let answer = raw(addr, &request).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 414"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    let mut request = b"GET /api/v1/query?query=".to_vec();
    request.extend(std::iter::repeat_n(b'a', 3 << 20));
    request.extend(b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    let answer = raw(addr, &request).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
}

#[test]
fn cross_site_posts_are_refused_and_server_side_clients_pass() {
    let addr = start(
        WebConfig::default(),
        &[],
        &["https://grafana.example.com".into()],
    );
    let deep = format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000));
    let body = format!(
        "query={}",
        form_urlencoded::byte_serialize(deep.as_bytes()).collect::<String>()
    );
    let post = |headers: &str, body: &str| {
        raw(
            addr,
            format!(
                "POST /api/v1/query HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                addr.port(),
                body.len()
            )
            .as_bytes(),
        )
        .unwrap()
    };
    // A form on another site posting without preflight.
    let refused = post(
        "origin: https://evil.example\r\nsec-fetch-site: cross-site\r\n",
        &body,
    );
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(refused.contains("https://evil.example"), "{refused}");
    // Grafana's server-side data source: no Origin, no Sec-Fetch-Site, any Host.
    let grafana = raw(
        addr,
        b"GET /api/v1/query?query=up&time=300 HTTP/1.1\r\nhost: apilens.monitoring.svc:9797\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(grafana.starts_with("HTTP/1.1 200"), "{grafana}");
    // An allowed origin, and the dashboard's own page.
    let allowed = post(
        "origin: https://grafana.example.com\r\nsec-fetch-site: cross-site\r\n",
        "query=up&time=300",
    );
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let own = post(
        &format!(
            "origin: http://127.0.0.1:{}\r\nsec-fetch-site: same-origin\r\n",
            addr.port()
        ),
        "query=up&time=300",
    );
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    // DNS rebinding: the page's own origin, under an attacker's name.
    let rebound = raw(
        addr,
        b"GET /api/v1/query?query=up HTTP/1.1\r\nhost: evil.example:9797\r\nsec-fetch-site: same-origin\r\nconnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
}
