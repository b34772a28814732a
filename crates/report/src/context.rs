//! What the report knows about the cluster before it reads the panels whose thresholds depend
//! on it: the nodes, the API server replicas, the stored data, the APF seat pool.

use crate::build::{Evaluated, series_of};
use apilens_panels::{ClusterSize, Panel};
use std::collections::BTreeMap;

/// The cluster as the data shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// Nodes stored (the object count of `nodes`), when exposed.
    pub(crate) nodes: Option<f64>,
    /// API server replicas that report their build info.
    pub(crate) replicas: usize,
    /// The largest etcd database size the API servers report, in bytes.
    pub(crate) etcd_db_bytes: Option<f64>,
    /// Each server's APF seat pool, when exposed.
    pub(crate) seat_pool: BTreeMap<String, f64>,
}

impl Context {
    /// The panels read first because other thresholds scale with them.
    pub(crate) const SIZE_PANELS: [&'static str; 2] = ["object-counts", "etcd-db-size"];

    /// A context for `replicas` API servers (at least one).
    pub(crate) fn new(replicas: usize) -> Self {
        Self {
            replicas: replicas.max(1),
            ..Self::default()
        }
    }

    /// The size the scaled thresholds use, when the nodes are known.
    pub(crate) fn size(&self) -> Option<ClusterSize> {
        self.nodes.map(|nodes| ClusterSize {
            nodes,
            replicas: self.replicas as f64,
        })
    }

    /// Takes what `panel`'s results say about the cluster.
    pub(crate) fn learn(&mut self, panel: &Panel, evaluated: &[Evaluated<'_>]) {
        match panel.id.as_str() {
            "object-counts" => {
                self.nodes = series_of(evaluated, "objects")
                    .into_iter()
                    .filter(|r| r.labels.get("resource") == Some("nodes"))
                    .map(|r| r.peak())
                    .reduce(f64::max);
            }
            "etcd-db-size" => {
                self.etcd_db_bytes = series_of(evaluated, "size")
                    .into_iter()
                    .map(|r| r.peak())
                    .reduce(f64::max);
            }
            "inflight-vs-limit" | "apf-seats-vs-pool" => {
                for r in series_of(evaluated, "pool") {
                    if let Some(instance) = r.labels.get("instance") {
                        self.seat_pool.insert(instance.to_owned(), r.peak());
                    }
                }
            }
            _ => {}
        }
    }

    /// The largest seat pool of any server.
    pub(crate) fn largest_pool(&self) -> Option<f64> {
        self.seat_pool.values().copied().reduce(f64::max)
    }
}
