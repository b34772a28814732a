//! The dispatching model: requests replayed through each replica's priority levels.

use crate::KubeVersion;
use crate::capacity::DEFAULT_SERVER_CONCURRENCY_LIMIT;
use crate::config::ApfConfig;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

/// One request to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRequest {
    /// Seconds from the window start; non-decreasing.
    pub arrival_s: f64,
    /// Which API server replica served it (0-based).
    pub replica: u32,
    /// Its priority level (from classification).
    pub level: String,
    /// A hash of (flow schema, distinguisher): see [`crate::flow_hash`].
    pub flow: u64,
    /// Seats held while executing.
    pub seats: u32,
    /// Seats held after executing.
    pub final_seats: u32,
    /// How long the final seats are held, seconds.
    pub additional_latency_s: f64,
    /// How long it executes once dispatched, seconds.
    pub execution_s: f64,
    /// The caller's grouping (e.g. a client index); outcomes are summed per tag.
    pub tag: u32,
}

/// Replay settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayOpts {
    /// API server replicas (each has its own seats and queues).
    pub replicas: u32,
    /// Each replica's server concurrency limit.
    pub server_concurrency_limit: u32,
    /// The longest a request may wait in a queue, seconds.
    pub queue_wait_limit_s: f64,
}

impl Default for ReplayOpts {
    fn default() -> ReplayOpts {
        ReplayOpts {
            replicas: 1,
            server_concurrency_limit: DEFAULT_SERVER_CONCURRENCY_LIMIT,
            queue_wait_limit_s: 15.0,
        }
    }
}

/// Index of each rejection reason in [`TagOutcome::rejected_by_reason`].
pub const REJECT_REASONS: [&str; 3] = ["queue-full", "concurrency-limit", "time-out"];

/// What happened to one tag's requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TagOutcome {
    /// Requests replayed.
    pub requests: u64,
    /// Requests dispatched (exempt ones included).
    pub dispatched: u64,
    /// Requests rejected with 429.
    pub rejected: u64,
    /// Rejections by reason: queue-full, concurrency-limit, time-out ([`REJECT_REASONS`]).
    pub rejected_by_reason: [u64; 3],
    /// Sum of queue waits of dispatched requests, seconds.
    pub wait_s_sum: f64,
    /// 99th percentile queue wait of the tag's requests (rejected ones count their wait).
    pub wait_s_p99: f64,
    /// Seat-seconds used by dispatched requests.
    pub seat_seconds: f64,
}

/// What happened in one level, over every replica.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LevelOutcome {
    /// The level's name.
    pub name: String,
    /// The most seats in use at once on one replica.
    pub peak_seats: u32,
    /// Seat-seconds used.
    pub seat_seconds: f64,
    /// Requests rejected.
    pub rejected: u64,
    /// 99th percentile queue wait.
    pub wait_s_p99: f64,
}

/// The outcome of a replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayOutcome {
    /// Per tag.
    pub tags: BTreeMap<u32, TagOutcome>,
    /// Per level, by name.
    pub levels: Vec<LevelOutcome>,
}

struct LevelState {
    limit: u32,
    exempt: bool,
    reject: bool,
    queue_capacity: usize,
    in_use: u32,
    waiting: VecDeque<usize>,
}

/// Replays `requests` through the priority levels of `config` on each replica.
///
/// The model holds each level at its nominal limit, dispatches waiting requests first come
/// first served, rejects when the level's queues are full (Reject levels: when the seats are
/// taken), and times out requests that wait longer than the wait limit.
pub fn replay(
    config: &ApfConfig,
    version: KubeVersion,
    requests: &[ReplayRequest],
    opts: &ReplayOpts,
) -> ReplayOutcome {
    let capacity = config.capacity(version, opts.server_concurrency_limit);
    let names: Vec<&str> = capacity.levels.iter().map(|l| l.name.as_str()).collect();
    let replicas = opts.replicas.max(1) as usize;
    let mut states: Vec<LevelState> = Vec::new();
    for _ in 0..replicas {
        for l in &capacity.levels {
            states.push(LevelState {
                limit: l.nominal.max(1),
                exempt: l.exempt,
                reject: l.reject,
                queue_capacity: (l.queues as usize) * (l.queue_length_limit as usize),
                in_use: 0,
                waiting: VecDeque::new(),
            });
        }
    }
    let level_index: HashMap<&str, usize> =
        names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let catch_all = level_index.get("catch-all").copied().unwrap_or(0);
    let state_of = |r: &ReplayRequest| {
        let li = level_index
            .get(r.level.as_str())
            .copied()
            .unwrap_or(catch_all);
        (r.replica as usize % replicas) * names.len() + li
    };
    let mut tags: BTreeMap<u32, TagOutcome> = BTreeMap::new();
    let mut waits: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let mut level_out: Vec<LevelOutcome> = names
        .iter()
        .map(|n| LevelOutcome {
            name: n.to_string(),
            ..LevelOutcome::default()
        })
        .collect();
    let mut level_waits: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    // Completion events: (time in ns, state index, seats to free).
    let mut done: BinaryHeap<Reverse<(u64, usize, u32)>> = BinaryHeap::new();
    let ns = |s: f64| (s.max(0.0) * 1e9) as u64;
    let mut record_wait = |tag: u32, level: usize, w: f64| {
        waits.entry(tag).or_default().push(w);
        level_waits[level].push(w);
    };
    let dispatch = |i: usize,
                    now: f64,
                    states: &mut Vec<LevelState>,
                    done: &mut BinaryHeap<Reverse<(u64, usize, u32)>>,
                    tags: &mut BTreeMap<u32, TagOutcome>,
                    level_out: &mut Vec<LevelOutcome>| {
        let r = &requests[i];
        let s = state_of(r);
        let width = r.seats.max(1);
        states[s].in_use += width;
        let li = s % names.len();
        level_out[li].peak_seats = level_out[li].peak_seats.max(states[s].in_use);
        let end = now + r.execution_s.max(0.0);
        done.push(Reverse((ns(end), s, width)));
        let t = tags.entry(r.tag).or_default();
        t.dispatched += 1;
        let used = f64::from(width) * r.execution_s.max(0.0)
            + f64::from(r.final_seats) * r.additional_latency_s.max(0.0);
        t.seat_seconds += used;
        level_out[li].seat_seconds += used;
    };
    let mut next = 0;
    loop {
        let next_arrival = requests.get(next).map(|r| ns(r.arrival_s));
        let next_done = done.peek().map(|Reverse((t, _, _))| *t);
        let take_done = match (next_arrival, next_done) {
            (None, None) => break,
            (Some(a), Some(d)) => d <= a,
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        if take_done {
            let Some(Reverse((t, s, width))) = done.pop() else {
                break;
            };
            states[s].in_use = states[s].in_use.saturating_sub(width);
            let now = t as f64 / 1e9;
            while let Some(&w) = states[s].waiting.front() {
                let r = &requests[w];
                let waited = now - r.arrival_s;
                let li = s % names.len();
                if waited > opts.queue_wait_limit_s {
                    states[s].waiting.pop_front();
                    let t = tags.entry(r.tag).or_default();
                    t.rejected += 1;
                    t.rejected_by_reason[2] += 1;
                    level_out[li].rejected += 1;
                    record_wait(r.tag, li, opts.queue_wait_limit_s);
                    continue;
                }
                let width = r.seats.max(1);
                if states[s].in_use + width > states[s].limit && states[s].in_use > 0 {
                    break;
                }
                states[s].waiting.pop_front();
                tags.entry(r.tag).or_default().wait_s_sum += waited;
                record_wait(r.tag, li, waited);
                dispatch(w, now, &mut states, &mut done, &mut tags, &mut level_out);
            }
            continue;
        }
        let i = next;
        next += 1;
        let r = &requests[i];
        tags.entry(r.tag).or_default().requests += 1;
        let s = state_of(r);
        let li = s % names.len();
        let width = r.seats.max(1);
        let fits = states[s].in_use + width <= states[s].limit || states[s].in_use == 0;
        if states[s].exempt || (fits && states[s].waiting.is_empty()) {
            record_wait(r.tag, li, 0.0);
            dispatch(
                i,
                r.arrival_s,
                &mut states,
                &mut done,
                &mut tags,
                &mut level_out,
            );
        } else if states[s].reject {
            let t = tags.entry(r.tag).or_default();
            t.rejected += 1;
            t.rejected_by_reason[1] += 1;
            level_out[li].rejected += 1;
            record_wait(r.tag, li, 0.0);
        } else if states[s].waiting.len() >= states[s].queue_capacity {
            let t = tags.entry(r.tag).or_default();
            t.rejected += 1;
            t.rejected_by_reason[0] += 1;
            level_out[li].rejected += 1;
            record_wait(r.tag, li, 0.0);
        } else {
            states[s].waiting.push_back(i);
        }
    }
    for (tag, mut w) in waits {
        if let Some(t) = tags.get_mut(&tag) {
            t.wait_s_p99 = p99(&mut w);
        }
    }
    for (l, mut w) in level_out.iter_mut().zip(level_waits) {
        l.wait_s_p99 = p99(&mut w);
    }
    ReplayOutcome {
        tags,
        levels: level_out,
    }
}

fn p99(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let idx = ((values.len() as f64) * 0.99).ceil() as usize;
    values[idx.clamp(1, values.len()) - 1]
}
