//! The embedded catalog is exactly what the generator extracts from the real scrapes.

use crate::common::fixtures;
use apilens_sim::{Catalog, Component, embedded_catalog_files, generate_catalog};
use std::collections::BTreeMap;
use std::path::Path;

/// (catalog file, fixture file, component version, kubernetes version for etcd)
type Found = Vec<(
    String,
    std::path::PathBuf,
    String,
    Option<String>,
    Component,
)>;

fn fixture_catalogs(dir: &Path) -> Found {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir.join("metrics-apiserver")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // newrelic-nri-kubernetes-apiserver-1.34.0-minikube.txt
        let Some(v) = name
            .strip_prefix("newrelic-nri-kubernetes-apiserver-")
            .and_then(|r| r.strip_suffix("-minikube.txt"))
        else {
            continue;
        };
        out.push((
            format!("apiserver-{v}.cat"),
            path.clone(),
            v.to_string(),
            None,
            Component::Apiserver,
        ));
    }
    // One etcd catalog per etcd version: the scrape from the newest Kubernetes version.
    let mut etcd: BTreeMap<String, (std::path::PathBuf, String)> = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("metrics-etcd")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // newrelic-nri-kubernetes-etcd-3.5.6-k8s1.22.17-minikube.txt
        let Some(rest) = name
            .strip_prefix("newrelic-nri-kubernetes-etcd-")
            .and_then(|r| r.strip_suffix("-minikube.txt"))
        else {
            continue;
        };
        let (ev, kv) = rest.split_once("-k8s").unwrap();
        let newer = etcd.get(ev).is_none_or(|(_, old)| minor(kv) > minor(old));
        if newer {
            etcd.insert(ev.to_string(), (path, kv.to_string()));
        }
    }
    for (ev, (path, kv)) in etcd {
        out.push((
            format!("etcd-{ev}.cat"),
            path,
            ev,
            Some(kv),
            Component::Etcd,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn minor(v: &str) -> u32 {
    v.split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[test]
fn embedded_catalogs_match_the_real_scrapes() {
    let Some(dir) = fixtures() else { return };
    let bless = std::env::var_os("APILENS_BLESS").is_some();
    let catalog_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let found = fixture_catalogs(&dir);
    let mut stale = Vec::new();
    for (file, fixture, version, kube, component) in found.clone() {
        let scrape = std::fs::read(&fixture).unwrap();
        let source = fixture.file_name().unwrap().to_string_lossy().to_string();
        let text =
            generate_catalog(component, &source, &version, kube.as_deref(), &scrape).unwrap();
        let path = catalog_dir.join(&file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            if bless {
                std::fs::write(&path, &text).unwrap();
            } else {
                stale.push(file);
            }
        }
    }
    let mut expected: Vec<String> = found.iter().map(|f| f.0.clone()).collect();
    let mut embedded: Vec<String> = embedded_catalog_files()
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    embedded.sort();
    assert_eq!(
        embedded, expected,
        "the embedded catalog list must cover every real scrape"
    );
    assert!(
        stale.is_empty(),
        "catalog files differ from the fixtures: {stale:?}; regenerate with APILENS_BLESS=1 cargo test -p apilens-sim --test sim catalog"
    );
}

#[test]
fn catalogs_carry_real_names_help_and_buckets_per_version() {
    let c = Catalog::apiserver_for(apilens_sim::KubeVersion::parse("1.34").unwrap());
    let f = c.family("apiserver_request_duration_seconds").unwrap();
    assert_eq!(f.buckets.first().map(String::as_str), Some("0.005"));
    assert_eq!(f.buckets.len(), 23);
    assert!(
        f.help
            .starts_with("[STABLE] Response latency distribution in seconds"),
        "{}",
        f.help
    );
    let etcd = c.family("etcd_request_duration_seconds").unwrap();
    assert_eq!(etcd.labels, ["group", "operation", "resource"]);
    assert!(c.has("apiserver_resource_objects"));
    assert!(!c.has("apiserver_longrunning_gauge"));

    let old = Catalog::apiserver_for(apilens_sim::KubeVersion::parse("1.20").unwrap());
    let f = old.family("apiserver_request_duration_seconds").unwrap();
    assert_eq!(
        f.buckets.len(),
        37,
        "the ≤1.22 layout without +Inf: {:?}",
        f.buckets
    );
    assert_eq!(
        old.family("etcd_request_duration_seconds").unwrap().labels,
        ["operation", "type"]
    );
    assert!(old.has("apiserver_longrunning_gauge"));
    assert!(old.has("apiserver_registered_watchers"));
    assert!(old.has("etcd_object_counts"));
}

#[test]
fn derived_families_say_so_and_only_fill_gaps_in_the_scrape() {
    let c = Catalog::apiserver_for(apilens_sim::KubeVersion::parse("1.34").unwrap());
    let rejected = c
        .family("apiserver_flowcontrol_rejected_requests_total")
        .unwrap();
    assert_eq!(
        rejected.help,
        "[BETA] Number of requests rejected by API Priority and Fairness subsystem"
    );
    assert_eq!(rejected.labels, ["flow_schema", "priority_level", "reason"]);
    assert!(rejected.derived.is_some());
    let webhook = c
        .family("apiserver_admission_webhook_admission_duration_seconds")
        .unwrap();
    assert!(
        webhook
            .help
            .starts_with("[STABLE] Admission webhook latency histogram in seconds")
    );
    assert_eq!(
        webhook.buckets,
        ["0.005", "0.025", "0.1", "0.5", "1", "2.5", "10", "25"]
    );
    let rejections = c
        .family("apiserver_admission_webhook_rejection_count")
        .unwrap();
    assert_eq!(
        rejections.labels,
        ["error_type", "name", "operation", "rejection_code", "type"]
    );
    assert!(
        rejections
            .help
            .starts_with("[ALPHA] Admission webhook rejection count")
    );
    // Families present in the scrape are never marked derived.
    assert!(c.families().iter().filter(|f| f.derived.is_some()).count() == 3);
}

#[test]
fn catalog_files_stay_small() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let total: u64 = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 400_000, "embedded catalogs take {total} bytes");
}
