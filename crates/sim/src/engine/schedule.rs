//! APF over one tick: borrowing between levels, fair queuing between flows, queue limits and
//! 429s.

use super::{FlowOutcome, Pending, Simulator, TICK};
use crate::rng::Rng;
use std::collections::{BTreeMap, HashMap};

impl Simulator {
    /// APF: borrowing between levels, fair queuing between flows, queue limits and 429s.
    ///
    /// Levels, limits, the wait limit and the re-division of seats every 10 s come from
    /// `apilens-apf` (`SeatDivider`); the queueing within a one-second tick is the simulator's
    /// own water-filling of each level's seat-seconds over its flows (see ARCHITECTURE.md).
    #[allow(clippy::needless_range_loop)] // levels are indexed in several parallel vectors
    pub(super) fn schedule(&mut self, rng: &mut Rng, pending: &mut [Pending]) {
        let now = self.tick as f64 * TICK;
        for (ri, rep) in self.replicas.iter_mut().enumerate() {
            let n_levels = rep.apf.capacity.levels.len();
            let wait_limit = rep.apf.queue_wait_limit();
            // Demand per level and per flow, in seat-seconds this tick.
            let mut flows: Vec<BTreeMap<String, (f64, f64)>> = vec![BTreeMap::new(); n_levels];
            for p in pending.iter().filter(|p| p.replica == ri) {
                let key = format!("{}|{}", p.class.schema, p.class.distinguisher);
                let e = flows[p.level].entry(key).or_insert((0.0, 0.0));
                e.0 += p.work.seat_seconds(p.exec_s);
                e.1 += 1.0;
            }
            let demand: Vec<f64> = (0..n_levels)
                .map(|l| {
                    let backlog: f64 = rep
                        .backlog
                        .iter()
                        .filter(|((li, _), _)| *li == l)
                        .map(|(_, b)| *b)
                        .sum();
                    flows[l].values().map(|(d, _)| d).sum::<f64>() + backlog
                })
                .collect();
            // Borrowing (1.26+): the server re-divides its seats every 10 s from the seat
            // demand it saw; this tick's demand holds for the whole tick.
            for l in 0..n_levels {
                rep.apf.divider.set_demand(l, now, demand[l] / TICK);
            }
            let period = apilens_apf::BORROWING_PERIOD_S;
            if rep.apf.divider.borrows() && self.tick > 0 && (now % period) < TICK {
                rep.apf.divider.adjust(now);
            }
            for l in 0..n_levels {
                rep.current_limit[l] = f64::from(rep.apf.divider.limit(l));
            }
            // Fair queuing: water-fill each level's capacity over its flows.
            let mut outcome: HashMap<(usize, String), FlowOutcome> = HashMap::new();
            for l in 0..n_levels {
                let level = rep.apf.level(l);
                if level.exempt
                    || flows[l].is_empty() && !rep.backlog.keys().any(|(li, _)| *li == l)
                {
                    continue;
                }
                let mut keys: Vec<(String, f64, f64, f64)> = flows[l]
                    .iter()
                    .map(|(k, (d, n))| {
                        let b = rep.backlog.get(&(l, k.clone())).copied().unwrap_or(0.0);
                        (k.clone(), *d, *n, b)
                    })
                    .collect();
                for ((li, k), b) in &rep.backlog {
                    if *li == l && !flows[l].contains_key(k) {
                        keys.push((k.clone(), 0.0, 0.0, *b));
                    }
                }
                keys.sort_by(|a, b| (a.1 + a.3).total_cmp(&(b.1 + b.3)).then(a.0.cmp(&b.0)));
                let capacity = rep.current_limit[l].max(1.0) * TICK;
                let total_demand: f64 = keys.iter().map(|k| k.1 + k.3).sum();
                let utilization = total_demand / capacity;
                let mut remaining = capacity;
                let mut left = keys.len();
                for (key, new, n, old_backlog) in keys {
                    let want = new + old_backlog;
                    let alloc = want.min(remaining / left as f64);
                    remaining -= alloc;
                    left -= 1;
                    let mut backlog = want - alloc;
                    let per_request = if n > 0.0 { new / n } else { 0.01 };
                    let mut reject_p = 0.0;
                    let mut reason = None;
                    let mut wait = 0.0;
                    if level.reject {
                        if backlog > 0.0 && new > 0.0 {
                            reject_p = (backlog / new).min(1.0);
                            reason = Some("concurrency-limit");
                        }
                        backlog = 0.0;
                    } else {
                        let rate = alloc.max(1e-3) / TICK;
                        wait = backlog / rate;
                        let queued = backlog / per_request.max(1e-3);
                        let queue_cap =
                            f64::from(level.hand_size) * f64::from(level.queue_length_limit);
                        if wait > wait_limit || queued > queue_cap {
                            let keep = (wait_limit * rate).min(queue_cap * per_request);
                            let excess = backlog - keep;
                            if new > 0.0 {
                                reject_p = (excess / new).clamp(0.0, 1.0);
                            }
                            reason = Some(if queued > queue_cap {
                                "queue-full"
                            } else {
                                "time-out"
                            });
                            backlog = keep;
                            wait = keep / rate;
                        }
                    }
                    if utilization < 1.0 {
                        wait += per_request * ((utilization - 0.5).max(0.0) * 2.0).powi(2);
                    }
                    let queued = backlog / per_request.max(1e-3);
                    if backlog > 1e-9 {
                        rep.backlog.insert((l, key.clone()), backlog);
                    } else {
                        rep.backlog.remove(&(l, key.clone()));
                    }
                    outcome.insert((l, key), (wait, reject_p, reason, queued));
                }
            }
            for p in pending.iter_mut().filter(|p| p.replica == ri) {
                let key = (
                    p.level,
                    format!("{}|{}", p.class.schema, p.class.distinguisher),
                );
                let Some((wait, reject_p, reason, queued)) = outcome.get(&key) else {
                    continue;
                };
                p.queued = *queued;
                if *reject_p > 0.0 && rng.chance(*reject_p) {
                    p.rejected = *reason;
                    p.code = 429;
                    p.wait_s = if *reason == Some("time-out") {
                        wait_limit + rng.f64() * 0.01
                    } else {
                        rng.lognormal(0.0003, 0.3)
                    };
                } else {
                    p.wait_s = wait * (0.5 + rng.f64()) + rng.lognormal(0.00002, 0.5);
                    // The filter waits at most its wait limit (apf's, by version): a request
                    // still queued then is rejected with reason time-out.
                    if p.wait_s > wait_limit {
                        p.rejected = Some("time-out");
                        p.code = 429;
                        p.wait_s = wait_limit + rng.f64() * 0.01;
                    }
                }
            }
        }
    }
}
