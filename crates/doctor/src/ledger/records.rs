//! Compact per-request records for the time-resolved analyses (windows, the APF replay), kept
//! within a budget: when over it, whole windows with the least execution time are dropped, so
//! what remains are the busiest windows, complete.

use std::collections::{BTreeMap, BTreeSet};

/// Width of the windows dropped as a whole, µs.
pub(crate) const WINDOW_US: i64 = 300 * 1_000_000;

/// Records kept over all workers (about 40 bytes each).
pub(crate) const RECORD_BUDGET: usize = 1_500_000;

/// One request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record {
    /// `requestReceivedTimestamp`, µs since the epoch.
    pub(crate) t_us: i64,
    /// Flow: hash of the FlowSchema and distinguisher.
    pub(crate) flow: u64,
    /// Execution time in µs (latency minus APF queue wait); 0 when rejected.
    pub(crate) exec_us: u32,
    /// APF queue wait in µs when the event carried it.
    pub(crate) wait_us: u32,
    /// The client row.
    pub(crate) client: u32,
    /// The call row.
    pub(crate) call: u32,
    /// Source-IP hash, to spread clients over replicas as their connections would be.
    pub(crate) conn: u32,
    /// Answered 429 by APF.
    pub(crate) rejected: bool,
}

/// The records of one worker (or of all, merged).
#[derive(Debug, Clone, Default)]
pub(crate) struct Records {
    pub(crate) rows: Vec<Record>,
    /// Windows dropped to stay within the budget (window start, µs).
    pub(crate) dropped: BTreeSet<i64>,
    /// The budget of this instance.
    pub(crate) budget: usize,
}

impl Records {
    pub(crate) fn new(budget: usize) -> Records {
        Records {
            rows: Vec::new(),
            dropped: BTreeSet::new(),
            budget: budget.max(1000),
        }
    }

    fn window(t_us: i64) -> i64 {
        t_us.div_euclid(WINDOW_US) * WINDOW_US
    }

    /// Keeps `r` unless its window was dropped.
    pub(crate) fn push(&mut self, r: Record) {
        if !self.dropped.is_empty() && self.dropped.contains(&Self::window(r.t_us)) {
            return;
        }
        self.rows.push(r);
        if self.rows.len() > self.budget {
            self.shed();
        }
    }

    /// Drops the lightest windows until at most three quarters of the budget is used.
    fn shed(&mut self) {
        let mut weight: BTreeMap<i64, (u64, usize)> = BTreeMap::new();
        for r in &self.rows {
            let e = weight.entry(Self::window(r.t_us)).or_default();
            e.0 += u64::from(r.exec_us);
            e.1 += 1;
        }
        let mut order: Vec<(i64, (u64, usize))> = weight.into_iter().collect();
        order.sort_by_key(|(w, (exec, _))| (*exec, *w));
        let mut left = self.rows.len();
        let target = self.budget * 3 / 4;
        for (w, (_, n)) in order {
            if left <= target {
                break;
            }
            self.dropped.insert(w);
            left -= n;
        }
        let dropped = &self.dropped;
        self.rows
            .retain(|r| !dropped.contains(&Self::window(r.t_us)));
    }

    /// Merges another worker's records, its client and call indices mapped through the maps.
    pub(crate) fn merge(&mut self, other: Records, clients: &[u32], calls: &[u32]) {
        self.budget += other.budget;
        self.dropped.extend(other.dropped);
        self.rows.extend(other.rows.into_iter().map(|mut r| {
            r.client = clients[r.client as usize];
            r.call = calls[r.call as usize];
            r
        }));
        if !self.dropped.is_empty() {
            let dropped = &self.dropped;
            self.rows
                .retain(|r| !dropped.contains(&Self::window(r.t_us)));
        }
        if self.rows.len() > self.budget {
            self.shed();
        }
    }

    /// Maps client indices after a purge of the client table.
    pub(crate) fn remap_clients(&mut self, clients: &[u32]) {
        for r in &mut self.rows {
            r.client = clients[r.client as usize];
        }
    }

    /// Maps call indices after calls were folded.
    pub(crate) fn remap_calls(&mut self, calls: &[u32]) {
        for r in &mut self.rows {
            r.call = calls[r.call as usize];
        }
    }

    /// True when windows were dropped.
    pub(crate) fn is_partial(&self) -> bool {
        !self.dropped.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t_s: i64, exec_us: u32) -> Record {
        Record {
            t_us: t_s * 1_000_000,
            flow: 0,
            exec_us,
            wait_us: 0,
            client: 0,
            call: 0,
            conn: 0,
            rejected: false,
        }
    }

    #[test]
    fn over_budget_keeps_the_busiest_windows_whole() {
        let mut r = Records::new(1000);
        // Window 0 is light, window 300 busy, window 600 light.
        for i in 0..600 {
            r.push(rec(i % 300, 10));
        }
        for i in 0..600 {
            r.push(rec(300 + i % 300, 1000));
        }
        for i in 0..600 {
            r.push(rec(600 + i % 300, 10));
        }
        assert!(r.is_partial());
        assert!(r.rows.len() <= 1000);
        assert!(r.rows.iter().any(|x| x.t_us == 300 * 1_000_000));
        let busy = r.rows.iter().filter(|x| x.exec_us == 1000).count();
        assert_eq!(busy, 600, "the busy window is kept whole");
        // A dropped window stays dropped.
        r.push(rec(5, 10));
        assert!(
            r.rows
                .iter()
                .all(|x| x.t_us >= 300 * 1_000_000 || !r.dropped.contains(&0))
        );
    }
}
