//! Thresholds that depend on the cluster's size: what is normal for a 5,000-node cluster is a
//! storm on a 100-node one.
//!
//! The report and the Prometheus rules read the same numbers from here, so a verdict and an
//! alert agree.

use crate::{Severity, Threshold};

/// How big the cluster is, as the API servers report it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterSize {
    /// Nodes stored (`apiserver_resource_objects{resource="nodes"}` and its predecessors).
    pub nodes: f64,
    /// API server replicas sharing the clients.
    pub replicas: f64,
}

/// Open WATCH connections per node of the cluster (all servers together) from which one
/// server's share is worth a look, and from which it hurts.
///
/// A node runs a kubelet (pods, its node, the ConfigMaps and Secrets its pods mount), kube-proxy
/// (Services, EndpointSlices) and a few agents: a few to a few dozen watches. Fifty per node is
/// several agents watching whole collections from every node.
pub const WATCHES_PER_NODE: [f64; 2] = [20.0, 50.0];

/// Watches per server below which no cluster size is flagged.
pub const WATCHES_PER_SERVER_FLOOR: [f64; 2] = [10_000.0, 25_000.0];

/// The warning and critical thresholds of one server's open WATCH connections in a cluster of
/// `size`: the per-node allowance shared over the replicas, never below the floor.
///
/// ```
/// use apilens_panels::{ClusterSize, watches_per_server_thresholds};
///
/// let big = ClusterSize { nodes: 5_000.0, replicas: 2.0 };
/// let [warn, crit] = watches_per_server_thresholds(big);
/// assert_eq!((warn.value, crit.value), (50_000.0, 125_000.0));
/// let small = ClusterSize { nodes: 100.0, replicas: 3.0 };
/// assert_eq!(watches_per_server_thresholds(small)[0].value, 10_000.0);
/// ```
pub fn watches_per_server_thresholds(size: ClusterSize) -> [Threshold; 2] {
    let per_server =
        |per_node: f64, floor: f64| (per_node * size.nodes / size.replicas.max(1.0)).max(floor);
    [
        Threshold {
            value: per_server(WATCHES_PER_NODE[0], WATCHES_PER_SERVER_FLOOR[0]),
            severity: Severity::Warning,
        },
        Threshold {
            value: per_server(WATCHES_PER_NODE[1], WATCHES_PER_SERVER_FLOOR[1]),
            severity: Severity::Critical,
        },
    ]
}
