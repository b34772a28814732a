//! Integration tests of the scrape crate: bad targets, real etcd, API servers through a
//! kubeconfig, and recorded bundles.

mod bad_targets;
mod bundle;
mod etcd;
mod http_server;
mod kube;
mod one_fetcher;

#[path = "../../../kube/tests/support/fake_apiserver.rs"]
mod fake_apiserver;

use std::path::PathBuf;

use apilens_model::{Labels, Series};
use apilens_scrape::MemorySink;

/// A real apiserver scrape from the shared fixtures.
pub fn apiserver_fixture(version: &str) -> PathBuf {
    fake_apiserver::fixture(version)
}

/// The number of sample lines of an exposition (non-empty, not a comment).
pub fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}

/// The series named `name` whose labels contain `label=value`.
pub fn series_of(sink: &MemorySink, name: &str, label: &str, value: &str) -> Vec<Series> {
    sink.series(|l: &Labels| l.metric_name() == Some(name) && l.get(label) == Some(value))
}
