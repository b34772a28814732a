//! The output is valid text format with real names only, consistent histograms, monotonic
//! counters, and it is deterministic.

use crate::common::{fixtures, samples, sim};
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator, scenario_names};
use apilens_textparse::families::{Families, Metric};
use apilens_textparse::{Format, MetricType, Parser};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const VERSIONS: &[&str] = &[
    "1.16", "1.18", "1.20", "1.21", "1.23", "1.24", "1.26", "1.28", "1.29", "1.31", "1.32", "1.34",
    "1.35",
];

/// Family name → (type, label names) as a real scrape declares them.
fn declared(text: &str) -> BTreeMap<String, (MetricType, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (MetricType, BTreeSet<String>)> = BTreeMap::new();
    for family in Families::new(Parser::new(text.as_bytes(), Format::PrometheusText)) {
        let family = family.unwrap_or_else(|e| panic!("does not parse: {e}"));
        let entry = out
            .entry(family.name.clone())
            .or_insert((family.kind, BTreeSet::new()));
        for m in &family.metrics {
            let labels = match m {
                Metric::Sample(s) => &s.labels,
                Metric::Histogram(h) => &h.labels,
                Metric::Summary(s) => &s.labels,
            };
            for l in labels.iter() {
                if l.name != "__name__" {
                    entry.1.insert(l.name.clone());
                }
            }
        }
    }
    out
}

/// Family name → every label name a real scrape writes on it, empty values included (an idle
/// server writes `group=""` where a loaded one writes a group).
fn written(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in Parser::new(text.as_bytes(), Format::PrometheusText) {
        if let Ok(apilens_textparse::Entry::Series(s)) = entry {
            let name = s.name().to_string();
            let names: BTreeSet<String> = s.labels().map(|(n, _)| n.to_string()).collect();
            for suffix in ["", "_bucket", "_sum", "_count"] {
                if let Some(base) = name.strip_suffix(suffix) {
                    out.entry(base.to_string())
                        .or_default()
                        .extend(names.iter().cloned());
                }
            }
        }
    }
    out
}

/// Checks cumulative buckets and `_count` = `+Inf` for every histogram of a scrape.
fn check_histograms(text: &str, what: &str) -> usize {
    let mut n = 0;
    for family in Families::new(Parser::new(text.as_bytes(), Format::PrometheusText)) {
        for m in family.unwrap().metrics {
            if let Metric::Histogram(h) = m {
                n += 1;
                let counts: Vec<f64> = h.buckets.iter().map(|b| b.count).collect();
                assert!(
                    counts.windows(2).all(|w| w[0] <= w[1]),
                    "{what}: buckets not cumulative: {}",
                    h.labels
                );
                let inf = h
                    .buckets
                    .last()
                    .filter(|b| b.le.is_infinite())
                    .map(|b| b.count);
                assert_eq!(
                    inf, h.count,
                    "{what}: _count differs from +Inf bucket: {}",
                    h.labels
                );
                assert!(h.sum.unwrap() >= 0.0, "{what}: negative sum {}", h.labels);
            }
        }
    }
    n
}

#[test]
fn every_version_writes_only_names_and_labels_of_its_real_scrape() {
    let Some(dir) = fixtures() else { return };
    for version in VERSIONS {
        let mut s = sim("apf-saturation", version);
        s.advance(Duration::from_secs(30)).unwrap();
        let text = s.render_metrics(0).unwrap();
        let fixture = dir
            .join("metrics-apiserver")
            .join(s.catalog_source(0).unwrap());
        let real_text = std::fs::read_to_string(&fixture).unwrap();
        let real = declared(&real_text);
        let real_written = written(&real_text);
        let ours = declared(&text);
        assert!(ours.len() >= 12, "{version}: only {} families", ours.len());
        let catalog = apilens_sim::Catalog::apiserver_for(s.replica_version(0).unwrap());
        let derived = |name: &str| catalog.family(name).is_some_and(|f| f.derived.is_some());
        for (name, (kind, labels)) in &ours {
            if derived(name) {
                continue;
            }
            let (real_kind, real_labels) = real
                .get(name)
                .unwrap_or_else(|| panic!("{version}: {name} is not in {}", fixture.display()));
            assert_eq!(kind, real_kind, "{version}: type of {name}");
            let le: BTreeSet<String> = ["le".to_string()].into();
            let ours: BTreeSet<_> = labels.difference(&le).cloned().collect();
            let mut theirs: BTreeSet<_> = real_labels.difference(&le).cloned().collect();
            theirs.extend(real_written.get(name).into_iter().flatten().cloned());
            theirs.remove("le");
            // Empty-valued labels read as absent, so compare the labels we fill: every one must
            // be a label the real server writes on this family.
            assert!(
                ours.is_subset(&theirs),
                "{version}: label names of {name}: {ours:?} vs {theirs:?}"
            );
        }
        // HELP lines are the real ones, byte for byte.
        for line in text.lines().filter(|l| l.starts_with("# HELP ")) {
            let name = line.split(' ').nth(2).unwrap();
            if derived(name) {
                continue;
            }
            assert!(
                real_text.contains(line),
                "{version}: HELP line not in the real scrape: {line}"
            );
        }
        check_histograms(&text, version);
    }
}

#[test]
fn etcd_output_uses_the_real_etcd_names() {
    let Some(dir) = fixtures() else { return };
    for version in ["1.16", "1.24", "1.34"] {
        let mut s = sim("etcd-slow", version);
        s.advance(Duration::from_secs(20)).unwrap();
        let text = s.render_etcd_metrics();
        let fixture = dir.join("metrics-etcd").join(s.etcd_catalog_source());
        let real = declared(&std::fs::read_to_string(&fixture).unwrap());
        let ours = declared(&text);
        assert!(ours.len() >= 15, "{version}: {} etcd families", ours.len());
        for (name, (kind, labels)) in &ours {
            let (real_kind, real_labels) = real
                .get(name)
                .unwrap_or_else(|| panic!("{name} not in {}", fixture.display()));
            assert_eq!(kind, real_kind, "{name}");
            assert!(
                labels.is_subset(real_labels) || labels.iter().all(|l| l == "le"),
                "{name}: {labels:?} vs {real_labels:?}"
            );
        }
        assert!(check_histograms(&text, "etcd") >= 2);
    }
}

#[test]
fn histograms_are_consistent_in_every_scenario() {
    for name in scenario_names() {
        let mut s = sim(name, "1.34");
        s.advance(Duration::from_secs(45)).unwrap();
        for r in 0..s.replicas() {
            let n = check_histograms(&s.render_metrics(r).unwrap(), name);
            assert!(n > 20, "{name}: only {n} histograms");
        }
    }
}

#[test]
fn counters_only_grow_and_gauges_move() {
    for name in ["healthy", "apf-saturation", "upgrade-skew"] {
        let mut s = sim(name, "1.34");
        let mut prev = BTreeMap::new();
        let mut gauge_changes = 0;
        for step in 0..4 {
            s.advance(Duration::from_secs(20)).unwrap();
            let text = s.render_metrics(1).unwrap();
            let mut kinds = BTreeMap::new();
            for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
                let mut it = line.split(' ').skip(2);
                kinds.insert(
                    it.next().unwrap().to_string(),
                    it.next().unwrap().to_string(),
                );
            }
            let now = samples(&text);
            for (series, v) in &now {
                let name_end = series.find('{').unwrap_or(series.len());
                let metric = &series[..name_end];
                let metric = metric.split(' ').next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| metric.strip_suffix(s))
                    .filter(|f| kinds.get(*f).map(String::as_str) == Some("histogram"))
                    .unwrap_or(metric);
                let kind = kinds.get(family).map(String::as_str).unwrap_or("?");
                if let Some(old) = prev.get(series) {
                    if kind == "counter" || kind == "histogram" {
                        assert!(
                            v >= old,
                            "{name} step {step}: {series} went from {old} to {v}"
                        );
                    } else if v != old {
                        gauge_changes += 1;
                    }
                }
            }
            prev = now;
        }
        assert!(
            gauge_changes > 10,
            "{name}: gauges hardly move ({gauge_changes} changes)"
        );
    }
}

#[test]
fn same_seed_same_output_however_time_is_advanced() {
    let config = ScenarioConfig::new("chatty-daemonset", KubeVersion::parse("1.29").unwrap());
    let mut a = Simulator::new(config.clone()).unwrap();
    a.advance(Duration::from_secs(90)).unwrap();
    let mut b = Simulator::new(config.clone()).unwrap();
    b.advance(Duration::from_secs(1)).unwrap();
    b.advance(Duration::from_secs(59)).unwrap();
    b.advance_to(config.start_unix_ms + 90_000).unwrap();
    assert_eq!(a.render_metrics(0).unwrap(), b.render_metrics(0).unwrap());
    assert_eq!(a.render_etcd_metrics(), b.render_etcd_metrics());
    let mut other = config;
    other.seed = 2;
    let mut c = Simulator::new(other).unwrap();
    c.advance(Duration::from_secs(90)).unwrap();
    assert_ne!(a.render_metrics(0).unwrap(), c.render_metrics(0).unwrap());
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let v = KubeVersion::parse("1.34").unwrap();
    let err = Simulator::new(ScenarioConfig::new("nope", v)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown scenario \"nope\", expected one of: healthy, chatty-daemonset, watch-storm, etcd-slow, apf-saturation, webhook-slow, upgrade-skew"
    );
    let mut c = ScenarioConfig::new("upgrade-skew", v);
    c.replicas = 1;
    assert_eq!(
        Simulator::new(c).unwrap_err().to_string(),
        "invalid configuration: scenario upgrade-skew needs at least 2 replicas, got 1"
    );
    let mut c = ScenarioConfig::new("healthy", v);
    c.replicas = 0;
    assert_eq!(
        Simulator::new(c).unwrap_err().to_string(),
        "invalid configuration: replicas must be between 1 and 16, got 0"
    );
    let s = sim("healthy", "1.34");
    assert_eq!(
        s.render_metrics(2).unwrap_err().to_string(),
        "no replica 2: the simulation has 2 replica(s)"
    );
    assert_eq!(
        KubeVersion::parse("1.x").unwrap_err().to_string(),
        "invalid kubernetes version \"1.x\": expected MAJOR.MINOR[.PATCH] such as 1.34 or v1.34.2"
    );
}

/// `promtool check metrics`: exit 0, or 3 with only lint findings the real server's own
/// scrape gets too (names inherited from the real server).
fn promtool_accepts(text: &str, real: &std::path::Path) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |input: &[u8]| {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), report)
    };
    let (code, report) = run(text.as_bytes());
    assert!(
        !report.contains("error"),
        "promtool rejects the syntax: {report}"
    );
    assert!(
        matches!(code, Some(0) | Some(3)),
        "promtool exit {code:?}: {report}"
    );
    if code == Some(3) {
        let (_, real_report) = run(&std::fs::read(real).unwrap());
        for line in report.lines().filter(|l| !l.is_empty()) {
            assert!(
                real_report.contains(line),
                "lint finding not inherited from {}: {line}",
                real.display()
            );
        }
    }
}

#[test]
fn promtool_check_metrics_accepts_the_output() {
    let Some(dir) = fixtures() else { return };
    let have = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is required in CI (Debian package prometheus)"
        );
        eprintln!("note: promtool not found, test skipped");
        return;
    }
    for (scenario, version) in [
        ("chatty-daemonset", "1.34"),
        ("apf-saturation", "1.26"),
        ("webhook-slow", "1.20"),
        ("watch-storm", "1.16"),
    ] {
        let mut s = sim(scenario, version);
        s.advance(Duration::from_secs(30)).unwrap();
        promtool_accepts(
            &s.render_metrics(0).unwrap(),
            &dir.join("metrics-apiserver")
                .join(s.catalog_source(0).unwrap()),
        );
        promtool_accepts(
            &s.render_etcd_metrics(),
            &dir.join("metrics-etcd").join(s.etcd_catalog_source()),
        );
    }
}
