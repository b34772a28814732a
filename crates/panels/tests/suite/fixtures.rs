//! Version selection against the real kube-apiserver scrapes of 1.16 … 1.35.

use apilens_panels::{
    EMERGENT_METRICS, Inventory, KubeVersion, RenderOpts, Row, catalog, expr_facts,
};
use apilens_textparse::{Entry, Format, Parser};
use std::path::PathBuf;

/// One real scrape: its version from the file name, its inventory, and the version its
/// `kubernetes_build_info` reports (absent in 1.18.20).
pub(crate) struct Scrape {
    pub(crate) file: String,
    pub(crate) version: KubeVersion,
    pub(crate) build_info: Option<KubeVersion>,
    pub(crate) inventory: Inventory,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver")
}

/// The scrapes, parsed once for all tests.
pub(crate) fn scrapes() -> &'static [Scrape] {
    static SCRAPES: std::sync::LazyLock<Vec<Scrape>> = std::sync::LazyLock::new(load);
    &SCRAPES
}

fn load() -> Vec<Scrape> {
    let dir = fixture_dir();
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("newrelic-nri-kubernetes-apiserver-")
        })
        .collect();
    entries.sort();
    for path in entries {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let version_text = file
            .trim_start_matches("newrelic-nri-kubernetes-apiserver-")
            .split('-')
            .next()
            .unwrap()
            .to_owned();
        let version = KubeVersion::parse(&version_text).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut inventory = Inventory::new();
        let mut build_info = None;
        for entry in Parser::new(&bytes, Format::PrometheusText) {
            let entry = entry.unwrap_or_else(|e| panic!("{file}: {e}"));
            if let Entry::Series(series) = entry {
                let labels = series.to_labels();
                if series.name() == "kubernetes_build_info" {
                    build_info = apilens_panels::version_from_build_info(&labels)
                        .map(KubeVersion::without_patch);
                }
                inventory.add_labels(&labels);
            }
        }
        out.push(Scrape {
            file,
            version,
            build_info,
            inventory,
        });
    }
    assert_eq!(
        out.len(),
        13,
        "expected the 13 real apiserver scrapes in {}",
        dir.display()
    );
    out
}

#[test]
fn build_info_agrees_with_the_file_names() {
    for scrape in scrapes() {
        match scrape.build_info {
            Some(v) => assert_eq!(v, scrape.version.without_patch(), "{}", scrape.file),
            None => assert_eq!(
                scrape.version.without_patch(),
                KubeVersion::minor(1, 18),
                "only 1.18.20 lacks build info: {}",
                scrape.file
            ),
        }
    }
}

/// Selection by version and selection by series pick the same alternative on every real scrape,
/// and every series the chosen alternative reads exists in that scrape (metrics that appear only
/// after their first event excepted).
#[test]
fn version_and_series_selection_agree_and_the_series_exist() {
    let mut checked = 0;
    for scrape in scrapes() {
        // etcd's own panels read etcd's scrapes: see the etcd test below.
        for panel in catalog()
            .panels()
            .iter()
            .filter(|p| p.row != Row::EtcdServer)
        {
            for query in &panel.queries {
                let by_version = query.for_version(scrape.version);
                let by_series = query.for_inventory(&scrape.inventory);
                let what = format!("{} {}/{}", scrape.file, panel.id, query.id);
                let Some(alt) = by_version else {
                    // Not meant for this release: the series-based pick must not find one either,
                    // unless it only needs metrics that appear after their first event.
                    if let Some(found) = by_series {
                        let facts =
                            expr_facts(&found.render(&RenderOpts::new("", "5m", "1h"))).unwrap();
                        assert!(
                            facts
                                .metrics
                                .iter()
                                .all(|m| EMERGENT_METRICS.contains(&m.as_str())),
                            "{what}: no alternative for {} but series selection found {}",
                            scrape.version,
                            found.template
                        );
                    }
                    continue;
                };
                assert_eq!(
                    by_series.map(|a| &a.template),
                    Some(&alt.template),
                    "{what}: series selection differs"
                );
                let facts = expr_facts(&alt.render(&RenderOpts::new("", "5m", "1h"))).unwrap();
                for metric in &facts.metrics {
                    if EMERGENT_METRICS.contains(&metric.as_str()) {
                        continue;
                    }
                    assert!(
                        scrape.inventory.has_metric(metric),
                        "{what}: {metric} missing"
                    );
                }
                for (metric, label) in &facts.matcher_labels {
                    if EMERGENT_METRICS.contains(&metric.as_str())
                        || ["job", "cluster", "instance", "le"].contains(&label.as_str())
                    {
                        continue;
                    }
                    assert!(
                        scrape.inventory.has_label(metric, label),
                        "{what}: {metric} has no label {label}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "only {checked} query/version pairs checked");
}

/// Every series etcd's own panels read exists in each real etcd scrape (3.3 to 3.6, from
/// clusters of 1.16 to 1.35), for the alternative of that cluster's release.
#[test]
fn etcd_server_panels_read_what_real_etcd_exposes() {
    let dir = fixture_dir().join("../metrics-etcd");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(k8s) = file.split("-k8s").nth(1).and_then(|v| v.split('-').next()) else {
            continue;
        };
        let version = KubeVersion::parse(k8s).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut inventory = Inventory::new();
        for entry in Parser::new(&bytes, Format::PrometheusText) {
            if let Entry::Series(series) = entry.unwrap_or_else(|e| panic!("{file}: {e}")) {
                inventory.add_labels(&series.to_labels());
            }
        }
        for panel in catalog().row(Row::EtcdServer) {
            for query in &panel.queries {
                let alt = query
                    .for_version(version)
                    .unwrap_or_else(|| panic!("{file} {}/{}: no alternative", panel.id, query.id));
                for metric in alt.metric_names() {
                    assert!(
                        inventory.has_metric(&metric),
                        "{file} {}/{}: {metric} missing",
                        panel.id,
                        query.id
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 20 * 5,
        "only {checked} etcd query/scrape pairs checked"
    );
}

fn chosen(panel: &str, query: &str, version: KubeVersion) -> String {
    let q = catalog()
        .panel(panel)
        .unwrap()
        .queries
        .iter()
        .find(|q| q.id == query)
        .unwrap();
    q.for_version(version)
        .map(|a| a.template.clone())
        .unwrap_or_default()
}

#[test]
fn apf_metrics_follow_the_renames() {
    let v = |m| KubeVersion::minor(1, m);
    let util = |m| chosen("apf-priority-level-utilisation", "utilisation", v(m));
    assert!(
        util(23).contains("request_concurrency_in_use")
            && util(23).contains("request_concurrency_limit")
    );
    assert!(
        util(31).contains("current_executing_seats") && util(31).contains("current_limit_seats")
    );
    assert!(
        !util(31).contains("request_concurrency_limit"),
        "hidden from 1.31"
    );
    assert!(util(34).contains("current_executing_seats"));
    assert_eq!(util(18), "", "no APF before 1.20");
    let pool = |m| chosen("apf-seats-vs-pool", "pool", v(m));
    assert!(pool(23).contains("request_concurrency_limit"));
    assert!(pool(31).contains("nominal_limit_seats"));
}

#[test]
fn etcd_and_watch_metrics_follow_the_renames() {
    let v = |m| KubeVersion::minor(1, m);
    let etcd = |m| chosen("etcd-latency-by-operation", "p99", v(m));
    assert!(etcd(23).contains("by (le, operation, type)"));
    assert!(etcd(31).contains("by (le, operation, type)"));
    assert!(etcd(34).contains("by (le, operation, group, resource)"));
    let watches = |m| chosen("watches-per-server", "watches", v(m));
    assert!(watches(20).contains("apiserver_longrunning_gauge"));
    assert!(
        watches(24).contains("apiserver_longrunning_requests"),
        "longrunning_gauge is hidden in 1.24"
    );
    let objects = |m| chosen("object-counts", "objects", v(m));
    assert!(objects(16).contains("etcd_object_counts"));
    assert!(objects(31).contains("apiserver_storage_objects"));
    assert!(objects(35).contains("apiserver_resource_objects"));
    let slo = |m| chosen("slo-view", "p99", v(m));
    assert!(slo(22).contains("apiserver_request_duration_seconds_bucket"));
    assert!(slo(24).contains("apiserver_request_slo_duration_seconds_bucket"));
    assert!(slo(31).contains("apiserver_request_sli_duration_seconds_bucket"));
}

#[test]
fn the_newest_releases_have_every_panel() {
    for scrape in scrapes().iter().filter(|s| s.version.minor >= 34) {
        for panel in catalog().panels() {
            for query in &panel.queries {
                assert!(
                    query.for_version(scrape.version).is_some(),
                    "{} {}/{}",
                    scrape.file,
                    panel.id,
                    query.id
                );
            }
        }
    }
}
