//! `watches`: WATCH counts and re-establishment churn per client and resource.

use super::{KEY_SEP, View};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::sketch::{HeavyHitters, Latency, Stat};
use crate::summary::Summary;

/// A watch that ended within this many seconds counts as short-lived.
const SHORT_LIVED_S: f64 = 60.0;

#[derive(Clone, Default)]
struct WatchStats {
    count: u64,
    lifetime_s: Latency,
    short_lived: u64,
    errors: u64,
}

impl Stat for WatchStats {
    fn merge(&mut self, other: Self) {
        self.count += other.count;
        self.lifetime_s.merge(other.lifetime_s);
        self.short_lived += other.short_lived;
        self.errors += other.errors;
    }

    fn weight(&self) -> u64 {
        self.count
    }
}

/// The `watches` view.
pub struct Watches {
    limit: usize,
    hh: HeavyHitters<WatchStats>,
    buf: String,
}

impl Watches {
    /// Shows `limit` rows, exact up to `cap` distinct (client, resource) pairs.
    pub fn new(limit: usize, cap: usize) -> Watches {
        Watches {
            limit,
            hh: HeavyHitters::new(cap),
            buf: String::new(),
        }
    }
}

/// True for a WATCH request (verb, `watch=true` query or the legacy `/watch/` path).
pub(crate) fn is_watch(req: &Request<'_>) -> bool {
    if req.verb == "watch" {
        return true;
    }
    if req.verb != "list" && req.verb != "get" {
        return false;
    }
    let shape = req.shape();
    shape.watch_path || shape.params().watch
}

impl View for Watches {
    fn add(&mut self, req: &Request<'_>) {
        if !is_watch(req) {
            return;
        }
        let ns = req.namespace();
        self.buf.clear();
        self.buf.push_str(&client_key(req));
        self.buf.push(KEY_SEP);
        self.buf.push_str(&req.resource_key());
        self.buf.push(KEY_SEP);
        self.buf.push_str(if ns.is_empty() {
            "cluster"
        } else {
            "namespace"
        });
        let s = self.hh.entry(&self.buf);
        s.count += 1;
        if super::is_error(req.code) {
            s.errors += 1;
        }
        // The lifetime of a watch is only known from its final event.
        if req.stage.is_final()
            && let Some(us) = req.latency_us()
        {
            let secs = us as f64 / 1e6;
            s.lifetime_s.add(secs);
            if secs < SHORT_LIVED_S {
                s.short_lived += 1;
            }
        }
    }

    fn merge(&mut self, other: Watches) {
        self.hh.merge(other.hh);
    }

    fn finish(self, summary: &Summary) -> Report {
        let approximate = self.hh.is_approximate();
        let span = summary.span_seconds();
        let mut rows = Vec::new();
        for (key, tracked) in self.hh.into_sorted().into_iter().take(self.limit) {
            let s = tracked.stat;
            let parts: Vec<&str> = key.split(KEY_SEP).collect();
            let [client, resource, scope] = parts[..] else {
                continue;
            };
            rows.push(Row {
                key: client.to_owned(),
                count: s.count,
                cells: vec![
                    Cell::Text(resource.to_owned()),
                    Cell::Text(scope.to_owned()),
                    if span > 0.0 {
                        Cell::Float(s.count as f64 * 60.0 / span, 2)
                    } else {
                        Cell::Empty
                    },
                    s.lifetime_s
                        .quantile(0.5)
                        .map_or(Cell::Empty, |v| Cell::Float(v, 1)),
                    Cell::Int(s.short_lived),
                    Cell::Int(s.errors),
                ],
            });
        }
        let mut notes = vec![
            "per_min is watches opened per minute over the input span: an informer re-watches every 5-10 min (timeoutSeconds), so a higher rate per client and resource is churn".to_owned(),
            format!("median_life_s is the median watch lifetime from ResponseComplete events (DDSketch, 1 % relative error); short_lived counts watches that ended within {SHORT_LIVED_S} s"),
        ];
        if approximate {
            notes.push("too many distinct rows to count exactly: counts come from a heavy-hitters sketch and are lower bounds".to_owned());
        }
        Report {
            view: "watches".to_owned(),
            key_name: "client".to_owned(),
            columns: [
                "resource",
                "scope",
                "per_min",
                "median_life_s",
                "short_lived",
                "errors",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            notes,
            approximate,
        }
    }
}
