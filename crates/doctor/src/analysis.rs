//! What every pattern detector reads: the ledger's result, the metrics, today's APF
//! configuration and the debug dumps, with the helpers they share.

use crate::dumps::ReplicaDumps;
use crate::identity;
use crate::ledger::LedgerResult;
use crate::ledger::calls::CallStats;
use crate::metrics::MetricsFacts;
use apilens_apf::{ApfConfig, Capacity, ConfigNote, KubeVersion};

/// The inputs of the detectors.
pub(crate) struct Analysis<'a> {
    /// The audit log's ledger, when an audit log was given.
    pub(crate) ledger: Option<&'a LedgerResult<'a>>,
    /// The metrics, when given.
    pub(crate) facts: Option<&'a MetricsFacts>,
    /// Today's configuration.
    pub(crate) config: &'a ApfConfig,
    /// Notes from digesting the cluster's objects (dangling schemas, re-added objects).
    pub(crate) config_notes: &'a [ConfigNote],
    /// True when the configuration is the cluster's own (live or a file), not the defaults.
    pub(crate) config_is_clusters: bool,
    /// The default configuration of the version, to tell the cluster's own objects apart.
    pub(crate) defaults: &'a ApfConfig,
    /// The version whose rules apply.
    pub(crate) version: KubeVersion,
    /// Seats per level for one replica.
    pub(crate) capacity: &'a Capacity,
    /// API server replicas (metrics, dumps, else 1).
    pub(crate) replicas: u32,
    /// The debug dumps of every replica.
    pub(crate) dumps: &'a [ReplicaDumps],
}

impl Analysis<'_> {
    /// The span of the audit window in seconds (at least 1).
    pub(crate) fn span_s(&self) -> f64 {
        self.ledger.map_or(1.0, LedgerResult::span_s)
    }

    /// True when the client runs as many copies: a per-node agent (a DaemonSet) or kubelets.
    pub(crate) fn is_per_node(&self, client: u32) -> bool {
        let Some(l) = self.ledger else { return false };
        let c = &l.clients[client as usize];
        c.nodes.count() >= PER_NODE_MIN
            || c.pods.count() >= PER_NODE_MIN
            || (identity::service_account(c.user()).is_some()
                && c.source_ips.count() >= PER_NODE_MIN)
    }

    /// How the client runs: "from 1,000 source IPs (1,000 pods on 1,000 nodes)".
    pub(crate) fn copies(&self, client: u32) -> String {
        let Some(l) = self.ledger else {
            return String::new();
        };
        let c = &l.clients[client as usize];
        let approx = |d: &crate::distinct::Distinct| if d.is_estimate() { "~" } else { "" };
        let mut s = format!(
            "from {}{} source IP{}",
            approx(&c.source_ips),
            count(c.source_ips.count() as f64),
            if c.source_ips.count() == 1 { "" } else { "s" }
        );
        let pods = c.pods.count();
        let nodes = c.nodes.count();
        if pods > 0 || nodes > 0 {
            let mut parts = Vec::new();
            if pods > 0 {
                parts.push(format!("{}{} pods", approx(&c.pods), count(pods as f64)));
            }
            if nodes > 0 {
                parts.push(format!("{}{} nodes", approx(&c.nodes), count(nodes as f64)));
            }
            s.push_str(&format!(" ({})", parts.join(" on ")));
        }
        s
    }

    /// The calls of the ledger.
    pub(crate) fn calls(&self) -> &[CallStats] {
        self.ledger.map_or(&[], |l| &l.calls)
    }
}

/// Copies that make a client a per-node agent.
pub(crate) const PER_NODE_MIN: u64 = 10;

/// A count with thousands separators.
pub(crate) fn count(v: f64) -> String {
    apilens_report::format_value(v.round(), apilens_panels::Unit::Count)
}

/// Bytes, binary units.
pub(crate) fn bytes(v: f64) -> String {
    apilens_report::format_value(v, apilens_panels::Unit::Bytes)
}

/// A rate per minute or per second, whichever reads better.
pub(crate) fn rate(n: f64, span_s: f64) -> String {
    let per_s = n / span_s.max(1.0);
    if per_s >= 1.0 {
        format!("{}/s", significant(per_s))
    } else {
        format!("{}/min", significant(per_s * 60.0))
    }
}

/// Three significant digits.
pub(crate) fn significant(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        count(v)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".to_owned()
    } else {
        format!("{v:.3}")
    }
}
