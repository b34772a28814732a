//! Differential test against a real Prometheus server (Debian package `prometheus`, 2.42).
//!
//! The same OpenMetrics dataset (kube-apiserver-like series, 2 hours, 15 s scrapes with
//! jittered timestamps so that Prometheus 2's closed and 3's left-open windows select the same
//! samples) is loaded into Prometheus with `promtool tsdb create-blocks-from openmetrics` and
//! into a [`MemQueryable`]. Every `expr` of the reference dashboards (Grafana variables
//! substituted) runs as a range query on both: label sets must be identical and values equal
//! within 1e-9 relative, NaN equal to NaN. With `CI` set a missing `prometheus` fails the test.

use apilens_model::{Labels, Sample};
use apilens_promql::{Engine, EngineOpts, MemQueryable, RemoteAuth, RemoteClient, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T0: i64 = 1_700_000_000_000;

/// Queries whose results differ between Prometheus 2.42 and 3.x by a known rule, with it.
const EXPLAINED: &[(&str, &str)] = &[(
    "sum by (instance)(rate(apiserver_current_inflight_requests{job=~\".*\"}[1m]))",
    "rate over a gauge (every decrease is a counter reset): Prometheus 3 caps the extrapolation \
     to the window start at half an interval before applying the counter zero-point limit, 2.42 \
     after it (promql/functions.go extrapolatedRate)",
)];
const HOURS: i64 = 2;

/// A tiny deterministic generator (xorshift) so the dataset is the same in every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

struct Family {
    name: &'static str,
    kind: &'static str,
    series: Vec<(Labels, Vec<Sample>)>,
}

fn dataset() -> Vec<Family> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let n = (HOURS * 3600 / 15) as usize;
    let instances = ["10.0.0.1:6443", "10.0.0.2:6443"];
    // Scrape times per instance: 15 s apart with up to ±2 s of jitter, never on a whole second.
    let times: Vec<Vec<i64>> = instances
        .iter()
        .map(|_| {
            (0..n)
                .map(|i| T0 + i as i64 * 15_000 + (rng.next() % 4000) as i64 - 2000 + 7)
                .collect()
        })
        .collect();
    let mut families = Vec::new();
    let base = |name: &str, inst: &str| {
        vec![
            ("__name__".to_owned(), name.to_owned()),
            ("job".into(), "apiserver".into()),
            ("instance".into(), inst.to_owned()),
        ]
    };
    // Counters with rates that vary, and a counter reset on one series.
    let mut req = Family {
        name: "apiserver_request",
        kind: "counter",
        series: Vec::new(),
    };
    let mut dur_buckets = Family {
        name: "apiserver_request_duration_seconds",
        kind: "histogram",
        series: Vec::new(),
    };
    let les = [
        "0.005", "0.025", "0.1", "0.25", "0.5", "1", "2.5", "10", "60", "+Inf",
    ];
    for (ii, inst) in instances.iter().enumerate() {
        for verb in ["GET", "LIST", "WATCH", "POST"] {
            for (resource, scope) in [
                ("pods", "namespace"),
                ("nodes", "cluster"),
                ("configmaps", "resource"),
            ] {
                for code in ["200", "429", "500"] {
                    let mut v = 0.0;
                    let speed = 1.0 + rng.unit() * 20.0 * if code == "200" { 10.0 } else { 0.1 };
                    let mut samples = Vec::new();
                    for (i, &t) in times[ii].iter().enumerate() {
                        v += (speed * (1.0 + (i as f64 / 40.0).sin())).round();
                        if verb == "POST" && code == "500" && i == n / 2 {
                            v = 0.0;
                        }
                        samples.push(Sample { t, v });
                    }
                    let mut l = base("apiserver_request_total", inst);
                    l.extend([
                        ("verb".into(), verb.into()),
                        ("resource".into(), resource.into()),
                        ("scope".into(), scope.into()),
                        ("code".into(), code.into()),
                    ]);
                    req.series.push((Labels::from_pairs(l), samples));
                }
                // Histogram: cumulative buckets, sum and count.
                let mut counts = vec![0.0; les.len()];
                let mut sum = 0.0;
                let mut per_le: Vec<Vec<Sample>> = vec![Vec::new(); les.len()];
                let (mut sums, mut cnts) = (Vec::new(), Vec::new());
                for (i, &t) in times[ii].iter().enumerate() {
                    let obs = 5 + (rng.next() % 20) as usize;
                    for _ in 0..obs {
                        let x = rng.unit().powi(3)
                            * if verb == "LIST" { 20.0 } else { 1.5 }
                            * (1.0 + (i as f64 / 100.0).cos().abs());
                        sum += x;
                        for (k, le) in les.iter().enumerate() {
                            let b = if *le == "+Inf" {
                                f64::INFINITY
                            } else {
                                le.parse().unwrap()
                            };
                            if x <= b {
                                counts[k] += 1.0;
                            }
                        }
                    }
                    for k in 0..les.len() {
                        per_le[k].push(Sample { t, v: counts[k] });
                    }
                    sums.push(Sample { t, v: sum });
                    cnts.push(Sample {
                        t,
                        v: counts[les.len() - 1],
                    });
                }
                let extra = |name: &str| {
                    let mut l = base(name, inst);
                    l.extend([
                        ("verb".into(), verb.into()),
                        ("resource".into(), resource.into()),
                        ("scope".into(), scope.into()),
                    ]);
                    l
                };
                for (k, le) in les.iter().enumerate() {
                    let mut l = extra("apiserver_request_duration_seconds_bucket");
                    l.push(("le".into(), (*le).into()));
                    dur_buckets
                        .series
                        .push((Labels::from_pairs(l), per_le[k].clone()));
                }
                dur_buckets.series.push((
                    Labels::from_pairs(extra("apiserver_request_duration_seconds_sum")),
                    sums,
                ));
                dur_buckets.series.push((
                    Labels::from_pairs(extra("apiserver_request_duration_seconds_count")),
                    cnts,
                ));
            }
        }
    }
    families.push(req);
    families.push(dur_buckets);
    // Gauges.
    let mut inflight = Family {
        name: "apiserver_current_inflight_requests",
        kind: "gauge",
        series: Vec::new(),
    };
    let mut mem = Family {
        name: "process_resident_memory_bytes",
        kind: "gauge",
        series: Vec::new(),
    };
    let mut up = Family {
        name: "up",
        kind: "gauge",
        series: Vec::new(),
    };
    for (ii, inst) in instances.iter().enumerate() {
        for kind in ["mutating", "readOnly"] {
            let mut l = base("apiserver_current_inflight_requests", inst);
            l.push(("request_kind".into(), kind.into()));
            let s = times[ii]
                .iter()
                .map(|&t| Sample {
                    t,
                    v: (rng.next() % 200) as f64,
                })
                .collect();
            inflight.series.push((Labels::from_pairs(l), s));
        }
        let s = times[ii]
            .iter()
            .enumerate()
            .map(|(i, &t)| Sample {
                t,
                v: 5e8 + i as f64 * 1e5 + (rng.next() % 1000) as f64,
            })
            .collect();
        mem.series.push((
            Labels::from_pairs(base("process_resident_memory_bytes", inst)),
            s,
        ));
        let s = times[ii].iter().map(|&t| Sample { t, v: 1.0 }).collect();
        up.series.push((Labels::from_pairs(base("up", inst)), s));
    }
    families.extend([inflight, mem, up]);
    families
}

fn openmetrics(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, samples) in &f.series {
            let name = labels.metric_name().unwrap_or_default();
            let rest: Vec<String> = labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| format!("{}=\"{}\"", l.name, l.value))
                .collect();
            for s in samples {
                let _ = writeln!(
                    out,
                    "{name}{{{}}} {} {}.{:03}",
                    rest.join(","),
                    s.v,
                    s.t / 1000,
                    s.t % 1000
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Every `expr` string of the reference dashboards.
fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) if !s.trim().is_empty() => {
                            out.push(s.clone())
                        }
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/anchors/dashboards");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut exprs = Vec::new();
    for p in paths {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(&p).unwrap_or_default(),
        ) {
            walk(&v, &mut exprs);
        }
    }
    let matcher = regex::Regex::new(r#"(\w+)\s*(=~|!~|!=|=)\s*"[^"]*\$[^"]*""#).unwrap();
    let var = regex::Regex::new(r"\$\{?(\w+)(:\w+)?\}?").unwrap();
    let mut out: Vec<String> = exprs
        .into_iter()
        .map(|e| {
            let e = matcher.replace_all(&e, r#"$1=~".*""#);
            var.replace_all(&e, |c: &regex::Captures| match &c[1] {
                "__rate_interval" | "__interval" | "resolution" | "interval" => "1m".to_owned(),
                "period" | "__range" => "1h".to_owned(),
                _ => "1".to_owned(),
            })
            .into_owned()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn equal(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || ((a - b).abs() / a.abs().max(b.abs())) <= 1e-9
}

fn compare(ours: &Value, theirs: &Value) -> Result<(), String> {
    match (ours, theirs) {
        (Value::Matrix(a), Value::Matrix(b)) => {
            let mut b = b.clone();
            b.sort_by(|x, y| x.labels.cmp(&y.labels));
            if a.len() != b.len() {
                let la: Vec<_> = a.iter().take(3).map(|s| s.labels.to_string()).collect();
                let lb: Vec<_> = b.iter().take(3).map(|s| s.labels.to_string()).collect();
                return Err(format!(
                    "{} series vs {}: {la:?} vs {lb:?}",
                    a.len(),
                    b.len()
                ));
            }
            for (x, y) in a.iter().zip(&b) {
                if x.labels != y.labels {
                    return Err(format!("labels {} vs {}", x.labels, y.labels));
                }
                if x.samples.len() != y.samples.len() {
                    return Err(format!(
                        "{}: {} points vs {}",
                        x.labels,
                        x.samples.len(),
                        y.samples.len()
                    ));
                }
                for (p, q) in x.samples.iter().zip(&y.samples) {
                    if p.t != q.t || !equal(p.v, q.v) {
                        return Err(format!(
                            "{} at {}: {} vs {} (t {})",
                            x.labels, p.t, p.v, q.v, q.t
                        ));
                    }
                }
            }
            Ok(())
        }
        _ => Err("result types differ".into()),
    }
}

#[test]
fn dashboard_queries_match_prometheus() {
    if !have("prometheus") || !have("promtool") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but prometheus/promtool are not installed"
        );
        println!("note: prometheus or promtool missing; differential test not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let families = dataset();
    let om = dir.path().join("data.om");
    std::fs::write(&om, openmetrics(&families)).unwrap();
    let tsdb = dir.path().join("tsdb");
    let st = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(
        st.success(),
        "promtool create-blocks-from openmetrics failed"
    );
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", tsdb.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let url = format!("http://127.0.0.1:{port}");
    let client = RemoteClient::new(&url, RemoteAuth::None, Duration::from_secs(60)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.query("1", T0).is_err() {
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready on {url}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut store = MemQueryable::new();
    for f in &families {
        for (l, samples) in &f.series {
            for s in samples {
                store.append(l, *s);
            }
        }
    }
    let engine = Engine::new(EngineOpts::default());
    let (start, end, step) = (T0 + 20 * 60_000, T0 + HOURS * 3_600_000 - 60_000, 60_000);
    let (mut same, mut both_err, mut non_empty) = (0, 0, 0);
    let mut diffs = Vec::new();
    let exprs = dashboard_exprs();
    assert!(
        exprs.len() > 100,
        "expected the reference dashboards' queries, found {}",
        exprs.len()
    );
    for q in &exprs {
        let theirs = client.query_range(q, start, end, step);
        let ours = engine.range_query(&store, q, start, end, step);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => match compare(&a, &b) {
                Ok(()) => {
                    same += 1;
                    if matches!(&a, Value::Matrix(m) if !m.is_empty()) {
                        non_empty += 1;
                    }
                }
                Err(m) => match EXPLAINED.iter().find(|e| e.0 == q) {
                    Some((_, why)) => println!("explained: {q}: {m}: {why}"),
                    None => diffs.push(format!("{q}\n    {m}")),
                },
            },
            (Err(_), Err(_)) => both_err += 1,
            (Ok(_), Err(e)) => diffs.push(format!("{q}\n    only prometheus failed: {e}")),
            (Err(e), Ok(_)) => diffs.push(format!("{q}\n    only apilens failed: {e}")),
        }
    }
    if std::env::var_os("APILENS_PROMQL_BENCH").is_some() {
        bench(&engine, &store, &client, &exprs, (start, end, step));
    }
    println!(
        "differential: {} queries, {same} identical ({non_empty} with data), {both_err} rejected by both, {} differ",
        exprs.len(),
        diffs.len()
    );
    for d in &diffs {
        println!("DIFF {d}");
    }
    assert!(
        non_empty >= 20,
        "too few queries returned data: {non_empty}"
    );
    assert!(
        diffs.is_empty(),
        "{} queries differ from prometheus",
        diffs.len()
    );
}

/// Times every query on both engines (best of 3 range queries each) and prints the per-query
/// and overall ratio; run by `bench/promql.sh`.
fn bench(
    engine: &Engine,
    store: &MemQueryable,
    client: &RemoteClient,
    exprs: &[String],
    (start, end, step): (i64, i64, i64),
) {
    let best = |f: &mut dyn FnMut() -> bool| {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            if !f() {
                return None;
            }
            best = best.min(t.elapsed());
        }
        Some(best)
    };
    let (mut total_ours, mut total_theirs) = (Duration::ZERO, Duration::ZERO);
    println!(
        "{:>10} {:>12} {:>7}  query",
        "apilens", "prometheus", "ratio"
    );
    for q in exprs {
        let ours = best(&mut || engine.range_query(store, q, start, end, step).is_ok());
        let theirs = best(&mut || client.query_range_raw(q, start, end, step).is_ok());
        if let (Some(a), Some(b)) = (ours, theirs) {
            total_ours += a;
            total_theirs += b;
            let ratio = b.as_secs_f64() / a.as_secs_f64().max(1e-9);
            let short: String = q
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(90)
                .collect();
            println!(
                "{:>8.2}ms {:>10.2}ms {:>6.2}x  {short}",
                a.as_secs_f64() * 1e3,
                b.as_secs_f64() * 1e3,
                ratio
            );
        }
    }
    println!(
        "overall: apilens {:.1} ms, prometheus {:.1} ms (HTTP included), prometheus/apilens = {:.2}x",
        total_ours.as_secs_f64() * 1e3,
        total_theirs.as_secs_f64() * 1e3,
        total_theirs.as_secs_f64() / total_ours.as_secs_f64().max(1e-9)
    );
}
