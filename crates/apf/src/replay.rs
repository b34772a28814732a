//! The dispatching model: requests replayed through each replica's priority levels, as the
//! queueset of kube-apiserver dispatches them.
//!
//! Follows `k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset/queueset.go`,
//! `pkg/util/shufflesharding/shufflesharding.go`, `apf_controller.go` (`updateBorrowingLocked`)
//! and `conc_alloc.go` at `kubernetes-1.35.0` (the same rules since 1.26 for borrowing and
//! since 1.23 for seats):
//! - each replica has its own levels; a request of an exempt level runs at once; a level that
//!   rejects (no queues) runs a request when its seats fit, else rejects it
//!   (`concurrency-limit`);
//! - a queued level deals each flow a hand of `handSize` queues out of `queues` from the
//!   flow's hash, and the request joins the hand's queue with the least waiting work; when the
//!   level's seats are all taken and that queue holds `queueLengthLimit` requests, it is
//!   rejected (`queue-full`);
//! - dispatch follows the virtual-time rule: the level's progress meter R advances by
//!   `min(seats requested, limit) / active queues` per second; each queue's next dispatch R
//!   grows by the work of what it dispatches (initial seats × 3 ms, plus final seats × their
//!   additional latency) and is corrected by the real execution time when the request ends;
//!   the queue whose head would finish first in virtual time goes next (ties in round-robin
//!   order), provided its seats fit; a request wider than the whole limit runs when nothing
//!   else does;
//! - a request holds `max(initial, final)` seats while executing and, when it has final
//!   seats, for its additional latency after;
//! - a request still queued after the wait limit is rejected (`time-out`);
//! - from 1.26, every 10 s each replica re-divides its seats among the limited levels from
//!   their smoothed seat demand within `[nominal − lendable, nominal + borrowing limit]` (the
//!   exempt level's demand high watermark comes off the top), as the server does; each level
//!   starts at `nominal − lendable / 2`. Before 1.26 the limits are the nominal ones.
//!
//! What it leaves out: requests cancelled by their clients, watches' long-running phase
//! (only what the caller puts in `execution_s` is held), the server's other limits (max in
//! flight of non-APF paths, etcd back-pressure), and any change of configuration during the
//! window.

use crate::KubeVersion;
use crate::borrowing::{BORROWING_PERIOD_S, SeatDivider};
use crate::capacity::{Capacity, DEFAULT_SERVER_CONCURRENCY_LIMIT, LevelCapacity};
use crate::config::ApfConfig;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// One request to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRequest {
    /// Seconds from the window start; non-decreasing (an unsorted slice is sorted first).
    pub arrival_s: f64,
    /// Which API server replica served it (0-based; taken modulo the replicas).
    pub replica: u32,
    /// Its priority level (from classification); an unknown level is treated as catch-all.
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

/// The rejection reasons, in the order of [`TagOutcome::rejected_by_reason`].
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
    /// Sum of the queue waits of dispatched requests, seconds.
    pub wait_s_sum: f64,
    /// 99th percentile queue wait of the tag's requests (a timed-out request counts the wait
    /// limit, other rejections zero).
    pub wait_s_p99: f64,
    /// Seat-seconds held by dispatched requests: `max(initial, final)` seats for the
    /// execution plus the additional latency.
    pub seat_seconds: f64,
}

/// What happened in one level, over every replica.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LevelOutcome {
    /// The level's name.
    pub name: String,
    /// The most seats in use at once on one replica.
    pub peak_seats: u32,
    /// Seat-seconds held.
    pub seat_seconds: f64,
    /// Requests rejected.
    pub rejected: u64,
    /// 99th percentile queue wait of its requests.
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

/// `estimatedServiceDuration` of the queueset, seconds.
const ESTIMATED_SERVICE_S: f64 = 0.003;

/// Replays `requests` through the priority levels of `config` on each replica, following the
/// rules of `version`.
pub fn replay(
    config: &ApfConfig,
    version: KubeVersion,
    requests: &[ReplayRequest],
    opts: &ReplayOpts,
) -> ReplayOutcome {
    let capacity = config.capacity(version, opts.server_concurrency_limit);
    let mut model = Model::new(&capacity, version, opts, requests);
    let sorted = requests
        .windows(2)
        .all(|w| arrival(&w[0]) <= arrival(&w[1]));
    if sorted {
        model.run(requests, requests.iter().enumerate());
    } else {
        let mut order: Vec<usize> = (0..requests.len()).collect();
        order.sort_by(|&a, &b| arrival(&requests[a]).total_cmp(&arrival(&requests[b])));
        model.run(requests, order.into_iter().map(|i| (i, &requests[i])));
    }
    model.finish(&capacity.levels)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exempt,
    Reject,
    Queue,
}

struct Queue {
    /// Waiting requests: (request index, arrival R).
    waiting: VecDeque<(u32, f64)>,
    next_r: f64,
    seats_in_use: u32,
    executing: u32,
    waiting_work: f64,
    /// Counted in the level's active queues.
    active: bool,
}

struct Level {
    kind: Kind,
    /// Index of the level's name in the capacity table.
    name: usize,
    limit: u32,
    hand_size: u32,
    queue_length_limit: usize,
    seats_in_use: u32,
    executing: u32,
    waiting: u32,
    waiting_seats: u32,
    queues: Vec<Queue>,
    /// Queues holding waiting requests.
    nonempty: Vec<u32>,
    active_queues: u32,
    current_r: f64,
    last_t: f64,
    robin: usize,
    enqueues: u64,
    peak: u32,
}

/// Something that happens at a time: a request ends its execution, or releases its final
/// seats, or times out in its queue. Ordered by time, then kind (finishes free seats before a
/// time-out at the same instant), then level and request.
#[derive(Clone, Copy)]
struct Event {
    /// Time as the bits of a non-negative f64 (ordered like the number).
    at: u64,
    /// Kind (0 finish, 1 release, 2 time-out) in the top bits, the level, then the request.
    key: u64,
    /// The queue the request was dispatched from, [`NO_QUEUE`] for none.
    queue: u32,
}

impl Event {
    fn new(t: f64, what: u8, level: usize, request: usize, queue: u32) -> Event {
        Event {
            at: time_key(t),
            key: (u64::from(what) << 62) | ((level as u64 & 0x3fff_ffff) << 32) | request as u64,
            queue,
        }
    }

    fn what(&self) -> u8 {
        (self.key >> 62) as u8
    }

    fn level(&self) -> usize {
        ((self.key >> 32) & 0x3fff_ffff) as usize
    }

    fn request(&self) -> usize {
        (self.key & 0xffff_ffff) as usize
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        (self.at, self.key) == (other.at, other.key)
    }
}

impl Eq for Event {}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Event) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    fn cmp(&self, other: &Event) -> std::cmp::Ordering {
        (self.at, self.key).cmp(&(other.at, other.key))
    }
}

const NO_QUEUE: u32 = u32::MAX;

fn time_key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

struct Model<'o> {
    opts: &'o ReplayOpts,
    borrowing: bool,
    levels: Vec<Level>,
    /// Levels per replica.
    per_replica: usize,
    names: Vec<String>,
    catch_all: usize,
    events: BinaryHeap<Reverse<Event>>,
    /// Each request's tag slot.
    tag_slot: Vec<u32>,
    /// The tag of each slot.
    tag_ids: Vec<u32>,
    tags: Vec<TagOutcome>,
    /// Non-zero waits per tag slot and per level name (zeros are counted, not stored).
    tag_waits: Vec<Vec<f32>>,
    level_waits: Vec<Vec<f32>>,
    level_requests: Vec<u64>,
    level_seat_seconds: Vec<f64>,
    level_rejected: Vec<u64>,
    /// Each replica's division of seats among its levels.
    dividers: Vec<SeatDivider>,
    /// The time the borrowing was last re-computed.
    last_adjust: f64,
}

impl<'o> Model<'o> {
    fn new(
        capacity: &Capacity,
        version: KubeVersion,
        opts: &'o ReplayOpts,
        requests: &[ReplayRequest],
    ) -> Model<'o> {
        let caps = &capacity.levels;
        let borrowing = version.at_least(1, 26);
        let replicas = opts.replicas.max(1) as usize;
        let dividers: Vec<SeatDivider> = (0..replicas)
            .map(|_| SeatDivider::new(capacity, version))
            .collect();
        let mut levels = Vec::with_capacity(caps.len() * replicas);
        for divider in &dividers {
            for (i, c) in caps.iter().enumerate() {
                let kind = if c.exempt {
                    Kind::Exempt
                } else if c.reject || c.queues == 0 {
                    Kind::Reject
                } else {
                    Kind::Queue
                };
                levels.push(Level {
                    kind,
                    name: i,
                    limit: divider.limit(i),
                    hand_size: c.hand_size.clamp(1, c.queues.max(1)),
                    queue_length_limit: c.queue_length_limit as usize,
                    seats_in_use: 0,
                    executing: 0,
                    waiting: 0,
                    waiting_seats: 0,
                    queues: Vec::new(),
                    nonempty: Vec::new(),
                    active_queues: 0,
                    current_r: 0.0,
                    last_t: 0.0,
                    robin: 0,
                    enqueues: 0,
                    peak: 0,
                });
                if kind == Kind::Queue {
                    let l = levels.last_mut().expect("just pushed");
                    l.queues = (0..c.queues)
                        .map(|_| Queue {
                            waiting: VecDeque::new(),
                            next_r: 0.0,
                            seats_in_use: 0,
                            executing: 0,
                            waiting_work: 0.0,
                            active: false,
                        })
                        .collect();
                }
            }
        }
        let names: Vec<String> = caps.iter().map(|c| c.name.clone()).collect();
        let catch_all = names.iter().position(|n| n == "catch-all").unwrap_or(0);
        // Tags to dense slots, once, so the hot path indexes instead of hashing.
        let mut slots: HashMap<u32, u32, BuildHasherDefault<TagHasher>> = HashMap::default();
        let mut tag_ids = Vec::new();
        let tag_slot = requests
            .iter()
            .map(|r| {
                *slots.entry(r.tag).or_insert_with(|| {
                    tag_ids.push(r.tag);
                    (tag_ids.len() - 1) as u32
                })
            })
            .collect();
        let n_tags = tag_ids.len();
        Model {
            opts,
            borrowing,
            levels,
            per_replica: caps.len(),
            catch_all,
            names,
            events: BinaryHeap::new(),
            tag_slot,
            tag_ids,
            tags: vec![TagOutcome::default(); n_tags],
            tag_waits: vec![Vec::new(); n_tags],
            level_waits: vec![Vec::new(); caps.len()],
            level_requests: vec![0; caps.len()],
            level_seat_seconds: vec![0.0; caps.len()],
            level_rejected: vec![0; caps.len()],
            dividers,
            last_adjust: 0.0,
        }
    }

    fn run<'r>(
        &mut self,
        requests: &'r [ReplayRequest],
        order: impl Iterator<Item = (usize, &'r ReplayRequest)>,
    ) {
        let replicas = self.opts.replicas.max(1) as usize;
        let mut last_name: (&str, usize) = ("", usize::MAX);
        for (i, r) in order {
            let t = arrival(r);
            self.until(requests, t);
            let li = if last_name.0 == r.level && last_name.1 != usize::MAX {
                last_name.1
            } else {
                let li = self
                    .names
                    .iter()
                    .position(|n| *n == r.level)
                    .unwrap_or(self.catch_all);
                last_name = (r.level.as_str(), li);
                li
            };
            let level = (r.replica as usize % replicas) * self.per_replica + li;
            self.arrive(requests, i, level, t);
        }
        self.until(requests, f64::INFINITY);
    }

    /// Processes every event and borrowing adjustment up to (not including arrivals at) `t`.
    fn until(&mut self, requests: &[ReplayRequest], t: f64) {
        // Re-divisions in a row with nothing happening: after enough of them the smoothed
        // demand has converged (0.977^1000 < 1e-10) and the rest of the quiet stretch is skipped.
        let mut quiet = 0u32;
        loop {
            let next_event = self.events.peek().map(|Reverse(e)| f64::from_bits(e.at));
            let next_adjust = if self.borrowing {
                self.last_adjust + BORROWING_PERIOD_S
            } else {
                f64::INFINITY
            };
            match next_event {
                Some(e) if e <= t && e < next_adjust => {
                    let Some(Reverse(ev)) = self.events.pop() else {
                        return;
                    };
                    self.handle(requests, ev);
                    quiet = 0;
                }
                _ if next_adjust <= t && (next_event.is_some() || t.is_finite()) => {
                    if quiet >= 1000 && self.levels.iter().all(|l| l.waiting == 0) {
                        let until = next_event.unwrap_or(t).min(t);
                        let periods = ((until - self.last_adjust) / BORROWING_PERIOD_S).floor();
                        if periods > 1.0 {
                            self.last_adjust += (periods - 1.0) * BORROWING_PERIOD_S;
                        }
                        quiet = 0;
                        continue;
                    }
                    self.adjust_borrowing(requests, next_adjust);
                    self.last_adjust = next_adjust;
                    quiet += 1;
                }
                _ => return,
            }
        }
    }

    fn handle(&mut self, requests: &[ReplayRequest], ev: Event) {
        let t = f64::from_bits(ev.at);
        let li = ev.level();
        let r = &requests[ev.request()];
        match ev.what() {
            0 => {
                // The request ends its execution.
                let seats = r.seats.max(r.final_seats).max(1);
                self.sync(li, t);
                let level = &mut self.levels[li];
                level.executing -= 1;
                let qi = (ev.queue != NO_QUEUE).then_some(ev.queue as usize);
                if let Some(qi) = qi {
                    let q = &mut level.queues[qi];
                    q.executing -= 1;
                    let actual = duration(r.execution_s);
                    q.next_r -= f64::from(r.seats.max(1)) * (ESTIMATED_SERVICE_S - actual);
                    bound_next_dispatch(q);
                }
                if duration(r.additional_latency_s) > 0.0 && r.final_seats > 0 {
                    self.events.push(Reverse(Event::new(
                        t + duration(r.additional_latency_s),
                        1,
                        li,
                        ev.request(),
                        ev.queue,
                    )));
                    if let Some(qi) = qi {
                        self.levels[li].update_active(qi);
                    }
                } else {
                    self.release(li, qi, seats, t);
                }
                self.dispatch(requests, li, t);
            }
            1 => {
                let seats = r.seats.max(r.final_seats).max(1);
                self.sync(li, t);
                let qi = (ev.queue != NO_QUEUE).then_some(ev.queue as usize);
                self.release(li, qi, seats, t);
                self.dispatch(requests, li, t);
            }
            _ => {
                // A wait-limit deadline: the request times out if it is still the head of
                // its queue (deadlines are in arrival order within a queue).
                self.sync(li, t);
                let level = &mut self.levels[li];
                let mut found = None;
                for &qi in &level.nonempty {
                    if level.queues[qi as usize]
                        .waiting
                        .front()
                        .map(|w| w.0 as usize)
                        == Some(ev.request())
                    {
                        found = Some(qi as usize);
                        break;
                    }
                }
                if let Some(qi) = found {
                    self.remove_head(li, qi, r, t);
                    let slot = self.tag_slot[ev.request()] as usize;
                    let name = self.levels[li].name;
                    self.reject(slot, name, 2, duration(self.opts.queue_wait_limit_s));
                    self.dispatch(requests, li, t);
                }
            }
        }
    }

    /// Frees a request's seats.
    fn release(&mut self, li: usize, qi: Option<usize>, seats: u32, t: f64) {
        let level = &mut self.levels[li];
        level.seats_in_use = level.seats_in_use.saturating_sub(seats);
        if let Some(qi) = qi {
            let q = &mut level.queues[qi];
            q.seats_in_use = q.seats_in_use.saturating_sub(seats);
            level.update_active(qi);
        }
        let demand = f64::from(level.seats_in_use) + f64::from(level.waiting_seats);
        self.note_demand(li, t, demand);
    }

    /// Advances the level's virtual time to `t` (`syncTimeLocked`).
    fn sync(&mut self, li: usize, t: f64) {
        let level = &mut self.levels[li];
        if level.kind == Kind::Queue && t > level.last_t && level.active_queues > 0 {
            let requested = f64::from(level.seats_in_use) + f64::from(level.waiting_seats);
            let ratio = requested.min(f64::from(level.limit)) / f64::from(level.active_queues);
            level.current_r += ratio * (t - level.last_t);
        }
        if t > level.last_t {
            level.last_t = t;
        }
    }

    fn arrive(&mut self, requests: &[ReplayRequest], i: usize, li: usize, t: f64) {
        let r = &requests[i];
        let name = self.levels[li].name;
        self.level_requests[name] += 1;
        let slot = self.tag_slot[i] as usize;
        self.tags[slot].requests += 1;
        let seats = r.seats.max(r.final_seats).max(1);
        self.sync(li, t);
        match self.levels[li].kind {
            Kind::Exempt => self.start(requests, i, li, None, t, 0.0),
            Kind::Reject => {
                if self.levels[li].can_accommodate(seats) {
                    self.start(requests, i, li, None, t, 0.0);
                } else {
                    self.reject(slot, name, 1, 0.0);
                }
            }
            Kind::Queue => {
                let qi = self.levels[li].shuffle_shard(r.flow);
                let level = &mut self.levels[li];
                if level.seats_in_use >= level.limit
                    && level.queues[qi].waiting.len() >= level.queue_length_limit
                {
                    self.reject(slot, name, 0, 0.0);
                    return;
                }
                let work = request_work(r);
                let q = &mut level.queues[qi];
                if q.waiting.is_empty() && q.executing == 0 {
                    q.next_r = level.current_r;
                }
                if q.waiting.is_empty() {
                    level.nonempty.push(qi as u32);
                }
                q.waiting.push_back((i as u32, level.current_r));
                q.waiting_work += work;
                bound_next_dispatch(q);
                level.update_active(qi);
                level.waiting += 1;
                level.waiting_seats = level.waiting_seats.saturating_add(seats);
                let demand = f64::from(level.seats_in_use) + f64::from(level.waiting_seats);
                self.note_demand(li, t, demand);
                self.dispatch(requests, li, t);
                // Still waiting (the last in its queue, as dispatch takes from the front):
                // it times out at its deadline unless dispatched before.
                if self.levels[li].queues[qi].waiting.back().map(|w| w.0) == Some(i as u32) {
                    let deadline = arrival(r) + duration(self.opts.queue_wait_limit_s);
                    self.events
                        .push(Reverse(Event::new(deadline, 2, li, i, qi as u32)));
                }
            }
        }
    }

    /// Dispatches as much as possible (`dispatchAsMuchAsPossibleLocked`).
    fn dispatch(&mut self, requests: &[ReplayRequest], li: usize, t: f64) {
        loop {
            let level = &self.levels[li];
            if level.kind != Kind::Queue || level.waiting == 0 || level.seats_in_use >= level.limit
            {
                return;
            }
            // The queue whose head finishes first in virtual time, ties in round-robin order.
            let nq = level.queues.len();
            let mut best: Option<(f64, usize, usize)> = None;
            for &qi in &level.nonempty {
                let qi = qi as usize;
                let q = &level.queues[qi];
                let Some(&(head, _)) = q.waiting.front() else {
                    continue;
                };
                let finish = q.next_r + request_work(&requests[head as usize]);
                let order = (qi + nq - (level.robin + 1) % nq) % nq;
                if best.is_none_or(|(f, o, _)| finish < f || (finish == f && order < o)) {
                    best = Some((finish, order, qi));
                }
            }
            let Some((_, _, qi)) = best else {
                return;
            };
            let Some(&(head, _)) = level.queues[qi].waiting.front() else {
                return;
            };
            let r = &requests[head as usize];
            let seats = r.seats.max(r.final_seats).max(1);
            if !level.can_accommodate(seats) {
                return;
            }
            let arrived = arrival(r);
            self.remove_head(li, qi, r, t);
            let level = &mut self.levels[li];
            level.robin = qi;
            let work = request_work(r);
            let q = &mut level.queues[qi];
            q.next_r += work;
            self.start(
                requests,
                head as usize,
                li,
                Some(qi),
                t,
                (t - arrived).max(0.0),
            );
        }
    }

    /// Takes the head `r` off a queue (to dispatch it or time it out).
    fn remove_head(&mut self, li: usize, qi: usize, r: &ReplayRequest, t: f64) {
        let level = &mut self.levels[li];
        let q = &mut level.queues[qi];
        if q.waiting.pop_front().is_none() {
            return;
        }
        q.waiting_work = (q.waiting_work - request_work(r)).max(0.0);
        level.waiting_seats = level
            .waiting_seats
            .saturating_sub(r.seats.max(r.final_seats).max(1));
        if q.waiting.is_empty() {
            q.waiting_work = 0.0;
            if let Some(pos) = level.nonempty.iter().position(|&x| x as usize == qi) {
                level.nonempty.swap_remove(pos);
            }
        }
        bound_next_dispatch(q);
        level.waiting -= 1;
        level.update_active(qi);
        let demand = f64::from(level.seats_in_use) + f64::from(level.waiting_seats);
        self.note_demand(li, t, demand);
    }

    fn start(
        &mut self,
        requests: &[ReplayRequest],
        i: usize,
        li: usize,
        qi: Option<usize>,
        t: f64,
        waited: f64,
    ) {
        let r = &requests[i];
        let seats = r.seats.max(r.final_seats).max(1);
        let level = &mut self.levels[li];
        if let Some(qi) = qi {
            let q = &mut level.queues[qi];
            q.seats_in_use = q.seats_in_use.saturating_add(seats);
            q.executing += 1;
            level.update_active(qi);
        }
        level.seats_in_use = level.seats_in_use.saturating_add(seats);
        level.executing += 1;
        level.peak = level.peak.max(level.seats_in_use);
        let demand = f64::from(level.seats_in_use) + f64::from(level.waiting_seats);
        let name = level.name;
        self.note_demand(li, t, demand);
        let held = f64::from(seats)
            * (duration(r.execution_s)
                + if r.final_seats > 0 {
                    duration(r.additional_latency_s)
                } else {
                    0.0
                });
        self.level_seat_seconds[name] += held;
        let slot = self.tag_slot[i] as usize;
        let tag = &mut self.tags[slot];
        tag.dispatched += 1;
        tag.wait_s_sum += waited;
        tag.seat_seconds += held;
        if waited > 0.0 {
            self.tag_waits[slot].push(waited as f32);
            self.level_waits[name].push(waited as f32);
        }
        let queue = qi.map_or(NO_QUEUE, |q| q as u32);
        self.events.push(Reverse(Event::new(
            t + duration(r.execution_s),
            0,
            li,
            i,
            queue,
        )));
    }

    fn reject(&mut self, slot: usize, name: usize, reason: usize, waited: f64) {
        let t = &mut self.tags[slot];
        t.rejected += 1;
        t.rejected_by_reason[reason] += 1;
        self.level_rejected[name] += 1;
        if waited > 0.0 {
            self.tag_waits[slot].push(waited as f32);
            self.level_waits[name].push(waited as f32);
        }
    }

    /// Records a level's seat demand with its replica's divider.
    fn note_demand(&mut self, li: usize, t: f64, seats: f64) {
        let per = self.per_replica.max(1);
        if let Some(d) = self.dividers.get_mut(li / per) {
            d.set_demand(li % per, t, seats);
        }
    }

    /// Re-divides each replica's seats among its levels (`updateBorrowingLocked`).
    fn adjust_borrowing(&mut self, requests: &[ReplayRequest], t: f64) {
        let per = self.per_replica.max(1);
        for rep in 0..self.dividers.len() {
            self.dividers[rep].adjust(t);
            for i in 0..per {
                let li = rep * per + i;
                if self.levels[li].kind == Kind::Exempt {
                    continue;
                }
                self.sync(li, t);
                let limit = self.dividers[rep].limit(i);
                let grew = limit > self.levels[li].limit;
                self.levels[li].limit = limit;
                if grew {
                    self.dispatch(requests, li, t);
                }
            }
        }
    }

    fn finish(mut self, caps: &[LevelCapacity]) -> ReplayOutcome {
        for (out, waits) in self
            .tags
            .iter_mut()
            .zip(std::mem::take(&mut self.tag_waits))
        {
            out.wait_s_p99 = p99(waits, out.requests);
        }
        let mut peaks = vec![0u32; caps.len()];
        for l in &self.levels {
            peaks[l.name] = peaks[l.name].max(l.peak);
        }
        let levels = caps
            .iter()
            .enumerate()
            .map(|(i, c)| LevelOutcome {
                name: c.name.clone(),
                peak_seats: peaks[i],
                seat_seconds: self.level_seat_seconds[i],
                rejected: self.level_rejected[i],
                wait_s_p99: p99(
                    std::mem::take(&mut self.level_waits[i]),
                    self.level_requests[i],
                ),
            })
            .collect();
        ReplayOutcome {
            tags: self.tag_ids.iter().copied().zip(self.tags).collect(),
            levels,
        }
    }
}

impl Queue {
    /// Waiting or executing (`getVirtualTimeRatioLocked`).
    fn is_active(&self) -> bool {
        !self.waiting.is_empty() || self.executing > 0
    }
}

impl Level {
    /// `canAccommodateSeatsLocked`.
    fn can_accommodate(&self, seats: u32) -> bool {
        match self.kind {
            Kind::Exempt => true,
            _ if seats > self.limit => self.executing == 0,
            _ => self.seats_in_use.saturating_add(seats) <= self.limit,
        }
    }

    /// The queue a request of `flow` joins: the hand's queue with the least waiting work,
    /// starting at an offset that turns with each enqueue (`shuffleShardLocked`).
    fn shuffle_shard(&mut self, flow: u64) -> usize {
        let deck = self.queues.len();
        let hand_size = (self.hand_size as usize).min(deck).max(1);
        let mut hand = [0usize; 16];
        deal(flow, deck, hand_size.min(16), &mut hand);
        let hand_size = hand_size.min(16);
        let offset = (self.enqueues % hand_size as u64) as usize;
        self.enqueues += 1;
        let mut best = hand[offset];
        let mut best_work = f64::INFINITY;
        for k in 0..hand_size {
            let qi = hand[(offset + k) % hand_size];
            let w = self.queues[qi].waiting_work;
            if w < best_work {
                best_work = w;
                best = qi;
            }
        }
        best
    }

    /// Keeps the count of active queues (waiting or executing) after a change to queue `qi`.
    fn update_active(&mut self, qi: usize) {
        let q = &mut self.queues[qi];
        let active = q.is_active();
        if active != q.active {
            q.active = active;
            if active {
                self.active_queues += 1;
            } else {
                self.active_queues -= 1;
            }
        }
    }
}

/// The longest duration the model takes: a request holding its seats longer than this (or
/// for a time that is not a number) holds them this long.
const MAX_DURATION_S: f64 = 1e7;

/// A duration as the model uses it: negative or not-a-number is zero, infinite the maximum.
fn duration(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        0.0
    } else {
        x.min(MAX_DURATION_S)
    }
}

/// The latest arrival the model takes (about 31 years after the window starts): later ones
/// arrive then, where 10 s steps of the re-division are still exact in an `f64`.
const MAX_ARRIVAL_S: f64 = 1e9;

/// A request's arrival as the model uses it: before the window or not a number is its start,
/// after [`MAX_ARRIVAL_S`] (infinity included) is that.
fn arrival(r: &ReplayRequest) -> f64 {
    if r.arrival_s.is_nan() {
        0.0
    } else {
        r.arrival_s.clamp(0.0, MAX_ARRIVAL_S)
    }
}

/// A queue's next dispatch R is never below the arrival R of its oldest waiting request
/// (`boundNextDispatchLocked`).
fn bound_next_dispatch(q: &mut Queue) {
    if let Some(&(_, arrival_r)) = q.waiting.front()
        && q.next_r < arrival_r
    {
        q.next_r = arrival_r;
    }
}

/// Seat-seconds a request is charged in virtual time (`completeWorkEstimate`).
fn request_work(r: &ReplayRequest) -> f64 {
    f64::from(r.seats.max(1)) * ESTIMATED_SERVICE_S
        + f64::from(r.final_seats) * duration(r.additional_latency_s)
}

/// Deals a hand of distinct queue indices from the flow's hash (`Dealer.Deal`).
fn deal(hash: u64, deck: usize, hand_size: usize, hand: &mut [usize]) {
    let mut h = hash;
    let mut remainders = [0usize; 16];
    for (i, rem) in remainders.iter_mut().enumerate().take(hand_size) {
        let size = (deck - i) as u64;
        *rem = (h % size) as usize;
        h /= size;
    }
    for i in 0..hand_size {
        let mut card = remainders[i];
        for j in (1..=i).rev() {
            if card >= remainders[j - 1] {
                card += 1;
            }
        }
        hand[i] = card;
    }
}

/// The 99th percentile of `n` values of which `nonzero` are listed and the rest are zero.
fn p99(mut nonzero: Vec<f32>, n: u64) -> f64 {
    if n == 0 || nonzero.is_empty() {
        return 0.0;
    }
    let rank = ((n as f64) * 0.99).ceil() as u64; // 1-based
    let zeros = n.saturating_sub(nonzero.len() as u64);
    if rank <= zeros {
        return 0.0;
    }
    let idx = (rank - zeros - 1) as usize;
    nonzero.sort_by(f32::total_cmp);
    f64::from(nonzero[idx.min(nonzero.len() - 1)])
}

/// A multiplicative hasher for `u32` tags (the standard SipHash costs more than the lookup).
#[derive(Default)]
struct TagHasher(u64);

impl Hasher for TagHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
