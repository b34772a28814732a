//! Harm to others: what each candidate client costs everyone else, as a counterfactual.
//!
//! The busiest window of the audit log (at most [`REPLAY_MAX_S`] seconds and
//! [`REPLAY_MAX_REQUESTS`] requests) of the priority levels the candidates use is replayed
//! through `apilens_apf::replay` once as it happened and once without each of the
//! [`COUNTERFACTUALS`] heaviest candidate clients whose level queued or rejected; the
//! difference in everyone else's 429s and queue wait is the harm that client causes (everyone
//! lighter than it, that is: see [`diff`]).

use crate::ledger::LedgerResult;
use crate::ledger::records::Record;
use apilens_apf::{ApfConfig, KubeVersion, ReplayOpts, ReplayOutcome, ReplayRequest, replay};
use std::collections::BTreeMap;

/// The longest window replayed, seconds.
pub(crate) const REPLAY_MAX_S: f64 = 300.0;
/// The most requests replayed.
pub(crate) const REPLAY_MAX_REQUESTS: usize = 60_000;
/// Candidate clients replayed away, heaviest first.
pub(crate) const COUNTERFACTUALS: usize = 5;

/// The replayed window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplayWindow {
    pub(crate) start_us: i64,
    pub(crate) end_us: i64,
    /// Requests in it.
    pub(crate) requests: usize,
}

/// What a client costs others, from the counterfactual.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientHarm {
    /// 429s of others that go away without it.
    pub(crate) others_429: f64,
    /// Seconds of others' queue wait that go away without it.
    pub(crate) others_wait_s: f64,
    /// The client that gains most without it: (client row, its 429s before and after, its p99
    /// wait before and after).
    pub(crate) victim: Option<(u32, u64, u64, f64, f64)>,
}

/// The baseline replay and every counterfactual.
#[derive(Debug, Clone, Default)]
pub(crate) struct HarmModel {
    pub(crate) window: Option<ReplayWindow>,
    pub(crate) baseline: Option<ReplayOutcome>,
    pub(crate) per_client: BTreeMap<u32, ClientHarm>,
}

/// Replay settings and inputs.
pub(crate) struct ReplaySetup<'a> {
    pub(crate) config: &'a ApfConfig,
    pub(crate) version: KubeVersion,
    pub(crate) replicas: u32,
    pub(crate) server_cl: u32,
}

impl ReplaySetup<'_> {
    fn opts(&self) -> ReplayOpts {
        ReplayOpts {
            replicas: self.replicas.max(1),
            server_concurrency_limit: self.server_cl,
            queue_wait_limit_s: apilens_apf::queue_wait_limit_for(
                self.version,
                apilens_apf::DEFAULT_REQUEST_TIMEOUT_S,
            ),
        }
    }
}

/// Which levels a replay covers (by index in the configuration).
pub(crate) type Levels = Vec<bool>;

/// Every level.
pub(crate) fn all_levels(l: &LedgerResult<'_>) -> Levels {
    vec![true; l.ctx.config.levels().len()]
}

/// Picks the window: the whole log when it fits, else the stretch of at most
/// [`REPLAY_MAX_S`] seconds with the most seat-seconds outside exempt levels.
pub(crate) fn pick_window(l: &LedgerResult<'_>, records: &[&Record]) -> Option<ReplayWindow> {
    let first = records.first()?.t_us;
    let last = records.last()?.t_us;
    let span_s = (last - first) as f64 / 1e6;
    if span_s <= REPLAY_MAX_S && records.len() <= REPLAY_MAX_REQUESTS {
        return Some(ReplayWindow {
            start_us: first,
            end_us: last + 1,
            requests: records.len(),
        });
    }
    // Seat-seconds per minute.
    let mut minutes: BTreeMap<i64, f64> = BTreeMap::new();
    for r in records {
        let call = &l.calls[r.call as usize];
        if l.ctx.config.levels()[call.level as usize].spec.is_exempt() {
            continue;
        }
        let seats = f64::from(l.costs[r.call as usize].estimate.initial_seats);
        *minutes.entry(r.t_us.div_euclid(60_000_000)).or_default() +=
            seats * f64::from(r.exec_us) / 1e6;
    }
    let width = (REPLAY_MAX_S / 60.0) as i64;
    let (mut best, mut best_sum) = (first.div_euclid(60_000_000), f64::MIN);
    for &m in minutes.keys() {
        let sum: f64 = minutes.range(m..m + width).map(|(_, v)| v).sum();
        if sum > best_sum {
            best_sum = sum;
            best = m;
        }
    }
    let start_us = best * 60_000_000;
    let mut end_us = start_us + width * 60_000_000;
    let lo = records.partition_point(|r| r.t_us < start_us);
    let mut hi = records.partition_point(|r| r.t_us < end_us);
    if hi - lo > REPLAY_MAX_REQUESTS {
        hi = lo + REPLAY_MAX_REQUESTS;
        end_us = records[hi - 1].t_us + 1;
    }
    Some(ReplayWindow {
        start_us,
        end_us,
        requests: hi - lo,
    })
}

/// The replay requests of `records` inside `window` in `levels`, leaving out client
/// `without`.
pub(crate) fn requests(
    l: &LedgerResult<'_>,
    records: &[&Record],
    window: ReplayWindow,
    replicas: u32,
    levels: &Levels,
    without: Option<u32>,
) -> Vec<ReplayRequest> {
    let lo = records.partition_point(|r| r.t_us < window.start_us);
    let hi = records.partition_point(|r| r.t_us < window.end_us);
    records[lo..hi]
        .iter()
        .filter(|r| Some(r.client) != without)
        .filter(|r| levels[l.calls[r.call as usize].level as usize])
        .map(|r| {
            let call = &l.calls[r.call as usize];
            let est = l.costs[r.call as usize].estimate;
            ReplayRequest {
                arrival_s: (r.t_us - window.start_us) as f64 / 1e6,
                replica: r.conn % replicas.max(1),
                level: l.ctx.config.levels()[call.level as usize].name.clone(),
                flow: r.flow,
                seats: est.initial_seats.max(1),
                final_seats: est.final_seats,
                additional_latency_s: est.additional_latency_s,
                // A request rejected in reality never ran: it would have run as long as the
                // call's others did.
                execution_s: if r.rejected {
                    call.mean_exec_s()
                } else {
                    f64::from(r.exec_us) / 1e6
                },
                tag: r.client,
            }
        })
        .collect()
}

/// Runs the baseline and the counterfactuals of `candidates` (client rows, heaviest first).
pub(crate) fn model(
    l: &LedgerResult<'_>,
    setup: &ReplaySetup<'_>,
    candidates: &[u32],
) -> HarmModel {
    // The levels the candidates use (exempt ones never queue): the current model gives each
    // level its own seats, so only they can show harm.
    let mut levels: Levels = vec![false; l.ctx.config.levels().len()];
    for call in &l.calls {
        if candidates.contains(&call.client)
            && !l.ctx.config.levels()[call.level as usize].spec.is_exempt()
        {
            levels[call.level as usize] = true;
        }
    }
    let mut sorted: Vec<&Record> = l
        .records
        .rows
        .iter()
        .filter(|r| levels[l.calls[r.call as usize].level as usize])
        .collect();
    if sorted.is_empty() {
        return HarmModel::default();
    }
    l.sort_for_replay(&mut sorted);
    let Some(window) = pick_window(l, &sorted) else {
        return HarmModel::default();
    };
    let opts = setup.opts();
    let all = requests(l, &sorted, window, opts.replicas, &levels, None);
    let base = replay(setup.config, setup.version, &all, &opts);
    drop(all);
    // Only a client whose level queued or rejected in the baseline can hurt anyone there.
    let pressed: Vec<&str> = base
        .levels
        .iter()
        .filter(|x| x.rejected > 0 || x.wait_s_p99 >= 0.05)
        .map(|x| x.name.as_str())
        .collect();
    let uses_pressed = |c: u32| {
        l.calls.iter().any(|call| {
            call.client == c
                && pressed.contains(&l.ctx.config.levels()[call.level as usize].name.as_str())
        })
    };
    let chosen: Vec<u32> = candidates
        .iter()
        .copied()
        .filter(|&c| uses_pressed(c))
        .take(COUNTERFACTUALS)
        .collect();
    // The counterfactuals are independent: run them side by side.
    let per_client: BTreeMap<u32, ClientHarm> = std::thread::scope(|s| {
        let handles: Vec<_> = chosen
            .iter()
            .map(|&c| {
                let (sorted, base, opts, levels) = (&sorted, &base, &opts, &levels);
                s.spawn(move || {
                    let without = requests(l, sorted, window, opts.replicas, levels, Some(c));
                    let out = replay(setup.config, setup.version, &without, opts);
                    (c, diff(base, &out, c))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    HarmModel {
        window: Some(window),
        baseline: Some(base),
        per_client,
    }
}

/// Others' 429s and wait that go away without `client`. A client is not charged for the
/// waits of clients that use more seats than it does: in a level one heavy client fills, every
/// lighter one "delays" the heavy one, and that is no harm the lighter one causes.
fn diff(base: &ReplayOutcome, without: &ReplayOutcome, client: u32) -> ClientHarm {
    let mut h = ClientHarm::default();
    let mut best = 0.0;
    let own = base.tags.get(&client).map_or(0.0, |t| t.seat_seconds);
    for (tag, b) in &base.tags {
        if *tag == client || b.seat_seconds > own {
            continue;
        }
        let w = without.tags.get(tag).cloned().unwrap_or_default();
        let d429 = b.rejected as f64 - w.rejected as f64;
        let dwait = b.wait_s_sum - w.wait_s_sum;
        h.others_429 += d429;
        h.others_wait_s += dwait;
        let gain = d429 * 15.0 + dwait;
        if gain > best && (d429 >= 1.0 || b.wait_s_p99 - w.wait_s_p99 >= 0.05) {
            best = gain;
            h.victim = Some((*tag, b.rejected, w.rejected, b.wait_s_p99, w.wait_s_p99));
        }
    }
    h.others_429 = h.others_429.max(0.0);
    h.others_wait_s = h.others_wait_s.max(0.0);
    h
}

/// True when the baseline replay shows `level` saturated: rejections, or a p99 wait of a
/// second or more.
pub(crate) fn replay_saturated(m: &HarmModel, level: &str) -> bool {
    m.baseline.as_ref().is_some_and(|b| {
        b.levels
            .iter()
            .any(|l| l.name == level && (l.rejected > 0 || l.wait_s_p99 >= 1.0))
    })
}
