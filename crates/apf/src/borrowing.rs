//! Borrowing between priority levels: every 10 s each replica re-divides its seats among its
//! levels from their recent seat demand.
//!
//! Follows `updateBorrowingLocked` and `seatDemandStats` in
//! `k8s.io/apiserver/pkg/util/flowcontrol/apf_controller.go`, `computeConcurrencyAllocation`
//! in `conc_alloc.go` and the time-weighted moments of `fairqueuing/integrator.go`, at
//! `kubernetes-1.26.0` … `kubernetes-1.35.0`:
//! - each level's seat demand (seats executing plus seats waiting) is integrated over the
//!   period: its average, standard deviation and high watermark;
//! - `smoothed = max(avg + stddev, 0.977 · smoothed + 0.023 · (avg + stddev))`;
//! - the exempt level keeps `max(min limit, high watermark)` off the top;
//! - each limited level gets a share proportional to `max(lower bound, smoothed)` within
//!   `[max(min limit, min(nominal, high watermark)), max limit]`, the shares summing to the
//!   nominal limits' sum less the exempt level's part; when that sum is too small the levels
//!   fall back toward their min limits;
//! - a level starts at `nominal − lendable / 2`.
//!
//! Before 1.26 there is no borrowing: every limit stays at its nominal value.

use crate::KubeVersion;
use crate::capacity::Capacity;

/// The re-division period (`borrowingAdjustmentPeriod`), seconds.
pub const BORROWING_PERIOD_S: f64 = 10.0;
/// `seatDemandSmoothingCoefficient`.
const SMOOTHING: f64 = 0.977;

/// The current seat limits of one replica's levels, re-divided from their demand.
#[derive(Debug, Clone)]
pub struct SeatDivider {
    levels: Vec<Divided>,
    nominal_sum: u32,
    borrowing: bool,
}

#[derive(Debug, Clone)]
struct Divided {
    exempt: bool,
    nominal: u32,
    min_cl: u32,
    max_cl: u32,
    limit: u32,
    demand: Integrator,
    smoothed: f64,
}

/// Time-weighted moments of a piecewise-constant signal.
#[derive(Debug, Clone, Default)]
struct Integrator {
    last_t: f64,
    x: f64,
    elapsed: f64,
    ix: f64,
    ixx: f64,
    max: f64,
}

impl Integrator {
    fn set(&mut self, t: f64, x: f64) {
        self.advance(t);
        self.x = x;
        self.max = self.max.max(x);
    }

    fn advance(&mut self, t: f64) {
        let dt = t - self.last_t;
        if dt > 0.0 {
            self.elapsed += dt;
            self.ix += self.x * dt;
            self.ixx += self.x * self.x * dt;
            self.last_t = t;
        }
    }

    /// (elapsed, average, standard deviation, max) since the last reset; then resets.
    fn reset(&mut self, t: f64) -> (f64, f64, f64, f64) {
        self.advance(t);
        let out = if self.elapsed > 0.0 {
            let avg = self.ix / self.elapsed;
            let var = self.ixx / self.elapsed - avg * avg;
            (
                self.elapsed,
                avg,
                if var >= 0.0 { var.sqrt() } else { 0.0 },
                self.max,
            )
        } else {
            (0.0, 0.0, 0.0, self.max)
        };
        self.elapsed = 0.0;
        self.ix = 0.0;
        self.ixx = 0.0;
        self.max = self.x;
        out
    }
}

impl SeatDivider {
    /// The divider of a replica with these seats, following the rules of `version`; demand
    /// time starts at 0.
    pub fn new(capacity: &Capacity, version: KubeVersion) -> SeatDivider {
        let borrowing = version.at_least(1, 26);
        let levels = capacity
            .levels
            .iter()
            .map(|c| Divided {
                exempt: c.exempt,
                nominal: c.nominal,
                min_cl: if borrowing { c.min_limit } else { c.nominal },
                max_cl: if borrowing { c.max_limit } else { c.nominal },
                limit: if borrowing {
                    c.nominal - c.lendable / 2
                } else {
                    c.nominal
                },
                demand: Integrator::default(),
                smoothed: 0.0,
            })
            .collect();
        SeatDivider {
            levels,
            nominal_sum: capacity.levels.iter().map(|c| c.nominal).sum(),
            borrowing,
        }
    }

    /// True when the limits move (1.26 and later).
    pub fn borrows(&self) -> bool {
        self.borrowing
    }

    /// The current limit of level `i` (in the order of [`Capacity::levels`]).
    pub fn limit(&self, i: usize) -> u32 {
        self.levels.get(i).map_or(0, |l| l.limit)
    }

    /// Records that level `i` has demanded `seats` (executing plus waiting) since time `t`.
    pub fn set_demand(&mut self, i: usize, t: f64, seats: f64) {
        if let Some(l) = self.levels.get_mut(i) {
            l.demand.set(t, seats.max(0.0));
        }
    }

    /// Re-divides the seats at time `t` from the demand since the last call; call it every
    /// [`BORROWING_PERIOD_S`]. Does nothing before 1.26.
    pub fn adjust(&mut self, t: f64) {
        if !self.borrowing {
            return;
        }
        let mut items = Vec::new();
        let mut item_level = Vec::new();
        let mut remaining = i64::from(self.nominal_sum);
        let mut min_sum = 0i64;
        let mut min_current_sum = 0i64;
        for (i, l) in self.levels.iter_mut().enumerate() {
            let (elapsed, avg, dev, max) = l.demand.reset(t);
            let high_watermark = max.round().max(0.0) as u32;
            if elapsed > 0.0 {
                let envelope = avg + dev;
                l.smoothed = envelope.max(SMOOTHING * l.smoothed + (1.0 - SMOOTHING) * envelope);
            }
            if l.exempt {
                let min_current = l.min_cl.max(high_watermark);
                remaining -= i64::from(min_current);
                l.limit = min_current;
            } else {
                let min_current = l.min_cl.max(l.nominal.min(high_watermark));
                items.push(AllocItem {
                    lower: f64::from(min_current),
                    upper: f64::from(l.max_cl),
                    target: f64::from(min_current).max(l.smoothed),
                });
                item_level.push(i);
                min_sum += i64::from(l.min_cl);
                min_current_sum += i64::from(min_current);
            }
        }
        if items.is_empty() {
            return;
        }
        let allocs: Vec<u32> = if remaining <= min_sum {
            item_level.iter().map(|&i| self.levels[i].min_cl).collect()
        } else if remaining <= min_current_sum {
            let share = (remaining - min_sum) as f64 / (min_current_sum - min_sum) as f64;
            item_level
                .iter()
                .zip(&items)
                .map(|(&i, it)| {
                    let min_cl = f64::from(self.levels[i].min_cl);
                    (min_cl + ((it.lower - min_cl) * share).round()) as u32
                })
                .collect()
        } else {
            match allocate(self.nominal_sum, &items) {
                Some(a) => a.iter().map(|x| x.round().max(0.0) as u32).collect(),
                None => item_level.iter().map(|&i| self.levels[i].limit).collect(),
            }
        };
        for (&i, limit) in item_level.iter().zip(allocs) {
            self.levels[i].limit = limit;
        }
    }
}

struct AllocItem {
    lower: f64,
    upper: f64,
    target: f64,
}

/// `computeConcurrencyAllocation`: shares of `required` proportional to the targets within
/// each item's bounds; `None` when the problem has no solution.
fn allocate(required: u32, items: &[AllocItem]) -> Option<Vec<f64>> {
    const MIN_TARGET: f64 = 0.001;
    const EPSILON: f64 = 0.000_000_1;
    let required = f64::from(required);
    let mut low_sum = 0.0;
    let mut high_sum = 0.0;
    let mut target_sum = 0.0;
    // As `minMax{min: MaxFloat32}` starts: the maximum at zero.
    let mut lb_min = f64::from(f32::MAX);
    let mut lb_max = 0.0_f64;
    let mut ub_min = f64::from(f32::MAX);
    let mut rel = Vec::with_capacity(items.len());
    for it in items {
        if it.lower < 0.0 || it.target < it.lower || it.upper < it.lower {
            return None;
        }
        let target = it.target.max(MIN_TARGET);
        low_sum += it.lower;
        high_sum += it.upper;
        target_sum += target;
        let (rl, ru) = (it.lower / target, it.upper / target);
        lb_min = lb_min.min(rl);
        lb_max = lb_max.max(rl);
        ub_min = ub_min.min(ru);
        rel.push((target, rl, ru));
    }
    if lb_max > 1.0 || low_sum - required > EPSILON || required - high_sum > EPSILON {
        return None;
    }
    if required == 0.0 {
        return Some(vec![0.0; items.len()]);
    }
    if low_sum - required > -EPSILON {
        return Some(items.iter().map(|it| it.lower).collect());
    }
    if required - high_sum > -EPSILON {
        return Some(items.iter().map(|it| it.upper).collect());
    }
    let mut fair = required / target_sum;
    if lb_max <= fair && fair <= ub_min {
        return Some(rel.iter().map(|(t, _, _)| t * fair).collect());
    }
    // Sweep the relative bounds in ascending order, tracking the items between them.
    let mut bounds: Vec<(f64, usize, bool)> = Vec::with_capacity(rel.len() * 2);
    for (i, &(_, rl, ru)) in rel.iter().enumerate() {
        bounds.push((rl, i, true));
        bounds.push((ru, i, false));
    }
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sum_so_far = low_sum;
    fair = lb_min;
    let mut sensitive_target = 0.0;
    let mut delta_target = 0.0;
    let mut sensitive = 0i64;
    let mut delta_sensitive = 0i64;
    let mut next = 0;
    while sum_so_far < required {
        let mut next_bound;
        loop {
            sensitive_target += delta_target;
            sensitive += delta_sensitive;
            let &(b, i, lower) = bounds.get(next)?;
            next_bound = b;
            if lower {
                delta_sensitive = 1;
                delta_target = rel[i].0;
            } else {
                delta_sensitive = -1;
                delta_target = -rel[i].0;
            }
            next += 1;
            if next_bound > fair {
                break;
            }
        }
        if sensitive == 0 {
            fair = next_bound;
            continue;
        }
        let next_prop = fair + (required - sum_so_far) / sensitive_target;
        if next_prop <= next_bound {
            fair = next_prop;
            break;
        }
        sum_so_far += (next_bound - fair) * sensitive_target;
        fair = next_bound;
    }
    Some(
        items
            .iter()
            .zip(&rel)
            .map(|(it, (t, _, _))| it.lower.max(it.upper.min(fair * t)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(lower: f64, upper: f64, target: f64) -> AllocItem {
        AllocItem {
            lower,
            upper,
            target,
        }
    }

    #[test]
    fn allocation_cases() {
        // No bounds bind: proportional to the targets.
        let a = allocate(30, &[item(0.0, 100.0, 10.0), item(0.0, 100.0, 20.0)]).unwrap();
        assert!(
            (a[0] - 10.0).abs() < 1e-9 && (a[1] - 20.0).abs() < 1e-9,
            "{a:?}"
        );
        // An upper bound binds: the rest goes to the other.
        let a = allocate(30, &[item(0.0, 5.0, 10.0), item(0.0, 100.0, 20.0)]).unwrap();
        assert!(
            (a[0] - 5.0).abs() < 1e-9 && (a[1] - 25.0).abs() < 1e-9,
            "{a:?}"
        );
        // A lower bound binds.
        let a = allocate(30, &[item(20.0, 100.0, 20.0), item(0.0, 100.0, 80.0)]).unwrap();
        assert!(
            (a[0] - 20.0).abs() < 1e-9 && (a[1] - 10.0).abs() < 1e-9,
            "{a:?}"
        );
        // Exactly the lower or upper sums.
        assert_eq!(
            allocate(10, &[item(4.0, 8.0, 5.0), item(6.0, 9.0, 7.0)]).unwrap(),
            [4.0, 6.0]
        );
        assert_eq!(
            allocate(17, &[item(4.0, 8.0, 5.0), item(6.0, 9.0, 7.0)]).unwrap(),
            [8.0, 9.0]
        );
        // Impossible problems.
        assert!(allocate(9, &[item(4.0, 8.0, 5.0), item(6.0, 9.0, 7.0)]).is_none());
        assert!(allocate(18, &[item(4.0, 8.0, 5.0), item(6.0, 9.0, 7.0)]).is_none());
        let a = allocate(0, &[item(0.0, 8.0, 5.0)]).unwrap();
        assert_eq!(a, [0.0]);
    }

    /// The properties upstream's `TestConcAlloc` (`conc_alloc_test.go`, kubernetes-1.35.0)
    /// checks on random problems: the allocations sum to what is required, each lies within
    /// its bounds, and one strictly inside its bounds is its target times a common factor.
    #[test]
    fn allocation_properties_on_random_problems() {
        let mut x: u64 = 42;
        let mut rand = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 10_000) as f64 / 10_000.0
        };
        for _ in 0..2000 {
            let n = 1 + (rand() * 6.0) as usize;
            let items: Vec<AllocItem> = (0..n)
                .map(|_| {
                    let lower = (rand() * 20.0).floor();
                    let target = lower + rand() * 30.0;
                    let upper = lower + rand() * 40.0;
                    item(lower, upper, target)
                })
                .collect();
            let low: f64 = items.iter().map(|i| i.lower).sum();
            let high: f64 = items.iter().map(|i| i.upper).sum();
            let required = (low + (high - low) * rand()).round() as u32;
            let Some(a) = allocate(required, &items) else {
                assert!(f64::from(required) < low - 1e-6 || f64::from(required) > high + 1e-6);
                continue;
            };
            let sum: f64 = a.iter().sum();
            assert!(
                (sum - f64::from(required)).abs() < 1e-6 * f64::from(required.max(1)),
                "{sum} vs {required}"
            );
            let mut factor = None;
            for (alloc, it) in a.iter().zip(&items) {
                assert!(*alloc >= it.lower - 1e-9 && *alloc <= it.upper + 1e-9);
                if *alloc > it.lower + 1e-9 && *alloc < it.upper - 1e-9 {
                    let f = alloc / it.target.max(0.001);
                    if let Some(g) = factor {
                        let g: f64 = g;
                        assert!(((f - g) / g).abs() < 1e-6, "{f} vs {g}");
                    }
                    factor = Some(f);
                }
            }
        }
    }
}
