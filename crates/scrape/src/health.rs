//! The state of each target after its last scrape, for logs, `/api/v1/targets` and summaries.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The state of one target, shaped like an active target of Prometheus's `/api/v1/targets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetHealth {
    /// The `job` label.
    pub job: String,
    /// The `instance` label.
    pub instance: String,
    /// The URL or file scraped.
    pub scrape_url: String,
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: &'static str,
    /// The reason of the last failure, naming the target; empty when up.
    pub last_error: String,
    /// When the last scrape started, in milliseconds since the epoch (0 before the first).
    pub last_scrape_ms: i64,
    /// How long the last scrape took, in seconds.
    pub last_scrape_duration: f64,
    /// Samples in the last successful scrape.
    pub samples: usize,
    /// Consecutive failed scrapes.
    pub failures: u64,
}

/// A shared registry of [`TargetHealth`], keyed by `job/instance`.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<Mutex<BTreeMap<String, TargetHealth>>>);

impl Health {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every target's state, sorted by job and instance.
    pub fn snapshot(&self) -> Vec<TargetHealth> {
        self.lock().values().cloned().collect()
    }

    pub(crate) fn update(&self, key: &str, f: impl FnOnce(&mut TargetHealth)) {
        if let Some(h) = self.lock().get_mut(key) {
            f(h);
        }
    }

    pub(crate) fn insert(&self, key: String, health: TargetHealth) {
        self.lock().insert(key, health);
    }

    pub(crate) fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TargetHealth>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
