//! The dashboard in a real headless Chromium, driven over WebDriver (chromedriver): the page loads
//! without console errors, every panel shows data for the simulator's scenarios, the banner names
//! the cause, the charts read at a glance (time labels apart, y from zero, binary sizes, a colour
//! scale on every heatmap, readable links), a stopped store opens on its data, and the culprit
//! slot shows what `/api/findings` answers. Screenshots are written as test artifacts.
//!
//! The query API behind the page is this crate's `/api/v1` router over the PromQL engine and an
//! in-memory store filled from the simulator's scrapes.

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_web::{ApiState, api_router, dashboard_router, verdict_router};
use axum::Router;
use serde_json::{Value, json};
use std::collections::BTreeSet;
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
    wanted.insert("up".to_owned());
    let mut mem = MemQueryable::new();
    let steps = minutes * 4;
    for _ in 0..steps {
        sim.advance(Duration::from_secs(15)).unwrap();
        let t = sim.now_unix_ms();
        // Every replica, then etcd (the last one).
        for target in 0..=sim.replicas() {
            let (text, job, instance) = if target < sim.replicas() {
                (
                    sim.render_metrics(target).unwrap(),
                    "apiserver",
                    format!("10.0.0.{}:443", target + 1),
                )
            } else {
                (
                    sim.render_etcd_metrics(),
                    "etcd",
                    "10.0.1.1:2379".to_owned(),
                )
            };
            let mut up = Labels::from_pairs([("__name__", "up")]);
            up.set("job", job);
            up.set("instance", &instance);
            mem.append(&up, Sample { t, v: 1.0 });
            for entry in apilens_textparse::Parser::new(
                text.as_bytes(),
                apilens_textparse::Format::PrometheusText,
            ) {
                if let apilens_textparse::Entry::Series(series) = entry.unwrap() {
                    if !wanted.contains(series.name().as_ref()) {
                        continue;
                    }
                    let mut labels: Labels = series.to_labels();
                    labels.set("job", job);
                    labels.set("instance", &instance);
                    mem.append(&labels, Sample { t, v: series.value });
                }
            }
        }
    }
    mem
}

/// What the findings slot holds in a test: nothing (`/api/findings` answers 404) or a fixed
/// body.
#[derive(Clone, Copy)]
enum Findings {
    Absent,
    Fixed(&'static str),
}

/// A fixed `/api/findings` answer in the shape the page reads.
const FINDINGS: &str = r#"{"findings":[{"severity":"critical","kind":"unbounded-list","title":"log-agent LISTs every pod of the cluster without limit","culprit":{"user":"system:serviceaccount:logging:log-agent","user_agent":"log-agent/2.3.1","priority_level":"workload-low"},"fix":{"yaml":"apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\n","advice":["Paginate the LIST (limit=500).","Serve it from the watch cache (resourceVersion=0)."]}}]}"#;

fn serve(data: MemQueryable, findings: Findings) -> String {
    let state = ApiState::new(
        Arc::new(data),
        Engine::new(EngineOpts::default()),
        apilens_web::PoolOpts::default(),
    );
    let slot = apilens_web::FindingsSlot::new();
    if let Findings::Fixed(body) = findings {
        slot.set(body.to_owned());
    }
    let app: Router = verdict_router(std::sync::Arc::clone(&state.engine))
        .merge(api_router(state))
        .merge(dashboard_router())
        .merge(apilens_web::findings_router(slot));
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

/// Opens `url` and waits until the page has drawn every panel; saves a screenshot named
/// `name` and fails on console errors (the 404 of `/api/findings` where no server answers it
/// excepted: the page reads it as "no culprits").
fn open(driver: &Driver, url: &str, name: &str) {
    driver.call("POST", "/url", Some(json!({"url": url})));
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let loaded = driver.script("return document.body.dataset.loaded || null;");
        if loaded == json!("true") {
            break;
        }
        assert_ne!(
            loaded,
            json!("error"),
            "{name}: the page could not load the catalog"
        );
        assert!(
            Instant::now() < deadline,
            "{name}: the dashboard did not finish loading"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let shot = driver.call("GET", "/screenshot", None);
    let png = base64_decode(shot.as_str().unwrap());
    let path = artifact_dir().join(format!("dashboard-{name}.png"));
    std::fs::write(&path, &png).unwrap();
    eprintln!("screenshot: {}", path.display());
    assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
    // The first screen, as a person sees it on opening the page.
    driver.call(
        "POST",
        "/window/rect",
        Some(json!({"width": 1600, "height": 1000})),
    );
    let shot = driver.call("GET", "/screenshot", None);
    let path = artifact_dir().join(format!("dashboard-{name}-first-screen.png"));
    std::fs::write(&path, base64_decode(shot.as_str().unwrap())).unwrap();
    eprintln!("screenshot: {}", path.display());
    // Two panels up close: a heatmap with its colour scale, and a chart of sizes.
    for panel in ["heatmap-reads", "apiserver-memory"] {
        let found = driver.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": format!("#panel-{panel}")})),
        );
        let Some(id) = found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
        else {
            continue;
        };
        let shot = driver.call("GET", &format!("/element/{id}/screenshot"), None);
        if let Some(png) = shot.as_str() {
            let path = artifact_dir().join(format!("dashboard-{name}-{panel}.png"));
            std::fs::write(&path, base64_decode(png)).unwrap();
            eprintln!("screenshot: {}", path.display());
        }
    }

    let logs = driver.call("POST", "/se/log", Some(json!({"type": "browser"})));
    let errors: Vec<&Value> = logs
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["level"] == "SEVERE")
        .filter(|l| {
            let message = l["message"].as_str().unwrap_or("");
            !(message.contains("/api/findings") && message.contains("404"))
        })
        .collect();
    assert!(errors.is_empty(), "{name}: console errors: {errors:#?}");
}

/// What the page shows, read in the browser: panel states, the banner, the culprit slot, and
/// the facts the glance checks need.
const PAGE_FACTS: &str = r#"
const plots = (window.apilensPlots || []).map((u) => {
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = u.axes[0].font ? u.axes[0].font[0] : "12px system-ui";
  const splits = u.axes[0]._splits || [];
  const labels = u.axes[0]._values || [];
  const xs = splits.map((s) => u.valToPos(s, "x"));
  const widths = labels.map((l) => ctx.measureText(String(l)).width);
  let crowded = null;
  for (let i = 1; i < xs.length; i++) {
    if (labels[i] === null || labels[i - 1] === null) continue;
    if (xs[i] - xs[i - 1] < (widths[i] + widths[i - 1]) / 2 + 4) crowded = [labels[i - 1], labels[i]];
  }
  return { panel: u.apilensPanel, unit: u.apilensUnit, ymin: u.scales.y.min, crowded,
           yLabels: (u.axes[1]._values || []).map(String) };
});
function luminance(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).slice(0, 3).map((c) => {
    const v = Number(c) / 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const bg = luminance(getComputedStyle(document.body).backgroundColor);
const links = [...document.querySelectorAll("a")].map((a) => {
  const l = luminance(getComputedStyle(a).color);
  return { text: a.textContent, contrast: (Math.max(l, bg) + 0.05) / (Math.min(l, bg) + 0.05) };
});
const heatmaps = [...document.querySelectorAll("canvas.heatmap")].map((c) =>
  ({ panel: c.closest("section").id, scale: !!c.parentElement.querySelector(".scale .gradient"),
     text: (c.parentElement.querySelector(".scale") || {}).textContent }));
const verdict = document.getElementById("verdict");
const culprits = document.getElementById("culprits");
const fitted = document.getElementById("fitted");
return JSON.stringify({
  panels: JSON.parse(document.body.dataset.panels),
  verdict: verdict.hidden ? null : verdict.textContent,
  culprits: culprits.hidden ? null : culprits.textContent,
  fitted: fitted.hidden ? null : fitted.textContent,
  range: document.getElementById("range").value,
  plots, links, heatmaps,
});
"#;

/// Loads the dashboard for `scenario` and returns what the page shows.
fn load_dashboard(scenario: &str, findings: Findings) -> Value {
    let end_ms = 1_800_000_000_000;
    let base = serve(simulate(scenario, 20, end_ms), findings);
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path());
    let url = format!("{base}/?range=900&refresh=0&end={}", end_ms / 1000);
    open(&driver, &url, scenario);
    serde_json::from_str(driver.script(PAGE_FACTS).as_str().unwrap()).unwrap()
}

/// The glance checks on one loaded page.
fn assert_reads_at_a_glance(name: &str, page: &Value) {
    let plots = page["plots"].as_array().unwrap();
    assert!(plots.len() > 20, "{name}: only {} charts", plots.len());
    for plot in plots {
        // See: issue 16 (x-axis labels running together, y-axes not from zero).
        assert!(
            plot["crowded"].is_null(),
            "{name}: time labels overlap: {plot}"
        );
        assert_eq!(plot["ymin"], 0.0, "{name}: y-axis not from zero: {plot}");
        if plot["unit"] == "bytes" {
            for label in plot["yLabels"].as_array().unwrap() {
                let text = label.as_str().unwrap();
                assert!(
                    !text.contains('.'),
                    "{name}: size tick {text:?} is not a round binary size: {plot}"
                );
            }
        }
    }
    for link in page["links"].as_array().unwrap() {
        assert!(
            link["contrast"].as_f64().unwrap() >= 4.5,
            "{name}: unreadable link colour: {link}"
        );
    }
    let heatmaps = page["heatmaps"].as_array().unwrap();
    assert!(!heatmaps.is_empty(), "{name}: no heatmap drawn");
    for h in heatmaps {
        assert_eq!(
            h["scale"], true,
            "{name}: heatmap without a colour scale: {h}"
        );
        let text = h["text"].as_str().unwrap_or("");
        assert!(
            text.contains("requests per 15 s step"),
            "{name}: scale reads {text:?}"
        );
    }
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
    for (scenario, findings, cause) in [
        (
            "apf-saturation",
            Findings::Absent,
            "CRITICAL: APF workload-low saturated by LISTs of widgets",
        ),
        (
            "webhook-slow",
            Findings::Fixed(FINDINGS),
            "CRITICAL: webhook validate.policy.acme.example.com p99 above 10 s",
        ),
    ] {
        let page = load_dashboard(scenario, findings);
        for (panel, state) in page["panels"].as_object().unwrap() {
            match state.as_str().unwrap() {
                "ok" => {
                    with_data.insert(panel.clone());
                }
                "empty" => {}
                other => problems.push(format!("{scenario}: {panel} is {other}")),
            }
        }
        // The banner names the cause first. See: issue 16 (a verdict banner with the cause).
        let verdict = page["verdict"].as_str().unwrap_or("");
        assert!(verdict.starts_with(cause), "{scenario}: banner {verdict:?}");
        assert_reads_at_a_glance(scenario, &page);
        // The culprit slot shows what /api/findings answers, and nothing on a 404.
        match findings {
            Findings::Absent => assert!(page["culprits"].is_null(), "{page}"),
            Findings::Fixed(_) => {
                let culprits = page["culprits"].as_str().unwrap_or("");
                assert!(
                    culprits.contains("system:serviceaccount:logging:log-agent")
                        && culprits.contains("priority level workload-low")
                        && culprits.contains("Paginate the LIST (limit=500)."),
                    "{culprits:?}"
                );
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // Panels no scenario fills, with the reason.
    const NOT_SIMULATED: &[(&str, &str)] = &[(
        "aggregated-apis-unavailable",
        "no scenario takes an aggregated API down (the panel keeps only unavailable ones)",
    )];
    let missing: Vec<&str> = apilens_panels::catalog()
        .panels()
        .iter()
        .map(|p| p.id.as_str())
        .filter(|id| !with_data.contains(*id))
        .filter(|id| !NOT_SIMULATED.iter().any(|(p, _)| p == id))
        .collect();
    // apf-saturation rejects (429s are terminations) and webhook-slow fails writes with 500:
    // between them every other panel has data.
    assert!(
        missing.is_empty(),
        "panels without data in every scenario: {missing:?}"
    );
}

/// A store that stopped hours ago opens on its data: the range ends at the newest sample,
/// fits the data it holds, and says so.
///
/// See: issue 16 (a stopped store showed blank panels, "version unknown", "API server all (0)").
#[test]
fn a_stopped_store_opens_on_its_data_and_says_so() {
    if !peers_present() {
        return;
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let end_ms = now_ms - 3 * 3600 * 1000;
    let base = serve(simulate("healthy", 20, end_ms), Findings::Absent);
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start(profile.path());
    open(&driver, &format!("{base}/?refresh=0"), "stopped-store");
    let page: Value = serde_json::from_str(driver.script(PAGE_FACTS).as_str().unwrap()).unwrap();
    let fitted = page["fitted"].as_str().unwrap_or("");
    assert!(
        fitted.contains("the newest data is from") && fitted.contains("h ago"),
        "{page}"
    );
    // 20 minutes of data seen every 5 minutes: a range of 20 to 25 minutes.
    let range: u64 = page["range"].as_str().unwrap().parse().unwrap();
    assert!((1200..=1500).contains(&range), "{page}");
    assert!(
        fitted.contains(&format!("the range fits the {} min of data", range / 60)),
        "{fitted}"
    );
    let version = driver.script("return document.getElementById('version').textContent;");
    assert!(
        version
            .as_str()
            .unwrap_or("")
            .starts_with("Kubernetes v1.34"),
        "{version}"
    );
    let panels = page["panels"].as_object().unwrap();
    assert_eq!(panels["inflight-vs-limit"], "ok", "{page}");
    assert_eq!(panels["slowest-calls"], "ok", "{page}");
    assert!(
        page["verdict"].as_str().unwrap_or("").starts_with("OK"),
        "{page}"
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
