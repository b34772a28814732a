//! The family catalog against the real scrapes of every release, and a new release added in one
//! place reaching the detector, the coverage and the inspection.

use apilens_kubemetrics::{Family, KubeRange, KubeVersion, catalog, inspect};
use apilens_textparse::Format;
use std::path::PathBuf;

fn fixtures() -> Vec<(KubeVersion, PathBuf)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver");
    let mut out: Vec<(KubeVersion, PathBuf)> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            let version = name
                .strip_prefix("newrelic-nri-kubernetes-apiserver-")?
                .strip_suffix("-minikube.txt")?;
            Some((KubeVersion::parse(version).ok()?, path))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 13, "{out:?}");
    out
}

fn read(path: &PathBuf) -> inspect::Inspection {
    let file = std::fs::File::open(path).expect("open");
    inspect::inspect(
        catalog(),
        &path.display().to_string(),
        file,
        Format::PrometheusText,
    )
    .expect("inspect")
}

/// Every family a real scrape exposes is in range for its release, every marker is there from
/// its first release on, and the detector without `kubernetes_build_info` bounds the release
/// correctly.
#[test]
fn ranges_and_markers_hold_on_every_real_scrape() {
    for (version, path) in fixtures() {
        let i = read(&path);
        for f in &catalog().families {
            let present = i.family_names.contains(f.name);
            if present {
                assert!(
                    f.releases.contains(version),
                    "{version}: {} is exposed outside its range {}",
                    f.name,
                    f.releases
                );
            }
            if f.marks_since && f.releases.contains(version) {
                assert!(present, "{version}: marker {} is missing", f.name);
            }
        }
        let d = catalog().detect(None, |n| i.family_names.contains(n));
        let range = d.range.expect("a range");
        assert!(
            range.contains(version),
            "{version}: inferred {range} from {}",
            d.source
        );
    }
}

/// Every rename points at a family of the catalog, and every signal name is one.
#[test]
fn renames_and_signals_name_known_families() {
    let c = catalog();
    for f in &c.families {
        if let Some(new) = f.replaced_by {
            let next = c
                .family(new)
                .unwrap_or_else(|| panic!("{} → {new}", f.name));
            assert!(next.releases.since.is_some(), "{new}");
        }
        for bound in [f.releases.since, f.releases.until].into_iter().flatten() {
            assert!(bound <= c.newest, "{} beyond the newest release", f.name);
        }
    }
    for s in &c.signals {
        for name in s.families() {
            assert!(c.family(name).is_some(), "signal {}: {name}", s.id);
        }
    }
    // 1.36's rename, from k8s.io/apiserver pkg/storage/etcd3/metrics at kubernetes-1.36.0.
    assert_eq!(c.newest, KubeVersion::minor(1, 36));
    let counts = c.family("etcd_bookmark_counts").unwrap();
    assert_eq!(counts.replaced_by, Some("etcd_bookmark_total"));
    assert_eq!(counts.deprecated, Some(KubeVersion::minor(1, 36)));
    let d = c.detect(None, |n| n == "etcd_bookmark_total");
    assert_eq!(d.version.as_deref(), Some(">=1.36"));
}

/// A new release is one change to the catalog value: the detector, the coverage table and the
/// inspection's object counts all follow it with no other edit.
#[test]
fn a_release_added_in_one_place_reaches_every_reader() {
    let mut c = catalog().clone();
    c.add_release(
        37,
        vec![Family::new("apiserver_stored_objects", KubeRange::from_minor(37)).marks_since()],
        &["apiserver_storage_objects"],
        &[("object_counts", "apiserver_stored_objects", "")],
    );
    assert_eq!(c.newest, KubeVersion::minor(1, 37));
    assert_eq!(c.releases().last(), Some(KubeVersion::minor(1, 37)));
    let scrape = "\
# TYPE apiserver_stored_objects gauge
apiserver_stored_objects{group=\"\",resource=\"pods\"} 12
apiserver_stored_objects{group=\"apps\",resource=\"deployments\"} 3
# TYPE apiserver_request_total counter
apiserver_request_total{verb=\"GET\",code=\"200\"} 5
";
    let i = inspect::inspect(&c, "scrape", scrape.as_bytes(), Format::PrometheusText).unwrap();
    let summary = i.summary(&c);
    assert_eq!(summary.kubernetes_version.as_deref(), Some(">=1.37"));
    assert_eq!(summary.version_source, "apiserver_stored_objects");
    let objects = summary
        .coverage
        .iter()
        .find(|cov| cov.id == "object_counts")
        .unwrap();
    assert_eq!(objects.metric, Some("apiserver_stored_objects"));
    assert_eq!(objects.note, ">=1.37");
    assert_eq!(summary.objects[0].name, "pods");
    assert_eq!(summary.objects[1].name, "deployments.apps");
    // The family it replaced now ends at 1.36: its presence bounds the release from above.
    let d = c.detect(None, |n| n == "apiserver_storage_objects");
    assert_eq!(d.version.as_deref(), Some("1.21-1.36"));
    // The built-in catalog is untouched and knows nothing of 1.37.
    let i = inspect::inspect(
        catalog(),
        "scrape",
        scrape.as_bytes(),
        Format::PrometheusText,
    )
    .unwrap();
    assert!(i.summary(catalog()).objects.is_empty());
}
