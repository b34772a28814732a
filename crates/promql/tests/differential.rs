//! Differential test against a real Prometheus server (Debian package `prometheus`, 2.42).
//!
//! The same OpenMetrics dataset (kube-apiserver-like series, 2 hours, 15 s scrapes with
//! jittered timestamps so that Prometheus 2's closed and 3's left-open windows select the same
//! samples) is loaded into Prometheus with `promtool tsdb create-blocks-from openmetrics` and
//! into the embedded store with `apilens_tsdb::import_openmetrics` (what `apilens tsdb import`
//! runs): both engines read persisted blocks. Every `expr` of the reference dashboards (Grafana
//! variables substituted) runs as a range query on both: label sets must be identical and values
//! equal within 1e-9 relative, NaN equal to NaN. With `CI` set a missing `prometheus` fails the
//! test.
//!
//! With `APILENS_PROMQL_BENCH` set the test also times every query on both engines (see
//! [`bench`]); `bench/promql.sh` runs it.

use apilens_promapi::{RemoteAuth, RemoteClient};
use apilens_promql::{Engine, EngineOpts, Value};
use apilens_testkit::{Prometheus, PrometheusOpts, peers_available};
use apilens_tsdb::{Db, DbOptions, import_openmetrics};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Queries whose results differ between Prometheus 2.42 and 3.x by a known rule, with it.
const EXPLAINED: &[(&str, &str)] = &[(
    "sum by (instance)(rate(apiserver_current_inflight_requests{job=~\".*\"}[1m]))",
    "rate over a gauge (every decrease is a counter reset): Prometheus 3 caps the extrapolation \
     to the window start at half an interval before applying the counter zero-point limit, 2.42 \
     after it (promql/functions.go extrapolatedRate)",
)];
mod dataset;
use dataset::{HOURS, T0, dashboard_exprs, dataset, openmetrics};

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
    if !peers_available(&["prometheus", "promtool"]) {
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
    let server = Prometheus::start(&PrometheusOpts {
        tsdb,
        ..PrometheusOpts::new(dir.path())
    });
    let url = server.url();
    let client = RemoteClient::new(&url, RemoteAuth::None, Duration::from_secs(60)).unwrap();
    let store = Db::open(&dir.path().join("apilens"), DbOptions::default()).unwrap();
    let imported = import_openmetrics(&store, &om).unwrap();
    assert_eq!(
        imported.series,
        families.iter().map(|f| f.series.len()).sum::<usize>()
    );
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
        bench(&engine, &store, &url, &exprs, (start, end, step));
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

/// Prometheus's own execution time of a range query (`stats.timings.execTotalTime` of
/// `stats=all`: queue, preparation, evaluation and sort, without parsing, JSON or HTTP).
fn prometheus_exec_time(
    http: &reqwest::blocking::Client,
    url: &str,
    q: &str,
    (start, end, step): (i64, i64, i64),
) -> Option<Duration> {
    let secs = |t: i64| format!("{}.{:03}", t / 1000, t % 1000);
    let body: serde_json::Value = http
        .get(format!("{url}/api/v1/query_range"))
        .query(&[
            ("query", q.to_owned()),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", secs(step)),
            ("stats", "all".to_owned()),
        ])
        .send()
        .ok()?
        .json()
        .ok()?;
    if body["status"] != "success" {
        return None;
    }
    let t = body["data"]["stats"]["timings"]["execTotalTime"].as_f64()?;
    Some(Duration::from_secs_f64(t))
}

/// Runs of each query per engine after one warm-up run; the median is reported.
const BENCH_RUNS: usize = 7;

/// Times every query on both engines over the same data, each engine reading its own persisted
/// blocks, and prints the per-query and overall ratio; run by `bench/promql.sh`.
///
/// Both sides are in-process engine times of the same stages: apilens is [`Engine::exec`] of a
/// query made by [`Engine::prepare_range`] on the [`Db`] (select, decode, evaluate, sort),
/// Prometheus is its `execTotalTime` from `stats=all` (the same; parsing, which also compiles
/// the matchers' regular expressions, is done in `NewRangeQuery` before it). Neither includes
/// HTTP or JSON. Each query runs once to warm caches, then [`BENCH_RUNS`] times on each engine
/// in turn; the median counts. The overall apilens time with parsing is printed too.
fn bench(engine: &Engine, store: &Db, url: &str, exprs: &[String], range: (i64, i64, i64)) {
    let (start, end, step) = range;
    let http = reqwest::blocking::Client::new();
    let (mut total_ours, mut total_theirs) = (Duration::ZERO, Duration::ZERO);
    let mut total_with_parse = Duration::ZERO;
    let (mut worst, mut worst_q) = (f64::INFINITY, String::new());
    let (mut slower, mut n) = (0, 0);
    let mut heavy = Vec::new();
    println!(
        "{:>10} {:>12} {:>7}  query",
        "apilens", "prometheus", "ratio"
    );
    for q in exprs {
        let ours = || {
            let t = Instant::now();
            let prepared = engine.prepare_range(q, start, end, step).ok()?;
            let parsed = t.elapsed();
            let t = Instant::now();
            engine.exec(store, &prepared).ok()?;
            let exec = t.elapsed();
            Some((exec, parsed + exec))
        };
        let theirs = || prometheus_exec_time(&http, url, q, range);
        // Warm-up, then the runs of both engines alternate so that load from elsewhere on the
        // machine falls on both alike.
        if ours().is_none() || theirs().is_none() {
            continue;
        }
        let (mut a_runs, mut b_runs) = (Vec::new(), Vec::new());
        for _ in 0..BENCH_RUNS {
            a_runs.extend(ours());
            b_runs.extend(theirs());
        }
        if a_runs.len() < BENCH_RUNS || b_runs.len() < BENCH_RUNS {
            continue;
        }
        a_runs.sort();
        b_runs.sort();
        let (a, with_parse) = a_runs[BENCH_RUNS / 2];
        let b = b_runs[BENCH_RUNS / 2];
        total_with_parse += with_parse;
        n += 1;
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
        if ratio < 1.0 {
            slower += 1;
        }
        if ratio < worst {
            worst = ratio;
            worst_q = short.clone();
        }
        if q.contains("histogram_quantile") && q.contains("rate(") && q.contains("_bucket") {
            heavy.push(ratio);
        }
        println!(
            "{:>8.3}ms {:>10.3}ms {:>6.2}x  {short}",
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            ratio
        );
    }
    heavy.sort_by(f64::total_cmp);
    println!(
        "overall: apilens with parsing {:.1} ms, prometheus/apilens = {:.2}x",
        total_with_parse.as_secs_f64() * 1e3,
        total_theirs.as_secs_f64() / total_with_parse.as_secs_f64().max(1e-9)
    );
    println!(
        "overall: {n} queries, apilens {:.1} ms, prometheus {:.1} ms, prometheus/apilens = {:.2}x; \
         apilens slower on {slower}; worst {worst:.2}x ({worst_q})",
        total_ours.as_secs_f64() * 1e3,
        total_theirs.as_secs_f64() * 1e3,
        total_theirs.as_secs_f64() / total_ours.as_secs_f64().max(1e-9)
    );
    if let (Some(lo), Some(hi)) = (heavy.first(), heavy.last()) {
        println!(
            "overall: {} histogram_quantile over rate of _bucket: {lo:.2}x to {hi:.2}x",
            heavy.len()
        );
    }
}
