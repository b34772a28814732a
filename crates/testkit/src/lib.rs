//! Test support shared by the test suites: a real Prometheus and a real AWS API emulator (moto)
//! started on loopback, the rule for peers that are missing, free ports, a server that gives one
//! fixed answer, a forwarding proxy that injects faults, child processes that stop when dropped,
//! and a snapshot of a directory's files.
//!
//! Only `[dev-dependencies]` use this crate. It depends on nothing but `std`, so it adds no build
//! time.
#![deny(missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod moto;
mod proxy;

pub use crate::moto::Moto;
pub use crate::proxy::{FaultProxy, ProxyAction, ProxyRequest};

/// Every file and directory under `dir` with its bytes (directories with none), to assert that
/// something changed nothing on disk.
///
/// # Panics
///
/// When `dir` cannot be read.
pub fn dir_snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read the directory") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                stack.push(p.clone());
                out.insert(p, Vec::new());
            } else {
                let bytes = std::fs::read(&p).expect("read a file");
                out.insert(p, bytes);
            }
        }
    }
    out
}

/// Whether every program in `programs` runs (`PROGRAM --version`). A missing one fails the
/// calling test when `CI` is set; otherwise it prints a note and the test should return early.
pub fn peers_available(programs: &[&str]) -> bool {
    let checks: Vec<(&str, &[&str])> = programs.iter().map(|p| (*p, &["--version"][..])).collect();
    peers_run(&checks)
}

/// As [`peers_available`], for programs checked with their own arguments (`moto_server -h`):
/// each runs with its arguments and exits with status 0.
pub fn peers_run(checks: &[(&str, &[&str])]) -> bool {
    let missing: Vec<&str> = checks
        .iter()
        .filter(|(program, args)| {
            !Command::new(program)
                .args(*args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(program, _)| *program)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} not installed",
        missing.join(", ")
    );
    println!("note: {} missing; test not run", missing.join(", "));
    false
}

/// A loopback port nobody listens on right now, and never handed out before in this process.
///
/// A peer such as moto takes a second or two to bind the port it was given; without the
/// process-wide record a test running beside it could be given the same port in that time and
/// talk to the other test's peer.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A plain HTTP server on a loopback port, on its own thread, answering every request with
/// `status` (such as `200 OK`), `content_type` and `body`; returns its address.
pub fn serve_fixed(
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    serve_fixed_on(listener, status, content_type, body);
    addr
}

/// [`serve_fixed`] on a listener the caller bound, for a server that must come up on a given
/// address (a target that recovers).
pub fn serve_fixed_on(
    listener: TcpListener,
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
}

/// A child process killed and reaped when dropped.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `ready` holds, checking every 200 ms; panics naming `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The status code of `GET path` on a loopback port, 0 when nothing answers.
pub fn http_status(port: u16, path: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    if stream.read_exact(&mut head).is_err() {
        return 0;
    }
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// How to start a [`Prometheus`].
#[derive(Debug, Clone)]
pub struct PrometheusOpts {
    /// The configuration file's text.
    pub config: String,
    /// The TSDB directory (blocks made by `promtool` may already be there).
    pub tsdb: PathBuf,
    /// The port; a free one when `None`.
    pub port: Option<u16>,
    /// More flags, such as `--web.enable-remote-write-receiver`.
    pub args: Vec<String>,
}

impl PrometheusOpts {
    /// A 15 s scrape interval, no scrape jobs, the TSDB in `dir/prometheus`, retention long
    /// enough for any recorded data.
    pub fn new(dir: &Path) -> Self {
        Self {
            config: "global:\n  scrape_interval: 15s\n".to_owned(),
            tsdb: dir.join("prometheus"),
            port: None,
            args: vec!["--storage.tsdb.retention.time=100y".to_owned()],
        }
    }
}

/// A real Prometheus server (the Debian `prometheus` package) on loopback, stopped on drop.
#[derive(Debug)]
pub struct Prometheus {
    _child: KillOnDrop,
    port: u16,
}

impl Prometheus {
    /// Writes the configuration next to the TSDB, starts Prometheus and waits (up to 60 s) until
    /// `/-/ready` answers 200.
    pub fn start(opts: &PrometheusOpts) -> Prometheus {
        std::fs::create_dir_all(&opts.tsdb).expect("create the Prometheus TSDB directory");
        let config = opts.tsdb.with_extension("yml");
        std::fs::write(&config, &opts.config).expect("write the Prometheus configuration");
        let port = opts.port.unwrap_or_else(free_port);
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", opts.tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(&opts.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let mut child = KillOnDrop(child);
        wait_for(
            &format!("prometheus to be ready on 127.0.0.1:{port}"),
            Duration::from_secs(60),
            || {
                if let Ok(Some(status)) = child.0.try_wait() {
                    panic!("prometheus exited with {status} before it was ready on port {port}");
                }
                http_status(port, "/-/ready") == 200
            },
        );
        // Ready, and still ours: another process on the port would have made it exit.
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("prometheus exited with {status}: port {port} was taken");
        }
        Prometheus {
            _child: child,
            port,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
