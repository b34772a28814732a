//! `lists`: LIST calls by client and shape: unbounded or paginated, cluster or namespace scope,
//! and whether the watch cache or etcd serves them.

use super::{KEY_SEP, QUANTILE_NOTE, RequestStats, View};
use crate::client::client_key;
use crate::list_serving::{served_from, served_with_evidence};
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::sketch::{HeavyHitters, Stat};
use crate::summary::Summary;
use crate::uri::ListParams;
use apilens_apf::KubeVersion;

/// How a LIST is paged.
pub fn paging(p: &ListParams<'_>) -> String {
    if p.continue_token {
        "continue".to_owned()
    } else if let Some(l) = p.limit {
        format!("limit={l}")
    } else {
        "unbounded".to_owned()
    }
}

/// The `resourceVersion` class of a LIST: `absent` (a consistent read), `0` (any), `N` (not
/// older than N), with `resourceVersionMatch` appended.
pub fn rv_class(p: &ListParams<'_>) -> String {
    let rv = match p.resource_version {
        None => "absent",
        Some("0") => "0",
        Some(_) => "N",
    };
    match p.resource_version_match {
        Some(m) => format!("{rv},match={m}"),
        None => rv.to_owned(),
    }
}

#[derive(Clone, Default)]
struct ListStats {
    req: RequestStats,
    /// LISTs with a latency breakdown (slower than 500 ms).
    slow: u64,
    /// Of those, LISTs whose breakdown has an etcd figure.
    etcd_seen: u64,
}

impl Stat for ListStats {
    fn merge(&mut self, other: Self) {
        self.req.merge(other.req);
        self.slow += other.slow;
        self.etcd_seen += other.etcd_seen;
    }

    fn weight(&self) -> u64 {
        self.req.count
    }
}

/// The `lists` view.
pub struct Lists {
    version: Option<KubeVersion>,
    limit: usize,
    hh: HeavyHitters<ListStats>,
    buf: String,
}

impl Lists {
    /// Classifies LISTs by the rules of `version` (both answers when `None`), showing `limit`
    /// rows and staying exact up to `cap` distinct rows.
    pub fn new(version: Option<KubeVersion>, limit: usize, cap: usize) -> Lists {
        Lists {
            version,
            limit,
            hh: HeavyHitters::new(cap),
            buf: String::new(),
        }
    }
}

impl View for Lists {
    fn add(&mut self, req: &Request<'_>) {
        if req.verb != "list" {
            return;
        }
        let shape = req.shape();
        let p = shape.params();
        let ns = req.namespace();
        self.buf.clear();
        for (i, part) in [
            client_key(req),
            req.resource_key(),
            if ns.is_empty() {
                "cluster".to_owned()
            } else {
                format!("namespace {ns}")
            },
            paging(&p),
            rv_class(&p),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                self.buf.push(KEY_SEP);
            }
            self.buf.push_str(part);
        }
        let etcd = req
            .annotations
            .is_some_and(|a| a.contains("apiserver.latency.k8s.io/etcd"));
        let slow = req
            .annotations
            .is_some_and(|a| a.contains("apiserver.latency.k8s.io/total"));
        let stats = self.hh.entry(&self.buf);
        stats.req.add(req);
        if slow {
            stats.slow += 1;
        }
        if etcd {
            stats.etcd_seen += 1;
        }
    }

    fn merge(&mut self, other: Lists) {
        self.hh.merge(other.hh);
    }

    fn finish(self, summary: &Summary) -> Report {
        let approximate = self.hh.is_approximate();
        let span = summary.span_seconds();
        let mut rows = Vec::new();
        for (key, tracked) in self.hh.into_sorted().into_iter().take(self.limit) {
            let s = tracked.stat;
            let parts: Vec<&str> = key.split(KEY_SEP).collect();
            let [client, resource, scope, paging, rv] = parts[..] else {
                continue;
            };
            let params = ListParams {
                limit: paging.strip_prefix("limit=").and_then(|l| l.parse().ok()),
                continue_token: paging == "continue",
                resource_version: match rv.split(',').next() {
                    Some("absent") | None => None,
                    Some("0") => Some("0"),
                    Some(_) => Some("1"),
                },
                resource_version_match: rv.split_once(",match=").map(|(_, m)| m),
                ..ListParams::default()
            };
            let q = |p| {
                s.req
                    .latency
                    .quantile(p)
                    .map_or(Cell::Empty, |v| Cell::Float(v, 1))
            };
            rows.push(Row {
                key: client.to_owned(),
                count: s.req.count,
                cells: vec![
                    Cell::Text(resource.to_owned()),
                    Cell::Text(scope.to_owned()),
                    Cell::Text(paging.to_owned()),
                    Cell::Text(rv.to_owned()),
                    Cell::Text(served_with_evidence(
                        &served_from(&params, self.version),
                        s.slow,
                        s.etcd_seen,
                    )),
                    if span > 0.0 {
                        Cell::Float(s.req.count as f64 * 60.0 / span, 2)
                    } else {
                        Cell::Empty
                    },
                    Cell::Int(s.req.errors),
                    q(0.5),
                    q(0.99),
                    Cell::Int(s.etcd_seen),
                ],
            });
        }
        let mut notes = vec![
            QUANTILE_NOTE.to_owned(),
            "unbounded = no limit: the whole collection in one response; a cluster-scope unbounded LIST repeated by many clients is the classic apiserver OOM".to_owned(),
            "served says where the apiserver reads the LIST (watch cache on), by the server's rules for the version; where they depend on what the audit log cannot see (etcd's progress notify, the watch cache's history), the LISTs slower than 500 ms decide: an apiserver.latency.k8s.io/etcd annotation (counted in etcd_seen) means etcd served it".to_owned(),
        ];
        if self.version.is_none() {
            notes.push(
                "no --kubernetes-version given: served lists the answer for each version range"
                    .to_owned(),
            );
        }
        if approximate {
            notes.push("too many distinct rows to count exactly: counts come from a heavy-hitters sketch and are lower bounds".to_owned());
        }
        Report {
            view: "lists".to_owned(),
            key_name: "client".to_owned(),
            columns: [
                "resource",
                "scope",
                "paging",
                "rv",
                "served",
                "per_min",
                "errors",
                "p50_ms",
                "p99_ms",
                "etcd_seen",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            notes,
            approximate,
        }
    }
}
