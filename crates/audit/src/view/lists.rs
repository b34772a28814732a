//! `lists`: LIST calls by client and shape: unbounded or paginated, cluster or namespace scope,
//! and whether the watch cache or etcd serves them.

use super::{KEY_SEP, QUANTILE_NOTE, RequestStats, View};
use crate::client::client_key;
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::scan::Summary;
use crate::sketch::{HeavyHitters, Stat};
use crate::uri::ListParams;

/// A Kubernetes minor version (`1.30` is `KubeVersion { major: 1, minor: 30 }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeVersion {
    /// Major version (1).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl std::str::FromStr for KubeVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<KubeVersion, String> {
        let t = s.trim().trim_start_matches('v');
        let mut parts = t.split('.');
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts
            .next()
            .and_then(|p| p.trim_end_matches('+').parse().ok());
        match (major, minor) {
            (Some(major), Some(minor)) => Ok(KubeVersion { major, minor }),
            _ => Err(format!(
                "expected a Kubernetes version such as 1.30, got {s:?}"
            )),
        }
    }
}

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

/// Where the apiserver serves a LIST from, by its query and the server version (the watch cache
/// on, its default for most resources).
///
/// Rules (kube-apiserver `storage/cacher` and the ConsistentListFromCache / ListFromCacheSnapshot
/// feature gates): up to 1.30 a consistent LIST (no resourceVersion), an exact LIST
/// (`resourceVersion=N&limit=M` or `resourceVersionMatch=Exact`) and `continue` pages go to etcd,
/// and `resourceVersion=0` is served from the cache with `limit` ignored. From 1.31 consistent
/// LISTs are served from the cache (when etcd supports progress notifications). From 1.34 exact
/// and continued LISTs use cache snapshots when available. Without a version both answers are
/// given.
pub fn served_from(p: &ListParams<'_>, version: Option<KubeVersion>) -> String {
    let exact = p.continue_token
        || p.resource_version_match == Some("Exact")
        || (p.resource_version.is_some_and(|rv| rv != "0") && p.limit.is_some());
    let by_version = |minor: u32| -> &'static str {
        if exact {
            if minor >= 34 {
                "cache snapshot (else etcd)"
            } else {
                "etcd"
            }
        } else if p.resource_version.is_none() {
            if minor >= 31 {
                "cache (consistent read)"
            } else {
                "etcd"
            }
        } else if p.resource_version == Some("0") && p.limit.is_some() && minor <= 30 {
            "cache (limit ignored)"
        } else {
            "cache"
        }
    };
    match version {
        Some(v) => by_version(if v.major > 1 { 99 } else { v.minor }).to_owned(),
        None => {
            let (old, mid, new) = (by_version(30), by_version(33), by_version(34));
            if old == mid && mid == new {
                old.to_owned()
            } else if mid == new {
                format!("{old} (<=1.30), {new} (1.31+)")
            } else if old == mid {
                format!("{old} (<=1.33), {new} (1.34+)")
            } else {
                format!("{old} (<=1.30), {mid} (1.31-1.33), {new} (1.34+)")
            }
        }
    }
}

#[derive(Clone, Default)]
struct ListStats {
    req: RequestStats,
    etcd_seen: u64,
}

impl Stat for ListStats {
    fn merge(&mut self, other: Self) {
        self.req.merge(other.req);
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
        let stats = self.hh.entry(&self.buf);
        stats.req.add(req);
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
                    Cell::Text(served_from(&params, self.version)),
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
            "served says where the apiserver reads the LIST (watch cache on); etcd_seen counts LISTs with an apiserver.latency.k8s.io/etcd annotation, written only for requests over 500 ms".to_owned(),
        ];
        if self.version.is_none() {
            notes.push(
                "no --kube-version given: served lists the answer for each version range"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Shape;

    fn served(uri: &str, v: Option<&str>) -> String {
        served_from(&Shape::parse(uri).params(), v.map(|v| v.parse().unwrap()))
    }

    #[test]
    fn cache_or_etcd_by_version() {
        assert_eq!(served("/api/v1/pods", Some("1.30")), "etcd");
        assert_eq!(
            served("/api/v1/pods", Some("1.31")),
            "cache (consistent read)"
        );
        assert_eq!(
            served("/api/v1/pods?resourceVersion=0&limit=500", Some("1.29")),
            "cache (limit ignored)"
        );
        assert_eq!(
            served("/api/v1/pods?resourceVersion=0&limit=500", Some("1.32")),
            "cache"
        );
        assert_eq!(
            served("/api/v1/pods?resourceVersion=123&limit=500", Some("1.33")),
            "etcd"
        );
        assert_eq!(
            served("/api/v1/pods?resourceVersion=123&limit=500", Some("1.34")),
            "cache snapshot (else etcd)"
        );
        assert_eq!(
            served("/api/v1/pods?limit=500&continue=x", Some("1.28")),
            "etcd"
        );
        assert_eq!(
            served("/api/v1/pods?resourceVersion=123", Some("1.20")),
            "cache"
        );
        assert_eq!(
            served("/api/v1/pods", None),
            "etcd (<=1.30), cache (consistent read) (1.31+)"
        );
    }
}
