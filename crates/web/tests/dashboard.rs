//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver): the page loads
//! without console errors, every panel shows data for the simulator's scenarios, and a screenshot
//! is written as a test artifact.
//!
//! The query API behind the page is this crate's `/api/v1` router over the PromQL engine and an
//! in-memory store filled from the simulator's scrapes.

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{ApiState, api_router, dashboard_router};
use axum::Router;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1600,5000",
];

/// Simulates `minutes` of one scenario, scraping each replica every 15 s, and keeps the series the
/// catalog reads.
fn simulate(scenario: &str, minutes: u64, end_unix_ms: i64) -> MemQueryable {
    let mut wanted: BTreeSet<String> = BTreeSet::from(["kubernetes_build_info".to_owned()]);
    for panel in apilens_panels::catalog().panels() {
        for query in &panel.queries {
            for alt in &query.alternatives {
                wanted.extend(alt.metric_names());
            }
        }
    }
    let version = apilens_sim::KubeVersion::parse("1.34.0").unwrap();
    let mut config = apilens_sim::ScenarioConfig::new(scenario, version);
    config.start_unix_ms = end_unix_ms - (minutes as i64) * 60_000;
    let mut sim = apilens_sim::Simulator::new(config).unwrap();
    let mut mem = MemQueryable::new();
    let steps = minutes * 4;
    for _ in 0..steps {
        sim.advance(Duration::from_secs(15)).unwrap();
        let t = sim.now_unix_ms();
        for replica in 0..sim.replicas() {
            let text = sim.render_metrics(replica).unwrap();
            let instance = format!("10.0.0.{}:443", replica + 1);
            for entry in apilens_textparse::Parser::new(
                text.as_bytes(),
                apilens_textparse::Format::PrometheusText,
            ) {
                if let apilens_textparse::Entry::Series(series) = entry.unwrap() {
                    if !wanted.contains(series.name().as_ref()) {
                        continue;
                    }
                    let mut labels: Labels = series.to_labels();
                    labels.set("job", "apiserver");
                    labels.set("instance", &instance);
                    mem.append(&labels, Sample { t, v: series.value });
                }
            }
        }
    }
    mem
}

fn serve(data: MemQueryable) -> String {
    let state = ApiState::new(
        Arc::new(data),
        Engine::new(EngineOpts::default()),
        apilens_web::PoolOpts::default(),
    );
    let app: Router = api_router(state).merge(dashboard_router());
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
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

// ---- a minimal WebDriver client -------------------------------------------------------------

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    // Read the head, then exactly Content-Length bytes: chromedriver keeps the connection open.
    let mut response = Vec::new();
    let mut buf = [0u8; 65536];
    let body_start = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "webdriver {method} {path}: connection closed before the response head"
        );
        response.extend_from_slice(&buf[..n]);
        if let Some(pos) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&response[..body_start]).to_ascii_lowercase();
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .map(|v| v.trim().parse::<usize>().unwrap())
    });
    match length {
        Some(length) => {
            while response.len() < body_start + length {
                let n = stream.read(&mut buf).unwrap();
                assert!(
                    n > 0,
                    "webdriver {method} {path}: connection closed mid-body"
                );
                response.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            let _ = stream.read_to_end(&mut response);
        }
    }
    let body = String::from_utf8_lossy(&response[body_start..]).into_owned();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(&body)
    } else {
        body
    };
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}: {body}"))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    fn start(profile: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium().unwrap(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let res = http(port, "POST", "/session", Some(&caps));
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session: {res}"))
            .to_owned();
        Driver {
            child,
            port,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let res = http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        res["value"].clone()
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> Option<String> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

fn peers_present() -> bool {
    let driver = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join("chromedriver").is_file()))
        .unwrap_or(false);
    if driver && chromium().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but chromium / chromium-driver are missing"
    );
    eprintln!("note: chromium or chromedriver missing, skipping the browser test");
    false
}

fn artifact_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Loads the dashboard for `scenario` and returns each panel's state.
fn load_dashboard(scenario: &str) -> HashMap<String, String> {
    let end_ms = 1_800_000_000_000;
    let base = serve(simulate(scenario, 20, end_ms));
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path());
    let url = format!("{base}/?range=900&refresh=0&end={}", end_ms / 1000);
    driver.call("POST", "/url", Some(json!({"url": url})));
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let loaded = driver.script("return document.body.dataset.loaded || null;");
        if loaded == json!("true") {
            break;
        }
        assert_ne!(
            loaded,
            json!("error"),
            "{scenario}: the page could not load the catalog"
        );
        assert!(
            Instant::now() < deadline,
            "{scenario}: the dashboard did not finish loading"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let shot = driver.call("GET", "/screenshot", None);
    let png = base64_decode(shot.as_str().unwrap());
    let path = artifact_dir().join(format!("dashboard-{scenario}.png"));
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
    assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");

    let logs = driver.call("POST", "/se/log", Some(json!({"type": "browser"})));
    let errors: Vec<&Value> = logs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "{scenario}: console errors: {errors:#?}");

    let states = driver.script("return document.body.dataset.panels;");
    serde_json::from_str(states.as_str().unwrap()).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut map = [255u8; 256];
    for (i, c) in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        .iter()
        .enumerate()
    {
        map[*c as usize] = i as u8;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = map[c as usize];
        if v == 255 {
            continue;
        }
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

#[test]
fn every_panel_shows_data_for_the_simulator_scenarios() {
    if !peers_present() {
        return;
    }
    let mut with_data: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    for scenario in ["apf-saturation", "webhook-slow"] {
        for (panel, state) in load_dashboard(scenario) {
            match state.as_str() {
                "ok" => {
                    with_data.insert(panel);
                }
                "empty" => {}
                other => problems.push(format!("{scenario}: {panel} is {other}")),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let missing: Vec<&str> = apilens_panels::catalog()
        .panels()
        .iter()
        .map(|p| p.id.as_str())
        .filter(|id| !with_data.contains(*id))
        .collect();
    // apf-saturation rejects (429s are terminations) and webhook-slow fails writes with 500:
    // between them every panel has data.
    assert!(
        missing.is_empty(),
        "panels without data in every scenario: {missing:?}"
    );
}

#[test]
fn vendored_uplot_matches_its_recorded_hashes() {
    let vendor = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/vendor");
    let record = std::fs::read_to_string(vendor.join("VENDOR.md")).unwrap();
    assert!(record.contains("1.6.32"));
    for file in [
        "uplot/uPlot.iife.min.js",
        "uplot/uPlot.min.css",
        "uplot/LICENSE",
    ] {
        let out = Command::new("sha256sum")
            .arg(vendor.join(file))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let hash = text.split_whitespace().next().unwrap();
        assert!(
            record.contains(hash),
            "{file}: sha256 {hash} is not the one VENDOR.md records"
        );
    }
}
