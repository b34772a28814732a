//! The query API of `apilens dashboard` and `apilens query` against hostile requests, through
//! the real binary: deep expressions by GET, POST and a cross-origin form, the warning of a
//! non-loopback listener, and a bad web configuration refused at start-up.
//! See: issue 15 ("No request can crash it").

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn apilens() -> Command {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
}

/// A store of `up` and `m` imported from OpenMetrics, an hour every 15 s.
fn store(dir: &Path) -> std::path::PathBuf {
    let mut om = String::from("# TYPE up gauge\n");
    for k in 0..240 {
        om.push_str(&format!("up{{job=\"a\"}} 1 {}\n", 1_700_000_000 + k * 15));
    }
    om.push_str("# EOF\n");
    let file = dir.join("in.om");
    std::fs::write(&file, om).unwrap();
    let data = dir.join("data");
    let out = apilens()
        .args(["tsdb", "import"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    data
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dashboard(data: &Path) -> Server {
    let addr: SocketAddr = ([127, 0, 0, 1], apilens_testkit::free_port()).into();
    let child = apilens()
        .arg("dashboard")
        .arg("--data-dir")
        .arg(data)
        .args(["--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(60);
    while request(
        addr,
        "GET /-/healthy HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .is_none()
    {
        assert!(Instant::now() < deadline, "dashboard did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn request(addr: SocketAddr, raw: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    s.write_all(raw.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// Only what a query string must escape, as a browser sends it: `(` and `)` stay, so the
/// deepest query fits in hyper's 64 KiB URI limit.
fn encode(q: &str) -> String {
    q.replace('+', "%2B")
}

#[test]
fn deep_expressions_get_400_and_the_process_lives() {
    let dir = tempfile::tempdir().unwrap();
    let data = store(dir.path());
    let server = dashboard(&data);
    let addr = server.addr;
    let queries = [
        vec!["up"; 3000].join("+"),
        format!("{}up{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000)),
    ];
    for q in &queries {
        let q = encode(q);
        let get = request(
            addr,
            &format!("GET /api/v1/query?query={q} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"),
        )
        .expect("an answer to the GET");
        assert!(
            get.starts_with("HTTP/1.1 400"),
            "{}",
            &get[..200.min(get.len())]
        );
        assert!(get.contains("expression nested too deeply"), "{get}");
        let body = format!("query={q}");
        let post = request(
            addr,
            &format!(
                "POST /api/v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .expect("an answer to the POST");
        assert!(
            post.starts_with("HTTP/1.1 400"),
            "{}",
            &post[..200.min(post.len())]
        );
        // The same form posted by a page of another origin, with no preflight.
        let cross = request(
            addr,
            &format!(
                "POST /api/v1/query HTTP/1.1\r\nhost: 127.0.0.1\r\norigin: http://evil.example\r\nsec-fetch-site: cross-site\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
        .expect("an answer to the cross-origin POST");
        assert!(
            cross.starts_with("HTTP/1.1 403"),
            "{}",
            &cross[..200.min(cross.len())]
        );
    }
    let up = request(
        addr,
        "GET /api/v1/query?query=up&time=1700003000 HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
    )
    .expect("still serving");
    assert!(up.contains(r#""job":"a""#), "{up}");
}

#[test]
fn apilens_query_refuses_a_deep_expression_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = store(dir.path());
    let deep = format!("{}up{}", "abs(".repeat(10_000), ")".repeat(10_000));
    let out = apilens()
        .args(["query", &deep, "--time", "1700003000", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expression nested too deeply"), "{stderr}");
    // At the limit it answers.
    let ok = format!("{}up{}", "abs(".repeat(1000), ")".repeat(1000));
    let out = apilens()
        .args(["query", &ok, "--time", "1700003000", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_non_loopback_listener_warns_and_a_bad_web_config_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = store(dir.path());
    let mut child = apilens()
        .arg("dashboard")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", "0.0.0.0:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.contains("dashboard:") && Instant::now() < deadline {
        let n = stderr.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _ = child.kill();
    let _ = child.wait();
    let warning: Vec<&str> = seen.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warning.len(), 1, "{seen}");
    assert!(warning[0].contains("0.0.0.0:0"), "{seen}");
    assert!(warning[0].contains("--web.config.file"), "{seen}");

    let config = dir.path().join("web.yml");
    std::fs::write(
        &config,
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
    )
    .unwrap();
    let out = apilens()
        .arg("dashboard")
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", "127.0.0.1:0", "--web.config.file"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&config.display().to_string()), "{stderr}");
    assert!(stderr.contains("tls_server_config.cert_file"), "{stderr}");
}
