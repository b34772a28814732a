//! `timeline --step 1m`: requests per time step, split by the busiest clients.

use super::{Count, View, format_us};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::sketch::{FxMap, HeavyHitters};
use crate::summary::Summary;

/// Most (step, client) cells kept; beyond it new cells count only in the step total.
const CELL_CAP: usize = 500_000;

/// The `timeline` view.
pub struct Timeline {
    step_us: i64,
    clients: usize,
    totals: FxMap<i64, u64>,
    cells: FxMap<(i64, String), u64>,
    client_totals: HeavyHitters<Count>,
    dropped_cells: u64,
    no_time: u64,
}

impl Timeline {
    /// Steps of `step_us` microseconds, split by the `clients` busiest clients.
    pub fn new(step_us: i64, clients: usize, cap: usize) -> Timeline {
        Timeline {
            step_us: step_us.max(1),
            clients,
            totals: FxMap::default(),
            cells: FxMap::default(),
            client_totals: HeavyHitters::new(cap),
            dropped_cells: 0,
            no_time: 0,
        }
    }
}

impl View for Timeline {
    fn add(&mut self, req: &Request<'_>) {
        let Some(t) = req.received_us else {
            self.no_time += 1;
            return;
        };
        let step = t.div_euclid(self.step_us) * self.step_us;
        *self.totals.entry(step).or_insert(0) += 1;
        let client = client_key(req);
        self.client_totals.entry(&client).0 += 1;
        let key = (step, client);
        if let Some(n) = self.cells.get_mut(&key) {
            *n += 1;
        } else if self.cells.len() < CELL_CAP {
            self.cells.insert(key, 1);
        } else {
            self.dropped_cells += 1;
        }
    }

    fn merge(&mut self, other: Timeline) {
        for (k, v) in other.totals {
            *self.totals.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.cells {
            if let Some(n) = self.cells.get_mut(&k) {
                *n += v;
            } else if self.cells.len() < CELL_CAP {
                self.cells.insert(k, v);
            } else {
                self.dropped_cells += v;
            }
        }
        self.client_totals.merge(other.client_totals);
        self.dropped_cells += other.dropped_cells;
        self.no_time += other.no_time;
    }

    fn finish(self, _summary: &Summary) -> Report {
        let approximate = self.dropped_cells > 0 || self.client_totals.is_approximate();
        let top: Vec<String> = self
            .client_totals
            .into_sorted()
            .into_iter()
            .take(self.clients)
            .map(|(k, _)| k)
            .collect();
        let mut steps: Vec<(i64, u64)> = self.totals.into_iter().collect();
        steps.sort_unstable();
        let rows = steps
            .into_iter()
            .map(|(step, total)| {
                let mut cells = Vec::with_capacity(top.len() + 1);
                let mut named = 0;
                for c in &top {
                    let n = self.cells.get(&(step, c.clone())).copied().unwrap_or(0);
                    named += n;
                    cells.push(Cell::Int(n));
                }
                cells.push(Cell::Int(total - named));
                Row {
                    key: format_us(step),
                    count: total,
                    cells,
                }
            })
            .collect();
        let mut columns = top;
        columns.push("other".to_owned());
        let mut notes = vec![format!(
            "requests per {} s step by requestReceivedTimestamp; columns are the {} busiest clients (user agent and user), the rest in other",
            self.step_us as f64 / 1e6,
            columns.len() - 1
        )];
        if self.no_time > 0 {
            notes.push(format!(
                "{} requests without a timestamp are left out",
                self.no_time
            ));
        }
        if approximate {
            notes.push(
                "too many (step, client) pairs to keep: some client counts fell into other"
                    .to_owned(),
            );
        }
        Report {
            view: "timeline".to_owned(),
            key_name: "time".to_owned(),
            columns,
            rows,
            notes,
            approximate,
        }
    }
}

/// Parses a step such as `30s`, `1m`, `5m`, `1h` into microseconds.
pub fn parse_step(text: &str) -> Result<i64, String> {
    let ms = crate::request::parse_go_duration_ms(text).filter(|ms| *ms >= 1.0);
    match ms {
        Some(ms) => Ok((ms * 1000.0) as i64),
        None => Err(format!(
            "expected a step such as 30s, 1m or 1h, got {text:?}"
        )),
    }
}
