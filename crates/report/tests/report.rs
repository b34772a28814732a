//! Reports over simulated scenarios: each problem shows in its section's verdict, a healthy
//! cluster shows none, and the text form fits one screen.

use apilens_model::Sample;
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_report::{
    Level, LocalSource, Report, ReportOpts, build_report, render_json, render_markdown, render_text,
};
use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
use apilens_textparse::{Entry, Format, Parser};
use std::time::Duration;

fn ingest(store: &mut MemQueryable, text: &str, job: &str, instance: &str, t: i64) {
    for entry in Parser::new(text.as_bytes(), Format::PrometheusText) {
        if let Entry::Series(series) = entry.expect("simulator output parses") {
            let mut labels = series.to_labels();
            labels.set("job", job);
            labels.set("instance", instance);
            store.append(&labels, Sample { t, v: series.value });
        }
    }
    let mut up = apilens_model::Labels::from_pairs([("__name__", "up")]);
    up.set("job", job);
    up.set("instance", instance);
    store.append(&up, Sample { t, v: 1.0 });
}

/// `minutes` of a scenario scraped every 15 s, as the scraper would store it.
fn simulate(scenario: &str, version: &str, minutes: u64) -> (MemQueryable, i64) {
    let config = ScenarioConfig::new(scenario, KubeVersion::parse(version).unwrap());
    let mut sim = Simulator::new(config).unwrap();
    let mut store = MemQueryable::new();
    for _ in 0..minutes * 4 {
        sim.advance(Duration::from_secs(15)).unwrap();
        let t = sim.now_unix_ms();
        for i in 0..sim.replicas() {
            let text = sim.render_metrics(i).unwrap();
            ingest(
                &mut store,
                &text,
                "apiserver",
                &format!("10.0.0.{}:6443", i + 1),
                t,
            );
        }
        ingest(
            &mut store,
            &sim.render_etcd_metrics(),
            "etcd",
            "10.0.1.1:2379",
            t,
        );
    }
    (store, sim.now_unix_ms())
}

fn report(scenario: &str, version: &str) -> Report {
    let (store, end) = simulate(scenario, version, 35);
    let source = LocalSource::new(Engine::new(EngineOpts::default()), &store, "memory");
    build_report(&source, &ReportOpts::new(end, Duration::from_secs(30 * 60))).unwrap()
}

fn section<'a>(report: &'a Report, title_part: &str) -> &'a apilens_report::Section {
    report
        .sections
        .iter()
        .find(|s| s.title.contains(title_part))
        .unwrap_or_else(|| panic!("no section {title_part}"))
}

#[test]
fn healthy_cluster_reads_ok_everywhere() {
    let report = report("healthy", "1.34");
    let text = render_text(&report);
    assert_eq!(report.level(), Level::Ok, "{text}");
    assert_eq!(report.kubernetes_versions.len(), 1, "{text}");
    assert_eq!(report.query_version.as_deref(), Some("1.34"));
    assert!(
        report.targets.contains(&("apiserver".to_owned(), 2)),
        "{text}"
    );
    for s in &report.sections {
        assert_eq!(s.level, Level::Ok, "{}: {}\n{text}", s.title, s.verdict);
    }
    // The saturation verdict reads the in-flight limit per request kind.
    let inflight = &section(&report, "Saturation").panels[0];
    assert!(
        inflight.headline.contains("of 400 readOnly")
            || inflight.headline.contains("of 200 mutating"),
        "{}",
        inflight.headline
    );
    assert!(text.lines().count() <= 50, "not one screen:\n{text}");
    // No 429 in a healthy cluster reads "none", not "no data": the metric is there.
    let traffic = section(&report, "Traffic");
    let throttled = traffic
        .panels
        .iter()
        .find(|p| p.id == "throttled-429")
        .unwrap();
    assert_eq!(
        (throttled.level, throttled.headline.as_str()),
        (Level::Ok, "none in range")
    );
}

#[test]
fn apf_saturation_is_critical_in_priority_and_fairness() {
    let report = report("apf-saturation", "1.34");
    let text = render_text(&report);
    let apf = section(&report, "Priority and Fairness");
    assert!(apf.level >= Level::Warning, "{text}");
    let rejections = apf
        .panels
        .iter()
        .find(|p| p.id == "apf-rejections")
        .unwrap();
    assert!(rejections.level >= Level::Warning, "{text}");
    assert!(rejections.series[0].peak > 0.01, "{:?}", rejections.series);
    let traffic = section(&report, "Traffic");
    assert!(traffic.level >= Level::Warning, "429s must show: {text}");
    assert!(text.contains("verdict: "), "{text}");
    assert!(text.lines().count() <= 50, "not one screen:\n{text}");
}

#[test]
fn slow_etcd_shows_in_the_etcd_section() {
    let report = report("etcd-slow", "1.34");
    let text = render_text(&report);
    let etcd = section(&report, "etcd");
    assert!(etcd.level >= Level::Warning, "{text}");
    assert!(
        etcd.verdict.contains("etcd request latency")
            || etcd.verdict.contains("Share of API latency"),
        "{}",
        etcd.verdict
    );
}

#[test]
fn markdown_and_json_carry_every_panel() {
    let report = report("chatty-daemonset", "1.31");
    let markdown = render_markdown(&report);
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    let panels: usize = report.sections.iter().map(|s| s.panels.len()).sum();
    assert_eq!(markdown.matches("\n| ").count(), panels + 7, "{markdown}");
    let sections = json["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 7);
    let promql = sections[0]["panels"][0]["promql"][0].as_str().unwrap();
    assert!(
        promql.contains("apiserver_current_inflight_requests"),
        "{promql}"
    );
    // The slowest-calls table names the DaemonSet's unbounded pod LIST first.
    let latency = section(&report, "Latency");
    let slowest = latency
        .panels
        .iter()
        .find(|p| p.id == "slowest-calls")
        .unwrap();
    assert!(!slowest.rows.is_empty(), "{:?}", slowest);
    assert!(
        slowest.rows[0].key.starts_with("LIST"),
        "{:?}",
        slowest.rows
    );
    let labels = &slowest.rows[0].labels;
    assert!(
        labels.contains(&("verb".to_owned(), "LIST".to_owned())),
        "{labels:?}"
    );
    assert!(
        labels.contains(&("resource".to_owned(), "pods".to_owned())),
        "{labels:?}"
    );
}

#[test]
fn an_empty_store_reads_no_data_and_a_tiny_range_is_refused() {
    let store = MemQueryable::new();
    let source = LocalSource::new(Engine::new(EngineOpts::default()), &store, "memory");
    let report = build_report(
        &source,
        &ReportOpts::new(1_767_229_200_000, Duration::from_secs(3600)),
    )
    .unwrap();
    assert_eq!(report.level(), Level::NoData);
    assert!(render_text(&report).contains("Kubernetes version unknown"));
    let err = build_report(&source, &ReportOpts::new(0, Duration::from_secs(5))).unwrap_err();
    assert!(err.to_string().contains("at least 1m"), "{err}");
}
