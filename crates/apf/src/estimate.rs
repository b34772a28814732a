//! The work estimator: how many seats a request occupies, and for how long.
//!
//! Follows `k8s.io/apiserver/pkg/util/flowcontrol/request/{width,list_work_estimator,
//! mutating_work_estimator,config}.go` at `kubernetes-1.23.0` … `kubernetes-1.35.0` (before
//! 1.23 every request takes one seat).

use crate::KubeVersion;
use crate::capacity::global_seat_caps;
use serde::Serialize;

/// The `resourceVersion` parameter of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ResourceVersionParam {
    /// No `resourceVersion`: a consistent read.
    Absent,
    /// `resourceVersion=0`: any version, served from the watch cache.
    Zero,
    /// Any non-zero value.
    Exact,
}

/// What the estimator needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub struct WorkRequest<'a> {
    /// Kubernetes verb.
    pub verb: &'a str,
    /// Resource, such as `pods`.
    pub resource: &'a str,
    /// Subresource, or `""`.
    pub subresource: &'a str,
    /// A name in the path or `fieldSelector=metadata.name=`.
    pub named: bool,
    /// A label or field selector.
    pub has_selector: bool,
    /// The `limit` parameter.
    pub limit: Option<u64>,
    /// The `resourceVersion` parameter.
    pub resource_version: ResourceVersionParam,
    /// A `continue` token.
    pub continue_token: bool,
    /// `sendInitialEvents=true` (a streaming list).
    pub send_initial_events: bool,
    /// Whether the server answers from the watch cache (decided by the caller from the
    /// storage rules, which are not APF's).
    pub served_from_cache: bool,
}

/// What the server knows about the resource's objects (from `apiserver_resource_objects` /
/// `apiserver_storage_objects` and `apiserver_resource_size_estimate_bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ObjectStats {
    /// Objects stored; `None` when unknown.
    pub count: Option<f64>,
    /// Average object size, bytes; `None` when unknown.
    pub avg_object_bytes: Option<f64>,
}

/// Seats a request occupies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WorkEstimate {
    /// Seats held while executing.
    pub initial_seats: u32,
    /// Seats held after the response while watchers are notified (mutating requests).
    pub final_seats: u32,
    /// How long the final seats are held, seconds.
    pub additional_latency_s: f64,
}

impl WorkEstimate {
    /// One seat, nothing after.
    pub const ONE: WorkEstimate = WorkEstimate {
        initial_seats: 1,
        final_seats: 0,
        additional_latency_s: 0.0,
    };

    /// The most seats the request holds at once.
    pub fn max_seats(&self) -> u32 {
        self.initial_seats.max(self.final_seats)
    }

    /// `initial_seats · execution + final_seats · additional_latency`.
    pub fn seat_seconds(&self, execution_s: f64) -> f64 {
        f64::from(self.initial_seats) * execution_s
            + f64::from(self.final_seats) * self.additional_latency_s
    }
}

/// Estimates a request as kube-apiserver of `version` does (count-based up to 1.33,
/// size-based from 1.34), clamped to `level_max_seats` (see
/// [`crate::LevelCapacity::max_seats_per_request`]). Unknown object stats give the server's
/// own worst case.
pub fn estimate(
    version: KubeVersion,
    req: &WorkRequest<'_>,
    objects: ObjectStats,
    watchers: f64,
    level_max_seats: u32,
) -> WorkEstimate {
    if !version.at_least(1, 23) {
        return WorkEstimate::ONE;
    }
    let (list_cap, mutating_cap) = global_seat_caps(version);
    let cap = |global: u32| {
        if level_max_seats == 0 {
            global
        } else {
            level_max_seats.min(global)
        }
    };
    match req.verb {
        "list" => {
            let max = cap(list_cap);
            let count = objects.count.unwrap_or(1e9);
            let seats = if version.at_least(1, 34) {
                let avg = objects.avg_object_bytes.unwrap_or(1.5e6);
                let loaded = match req.limit {
                    Some(l) if l > 0 => (l as f64).min(count),
                    _ => count,
                };
                let mut bytes = loaded * avg;
                if req.served_from_cache {
                    bytes = bytes.min(1e6);
                }
                (bytes / 100_000.0).ceil()
            } else if req.named {
                1.0
            } else if req.served_from_cache {
                (count / 100.0).ceil()
            } else {
                let processed = match req.limit {
                    Some(l) if l > 0 => (2.0 * l as f64).min(count),
                    _ => count,
                };
                (processed / 100.0).ceil()
            };
            WorkEstimate {
                initial_seats: (seats.max(1.0) as u32).min(max),
                ..WorkEstimate::ONE
            }
        }
        "create" | "update" | "patch" | "delete" if watchers >= 10.0 => {
            let max = cap(mutating_cap);
            let wanted = (watchers / 10.0).ceil();
            let capped = wanted.min(f64::from(max)).max(1.0);
            WorkEstimate {
                initial_seats: 1,
                final_seats: capped as u32,
                additional_latency_s: wanted * 0.005 / capped,
            }
        }
        _ => WorkEstimate::ONE,
    }
}
