//! The simulator's audit log classified by apf through the audit crate finds the requests the
//! simulator's own APF metrics count, level by level.
//!
//! Both sides count the requests received in the window: the metrics count a request when it
//! is dispatched or rejected; the audit scan keeps requests received from a minute before
//! the first simulated second (so a request queued across the start still counts). The log's
//! ResponseComplete of a watch that ended in the window belongs to a watch received 300 to
//! 600 s earlier, whose dispatch fell before the window, and is left out by the same rule; the
//! watch the client opened again is its ResponseStarted, received in the window.

use apilens_apf::KubeVersion;
use apilens_audit::{Filter, FilterSpec, Input, ScanOpts, Top, TopKey, View as _, scan};
use apilens_sim::{ScenarioConfig, Simulator};
use std::collections::BTreeMap;
use std::time::Duration;

/// `dispatched + rejected` per priority level, summed over every replica's `/metrics`.
fn metric_counts(sim: &Simulator) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for r in 0..sim.replicas() {
        let text = sim.render_metrics(r).expect("metrics");
        for line in text.lines() {
            let counted = line.starts_with("apiserver_flowcontrol_dispatched_requests_total{")
                || line.starts_with("apiserver_flowcontrol_rejected_requests_total{");
            if !counted {
                continue;
            }
            let Some(start) = line.find("priority_level=\"") else {
                continue;
            };
            let rest = &line[start + "priority_level=\"".len()..];
            let level = &rest[..rest.find('"').expect("closing quote")];
            let value: f64 = line.rsplit(' ').next().unwrap().parse().expect("value");
            *out.entry(level.to_string()).or_default() += value;
        }
    }
    out
}

/// Requests per priority level as apf classifies the audit log (`audit top --by flow`).
fn audit_counts(
    path: &std::path::Path,
    version: KubeVersion,
    since_ms: i64,
) -> BTreeMap<String, f64> {
    let since = jiff::Timestamp::from_millisecond(since_ms)
        .unwrap()
        .to_string();
    let filter = Filter::new(&FilterSpec {
        since: Some(since),
        ..FilterSpec::default()
    })
    .unwrap();
    let (top, summary) = scan(
        &[Input::Path(path.to_path_buf())],
        &filter,
        &ScanOpts::default(),
        || Top::new(&[TopKey::Flow], usize::MAX, 1_000_000).for_version(version),
    )
    .expect("scan");
    assert_eq!(summary.malformed.count, 0);
    let report = top.finish(&summary);
    assert!(!report.approximate);
    let mut out = BTreeMap::new();
    for row in &report.rows {
        let level = row.key.split('/').next().unwrap().to_string();
        *out.entry(level).or_default() += row.count as f64;
    }
    out
}

/// 429s from APF over every replica.
fn rejections(sim: &Simulator) -> f64 {
    (0..sim.replicas())
        .flat_map(|r| {
            let text = sim.render_metrics(r).expect("metrics");
            text.lines()
                .filter(|l| l.starts_with("apiserver_flowcontrol_rejected_requests_total{"))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .sum()
}

fn compare(scenario: &str, version: &str, secs: u64, rejected: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let version = KubeVersion::parse(version).unwrap();
    let config = ScenarioConfig::new(scenario, version);
    let since_ms = config.start_unix_ms - 60_000;
    assert!(
        secs < 240,
        "watches of the window must all have been received in it"
    );
    let mut sim = Simulator::new(config).unwrap();
    sim.set_audit_sink(Box::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    )));
    sim.advance(Duration::from_secs(secs)).unwrap();
    let metrics = metric_counts(&sim);
    assert_eq!(
        rejections(&sim) > 0.0,
        rejected,
        "{scenario}: APF rejections"
    );
    drop(sim);
    let audit = audit_counts(&path, version, since_ms);
    let levels: std::collections::BTreeSet<&String> = metrics.keys().chain(audit.keys()).collect();
    let mut report = String::new();
    for level in levels {
        let m = metrics.get(level).copied().unwrap_or(0.0);
        let a = audit.get(level).copied().unwrap_or(0.0);
        report.push_str(&format!("{level}: metrics {m} audit {a}\n"));
    }
    println!("{scenario} {version}:\n{report}");
    for (level, m) in &metrics {
        let a = audit.get(level).copied().unwrap_or(0.0);
        assert_eq!(a, *m, "{scenario} {version} level {level}:\n{report}");
    }
    for (level, a) in &audit {
        assert!(
            metrics.contains_key(level) || *a == 0.0,
            "{scenario}: {level} only in the audit log:\n{report}"
        );
    }
}

#[test]
fn chatty_daemonset_levels_agree() {
    compare("chatty-daemonset", "1.34", 60, true);
}

#[test]
fn apf_saturation_levels_agree() {
    compare("apf-saturation", "1.34", 60, true);
}

#[test]
fn healthy_on_an_older_version_levels_agree() {
    compare("healthy", "1.27", 60, false);
}
