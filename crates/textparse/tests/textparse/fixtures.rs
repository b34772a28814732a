//! Every real kube-apiserver and etcd scrape parses, with the counts and values it really holds.

use apilens_textparse::families::{Families, Metric};
use apilens_textparse::{Entry, Format, MetricType, Parser};
use std::path::PathBuf;

fn fixture_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real")
        .join(kind)
}

fn read(kind: &str, name: &str) -> Vec<u8> {
    std::fs::read(fixture_dir(kind).join(name)).expect("fixture")
}

/// Series and family counts recorded for each file in the fixtures' SOURCES.md.
const COUNTS: &[(&str, &str, usize, usize)] = &[
    (
        "metrics-apiserver",
        "datadog-kube_apiserver_metrics-slis-1.27.3.txt",
        42,
        2,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.16.15-minikube.txt",
        16077,
        85,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.18.20-minikube.txt",
        13210,
        86,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.20.15-minikube.txt",
        15775,
        108,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.21.14-minikube.txt",
        16042,
        110,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.23.17-minikube.txt",
        15406,
        131,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.24.17-minikube.txt",
        15649,
        182,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.26.8-minikube.txt",
        21856,
        198,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.28.3-minikube.txt",
        19007,
        209,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.29.5-minikube.txt",
        21110,
        240,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.31.0-minikube.txt",
        22076,
        255,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.32.0-minikube.txt",
        23967,
        262,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.34.0-minikube.txt",
        24311,
        272,
    ),
    (
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt",
        22853,
        279,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.3.15-k8s1.16.15-minikube.txt",
        1105,
        96,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.4.3-k8s1.17.17-minikube.txt",
        1240,
        117,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.4.13-k8s1.20.15-minikube.txt",
        1247,
        123,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.5.6-k8s1.26.8-minikube.txt",
        1376,
        122,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.5.15-k8s1.31.0-minikube.txt",
        1401,
        125,
    ),
    (
        "metrics-etcd",
        "newrelic-nri-kubernetes-etcd-3.6.6-k8s1.35.0-minikube.txt",
        1461,
        130,
    ),
];

#[test]
fn every_real_scrape_parses() {
    let mut files = 0;
    for kind in ["metrics-apiserver", "metrics-etcd"] {
        for entry in std::fs::read_dir(fixture_dir(kind)).expect("fixture dir") {
            let path = entry.expect("entry").path();
            let input = std::fs::read(&path).expect("read");
            let mut n_series = 0;
            for e in Parser::new(&input, Format::PrometheusText) {
                match e {
                    Ok(Entry::Series(_)) => n_series += 1,
                    Ok(_) => {}
                    Err(err) => panic!("{}:{err}", path.display()),
                }
            }
            assert!(n_series > 0, "{} has no series", path.display());
            files += 1;
        }
    }
    assert_eq!(files, 14 + 20);
}

#[test]
fn series_and_family_counts_match_the_recorded_ones() {
    for &(kind, name, series, families) in COUNTS {
        let input = read(kind, name);
        let fams: Vec<_> = Families::new(Parser::new(&input, Format::PrometheusText))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}:{e}"));
        let n_series: usize = fams.iter().map(|f| f.n_samples).sum();
        assert_eq!((n_series, fams.len()), (series, families), "{name}");
    }
}

#[test]
fn histogram_buckets_of_a_1_34_list() {
    let input = read(
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.34.0-minikube.txt",
    );
    let family = Families::new(Parser::new(&input, Format::PrometheusText))
        .map(Result::unwrap)
        .find(|f| f.name == "apiserver_request_duration_seconds")
        .expect("request duration family");
    assert_eq!(family.kind, MetricType::Histogram);
    let h = family
        .metrics
        .iter()
        .find_map(|m| match m {
            Metric::Histogram(h)
                if h.labels.get("verb") == Some("LIST")
                    && h.labels.get("resource") == Some("pods")
                    && h.labels.get("scope") == Some("namespace") =>
            {
                Some(h)
            }
            _ => None,
        })
        .expect("LIST pods namespace");
    let bounds: Vec<f64> = h.buckets.iter().map(|b| b.le).collect();
    assert_eq!(
        bounds,
        [
            0.005,
            0.025,
            0.05,
            0.1,
            0.2,
            0.4,
            0.6,
            0.8,
            1.0,
            1.25,
            1.5,
            2.0,
            3.0,
            4.0,
            5.0,
            6.0,
            8.0,
            10.0,
            15.0,
            20.0,
            30.0,
            45.0,
            60.0,
            f64::INFINITY
        ]
    );
    assert!(h.buckets.iter().all(|b| b.count == 44.0));
    assert_eq!(h.count, Some(44.0));
}

#[test]
fn known_gauge_of_1_34() {
    let input = read(
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.34.0-minikube.txt",
    );
    let s = Parser::new(&input, Format::PrometheusText)
        .filter_map(Result::ok)
        .find_map(|e| match e {
            Entry::Series(s) if s.name() == "apiserver_storage_size_bytes" => Some(s),
            _ => None,
        })
        .expect("db size gauge");
    assert_eq!(s.value, 2_064_384.0);
    assert_eq!(s.label("storage_cluster_id").as_deref(), Some("etcd-0"));
    assert_eq!(
        s.raw,
        br#"apiserver_storage_size_bytes{storage_cluster_id="etcd-0"}"#
    );
}

#[test]
fn slis_file_without_trailing_newline() {
    let input = read(
        "metrics-apiserver",
        "datadog-kube_apiserver_metrics-slis-1.27.3.txt",
    );
    assert!(!input.ends_with(b"\n"));
    let last = Parser::new(&input, Format::PrometheusText)
        .filter_map(Result::ok)
        .last()
        .expect("entries");
    assert!(matches!(last, Entry::Series(_)));
}
