//! Every exported query and rule evaluated by a real Prometheus (2.42) over simulator data.
//!
//! Five scenarios of the simulator run for 30 minutes each (the longest that keeps the test under
//! a minute on two cores), scraped every 15 s, one `cluster` label per scenario. The samples are written as OpenMetrics, loaded with `promtool tsdb
//! create-blocks-from openmetrics`, and a `prometheus` on loopback serves them with the exported
//! rule file loaded. The data ends now, so Prometheus evaluates the rules itself:
//!
//! - every panel query of the catalog (the 1.34 alternative and the all-release template) runs
//!   without error and returns series;
//! - every recording and alerting rule evaluates with health `ok`, every recording rule records
//!   series, the alerts each scenario should raise are pending or firing for its cluster, and
//!   none is for `healthy`;
//! - the rules exported for 1.34 alone run at the end of the data, recording ones with series.
//!
//! With `CI` set a missing `prometheus` or `promtool` fails the test.

use apilens_panels::{
    KubeVersion, RenderOpts, RulesOpts, catalog, expr_facts, rule_groups, rules_yaml,
};
use apilens_sim::{ScenarioConfig, Simulator};
use apilens_testkit::{Prometheus, PrometheusOpts, peers_available};
use apilens_textparse::{Entry, Format, Parser};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SCENARIOS: &[&str] = &[
    "healthy",
    "chatty-daemonset",
    "etcd-slow",
    "apf-saturation",
    "webhook-slow",
];
const MINUTES: u64 = 30;
const SCRAPE_S: u64 = 15;
/// Series as OpenMetrics text (name and labels) with their samples, milliseconds and values.
type Dataset = Vec<(String, Vec<(i64, f64)>)>;

const SELECTOR: &str = r#"job="apiserver""#;
/// The selector of the panels that read etcd's own metrics.
const ETCD_SELECTOR: &str = r#"job="etcd""#;

/// Alerts each scenario must raise for its own cluster.
const EXPECTED: &[(&str, &[&str])] = &[
    ("healthy", &[]),
    ("chatty-daemonset", &["ApilensListStorm"]),
    ("etcd-slow", &["ApilensEtcdRequestLatencyHigh"]),
    (
        "apf-saturation",
        &["ApilensAPFRejections", "ApilensThrottled429"],
    ),
    ("webhook-slow", &[]),
];

/// Catalog queries the simulator has no series for, with the reason.
const NOT_SIMULATED: &[(&str, &str, &str)] = &[
    (
        "terminations",
        "aborted",
        "apiserver_request_aborts_total counts handlers that panic after the timeout filter answered; no scenario times out mid-response",
    ),
    (
        "admission-webhook-failures",
        "fail-open",
        "the simulated webhook has failurePolicy Fail: it never fails open",
    ),
    (
        "aggregated-apis-unavailable",
        "unavailable",
        "no scenario takes an aggregated API down (the panel keeps only unavailable ones)",
    ),
];

/// Every metric name a panel or rule reads.
fn wanted_metrics() -> BTreeSet<String> {
    let mut wanted = BTreeSet::from(["kubernetes_build_info".to_owned()]);
    for panel in catalog().panels() {
        for query in &panel.queries {
            for alt in &query.alternatives {
                wanted.extend(alt.metric_names());
            }
        }
    }
    for group in rule_groups(&RulesOpts::default()) {
        for rule in group.rules {
            let facts = expr_facts(&rule.expr)
                .unwrap_or_else(|e| panic!("rule expression does not parse: {e}\n{}", rule.expr));
            wanted.extend(facts.metrics);
        }
    }
    wanted
}

fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// Simulates one scenario as cluster `index`, scraping each replica every 15 s up to `end_ms`,
/// and returns the kept series as (OpenMetrics series text, samples).
///
/// The simulator writes one series per line, `name{labels} value`; the text of a series is
/// looked up per scrape and its OpenMetrics form built only the first time it is seen.
fn simulate(index: usize, scenario: &str, end_ms: i64, wanted: &BTreeSet<String>) -> Dataset {
    let mut config =
        ScenarioConfig::new(scenario, apilens_sim::KubeVersion::parse("1.34").unwrap());
    config.start_unix_ms = end_ms - (MINUTES * 60_000) as i64;
    let mut sim = Simulator::new(config).unwrap();
    let mut out: Dataset = Vec::new();
    // One map per API server replica, and the last one for etcd.
    let mut seen: Vec<HashMap<String, Option<usize>>> = vec![HashMap::new(); sim.replicas() + 1];
    for _ in 0..MINUTES * 60 / SCRAPE_S {
        sim.advance(Duration::from_secs(SCRAPE_S)).unwrap();
        let t = sim.now_unix_ms();
        for (replica, seen) in seen.iter_mut().enumerate() {
            let text = if replica < sim.replicas() {
                sim.render_metrics(replica).unwrap()
            } else {
                sim.render_etcd_metrics()
            };
            let etcd = replica == sim.replicas();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let (id, value) = line
                    .rsplit_once(' ')
                    .unwrap_or_else(|| panic!("{scenario}: not a sample line: {line}"));
                let slot = match seen.get(id) {
                    Some(slot) => *slot,
                    None => {
                        let slot =
                            om_series(id, wanted, scenario, index, replica, etcd).map(|key| {
                                out.push((key, Vec::new()));
                                out.len() - 1
                            });
                        seen.insert(id.to_owned(), slot);
                        slot
                    }
                };
                if let Some(i) = slot {
                    let v: f64 = value
                        .parse()
                        .unwrap_or_else(|_| panic!("{scenario}: bad value in {line}"));
                    out[i].1.push((t, v));
                }
            }
        }
    }
    out
}

/// The OpenMetrics text of a simulated series with job, instance and cluster added, when a
/// panel or rule reads it. Empty label values are dropped, as Prometheus drops them.
fn om_series(
    id: &str,
    wanted: &BTreeSet<String>,
    scenario: &str,
    index: usize,
    replica: usize,
    etcd: bool,
) -> Option<String> {
    let line = format!("{id} 0\n");
    let entry = Parser::new(line.as_bytes(), Format::PrometheusText)
        .next()?
        .unwrap_or_else(|e| panic!("{scenario}: {id}: {e}"));
    let Entry::Series(series) = entry else {
        return None;
    };
    let name = series.name();
    if !wanted.contains(name.as_ref()) {
        return None;
    }
    let mut labels: BTreeMap<String, String> = series
        .labels()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if etcd {
        labels.insert("job".into(), "etcd".into());
        labels.insert("instance".into(), format!("10.0.{index}.100:2379"));
    } else {
        labels.insert("job".into(), "apiserver".into());
        labels.insert(
            "instance".into(),
            format!("10.0.{index}.{}:443", replica + 1),
        );
    }
    labels.insert("cluster".into(), scenario.to_owned());
    let mut key = format!("{name}{{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            key.push(',');
        }
        let _ = write!(key, "{k}=\"{}\"", escape(v));
    }
    key.push('}');
    Some(key)
}

fn openmetrics(series: &mut [(String, Vec<(i64, f64)>)]) -> String {
    // Series of one name must be contiguous: sort by the series text, which starts with it.
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let n: usize = series.iter().map(|(k, s)| (k.len() + 24) * s.len()).sum();
    let mut out = String::with_capacity(n + 16);
    for (key, samples) in series.iter() {
        for (t, v) in samples {
            let _ = writeln!(out, "{key} {v} {}.{:03}", t / 1000, t % 1000);
        }
    }
    out.push_str("# EOF\n");
    out
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// GET `path` from the server on `port`: status and body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept-Encoding: identity\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// Runs a PromQL query through the HTTP API: the result array, or the error Prometheus gave.
fn query(port: u16, path: &str) -> Result<Vec<Value>, String> {
    let (status, body) = get(port, path);
    let json: Value = serde_json::from_str(&body).map_err(|e| format!("{status}: {e}: {body}"))?;
    if json["status"] != "success" {
        return Err(format!(
            "{status} {}: {}",
            json["errorType"].as_str().unwrap_or(""),
            json["error"].as_str().unwrap_or("")
        ));
    }
    Ok(json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Scenario a result series belongs to, by its `cluster` label or its instance address.
fn scenario_of(labels: &Value) -> String {
    if let Some(c) = labels["cluster"].as_str() {
        return c.to_owned();
    }
    labels["instance"]
        .as_str()
        .and_then(|i| i.split('.').nth(2))
        .and_then(|k| k.parse::<usize>().ok())
        .and_then(|k| SCENARIOS.get(k))
        .map_or_else(|| "?".to_owned(), |s| (*s).to_owned())
}

#[test]
fn every_exported_query_and_rule_evaluates_in_prometheus() {
    if !peers_available(&["prometheus", "promtool"]) {
        return;
    }
    let started = Instant::now();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let end_ms = now_ms - now_ms % (SCRAPE_S as i64 * 1000);
    let wanted = wanted_metrics();
    let datasets: Vec<Dataset> = std::thread::scope(|scope| {
        let handles: Vec<_> = SCENARIOS
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let wanted = &wanted;
                scope.spawn(move || simulate(i, s, end_ms, wanted))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Dataset = datasets.into_iter().flatten().collect();
    let n_series = all.len();
    let n_samples: usize = all.iter().map(|(_, s)| s.len()).sum();
    let simulated = started.elapsed();

    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("sim.om");
    std::fs::write(&om, openmetrics(&mut all)).unwrap();
    drop(all);
    let written = started.elapsed();
    let tsdb = dir.path().join("tsdb");
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&om)
        .arg(&tsdb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool create-blocks-from openmetrics failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, rules_yaml(&RulesOpts::default())).unwrap();
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool check rules: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let server = Prometheus::start(&PrometheusOpts {
        config: format!(
            "global:\n  scrape_interval: 15s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n",
            rules.display()
        ),
        tsdb,
        ..PrometheusOpts::new(dir.path())
    });
    let port = server.port();
    let loaded = started.elapsed();

    // (a) Every panel query, for 1.34 and for every release at once, over the last 30 minutes.
    let mut problems = Vec::new();
    let mut evaluated = 0;
    let end_s = end_ms / 1000;
    let range = format!("&start={}&end={end_s}&step=60", end_s - 1800);
    let apiserver_render = RenderOpts::new(SELECTOR, "5m", "1h");
    let etcd_render = RenderOpts::new(ETCD_SELECTOR, "5m", "1h");
    for panel in catalog().panels() {
        let render = if panel.row == apilens_panels::Row::EtcdServer {
            &etcd_render
        } else {
            &apiserver_render
        };
        for q in &panel.queries {
            let mut promql = vec![("all releases", combined(q, render))];
            if let Some(alt) = q.for_version(KubeVersion::minor(1, 34)) {
                promql.push(("1.34", alt.render(render)));
            }
            let exempt = NOT_SIMULATED
                .iter()
                .any(|(p, id, _)| *p == panel.id && *id == q.id);
            for (which, expr) in promql {
                evaluated += 1;
                let path = format!("/api/v1/query_range?query={}{range}", encode(&expr));
                match query(port, &path) {
                    Err(e) => {
                        problems.push(format!("{}/{} ({which}): {e}\n  {expr}", panel.id, q.id))
                    }
                    Ok(r) if r.is_empty() && !exempt => problems.push(format!(
                        "{}/{} ({which}): no data\n  {expr}",
                        panel.id, q.id
                    )),
                    Ok(r) if !r.is_empty() && exempt => problems.push(format!(
                        "{}/{} ({which}) has data now: drop it from NOT_SIMULATED",
                        panel.id, q.id
                    )),
                    Ok(_) => {}
                }
            }
        }
    }

    // (b) Wait until Prometheus has evaluated every group, then a few rounds more (every 1 s) so
    // alerts see the series their recording rules wrote.
    let groups = rule_groups(&RulesOpts::default());
    let n_rules: usize = groups.iter().map(|g| g.rules.len()).sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rules_json = || -> Vec<Value> {
        let (_, body) = get(port, "/api/v1/rules");
        let json: Value = serde_json::from_str(&body).unwrap();
        json["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    loop {
        let groups_json = rules_json();
        let evaluated_once = groups_json.len() == groups.len()
            && groups_json.iter().all(|g| {
                g["lastEvaluation"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001-"))
            });
        if evaluated_once {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not evaluate every rule group: {groups_json:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(4));
    let rule_groups_json = rules_json();
    let mut raised: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen_rules = 0;
    for g in &rule_groups_json {
        for r in g["rules"].as_array().into_iter().flatten() {
            seen_rules += 1;
            let name = r["name"].as_str().unwrap_or("?");
            if r["health"] != "ok" {
                problems.push(format!(
                    "rule {name}: health {} {}",
                    r["health"],
                    r["lastError"].as_str().unwrap_or("")
                ));
            }
            match r["type"].as_str() {
                Some("recording") => {
                    match query(port, &format!("/api/v1/query?query={}", encode(name))) {
                        Ok(v) if v.is_empty() => {
                            problems.push(format!("recording rule {name} records nothing"))
                        }
                        Ok(_) => {}
                        Err(e) => problems.push(format!("recording rule {name}: {e}")),
                    }
                }
                Some("alerting") => {
                    for a in r["alerts"].as_array().into_iter().flatten() {
                        raised
                            .entry(scenario_of(&a["labels"]))
                            .or_default()
                            .insert(name.to_owned());
                    }
                }
                other => problems.push(format!("rule {name}: unexpected type {other:?}")),
            }
        }
    }
    assert_eq!(
        seen_rules, n_rules,
        "prometheus loaded another number of rules"
    );
    // The rules exported for one release (`--kubernetes-version 1.34`) pick that release's
    // alternatives: their expressions run at the end of the data (alerts read the series the
    // loaded rules recorded under the same names) and recording expressions return series.
    let v134 = RulesOpts {
        version: Some(KubeVersion::minor(1, 34)),
        ..RulesOpts::default()
    };
    for rule in rule_groups(&v134).into_iter().flat_map(|g| g.rules) {
        let name = rule
            .record
            .clone()
            .or(rule.alert.clone())
            .unwrap_or_default();
        match query(port, &format!("/api/v1/query?query={}", encode(&rule.expr))) {
            Err(e) => problems.push(format!("1.34 rule {name}: {e}")),
            Ok(v) if v.is_empty() && rule.record.is_some() => {
                problems.push(format!("1.34 recording rule {name} returns nothing"))
            }
            Ok(_) => {}
        }
    }
    for (scenario, alerts) in EXPECTED {
        let got = raised.get(*scenario).cloned().unwrap_or_default();
        for alert in *alerts {
            if !got.contains(*alert) {
                problems.push(format!("{scenario}: {alert} not raised (raised: {got:?})"));
            }
        }
        if *scenario == "healthy" && !got.is_empty() {
            problems.push(format!("healthy raises {got:?}"));
        }
    }
    println!(
        "prometheus: {n_series} series, {n_samples} samples simulated in {:.1} s, written {:.1} s, blocks {:.1} s; {evaluated} panel queries, {n_rules} rules; alerts by scenario: {raised:?}; total {:.1} s",
        simulated.as_secs_f64(),
        written.as_secs_f64(),
        loaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The all-releases template of a query, rendered.
fn combined(q: &apilens_panels::Query, render: &RenderOpts) -> String {
    let alt = apilens_panels::Alternative {
        since: 0,
        until: None,
        template: q.combined_template(),
        labels: Vec::new(),
    };
    alt.render(render)
}
