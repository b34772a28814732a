//! `throttled`: 429 responses per client, told apart by cause.

use super::{Count, KEY_SEP, View, format_us};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::sketch::{HeavyHitters, Stat};
use crate::summary::Summary;

/// Why a request got 429 Too Many Requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleCause {
    /// API Priority and Fairness (or the max-in-flight limiter) rejected it: both run before
    /// authorization, so the event has no `authorization.k8s.io/decision` and no status message.
    Apf,
    /// The eviction API refused because of a PodDisruptionBudget; not load related.
    Eviction,
    /// The EventRateLimit admission plugin (on `events`, after authorization).
    EventRateLimit,
    /// Another 429, such as an aggregated API's own throttling.
    Other,
}

impl ThrottleCause {
    /// The cause's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ThrottleCause::Apf => "apf",
            ThrottleCause::Eviction => "eviction",
            ThrottleCause::EventRateLimit => "event-rate-limit",
            ThrottleCause::Other => "other",
        }
    }

    /// Classifies a 429.
    pub fn of(req: &Request<'_>) -> ThrottleCause {
        let sub = req
            .object_subresource
            .as_deref()
            .unwrap_or_else(|| req.shape().subresource);
        if sub == "eviction" {
            return ThrottleCause::Eviction;
        }
        let decided = req
            .annotations
            .is_some_and(|a| a.contains("authorization.k8s.io/decision"));
        if !decided && !req.status_message {
            return ThrottleCause::Apf;
        }
        let resource = req.resource_key();
        if decided && (resource == "events" || resource == "events.events.k8s.io") {
            return ThrottleCause::EventRateLimit;
        }
        ThrottleCause::Other
    }
}

#[derive(Clone, Default)]
struct ThrottleStats {
    count: u64,
    first_us: Option<i64>,
    last_us: Option<i64>,
}

impl Stat for ThrottleStats {
    fn merge(&mut self, other: Self) {
        self.count += other.count;
        self.first_us = match (self.first_us, other.first_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_us = self.last_us.max(other.last_us);
    }

    fn weight(&self) -> u64 {
        self.count
    }
}

/// The `throttled` view.
pub struct Throttled {
    limit: usize,
    rejected: HeavyHitters<ThrottleStats>,
    totals: HeavyHitters<Count>,
    buf: String,
}

impl Throttled {
    /// Shows `limit` rows, exact up to `cap` distinct clients.
    pub fn new(limit: usize, cap: usize) -> Throttled {
        Throttled {
            limit,
            rejected: HeavyHitters::new(cap),
            totals: HeavyHitters::new(cap),
            buf: String::new(),
        }
    }
}

impl View for Throttled {
    fn add(&mut self, req: &Request<'_>) {
        let client = client_key(req);
        self.totals.entry(&client).0 += 1;
        if req.code != Some(429) {
            return;
        }
        self.buf.clear();
        self.buf.push_str(&client);
        self.buf.push(KEY_SEP);
        self.buf.push_str(ThrottleCause::of(req).name());
        self.buf.push(KEY_SEP);
        self.buf.push_str(&req.verb);
        self.buf.push(KEY_SEP);
        self.buf.push_str(&req.resource_key());
        let s = self.rejected.entry(&self.buf);
        s.count += 1;
        if let Some(t) = req.received_us {
            s.first_us = Some(s.first_us.map_or(t, |f| f.min(t)));
            s.last_us = Some(s.last_us.map_or(t, |l| l.max(t)));
        }
    }

    fn merge(&mut self, other: Throttled) {
        self.rejected.merge(other.rejected);
        self.totals.merge(other.totals);
    }

    fn finish(self, _summary: &Summary) -> Report {
        let approximate = self.rejected.is_approximate() || self.totals.is_approximate();
        let totals: std::collections::HashMap<String, u64> = self
            .totals
            .into_sorted()
            .into_iter()
            .map(|(k, t)| (k, t.stat.0))
            .collect();
        let mut rows = Vec::new();
        let mut by_cause = [0u64; 4];
        for (key, tracked) in self.rejected.into_sorted() {
            let s = tracked.stat;
            let parts: Vec<&str> = key.split(KEY_SEP).collect();
            let [client, cause, verb, resource] = parts[..] else {
                continue;
            };
            let idx = ["apf", "eviction", "event-rate-limit", "other"]
                .iter()
                .position(|c| *c == cause)
                .unwrap_or(3);
            by_cause[idx] += s.count;
            if rows.len() >= self.limit {
                continue;
            }
            let total = totals.get(client).copied().unwrap_or(0);
            rows.push(Row {
                key: client.to_owned(),
                count: s.count,
                cells: vec![
                    Cell::Text(cause.to_owned()),
                    Cell::Text(verb.to_owned()),
                    Cell::Text(resource.to_owned()),
                    if total > 0 {
                        Cell::Float(100.0 * s.count as f64 / total as f64, 1)
                    } else {
                        Cell::Empty
                    },
                    s.first_us.map_or(Cell::Empty, |t| Cell::Text(format_us(t))),
                    s.last_us.map_or(Cell::Empty, |t| Cell::Text(format_us(t))),
                ],
            });
        }
        let mut notes = vec![
            format!(
                "429s by cause: apf {}, eviction {}, event-rate-limit {}, other {}",
                by_cause[0], by_cause[1], by_cause[2], by_cause[3]
            ),
            "apf = no authorization annotation and no status message: rejected by API Priority and Fairness (or max-in-flight), which run before authorization; audit events never name the FlowSchema".to_owned(),
            "eviction = a PodDisruptionBudget blocked an eviction (not load); event-rate-limit = the EventRateLimit admission plugin".to_owned(),
            "pct_of_client is the share of the client's requests that got this 429".to_owned(),
        ];
        if approximate {
            notes.push("too many distinct clients to count exactly: counts come from a heavy-hitters sketch and are lower bounds".to_owned());
        }
        Report {
            view: "throttled".to_owned(),
            key_name: "client".to_owned(),
            columns: [
                "cause",
                "verb",
                "resource",
                "pct_of_client",
                "first",
                "last",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            notes,
            approximate,
        }
    }
}
