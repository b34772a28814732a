//! Reports over simulated scenarios: each problem shows in its section's verdict, a healthy
//! cluster shows none, and the text form fits one screen.

use apilens_model::Sample;
use apilens_promapi::LocalEngine;
use apilens_promql::{Engine, EngineOpts, MemQueryable};
use apilens_report::{
    Level, Report, ReportOpts, build_report, render_json, render_markdown, render_text,
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
    report_over(scenario, version, 35, 30)
}

/// The report over the last `range` minutes of `minutes` simulated.
fn report_over(scenario: &str, version: &str, minutes: u64, range: u64) -> Report {
    let (store, end) = simulate(scenario, version, minutes);
    let source = LocalEngine::new(Engine::new(EngineOpts::default()), &store, "memory");
    build_report(
        &source,
        &ReportOpts::new(end, Duration::from_secs(range * 60)),
    )
    .unwrap()
}

/// The report as JSON, the form a program (and these tests) read.
fn json(report: &Report) -> serde_json::Value {
    serde_json::from_str(&render_json(report)).unwrap()
}

/// The panel `id` of a JSON report.
fn panel<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["panels"].as_array().unwrap())
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no panel {id}"))
}

/// Every line fits 100 columns, and a cut title ends at a word boundary.
fn assert_fits(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}\n{text}",
            line.chars().count()
        );
    }
    let titles: Vec<&str> = apilens_panels::catalog()
        .panels()
        .iter()
        .map(|p| p.title.as_str())
        .collect();
    // Panel lines are "  MM Title…  headline": the title column starts at column 5.
    for line in text.lines().filter(|l| l.starts_with("  ")) {
        let Some((before, _)) = line.split_once('…') else {
            continue;
        };
        let prefix: String = before.chars().skip(5).collect();
        let whole = titles
            .iter()
            .find(|t| t.starts_with(prefix.as_str()))
            .unwrap_or_else(|| panic!("{prefix:?} cut from no title"));
        assert!(
            whole[prefix.len()..].starts_with(' '),
            "{whole:?} cut mid-word at {prefix:?}"
        );
    }
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
    // In-flight requests are read against the server's real seat pool, and the report says so.
    // See: issue 16 (in-flight limits always 400/200 "default").
    let json = json(&report);
    let inflight = panel(&json, "inflight-vs-limit");
    let headline = inflight["headline"].as_str().unwrap();
    assert!(headline.contains("of its 602-seat APF pool"), "{headline}");
    assert!(
        inflight["note"]
            .as_str()
            .is_some_and(|n| n.contains("apiserver_flowcontrol_nominal_limit_seats")),
        "{inflight}"
    );
    assert!(text.lines().count() <= 50, "not one screen:\n{text}");
    assert!(text.starts_with("overall: OK"), "{text}");
    assert_fits(&text);
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
    assert!(text.lines().count() <= 60, "not one screen:\n{text}");
    assert_fits(&text);
    // Top flows take the busiest server's peak: a flow never holds more than a pool.
    // See: issue 16 (734 seats on a 602-seat pool).
    let json = json(&report);
    let flows = panel(&json, "apf-top-flows");
    for row in flows["rows"].as_array().unwrap() {
        let seats = row["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v[0] == "seats")
            .unwrap()[1]
            .as_f64()
            .unwrap();
        assert!(seats <= 602.0, "{row}");
    }
}

#[test]
fn slow_etcd_is_named_from_etcd_s_own_metrics_and_its_share_explains_in_words() {
    let report = report("etcd-slow", "1.34");
    let text = render_text(&report);
    assert!(
        text.starts_with("overall: CRITICAL: etcd slow: WAL fsync p99"),
        "{text}"
    );
    let etcd = section(&report, "etcd server");
    assert_eq!(etcd.level, Level::Critical, "{text}");
    assert!(
        report.sections[0].title.starts_with("etcd server"),
        "the cause's section comes first:\n{text}"
    );
    // See: issue 16 (10,000 objects warned on 30k pods; etcd's share was CRITICAL).
    let json = json(&report);
    let objects = panel(&json, "object-counts");
    assert_eq!(objects["level"], "ok", "{objects}");
    assert!(
        objects["headline"]
            .as_str()
            .unwrap()
            .contains("per node of"),
        "{objects}"
    );
    let share = panel(&json, "etcd-share-of-latency");
    assert_eq!(share["level"], "ok", "{share}");
    assert!(
        share["note"]
            .as_str()
            .unwrap()
            .contains("the slow calls wait on etcd"),
        "{share}"
    );
    assert_fits(&text);
}

#[test]
fn a_steady_watch_storm_is_critical_in_the_watch_section_and_named_first() {
    // See: issue 16 (watch-storm read OK at 65k watches per server and 1.35M events/s).
    let report = report_over("watch-storm", "1.34", 12, 10);
    let text = render_text(&report);
    let watches = section(&report, "WATCH");
    assert_eq!(watches.level, Level::Critical, "{text}");
    assert!(
        text.starts_with("overall: CRITICAL: watch fan-out:"),
        "{text}"
    );
    let json = json(&report);
    let per_server = panel(&json, "watches-per-server");
    assert_eq!(per_server["level"], "warning", "{per_server}");
    assert!(
        per_server["headline"].as_str().unwrap().contains("for 5,0"),
        "thresholds scale with the nodes: {per_server}"
    );
    assert_fits(&text);
}

#[test]
fn a_slow_webhook_is_named_first_with_what_its_histogram_can_say() {
    // See: issue 16 (the webhook came 6th of 6 critical sections, at an interpolated 20.3 s).
    let report = report_over("webhook-slow", "1.34", 20, 15);
    let text = render_text(&report);
    assert!(
        text.starts_with(
            "overall: CRITICAL: webhook validate.policy.acme.example.com p99 above 10 s →"
        ),
        "{text}"
    );
    assert!(
        report.sections[0].title.starts_with("Admission webhooks"),
        "{text}"
    );
    let json = json(&report);
    let webhook = panel(&json, "admission-webhook-latency");
    assert!(
        webhook["note"]
            .as_str()
            .unwrap()
            .contains("interpolated between them"),
        "{webhook}"
    );
    // Something else is flagged, and etcd's share still raises no level.
    assert_eq!(panel(&json, "etcd-share-of-latency")["level"], "ok");
    assert_eq!(
        panel(&json, "admission-webhook-failures")["level"],
        "warning"
    );
    assert_fits(&text);
}

#[test]
fn unbounded_lists_are_the_cause_and_the_slo_view_says_why_it_disagrees() {
    let report = report_over("chatty-daemonset", "1.34", 20, 15);
    let text = render_text(&report);
    assert!(
        text.starts_with("overall: CRITICAL: unbounded LISTs of pods"),
        "{text}"
    );
    assert!(
        json(&report)["overall"]
            .as_str()
            .is_some_and(|o| o.contains("→ API server memory")),
        "{text}"
    );
    // See: issue 16 (SLO table OK at 13.6 s beside slowest calls CRITICAL at 29.5 s).
    let json = json(&report);
    let slo = panel(&json, "slo-view");
    assert!(
        slo["note"]
            .as_str()
            .unwrap()
            .contains("leaves out APF queue wait"),
        "{slo}"
    );
    assert!(text.contains("without them (the SLO view)"), "{text}");
    assert_fits(&text);
}

#[test]
fn markdown_and_json_carry_every_panel() {
    let report = report("chatty-daemonset", "1.31");
    let markdown = render_markdown(&report);
    let json: serde_json::Value = serde_json::from_str(&render_json(&report)).unwrap();
    let panels: usize = report.sections.iter().map(|s| s.panels.len()).sum();
    assert_eq!(markdown.matches("\n| ").count(), panels + 10, "{markdown}");
    assert!(markdown.contains("**Verdict:** CRITICAL: unbounded LISTs of pods"));
    let sections = json["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 10);
    assert!(
        json["overall"]
            .as_str()
            .unwrap()
            .starts_with("CRITICAL: unbounded LISTs of pods"),
        "{}",
        json["overall"]
    );
    assert_eq!(json["cause"]["kind"], "unbounded-lists");
    let saturation = sections.iter().find(|s| s["row"] == "saturation").unwrap();
    let promql = saturation["panels"][0]["promql"][0].as_str().unwrap();
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
    let source = LocalEngine::new(Engine::new(EngineOpts::default()), &store, "memory");
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
