//! `top --by KEY[,KEY...]`: requests, share, rate, errors, latency and APF seat cost per key.

use super::{KEY_SEP, QUANTILE_NOTE, RequestStats, View};
use crate::apf::push_flow;
use crate::client::{push_client_key, push_normalized_user_agent};
use crate::report::{Cell, Report, Row};
use crate::request::Request;
use crate::sketch::{HeavyHitters, fx_hash};
use crate::summary::Summary;
use apilens_apf::KubeVersion;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The user name prefix of kubelets (`system:node:<node>`).
const NODE_USER_PREFIX: &str = "system:node:";
/// The user shown for kubelets folded into one client row.
const NODES_FOLDED: &str = "system:node:*";

/// A grouping key of `top`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopKey {
    /// `user.username`.
    User,
    /// The user agent without version noise.
    UserAgent,
    /// User agent without version noise plus user.
    Client,
    /// The verb.
    Verb,
    /// `resource` or `resource.group`.
    Resource,
    /// The namespace (empty for cluster-scoped).
    Namespace,
    /// The response code.
    Code,
    /// The last source IP.
    SourceIp,
    /// The APF priority level, FlowSchema and flow distinguisher under the default
    /// FlowSchemas of the version given to [`Top::for_version`].
    Flow,
}

impl TopKey {
    /// The key's name as given to `--by`.
    pub fn name(self) -> &'static str {
        match self {
            TopKey::User => "user",
            TopKey::UserAgent => "useragent",
            TopKey::Client => "client",
            TopKey::Verb => "verb",
            TopKey::Resource => "resource",
            TopKey::Namespace => "namespace",
            TopKey::Code => "code",
            TopKey::SourceIp => "sourceip",
            TopKey::Flow => "flow",
        }
    }

    fn write(self, req: &Request<'_>, version: KubeVersion, out: &mut String) {
        match self {
            TopKey::User => out.push_str(&req.user),
            TopKey::UserAgent => push_normalized_user_agent(&req.user_agent, out),
            // Kubelets are one client on many nodes: one row, with the count of nodes.
            TopKey::Client if req.user.starts_with(NODE_USER_PREFIX) => {
                push_normalized_user_agent(&req.user_agent, out);
                out.push_str(" (");
                out.push_str(NODES_FOLDED);
                out.push(')');
            }
            TopKey::Client => push_client_key(req, out),
            TopKey::Verb => out.push_str(&req.verb),
            TopKey::Resource => out.push_str(&req.resource_key()),
            TopKey::Namespace => out.push_str(&req.namespace()),
            TopKey::Code => {
                if let Some(c) = req.code {
                    let _ = write!(out, "{c}");
                }
            }
            TopKey::SourceIp => out.push_str(&req.source_ip),
            TopKey::Flow => push_flow(req, version, out),
        }
    }
}

impl std::str::FromStr for TopKey {
    type Err = String;

    fn from_str(s: &str) -> Result<TopKey, String> {
        Ok(match s {
            "user" => TopKey::User,
            "useragent" | "user-agent" | "ua" => TopKey::UserAgent,
            "client" => TopKey::Client,
            "verb" => TopKey::Verb,
            "resource" => TopKey::Resource,
            "namespace" | "ns" => TopKey::Namespace,
            "code" | "httpstatus" => TopKey::Code,
            "sourceip" | "ip" => TopKey::SourceIp,
            "flow" => TopKey::Flow,
            _ => {
                return Err(format!(
                    "unknown key {s:?} (expected user, useragent, client, verb, resource, namespace, code, sourceip or flow)"
                ));
            }
        })
    }
}

/// The `top` view.
pub struct Top {
    keys: Vec<TopKey>,
    version: KubeVersion,
    version_given: bool,
    limit: usize,
    hh: HeavyHitters<RequestStats>,
    buf: String,
    /// The distinct nodes (hashed names) behind each row that folds kubelets.
    nodes: HashMap<String, HashSet<u64>>,
}

/// Most distinct nodes counted per folded row (far above any cluster's node count).
const NODES_CAP: usize = 1 << 20;

impl Top {
    /// Groups by `keys` (at least one; `user` when empty), shows the `limit` heaviest rows and
    /// stays exact up to `cap` distinct keys.
    pub fn new(keys: &[TopKey], limit: usize, cap: usize) -> Top {
        let keys = if keys.is_empty() {
            vec![TopKey::User]
        } else {
            keys.to_vec()
        };
        Top {
            keys,
            version: crate::apf::DEFAULT_VERSION,
            version_given: false,
            limit,
            hh: HeavyHitters::new(cap),
            buf: String::new(),
            nodes: HashMap::new(),
        }
    }
}

impl Top {
    /// Classifies flows and estimates seats as a server of `version` (the newest version
    /// apf knows otherwise).
    pub fn for_version(mut self, version: KubeVersion) -> Top {
        self.version = version;
        self.version_given = true;
        self
    }
}

impl View for Top {
    fn add(&mut self, req: &Request<'_>) {
        self.buf.clear();
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                self.buf.push(KEY_SEP);
            }
            k.write(req, self.version, &mut self.buf);
        }
        self.hh.entry(&self.buf).add_for(req, self.version);
        if self.keys.contains(&TopKey::Client) && req.user.starts_with(NODE_USER_PREFIX) {
            let nodes = self.nodes.entry(self.buf.clone()).or_default();
            if nodes.len() < NODES_CAP {
                // The same hash in every worker, so merged sets count each node once.
                nodes.insert(fx_hash(req.user.as_bytes()));
            }
        }
    }

    fn merge(&mut self, other: Top) {
        self.hh.merge(other.hh);
        for (key, nodes) in other.nodes {
            self.nodes.entry(key).or_default().extend(nodes);
        }
    }

    fn finish(self, summary: &Summary) -> Report {
        let approximate = self.hh.is_approximate();
        let span = summary.span_seconds();
        let total = summary.events.max(1) as f64;
        let mut rows = Vec::new();
        let mut max_error = 0;
        for (key, tracked) in self.hh.into_sorted().into_iter().take(self.limit) {
            let s = tracked.stat;
            max_error = max_error.max(tracked.error);
            let q = |p| {
                s.latency
                    .quantile(p)
                    .map_or(Cell::Empty, |v| Cell::Float(v, 1))
            };
            let key = match self.nodes.get(&key) {
                Some(nodes) => key.replace(
                    NODES_FOLDED,
                    &format!(
                        "{NODES_FOLDED} on {} node{}",
                        nodes.len(),
                        if nodes.len() == 1 { "" } else { "s" }
                    ),
                ),
                None => key,
            };
            rows.push(Row {
                key: key.replace(KEY_SEP, " | "),
                count: s.count,
                cells: vec![
                    Cell::Float(100.0 * s.count as f64 / total, 1),
                    if span > 0.0 {
                        Cell::Float(s.count as f64 / span, 3)
                    } else {
                        Cell::Empty
                    },
                    Cell::Int(s.errors),
                    q(0.5),
                    q(0.99),
                    Cell::Float(s.seat_seconds, 2),
                ],
            });
        }
        let mut notes = vec![
            QUANTILE_NOTE.to_owned(),
            "rate is requests per second over the span of the whole input; errors are 4xx and 5xx"
                .to_owned(),
            format!(
                "seat_s estimates APF seat-seconds: seats x latency, seats from the work estimator of Kubernetes {} ({}) capped by the request's priority level under the default FlowSchemas; collections are taken as large (an unbounded or cache-served LIST costs its level's maximum), writes as 1 seat",
                self.version,
                if self.version_given {
                    "--kubernetes-version"
                } else {
                    "the newest apf knows; set --kubernetes-version"
                },
            ),
        ];
        if self.keys.contains(&TopKey::Flow) {
            notes.push(format!(
                "flow is priority-level/flow-schema/distinguisher under the default FlowSchemas of Kubernetes {}; a cluster with its own FlowSchemas classifies differently",
                self.version
            ));
        }
        if approximate {
            notes.push(format!(
                "too many distinct keys to count exactly: counts come from a heavy-hitters sketch and may be low by up to {max_error}"
            ));
        }
        if !self.nodes.is_empty() {
            notes.push("kubelets (users system:node:<node>) are one client: one row per user agent, with the number of nodes; --by user shows each node".to_owned());
        }
        Report {
            view: "top".to_owned(),
            key_name: self
                .keys
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" | "),
            columns: [
                "share_pct",
                "rate_per_s",
                "errors",
                "p50_ms",
                "p99_ms",
                "seat_s",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows,
            notes,
            approximate,
        }
    }
}
