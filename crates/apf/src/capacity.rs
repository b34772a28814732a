//! Seats per priority level for one replica.
//!
//! Follows `finishQueueSetReconfigsLocked` and `plSpecCommons` in
//! `k8s.io/apiserver/pkg/util/flowcontrol/apf_controller.go`:
//! - `NominalCL = ceil(ServerCL · NCS / ΣNCS)`; the sum holds the limited levels' shares, and
//!   from `kubernetes-1.28.0` also the exempt level's (`exempt.nominalConcurrencyShares`, 0 by
//!   default), which then gets a nominal limit of its own;
//! - from `kubernetes-1.26.0`: `LendableCL = round(NominalCL · lendablePercent / 100)` and
//!   `BorrowingCL = round(NominalCL · borrowingLimitPercent / 100)`, or ServerCL when the
//!   percent is unset; the current limit moves within `[NominalCL − LendableCL,
//!   NominalCL + BorrowingCL]`. Before 1.26 the limits are fixed at NominalCL;
//! - the most seats one request may take in a queued level (`MaxSeatsTracker`, from
//!   `kubernetes-1.28.0` and cherry-picked into 1.25.13, 1.26.8 and 1.27.5):
//!   `max(1, min(ceil(0.15 · NominalCL), NominalCL / handSize))` (integer division), never above
//!   the estimator's global caps (`request/config.go`: 10 for LISTs, 100 with the
//!   `SizeBasedListCostEstimate` gate on by default from 1.34; 10 for mutating requests).
//!   Levels without queues (Reject, exempt) have no per-level value and take the global cap.
//!
//! The queue wait limit follows `pkg/server/filters/priority-and-fairness.go`: from
//! `kubernetes-1.29.0`, `min(remaining deadline / 4, 1 min)`; before, the server-wide
//! `--request-timeout / 4` (`pkg/server/options/recommended.go`, `pkg/server/config.go`).

use crate::KubeVersion;
use crate::config::ApfConfig;
use crate::objects::{LevelSpec, LimitResponse};
use serde::Serialize;

/// `--max-requests-inflight` (400) + `--max-mutating-requests-inflight` (200) by default.
pub const DEFAULT_SERVER_CONCURRENCY_LIMIT: u32 = 600;

/// The default `--request-timeout`, seconds.
pub const DEFAULT_REQUEST_TIMEOUT_S: f64 = 60.0;

/// `priorityLevelMaxSeatsPercent` of `apf_controller.go`.
const MAX_SEATS_FRACTION: f64 = 0.15;

/// Seats of every level of one replica.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    /// The replica's server concurrency limit (ServerCL).
    pub server_concurrency_limit: u32,
    /// One entry per level, by name.
    pub levels: Vec<LevelCapacity>,
}

/// Seats of one level of one replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelCapacity {
    /// The level's name.
    pub name: String,
    /// True for the exempt level (never limited).
    pub exempt: bool,
    /// NominalCL: `apiserver_flowcontrol_nominal_limit_seats`.
    pub nominal: u32,
    /// LendableCL: seats the level may lend when idle.
    pub lendable: u32,
    /// BorrowingCL: seats the level may borrow beyond its nominal limit.
    pub borrowing_limit: u32,
    /// `nominal - lendable`: `apiserver_flowcontrol_lower_limit_seats`.
    pub min_limit: u32,
    /// `nominal + borrowing_limit`: `apiserver_flowcontrol_upper_limit_seats`.
    pub max_limit: u32,
    /// The most seats one request may occupy in this level.
    pub max_seats_per_request: u32,
    /// True when requests beyond the limit are rejected at once (limitResponse Reject).
    pub reject: bool,
    /// Queues (0 without queuing).
    pub queues: u32,
    /// Hand size (0 without queuing).
    pub hand_size: u32,
    /// Queue length limit (0 without queuing).
    pub queue_length_limit: u32,
}

impl Capacity {
    /// The entry of a level.
    pub fn level(&self, name: &str) -> Option<&LevelCapacity> {
        self.levels.iter().find(|l| l.name == name)
    }
}

/// The estimator's global caps of `version`: (LIST and WATCH, mutating requests).
pub(crate) fn global_seat_caps(version: KubeVersion) -> (u32, u32) {
    if version.at_least(1, 34) {
        (100, 10)
    } else {
        (10, 10)
    }
}

/// True when `version` caps seats per level (1.28+, 1.25.13+, 1.26.8+, 1.27.5+; a version
/// without a patch counts as its newest patch release).
pub(crate) fn has_per_level_max_seats(version: KubeVersion) -> bool {
    if version.at_least(1, 28) {
        return true;
    }
    let first_patch = match (version.major, version.minor) {
        (1, 25) => 13,
        (1, 26) => 8,
        (1, 27) => 5,
        _ => return false,
    };
    version.patch.is_none_or(|p| p >= first_patch)
}

impl ApfConfig {
    /// Seats per level for one replica whose server concurrency limit is `server_cl`,
    /// following the rules of `version`.
    ///
    /// ```
    /// use apilens_apf::{ApfConfig, KubeVersion};
    /// let v = KubeVersion::minor(1, 32);
    /// let cap = ApfConfig::defaults(v).capacity(v, 600);
    /// assert_eq!(cap.level("workload-low").unwrap().nominal, 245);
    /// assert_eq!(cap.level("catch-all").unwrap().nominal, 13);
    /// ```
    pub fn capacity(&self, version: KubeVersion, server_cl: u32) -> Capacity {
        let exempt_counts = version.at_least(1, 28);
        let borrowing = version.at_least(1, 26);
        let share_sum: f64 = self
            .levels
            .iter()
            .filter(|l| exempt_counts || !l.spec.is_exempt())
            .map(|l| f64::from(l.spec.nominal_concurrency_shares()))
            .sum();
        let (list_cap, mutating_cap) = global_seat_caps(version);
        let global_cap = list_cap.max(mutating_cap);
        let per_level = has_per_level_max_seats(version);
        let levels = self
            .levels
            .iter()
            .map(|l| {
                let exempt = l.spec.is_exempt();
                let nominal = if (exempt && !exempt_counts) || share_sum <= 0.0 {
                    0
                } else {
                    (f64::from(server_cl) * f64::from(l.spec.nominal_concurrency_shares())
                        / share_sum)
                        .ceil() as u32
                };
                let (lendable, borrowing_limit) = if borrowing {
                    let lendable = (f64::from(nominal) * f64::from(l.spec.lendable_percent())
                        / 100.0)
                        .round() as u32;
                    let borrow = match l.spec {
                        LevelSpec::Limited {
                            borrowing_limit_percent: Some(p),
                            ..
                        } => (f64::from(nominal) * f64::from(p) / 100.0).round() as u32,
                        _ => server_cl,
                    };
                    (lendable.min(nominal), borrow)
                } else {
                    (0, 0)
                };
                let (reject, queues, hand_size, queue_length_limit) = match l.spec {
                    LevelSpec::Limited {
                        limit_response: LimitResponse::Reject,
                        ..
                    } => (true, 0, 0, 0),
                    LevelSpec::Limited {
                        limit_response:
                            LimitResponse::Queue {
                                queues,
                                hand_size,
                                queue_length_limit,
                            },
                        ..
                    } => (false, queues, hand_size, queue_length_limit),
                    LevelSpec::Exempt { .. } => (false, 0, 0, 0),
                };
                let max_seats_per_request = if per_level && queues > 0 && hand_size > 0 {
                    let by_fraction = (f64::from(nominal) * MAX_SEATS_FRACTION).ceil() as u32;
                    by_fraction.min(nominal / hand_size).max(1).min(global_cap)
                } else {
                    global_cap
                };
                LevelCapacity {
                    name: l.name.clone(),
                    exempt,
                    nominal,
                    lendable,
                    borrowing_limit,
                    min_limit: nominal - lendable,
                    max_limit: nominal.saturating_add(borrowing_limit),
                    max_seats_per_request,
                    reject,
                    queues,
                    hand_size,
                    queue_length_limit,
                }
            })
            .collect();
        Capacity {
            server_concurrency_limit: server_cl,
            levels,
        }
    }
}

/// `--max-requests-inflight` + `--max-mutating-requests-inflight` of one replica recovered from
/// the `apiserver_flowcontrol_nominal_limit_seats` of each level; `None` when no server limit
/// gives every listed level its value, or a listed level is unknown to `config`.
///
/// Several limits can give the same nominal seats (the ceiling hides a few seats); the answer
/// is the one among them that is a multiple of the largest power of ten (operators set round
/// numbers), the largest on a tie.
pub fn infer_server_concurrency_limit(
    config: &ApfConfig,
    nominal_limit_seats: &[(String, f64)],
) -> Option<u32> {
    let version = config.version();
    let exempt_counts = version.at_least(1, 28);
    let share_sum: f64 = config
        .levels()
        .iter()
        .filter(|l| exempt_counts || !l.spec.is_exempt())
        .map(|l| f64::from(l.spec.nominal_concurrency_shares()))
        .sum();
    if share_sum <= 0.0 {
        return None;
    }
    // ServerCL lies in ((n - 1) · sum / ncs, n · sum / ncs] for each level with shares.
    let mut low = 0.0_f64; // exclusive
    let mut high = f64::INFINITY; // inclusive
    let mut constrained = false;
    for (name, seats) in nominal_limit_seats {
        let level = config.level(name)?;
        let ncs = f64::from(level.spec.nominal_concurrency_shares());
        if !seats.is_finite() || *seats < 0.0 {
            return None;
        }
        if ncs == 0.0 || (level.spec.is_exempt() && !exempt_counts) {
            if *seats != 0.0 {
                return None;
            }
            continue;
        }
        constrained = true;
        low = low.max((seats - 1.0) * share_sum / ncs);
        high = high.min(seats * share_sum / ncs);
    }
    if !constrained {
        return None;
    }
    let first = (low + 1e-9).floor() as u64 + 1;
    let last = (high + 1e-9).floor() as u64;
    if first > last || last > u64::from(u32::MAX) {
        return None;
    }
    let candidates: Vec<u32> = (first..=last).map(|c| c as u32).collect();
    let roundness = |c: u32| {
        let mut n = 0;
        let mut c = c;
        while c > 0 && c.is_multiple_of(10) {
            c /= 10;
            n += 1;
        }
        n
    };
    let check = |s: u32| {
        let cap = config.capacity(version, s);
        nominal_limit_seats.iter().all(|(name, seats)| {
            cap.level(name)
                .is_some_and(|l| f64::from(l.nominal) == *seats)
        })
    };
    candidates
        .iter()
        .copied()
        .filter(|&c| check(c))
        .max_by_key(|&c| (roundness(c), c))
}

/// The longest a request may wait in a queue from 1.29: `min(request timeout / 4, 60 s)`,
/// 15 s with the default 60 s timeout.
pub fn queue_wait_limit(request_timeout_s: f64) -> f64 {
    (request_timeout_s / 4.0).min(60.0)
}

/// The queue wait limit of `version`: [`queue_wait_limit`] from 1.29; before, a quarter of the
/// request timeout without the one-minute cap.
pub fn queue_wait_limit_for(version: KubeVersion, request_timeout_s: f64) -> f64 {
    if version.at_least(1, 29) {
        queue_wait_limit(request_timeout_s)
    } else {
        request_timeout_s / 4.0
    }
}
