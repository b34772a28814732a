//! Classification of a request: the first FlowSchema that matches, its priority level and the
//! flow the request joins.
//!
//! Follows `k8s.io/apiserver/pkg/util/flowcontrol/rule.go` (unchanged in what it decides from
//! `kubernetes-1.20.0` to `kubernetes-1.35.0`) and `startRequest` / `computeFlowDistinguisher`
//! in `apf_controller.go` of the same tags:
//! - a rule matches when one of its subjects matches and, for a resource request, one of its
//!   resource rules matches, or for a non-resource request one of its non-resource rules;
//! - `User` matches the name or `*`; `Group` matches one of the user's groups or `*`;
//!   `ServiceAccount` matches the user name `system:serviceaccount:<ns>:<name>`, any name when
//!   the subject's name is `*`;
//! - a list holding only the wildcard (`*`) matches everything; a wildcard beside other values
//!   is just a value (validation forbids it, `containsString`);
//! - resources are matched as `resource` or `resource/subresource`;
//! - a request without a namespace matches only `clusterScope: true`; one with a namespace
//!   matches a listed namespace or `["*"]`. A request on a namespace object itself
//!   (`/api/v1/namespaces/foo`) carries that namespace (`requestinfo.go`), so it matches the
//!   namespace list, not `clusterScope`;
//! - a non-resource URL `*` matches every path; otherwise the path must equal the URL or start
//!   with the URL (minus a trailing `*`) followed by `/`, so `/healthz` also matches
//!   `/healthz/etcd`;
//! - dangling schemas are skipped; when nothing matches, the catch-all schema is used;
//! - the flow distinguisher (user name for ByUser, namespace for ByNamespace) is computed only
//!   for levels that queue with more than one queue; otherwise it is empty.
//!
//! The groups are those the server's authentication gives the user: `system:authenticated`
//! is added for everyone but `system:anonymous` unless the list already holds it or
//! `system:unauthenticated` (`AuthenticatedGroupAdder`); `system:unauthenticated` for
//! `system:anonymous`; and when no group is given at all, a service-account user gets
//! `system:serviceaccounts` and `system:serviceaccounts:<ns>` as its token authenticator or
//! the impersonation filter would have given it (`serviceaccount.MakeGroupNames`).

use crate::config::ApfConfig;
use crate::objects::{
    Distinguisher, FlowSchema, LevelSpec, LimitResponse, NonResourceRule, PolicyRule,
    PriorityLevel, ResourceRule, Subject,
};
use serde::Serialize;
use std::fmt::Write as _;

const SA_PREFIX: &str = "system:serviceaccount:";
const ALL_SERVICE_ACCOUNTS: &str = "system:serviceaccounts";
const AUTHENTICATED: &str = "system:authenticated";
const UNAUTHENTICATED: &str = "system:unauthenticated";
const ANONYMOUS: &str = "system:anonymous";

/// What classification needs to know about one request.
#[derive(Debug, Clone, Copy)]
pub struct RequestDigest<'a> {
    /// The effective user: the impersonated one when impersonating.
    pub user: &'a str,
    /// That user's groups as authenticated; see the module notes for the ones added here.
    pub groups: &'a [String],
    /// Kubernetes verb (`get`, `list`, `watch`, `create`, ...) for a resource request, or the
    /// lower-case HTTP method for a non-resource request.
    pub verb: &'a str,
    /// The resource, or `None` for a non-resource request.
    pub resource: Option<ResourceAttributes<'a>>,
    /// The request path without the query.
    pub path: &'a str,
}

/// The resource part of a request, as `RequestInfo` has it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceAttributes<'a> {
    /// API group, `""` for the core group.
    pub api_group: &'a str,
    /// Resource, such as `pods`.
    pub resource: &'a str,
    /// Subresource, such as `status`, or `""`.
    pub subresource: &'a str,
    /// Namespace, `""` for a cluster-scoped request (but the namespace itself for a request
    /// on `/api/v1/namespaces/<ns>`).
    pub namespace: &'a str,
    /// Object name, or `""`.
    pub name: &'a str,
}

/// Where a request goes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The FlowSchema that matched.
    pub flow_schema: String,
    /// Its priority level.
    pub priority_level: String,
    /// The schema's matching precedence.
    pub matching_precedence: u32,
    /// The flow distinguisher: the user name (ByUser), the namespace (ByNamespace), or ""
    /// (no distinguisher, or a level without several queues).
    pub distinguisher: String,
    /// True when the level is exempt from limits.
    pub exempt: bool,
    /// Why, in one line, e.g. `FlowSchema service-accounts (precedence 9000): group
    /// system:serviceaccounts, list pods in namespace default`.
    pub why: String,
}

/// A classification that borrows from the configuration and the request: the cheap form for
/// hot loops (no allocation).
#[derive(Debug, Clone, Copy)]
pub struct Matched<'c, 'r> {
    /// The schema that matched.
    pub schema: &'c FlowSchema,
    /// Its level.
    pub level: &'c PriorityLevel,
    /// The flow distinguisher (see [`Classification::distinguisher`]).
    pub distinguisher: &'r str,
    /// Which rule matched (index into the schema's rules), `None` for the catch-all fallback.
    pub rule: Option<usize>,
}

impl Matched<'_, '_> {
    /// True when the level is exempt.
    pub fn exempt(&self) -> bool {
        self.level.spec.is_exempt()
    }

    /// A stable 64-bit hash of the flow (schema name and distinguisher), for
    /// [`crate::ReplayRequest::flow`].
    pub fn flow_hash(&self) -> u64 {
        flow_hash(&self.schema.name, self.distinguisher)
    }
}

/// A stable 64-bit hash (FNV-1a) of a flow: schema name, a zero byte, the distinguisher — the
/// same inputs as the server's `hashFlowID` (which takes SHA-256; only the spread matters).
pub fn flow_hash(schema: &str, distinguisher: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes().chain([0u8]).chain(distinguisher.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl ApfConfig {
    /// Classifies a request exactly as kube-apiserver does.
    ///
    /// ```
    /// use apilens_apf::{ApfConfig, KubeVersion, RequestDigest, ResourceAttributes};
    /// let config = ApfConfig::defaults(KubeVersion::minor(1, 34));
    /// let groups = vec!["system:serviceaccounts".to_string(), "system:authenticated".to_string()];
    /// let c = config.classify(&RequestDigest {
    ///     user: "system:serviceaccount:logging:agent",
    ///     groups: &groups,
    ///     verb: "list",
    ///     resource: Some(ResourceAttributes { resource: "pods", ..Default::default() }),
    ///     path: "/api/v1/pods",
    /// });
    /// assert_eq!((c.flow_schema.as_str(), c.priority_level.as_str()), ("service-accounts", "workload-low"));
    /// assert_eq!(c.distinguisher, "system:serviceaccount:logging:agent");
    /// ```
    pub fn classify(&self, req: &RequestDigest<'_>) -> Classification {
        let m = self.match_request(req);
        Classification {
            flow_schema: m.schema.name.clone(),
            priority_level: m.level.name.clone(),
            matching_precedence: m.schema.matching_precedence,
            distinguisher: m.distinguisher.to_string(),
            exempt: m.exempt(),
            why: why(&m, req),
        }
    }

    /// Classifies without allocating: the schema, level, distinguisher and rule, borrowed.
    pub fn match_request<'c, 'r>(&'c self, req: &RequestDigest<'r>) -> Matched<'c, 'r> {
        let found = self
            .schemas
            .iter()
            .zip(&self.schema_level)
            .find_map(|(schema, level)| {
                let level = (*level)?;
                let rule = schema.rules.iter().position(|r| rule_matches(req, r))?;
                Some((schema, level, Some(rule)))
            });
        let (schema, level, rule) = found.unwrap_or_else(|| {
            let schema = &self.schemas[self.catch_all];
            let level = self.schema_level[self.catch_all].unwrap_or(0);
            (schema, level, None)
        });
        let level = &self.levels[level];
        Matched {
            schema,
            level,
            distinguisher: distinguisher(req, schema, level),
            rule,
        }
    }
}

fn distinguisher<'r>(
    req: &RequestDigest<'r>,
    schema: &FlowSchema,
    level: &PriorityLevel,
) -> &'r str {
    let queues = match level.spec {
        LevelSpec::Limited {
            limit_response: LimitResponse::Queue { queues, .. },
            ..
        } => queues,
        _ => 0,
    };
    if queues <= 1 {
        return "";
    }
    match schema.distinguisher {
        None => "",
        Some(Distinguisher::ByUser) => req.user,
        Some(Distinguisher::ByNamespace) => req.resource.map_or("", |r| r.namespace),
    }
}

/// True when `x` is in `list`, or `list` is exactly `[wildcard]` (`containsString`).
fn contains(list: &[String], x: &str, wildcard: &str) -> bool {
    (list.len() == 1 && list[0] == wildcard) || list.iter().any(|y| y == x)
}

fn rule_matches(req: &RequestDigest<'_>, rule: &PolicyRule) -> bool {
    if !rule.subjects.iter().any(|s| subject_matches(req, s)) {
        return false;
    }
    match &req.resource {
        Some(res) => rule
            .resource_rules
            .iter()
            .any(|r| resource_rule_matches(req.verb, res, r)),
        None => rule
            .non_resource_rules
            .iter()
            .any(|r| non_resource_rule_matches(req.verb, req.path, r)),
    }
}

fn subject_matches(req: &RequestDigest<'_>, subject: &Subject) -> bool {
    match subject {
        Subject::User { name } => name == "*" || name == req.user,
        Subject::Group { name } => name == "*" || has_group(req, name),
        Subject::ServiceAccount { namespace, name } => match sa_parts(req.user) {
            Some((ns, sa)) => ns == namespace && (name == "*" || sa == name),
            None => false,
        },
    }
}

/// `system:serviceaccount:<ns>:<name>` split, as `serviceaccount.MatchesUsername` reads it
/// (the namespace is everything up to the next colon).
fn sa_parts(user: &str) -> Option<(&str, &str)> {
    user.strip_prefix(SA_PREFIX)?.split_once(':')
}

/// True when the user has `group`, counting the groups authentication adds.
pub(crate) fn has_group(req: &RequestDigest<'_>, group: &str) -> bool {
    if req.groups.iter().any(|g| g == group) {
        return true;
    }
    implicit_group(req, group)
}

fn implicit_group(req: &RequestDigest<'_>, group: &str) -> bool {
    let listed = |g: &str| req.groups.iter().any(|x| x == g);
    match group {
        AUTHENTICATED => req.user != ANONYMOUS && !listed(UNAUTHENTICATED),
        UNAUTHENTICATED => req.user == ANONYMOUS,
        _ if req.groups.is_empty() => match sa_parts(req.user) {
            Some((ns, _)) => {
                group == ALL_SERVICE_ACCOUNTS
                    || group
                        .strip_prefix(ALL_SERVICE_ACCOUNTS)
                        .and_then(|rest| rest.strip_prefix(':'))
                        == Some(ns)
            }
            None => false,
        },
        _ => false,
    }
}

fn resource_rule_matches(verb: &str, res: &ResourceAttributes<'_>, rule: &ResourceRule) -> bool {
    if !contains(&rule.verbs, verb, "*") {
        return false;
    }
    let resource_ok = if res.subresource.is_empty() {
        contains(&rule.resources, res.resource, "*")
    } else {
        (rule.resources.len() == 1 && rule.resources[0] == "*")
            || rule.resources.iter().any(|r| {
                r.len() == res.resource.len() + 1 + res.subresource.len()
                    && r.starts_with(res.resource)
                    && r.as_bytes()[res.resource.len()] == b'/'
                    && r.ends_with(res.subresource)
            })
    };
    if !resource_ok || !contains(&rule.api_groups, res.api_group, "*") {
        return false;
    }
    if res.namespace.is_empty() {
        rule.cluster_scope
    } else {
        contains(&rule.namespaces, res.namespace, "*")
    }
}

fn non_resource_rule_matches(verb: &str, path: &str, rule: &NonResourceRule) -> bool {
    contains(&rule.verbs, verb, "*") && rule.non_resource_urls.iter().any(|u| url_matches(u, path))
}

fn url_matches(url: &str, path: &str) -> bool {
    if url == "*" || url == path {
        return true;
    }
    let prefix = url.strip_suffix('*').unwrap_or(url);
    if prefix.ends_with('/') {
        path.starts_with(prefix)
    } else {
        path.len() > prefix.len()
            && path.starts_with(prefix)
            && path.as_bytes()[prefix.len()] == b'/'
    }
}

/// The one-line reason for a match.
fn why(m: &Matched<'_, '_>, req: &RequestDigest<'_>) -> String {
    let mut out = format!(
        "FlowSchema {} (precedence {})",
        m.schema.name, m.schema.matching_precedence
    );
    let Some(rule_idx) = m.rule else {
        out.push_str(": no FlowSchema matched, so the server falls back to catch-all");
        return out;
    };
    let rule = &m.schema.rules[rule_idx];
    if m.schema.rules.len() > 1 {
        let _ = write!(out, " rule {}", rule_idx + 1);
    }
    out.push_str(": ");
    if let Some(subject) = rule.subjects.iter().find(|s| subject_matches(req, s)) {
        match subject {
            Subject::User { name } if name == "*" => out.push_str("any user"),
            Subject::User { name } => {
                let _ = write!(out, "user {name}");
            }
            Subject::Group { name } if name == "*" => out.push_str("any group"),
            Subject::Group { name } => {
                let _ = write!(out, "group {name}");
                if !req.groups.iter().any(|g| g == name) {
                    out.push_str(" (implicit)");
                }
            }
            Subject::ServiceAccount { namespace, name } => {
                let _ = write!(out, "service account {namespace}/{name}");
            }
        }
    }
    out.push_str(", ");
    match &req.resource {
        Some(res) => {
            let _ = write!(out, "{} {}", req.verb, res.resource);
            if !res.subresource.is_empty() {
                let _ = write!(out, "/{}", res.subresource);
            }
            if !res.api_group.is_empty() {
                let _ = write!(out, ".{}", res.api_group);
            }
            if res.namespace.is_empty() {
                out.push_str(" (cluster scope)");
            } else {
                let _ = write!(out, " in namespace {}", res.namespace);
            }
        }
        None => {
            let _ = write!(out, "{} {}", req.verb, req.path);
        }
    }
    let _ = write!(out, " -> priority level {}", m.level.name);
    if !m.distinguisher.is_empty() {
        let _ = write!(out, ", flow {}", m.distinguisher);
    }
    out
}
