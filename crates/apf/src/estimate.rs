//! The work estimator: how many seats a request occupies, and for how long.
//!
//! Follows `k8s.io/apiserver/pkg/util/flowcontrol/request/{width,list_work_estimator,
//! mutating_work_estimator,config,seat_seconds}.go` and the feature gates of
//! `pkg/features/kube_features.go`, read at every tag `kubernetes-1.20.0` … `kubernetes-1.35.0`:
//! - before 1.23 every request takes one seat (1.22's `DefaultWidthEstimator`);
//! - LIST, count-based (1.23 … 1.33): objects processed are 1 for a named request (1.34's
//!   `matchesSingle`; from 1.26 to 1.33 a named LIST returns one seat at once), the stored
//!   count when served from the watch cache, count + limit with a selector, 2 × limit
//!   otherwise (limit = the `limit` parameter when below the count, else the count);
//!   seats = ⌈objects / 100⌉. A stale count gives the maximum seats;
//! - LIST, size-based (`SizeBasedListCostEstimate`, on by default from 1.34): bytes = objects
//!   loaded × average object size, where objects loaded are 1 when named, the limited count
//!   from the cache or without selectors, `max(limited, count / 2)` with selectors; reads from
//!   the cache are charged at most 1 MB; seats = ⌈bytes / 100 kB⌉. A stale count is taken as
//!   10⁹ objects of 1.5 MB, an unknown size as 1.5 MB;
//! - seats are clamped to [1, max], max = the level's max seats (`max_seats.go`,
//!   [`crate::LevelCapacity::max_seats_per_request`]) within the global caps: 10 for LISTs
//!   (100 from 1.34) and 10 for mutating requests;
//! - WATCH goes through the LIST estimator only while the `WatchList` gate is on by default
//!   (1.32, and 1.34 on); then a watch without `sendInitialEvents=true` takes one seat, except
//!   from 1.35 a legacy watch (no `resourceVersion` or `resourceVersion=0`) which is costed
//!   like a LIST from the cache; otherwise a watch takes one seat;
//! - create, update, patch and delete (1.24 on; disabled in 1.23): with 10 or more watchers,
//!   final seats ⌈watchers / 10⌉ for 5 ms each, capped at the mutating max seats with the
//!   additional latency stretched to keep the same seat-seconds; `serviceaccounts/token` is
//!   exempt from 1.26;
//! - anything else takes one seat.

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

/// What the server knows about the resource's objects.
///
/// `count` is the stored object count (`apiserver_resource_objects`, earlier
/// `apiserver_storage_objects` / `etcd_object_counts`); `avg_object_bytes` is
/// `apiserver_resource_size_estimate_bytes` divided by that count. `count: None` is a stale
/// count, for which the server assumes the worst. A resource the server does not count at all
/// (an aggregated API) costs the minimum, as `count: Some(0.0)` gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ObjectStats {
    /// Objects stored; `None` when the count is stale or unknown.
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

/// The stored count the server assumes when its count is stale (`infiniteObjectCount`).
const STALE_COUNT: i64 = 1_000_000_000;
/// The object size the server assumes when it knows none (`maxObjectSize`).
const MAX_OBJECT_BYTES: i64 = 1_500_000;
/// `cacheWithStreamingMaxMemoryUsage`.
const CACHE_MAX_BYTES: i64 = 1_000_000;
/// `bytesPerSeat`.
const BYTES_PER_SEAT: f64 = 100_000.0;
/// `objectsPerSeat`.
const OBJECTS_PER_SEAT: f64 = 100.0;
/// `watchesPerSeat`.
const WATCHES_PER_SEAT: f64 = 10.0;
/// `eventAdditionalDuration`, nanoseconds.
const EVENT_ADDITIONAL_NS: f64 = 5_000_000.0;

/// True when the `WatchList` gate is on by default, sending watches through the LIST
/// estimator.
fn watch_list_gate(version: KubeVersion) -> bool {
    (version.major, version.minor) == (1, 32) || version.at_least(1, 34)
}

/// Estimates a request as kube-apiserver of `version` does (count-based up to 1.33,
/// size-based from 1.34), clamped to `level_max_seats` (see
/// [`crate::LevelCapacity::max_seats_per_request`]; 0 means the global cap). Unknown object
/// stats give the server's own worst case.
///
/// ```
/// use apilens_apf::{KubeVersion, ObjectStats, ResourceVersionParam, WorkRequest, estimate};
/// let list = WorkRequest {
///     verb: "list", resource: "pods", subresource: "", named: false, has_selector: false,
///     limit: None, resource_version: ResourceVersionParam::Absent, continue_token: false,
///     send_initial_events: false, served_from_cache: false,
/// };
/// let pods = ObjectStats { count: Some(50_000.0), avg_object_bytes: Some(4_000.0) };
/// // 1.33: 2 × 50,000 objects / 100 = 1000 seats, capped at 10.
/// assert_eq!(estimate(KubeVersion::minor(1, 33), &list, pods, 0.0, 37).initial_seats, 10);
/// // 1.34: 50,000 × 4 kB = 200 MB / 100 kB = 2000 seats, capped at the level's 37.
/// assert_eq!(estimate(KubeVersion::minor(1, 34), &list, pods, 0.0, 37).initial_seats, 37);
/// ```
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
        "list" => list_seats(version, req, objects, cap(list_cap)),
        "watch" if watch_list_gate(version) => {
            let legacy =
                version.at_least(1, 35) && req.resource_version != ResourceVersionParam::Exact;
            if !req.send_initial_events && !legacy {
                return WorkEstimate::ONE;
            }
            let as_list = WorkRequest {
                served_from_cache: true,
                ..*req
            };
            list_seats(version, &as_list, objects, cap(list_cap))
        }
        "create" | "update" | "patch" | "delete" => {
            mutating_seats(version, req, watchers, cap(mutating_cap))
        }
        _ => WorkEstimate::ONE,
    }
}

fn list_seats(
    version: KubeVersion,
    req: &WorkRequest<'_>,
    objects: ObjectStats,
    max_seats: u32,
) -> WorkEstimate {
    let size_based = version.at_least(1, 34);
    if req.named && version.at_least(1, 26) && !size_based {
        return WorkEstimate::ONE;
    }
    let count = match objects.count {
        Some(c) if c.is_finite() && c >= 0.0 => c.floor() as i64,
        _ if size_based => STALE_COUNT,
        // A stale count: the count-based estimator returns the maximum at once.
        _ => return seats(u64::from(max_seats), max_seats),
    };
    let limited = match req.limit {
        Some(l) if l > 0 && (l as i64) < count => l as i64,
        _ => count,
    };
    let raw = if size_based {
        let avg = match (objects.count, objects.avg_object_bytes) {
            (Some(_), Some(a)) if a.is_finite() && a > 0.0 => a.round() as i64,
            _ if count != 0 => MAX_OBJECT_BYTES,
            _ => 0,
        };
        let loaded = if req.named {
            1
        } else if req.served_from_cache {
            limited
        } else if req.has_selector {
            limited.max(count / 2)
        } else {
            limited
        };
        let mut bytes = loaded.saturating_mul(avg);
        if req.served_from_cache {
            bytes = bytes.min(CACHE_MAX_BYTES);
        }
        (bytes as f64 / BYTES_PER_SEAT).ceil()
    } else {
        let processed = if req.served_from_cache {
            count
        } else if req.has_selector {
            count.saturating_add(limited)
        } else {
            limited.saturating_mul(2)
        };
        (processed as f64 / OBJECTS_PER_SEAT).ceil()
    };
    seats(raw as u64, max_seats)
}

/// Initial seats clamped to [1, max].
fn seats(raw: u64, max_seats: u32) -> WorkEstimate {
    let max = u64::from(max_seats.max(1));
    WorkEstimate {
        initial_seats: raw.clamp(1, max) as u32,
        ..WorkEstimate::ONE
    }
}

fn mutating_seats(
    version: KubeVersion,
    req: &WorkRequest<'_>,
    watchers: f64,
    max_seats: u32,
) -> WorkEstimate {
    if !version.at_least(1, 24) {
        return WorkEstimate::ONE;
    }
    if version.at_least(1, 26) && req.resource == "serviceaccounts" && req.subresource == "token" {
        return WorkEstimate::ONE;
    }
    if !watchers.is_finite() || watchers < WATCHES_PER_SEAT {
        return WorkEstimate::ONE;
    }
    let wanted = (watchers.floor() / WATCHES_PER_SEAT).ceil();
    // Work in the server's fixed point: 1e-8 seat-seconds.
    let work = (wanted * EVENT_ADDITIONAL_NS / 10.0).round();
    let final_seats = wanted.min(f64::from(max_seats.max(1)));
    let additional_ns = (work / final_seats * 10.0).trunc();
    WorkEstimate {
        initial_seats: 1,
        final_seats: final_seats as u32,
        additional_latency_s: additional_ns / 1e9,
    }
}
