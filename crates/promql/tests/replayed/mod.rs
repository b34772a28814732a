//! A real kube-apiserver scrape (`shared/fixtures/real/metrics-apiserver`, Kubernetes 1.24)
//! replayed as scrapes 15 s apart with counters growing, shared by the tests that read it.

use apilens_model::Sample;
use apilens_promql::MemQueryable;
use apilens_textparse::{Entry, Format, Parser};
use std::path::PathBuf;

/// The time of the first scrape, milliseconds.
pub const T: i64 = 1_700_000_000_000;

/// The fixture's series with `scrapes` samples each, at `T`, `T` + 15 s, ..., the `i`-th
/// scrape's value the fixture's times `1 + i / 10`.
pub fn replayed_fixture(scrapes: i64) -> MemQueryable {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.24.17-minikube.txt",
    );
    let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut store = MemQueryable::new();
    for entry in Parser::new(&input, Format::PrometheusText) {
        let Entry::Series(s) = entry.expect("the fixture parses") else {
            continue;
        };
        let labels = s.to_labels();
        for i in 0..scrapes {
            store.append(
                &labels,
                Sample {
                    t: T + i * 15_000,
                    v: s.value * (1.0 + i as f64 / 10.0),
                },
            );
        }
    }
    assert!(store.len() > 3000, "{} series", store.len());
    store
}
