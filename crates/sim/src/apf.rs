//! API Priority and Fairness as the simulator models it: the default priority levels and flow
//! schemas of a version, classification of a request, and the seats it occupies.
//!
//! Numbers follow `k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap/default.go` and
//! `pkg/util/flowcontrol/request/*` as summarised in the research notes: ServerCL 600
//! (400 + 200), `NominalCL = ceil(600 · NCS / ΣNCS)`, queue wait limit 15 s, LIST seats
//! count-based up to 1.33 (cap 10) and size-based from 1.34 (cap 100), per-level cap
//! `max(1, min(ceil(0.15 · NominalCL), NominalCL / handSize))`.

use crate::KubeVersion;
use crate::workload::{Identity, Verb};

/// Server concurrency limit: `--max-requests-inflight` + `--max-mutating-requests-inflight`.
pub(crate) const SERVER_CL: f64 = 600.0;
/// Longest time a request may wait in a queue with the default 60 s request timeout.
pub(crate) const QUEUE_WAIT_LIMIT: f64 = 15.0;

/// One priority level.
#[derive(Debug, Clone)]
pub(crate) struct PriorityLevel {
    pub(crate) name: &'static str,
    pub(crate) exempt: bool,
    /// No queues: excess is rejected at once (catch-all).
    pub(crate) reject: bool,
    pub(crate) shares: f64,
    pub(crate) lendable_percent: f64,
    pub(crate) hand_size: f64,
    pub(crate) queue_length_limit: f64,
    pub(crate) nominal: f64,
}

impl PriorityLevel {
    /// Most seats one request may take in this level.
    pub(crate) fn max_seats(&self, version: KubeVersion) -> f64 {
        let global: f64 = if version.at_least(1, 34) { 100.0 } else { 10.0 };
        if !version.at_least(1, 25) || self.reject {
            return global;
        }
        let per_level = (0.15 * self.nominal)
            .ceil()
            .min((self.nominal / self.hand_size).floor())
            .max(1.0);
        global.min(per_level)
    }
}

/// The default priority levels of a version (node-high exists from 1.22).
pub(crate) fn default_levels(version: KubeVersion) -> Vec<PriorityLevel> {
    let mut levels = vec![
        pl("catch-all", 5.0, 0.0, false, true),
        pl("exempt", 0.0, 0.0, true, false),
        pl("global-default", 20.0, 50.0, false, false),
        pl("leader-election", 10.0, 0.0, false, false),
        pl("system", 30.0, 33.0, false, false),
        pl("workload-high", 40.0, 50.0, false, false),
        pl("workload-low", 100.0, 90.0, false, false),
    ];
    if version.at_least(1, 22) {
        levels.push(pl("node-high", 40.0, 25.0, false, false));
    }
    levels.sort_by_key(|l| l.name);
    let total: f64 = levels.iter().map(|l| l.shares).sum();
    for l in &mut levels {
        l.nominal = if l.exempt {
            0.0
        } else {
            (SERVER_CL * l.shares / total).ceil()
        };
        if !version.at_least(1, 26) {
            l.lendable_percent = 0.0;
        }
        if l.name == "leader-election" {
            l.hand_size = 4.0;
        }
    }
    levels
}

fn pl(name: &'static str, shares: f64, lendable: f64, exempt: bool, reject: bool) -> PriorityLevel {
    PriorityLevel {
        name,
        exempt,
        reject,
        shares,
        lendable_percent: lendable,
        hand_size: 6.0,
        queue_length_limit: 50.0,
        nominal: 0.0,
    }
}

/// The outcome of FlowSchema matching for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classification {
    pub(crate) flow_schema: &'static str,
    pub(crate) priority_level: &'static str,
    /// The flow distinguisher: the username (ByUser) or the namespace (ByNamespace).
    pub(crate) distinguisher: String,
}

/// Matches the default FlowSchemas in precedence order.
pub(crate) fn classify(
    version: KubeVersion,
    identity: &Identity,
    username: &str,
    verb: Verb,
    resource: &str,
    namespace: &str,
) -> Classification {
    let c = |fs, pl, d: &str| Classification {
        flow_schema: fs,
        priority_level: pl,
        distinguisher: d.to_string(),
    };
    match identity {
        Identity::User { groups, .. } if groups.iter().any(|g| g == "system:masters") => {
            c("exempt", "exempt", "")
        }
        Identity::Node => {
            let node_high = version.at_least(1, 22)
                && (resource == "nodes"
                    || (resource == "leases" && namespace == "kube-node-lease"));
            if node_high {
                c("system-node-high", "node-high", username)
            } else {
                c("system-nodes", "system", username)
            }
        }
        Identity::User { name, .. }
            if (name == "system:kube-controller-manager" || name == "system:kube-scheduler")
                && resource == "leases"
                && matches!(verb, Verb::Get | Verb::Create | Verb::Update) =>
        {
            c("system-leader-election", "leader-election", username)
        }
        Identity::User { name, .. } if name == "system:kube-controller-manager" => {
            c("kube-controller-manager", "workload-high", namespace)
        }
        Identity::User { name, .. } if name == "system:kube-scheduler" => {
            c("kube-scheduler", "workload-high", namespace)
        }
        Identity::ServiceAccount { namespace: ns, .. } if ns == "kube-system" => {
            c("kube-system-service-accounts", "workload-high", namespace)
        }
        Identity::ServiceAccount { .. } => c("service-accounts", "workload-low", username),
        Identity::User { .. } => c("global-default", "global-default", username),
    }
}

/// What a request costs in APF seats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkEstimate {
    /// Seats held while executing.
    pub(crate) initial_seats: f64,
    /// Seats held after the response for watcher notification (mutating requests).
    pub(crate) final_seats: f64,
    /// How long the final seats are held, seconds.
    pub(crate) additional_latency: f64,
}

impl WorkEstimate {
    pub(crate) fn max_seats(&self) -> f64 {
        self.initial_seats.max(self.final_seats)
    }

    /// Seat-seconds the request occupies given its execution time.
    pub(crate) fn seat_seconds(&self, exec: f64) -> f64 {
        self.initial_seats * exec + self.final_seats * self.additional_latency
    }
}

/// Estimates seats as `k8s.io/apiserver/pkg/util/flowcontrol/request` does for this version.
#[allow(clippy::too_many_arguments)]
pub(crate) fn estimate(
    version: KubeVersion,
    level: &PriorityLevel,
    verb: Verb,
    from_cache: bool,
    stored_objects: f64,
    returned_objects: f64,
    limit: Option<u32>,
    response_bytes: f64,
    watchers: f64,
) -> WorkEstimate {
    let one = WorkEstimate {
        initial_seats: 1.0,
        final_seats: 0.0,
        additional_latency: 0.0,
    };
    if !version.at_least(1, 23) {
        return one;
    }
    let max = level.max_seats(version);
    match verb {
        Verb::List => {
            let seats = if version.at_least(1, 34) {
                // SizeBasedListCostEstimate: bytes loaded; cache-served memory is charged at
                // most 1 MB.
                let bytes = if from_cache {
                    response_bytes.min(1e6)
                } else {
                    response_bytes
                };
                (bytes / 100_000.0).ceil()
            } else {
                let objects = if from_cache {
                    stored_objects
                } else {
                    limit
                        .map(|l| 2.0 * f64::from(l))
                        .unwrap_or(stored_objects)
                        .max(returned_objects)
                };
                (objects / 100.0).ceil()
            };
            WorkEstimate {
                initial_seats: seats.clamp(1.0, max),
                ..one
            }
        }
        v if v.is_mutating() && watchers >= 10.0 => {
            let wanted = (watchers / 10.0).ceil();
            let capped = wanted.min(max.min(10.0));
            WorkEstimate {
                initial_seats: 1.0,
                final_seats: capped,
                additional_latency: wanted * 0.005 / capped,
            }
        }
        _ => one,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_nominal_seats_match_a_real_1_32_server() {
        // apiserver_flowcontrol_nominal_limit_seats of an EKS 1.32 server (research notes).
        let levels = default_levels(KubeVersion::new(1, 32, 0));
        let got: Vec<(&str, f64)> = levels.iter().map(|l| (l.name, l.nominal)).collect();
        assert_eq!(
            got,
            [
                ("catch-all", 13.0),
                ("exempt", 0.0),
                ("global-default", 49.0),
                ("leader-election", 25.0),
                ("node-high", 98.0),
                ("system", 74.0),
                ("workload-high", 98.0),
                ("workload-low", 245.0),
            ]
        );
    }

    #[test]
    fn unbounded_pod_list_costs_the_level_maximum() {
        let v = KubeVersion::new(1, 34, 0);
        let levels = default_levels(v);
        let low = levels.iter().find(|l| l.name == "workload-low").unwrap();
        let e = estimate(
            v,
            low,
            Verb::List,
            false,
            50_000.0,
            50_000.0,
            None,
            2e8,
            0.0,
        );
        assert_eq!(e.initial_seats, 37.0);
        let v = KubeVersion::new(1, 30, 0);
        let e = estimate(
            v,
            low,
            Verb::List,
            false,
            50_000.0,
            50_000.0,
            None,
            2e8,
            0.0,
        );
        assert_eq!(e.initial_seats, 10.0);
        let e = estimate(
            v,
            low,
            Verb::List,
            false,
            50_000.0,
            500.0,
            Some(500),
            2e6,
            0.0,
        );
        assert_eq!(e.initial_seats, 10.0);
        let e = estimate(v, low, Verb::Get, false, 50_000.0, 1.0, None, 4e3, 0.0);
        assert_eq!(e.initial_seats, 1.0);
    }
}
