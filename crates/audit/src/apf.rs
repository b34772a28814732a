//! API Priority and Fairness for audit requests, through `apilens-apf`: which priority level
//! and flow a request took, and the seats it held.
//!
//! Audit events never name the FlowSchema (kubernetes#113473), so requests are classified again
//! against a version's default FlowSchemas. Two things an audit event does not say are filled
//! in as the server would: the groups of an impersonated user (the event's `impersonatedUser`
//! groups are not read) are those the impersonation filter gives when none are asked for, and
//! the size of the collection a LIST reads is unknown, so it is taken as large.

use crate::list_serving::{CACHE_IF_PROGRESS_NOTIFY, served_from};
use crate::request::Request;
use crate::uri::Shape;
use apilens_apf::{
    ApfConfig, Capacity, KubeVersion, NEWEST, OLDEST, ObjectStats, RequestDigest,
    ResourceAttributes, ResourceVersionParam, WorkRequest,
};
use std::sync::OnceLock;

/// The defaults and seats of one version, built once.
struct Defaults {
    config: ApfConfig,
    capacity: Capacity,
    /// The fewest seats any level lets one request take: estimates at or below it need no
    /// classification.
    min_level_cap: u32,
}

/// The defaults of `version` (clamped to the versions apf knows).
fn defaults(version: KubeVersion) -> &'static Defaults {
    static ALL: OnceLock<Vec<Defaults>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        (OLDEST.minor..=NEWEST.minor)
            .map(|minor| {
                let v = KubeVersion::minor(1, minor);
                let config = ApfConfig::defaults(v);
                let capacity = config.capacity(v, apilens_apf::DEFAULT_SERVER_CONCURRENCY_LIMIT);
                let min_level_cap = capacity
                    .levels
                    .iter()
                    .map(|l| l.max_seats_per_request)
                    .min()
                    .unwrap_or(1);
                Defaults {
                    config,
                    capacity,
                    min_level_cap,
                }
            })
            .collect()
    });
    let minor = if version.major != 1 {
        NEWEST.minor
    } else {
        version.minor.clamp(OLDEST.minor, NEWEST.minor)
    };
    &all[(minor - OLDEST.minor) as usize]
}

/// A request's classification inputs, owned where the audit line needs decoding.
struct Digest<'r> {
    user: &'r str,
    groups: Vec<String>,
    verb: &'r str,
    resource: Option<ResourceAttributes<'r>>,
    path: &'r str,
}

impl<'r> Digest<'r> {
    fn of(req: &'r Request<'_>, shape: &Shape<'r>) -> Digest<'r> {
        // The effective user: the impersonated one when impersonating. Its groups are not in
        // the request model; apf adds those the server gives when none are named.
        let (user, groups) = match req.impersonated_user.as_deref() {
            Some(imp) if !imp.is_empty() => (imp, Vec::new()),
            _ => (req.user.as_ref(), req.groups()),
        };
        let resource = match req.object_resource.as_deref() {
            Some(res) if !res.is_empty() => Some(ResourceAttributes {
                api_group: req.object_api_group.as_deref().unwrap_or(""),
                resource: res,
                subresource: req.object_subresource.as_deref().unwrap_or(""),
                namespace: req.object_namespace.as_deref().unwrap_or(shape.namespace),
                name: shape.name,
            }),
            _ if !shape.non_resource && !shape.resource.is_empty() => Some(ResourceAttributes {
                api_group: shape.group,
                resource: shape.resource,
                subresource: shape.subresource,
                namespace: shape.namespace,
                name: shape.name,
            }),
            _ => None,
        };
        let path = req.request_uri.split('?').next().unwrap_or("");
        Digest {
            user,
            groups,
            verb: req.verb.as_ref(),
            resource,
            path,
        }
    }

    fn as_digest(&self) -> RequestDigest<'_> {
        RequestDigest {
            user: self.user,
            groups: &self.groups,
            verb: self.verb,
            resource: self.resource,
            path: self.path,
        }
    }
}

/// Appends the request's priority level, FlowSchema and flow distinguisher under the default
/// FlowSchemas of `version`, as `level/schema/distinguisher` (`-` when the flow has none).
pub(crate) fn push_flow(req: &Request<'_>, version: KubeVersion, out: &mut String) {
    let shape = req.shape();
    let digest = Digest::of(req, &shape);
    let m = defaults(version).config.match_request(&digest.as_digest());
    out.push_str(&m.level.name);
    out.push('/');
    out.push_str(&m.schema.name);
    out.push('/');
    out.push_str(if m.distinguisher.is_empty() {
        "-"
    } else {
        m.distinguisher
    });
}

/// The request's flow under the default FlowSchemas of `version`, as
/// `priority-level/flow-schema/distinguisher`.
///
/// ```
/// use apilens_audit::{decode_record, default_flow};
/// use apilens_apf::KubeVersion;
/// let line = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"system:serviceaccount:logging:agent","groups":["system:serviceaccounts","system:serviceaccounts:logging","system:authenticated"]},"objectRef":{"resource":"pods","apiVersion":"v1"},"responseStatus":{"code":200}}"#;
/// let mut flows = Vec::new();
/// decode_record(line, &mut |req| flows.push(default_flow(&req, KubeVersion::minor(1, 35))))?;
/// assert_eq!(flows, ["workload-low/service-accounts/system:serviceaccount:logging:agent"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_flow(req: &Request<'_>, version: KubeVersion) -> String {
    let mut out = String::new();
    push_flow(req, version, &mut out);
    out
}

/// APF seats a request held under the default configuration of `version`: the work estimate
/// of `apilens-apf` for its verb and query, capped by the most seats its priority level allows
/// one request.
///
/// An audit event does not say how many objects the resource holds, so the collection is
/// taken as large (10⁹ objects, the count the server assumes when its own is stale): an
/// unbounded or cache-served LIST costs the most its level allows, a paginated LIST from etcd
/// `⌈2 × limit / 100⌉` seats up to 1.33, and from 1.34 `limit` objects of the 1.5 MB the server
/// assumes when it knows no size. Watches cost per their version's WatchList rules; writes one
/// seat (the watcher count is unknown).
pub fn estimated_seats(req: &Request<'_>, version: KubeVersion) -> u32 {
    let verb = req.verb.as_ref();
    if verb != "list" && verb != "watch" {
        return 1;
    }
    let shape = req.shape();
    let params = shape.params();
    let served = served_from(&params, Some(version));
    let work = WorkRequest {
        verb,
        resource: req.object_resource.as_deref().unwrap_or(shape.resource),
        subresource: req
            .object_subresource
            .as_deref()
            .unwrap_or(shape.subresource),
        named: !shape.name.is_empty() || params.field_selector && field_names_one(shape.query),
        has_selector: params.label_selector || params.field_selector,
        limit: params.limit,
        resource_version: match params.resource_version {
            None => ResourceVersionParam::Absent,
            Some("0") => ResourceVersionParam::Zero,
            Some(_) => ResourceVersionParam::Exact,
        },
        continue_token: params.continue_token,
        send_initial_events: params.send_initial_events,
        // As the server's estimator decides (`list_work_estimator.go` with
        // `delegator.CacheWithoutSnapshots`): exact and continued LISTs count as read from etcd
        // even where a cache snapshot serves them; a consistent LIST counts as read from the
        // cache from 1.31 when etcd supports progress notify, which a current etcd (3.5.13+)
        // does and is assumed.
        served_from_cache: served == CACHE_IF_PROGRESS_NOTIFY
            || served.starts_with("cache") && !served.contains("else etcd"),
    };
    let d = defaults(version);
    let large = ObjectStats {
        count: Some(1e9),
        avg_object_bytes: None,
    };
    let uncapped = apilens_apf::estimate(version, &work, large, 0.0, 0).max_seats();
    if uncapped <= d.min_level_cap {
        return uncapped;
    }
    let max = level_cap(req, &shape, version, d);
    apilens_apf::estimate(version, &work, large, 0.0, max).max_seats()
}

/// The most seats the request's priority level lets one request take, classifications
/// remembered per thread by what decides them (user, groups, verb, resource, namespace).
fn level_cap(req: &Request<'_>, shape: &Shape<'_>, version: KubeVersion, d: &Defaults) -> u32 {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static SEEN: RefCell<(String, HashMap<Box<str>, u32>)> = RefCell::new((String::new(), HashMap::new()));
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        let (key, map) = &mut *seen;
        key.clear();
        // The version as two characters (its parts are small numbers), no formatting.
        key.push(char::from_u32(version.major).unwrap_or('?'));
        key.push(char::from_u32(version.minor).unwrap_or('?'));
        for part in [
            req.impersonated_user.as_deref().unwrap_or(""),
            req.user.as_ref(),
            req.groups.unwrap_or(""),
            req.verb.as_ref(),
            req.object_api_group.as_deref().unwrap_or(shape.group),
            req.object_resource.as_deref().unwrap_or(shape.resource),
            req.object_subresource
                .as_deref()
                .unwrap_or(shape.subresource),
            req.object_namespace.as_deref().unwrap_or(shape.namespace),
        ] {
            key.push_str(part);
            key.push('\u{1f}');
        }
        if let Some(&cap) = map.get(key.as_str()) {
            return cap;
        }
        let digest = Digest::of(req, shape);
        let m = d.config.match_request(&digest.as_digest());
        let cap = d
            .capacity
            .level(&m.level.name)
            .map_or(0, |l| l.max_seats_per_request);
        if map.len() >= 50_000 {
            map.clear();
        }
        map.insert(Box::from(key.as_str()), cap);
        cap
    })
}

/// True when the query's `fieldSelector` asks for exactly one `metadata.name`
/// (`RequiresExactMatch("metadata.name")`).
fn field_names_one(query: &str) -> bool {
    query.split('&').any(|pair| {
        let Some(v) = pair.strip_prefix("fieldSelector=") else {
            return false;
        };
        let v = v.replace("%3D", "=").replace("%3d", "=");
        let v = v.replace("%2C", ",").replace("%2c", ",");
        v.split(',').count() == 1
            && (v.starts_with("metadata.name=") || v.starts_with("metadata.name=="))
    })
}

/// The version `top` uses when none is given.
pub(crate) const DEFAULT_VERSION: KubeVersion = NEWEST;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::decode_record;

    fn with_request<T>(line: &str, f: impl Fn(&Request<'_>) -> T) -> T {
        let mut out = None;
        decode_record(line, &mut |req| out = Some(f(&req))).expect("a valid event");
        out.expect("one request")
    }

    fn event(
        user: &str,
        groups: &str,
        verb: &str,
        uri: &str,
        object_ref: &str,
        extra: &str,
    ) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x","stage":"ResponseComplete","requestURI":"{uri}","verb":"{verb}","user":{{"username":"{user}","groups":{groups}}},{object_ref}{extra}"responseStatus":{{"code":200}},"requestReceivedTimestamp":"2024-05-01T10:00:00.000000Z","stageTimestamp":"2024-05-01T10:00:00.500000Z"}}"#
        )
    }

    const SA_GROUPS: &str =
        r#"["system:serviceaccounts","system:serviceaccounts:logging","system:authenticated"]"#;
    const V35: KubeVersion = KubeVersion::minor(1, 35);

    #[test]
    fn flows_under_the_defaults() {
        let cases = [
            (
                event(
                    "system:serviceaccount:logging:agent",
                    SA_GROUPS,
                    "list",
                    "/api/v1/pods",
                    r#""objectRef":{"resource":"pods","apiVersion":"v1"},"#,
                    "",
                ),
                "workload-low/service-accounts/system:serviceaccount:logging:agent",
            ),
            (
                event(
                    "system:node:n1",
                    r#"["system:nodes","system:authenticated"]"#,
                    "update",
                    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1",
                    r#""objectRef":{"resource":"leases","namespace":"kube-node-lease","name":"n1","apiGroup":"coordination.k8s.io","apiVersion":"v1"},"#,
                    "",
                ),
                "node-high/system-node-high/system:node:n1",
            ),
            (
                event(
                    "system:kube-controller-manager",
                    r#"["system:authenticated"]"#,
                    "get",
                    "/api/v1/namespaces/kube-system/configmaps/x",
                    r#""objectRef":{"resource":"configmaps","namespace":"kube-system","name":"x","apiVersion":"v1"},"#,
                    "",
                ),
                "workload-high/kube-controller-manager/kube-system",
            ),
            (
                event(
                    "system:anonymous",
                    r#"["system:unauthenticated"]"#,
                    "get",
                    "/readyz?verbose",
                    "",
                    "",
                ),
                "exempt/probes/-",
            ),
            // No objectRef: the URI decides, and a namespace object carries its own namespace.
            (
                event(
                    "system:serviceaccount:kube-system:namespace-controller",
                    r#"["system:serviceaccounts","system:serviceaccounts:kube-system","system:authenticated"]"#,
                    "get",
                    "/api/v1/namespaces/team-a",
                    "",
                    "",
                ),
                "workload-high/kube-system-service-accounts/team-a",
            ),
            // Impersonation: classified as the impersonated service account.
            (
                event(
                    "admin",
                    r#"["system:masters","system:authenticated"]"#,
                    "list",
                    "/api/v1/namespaces/ci/secrets",
                    r#""objectRef":{"resource":"secrets","namespace":"ci","apiVersion":"v1"},"#,
                    r#""impersonatedUser":{"username":"system:serviceaccount:ci:deployer"},"#,
                ),
                "workload-low/service-accounts/system:serviceaccount:ci:deployer",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(
                with_request(&line, |r| default_flow(r, V35)),
                want,
                "{line}"
            );
        }
    }

    #[test]
    fn seats_by_version_level_and_query() {
        let list = |user: &str, groups: &str, uri: &str| {
            event(
                user,
                groups,
                "list",
                uri,
                r#""objectRef":{"resource":"pods","apiVersion":"v1"},"#,
                "",
            )
        };
        let sa = |uri: &str| list("system:serviceaccount:logging:agent", SA_GROUPS, uri);
        let seats = |line: &str, minor: u32| {
            with_request(line, |r| estimated_seats(r, KubeVersion::minor(1, minor)))
        };
        // Unbounded: the level's most before 1.34; from 1.34 a read from the cache is charged
        // at most 1 MB (10 seats) and one from etcd up to workload-low's 37.
        assert_eq!(seats(&sa("/api/v1/pods"), 30), 10);
        assert_eq!(seats(&sa("/api/v1/pods"), 35), 10);
        assert_eq!(
            seats(
                &sa("/api/v1/pods?resourceVersion=9&resourceVersionMatch=Exact"),
                35
            ),
            37
        );
        // A page of 100 from etcd (1.30): 2 × 100 objects.
        assert_eq!(seats(&sa("/api/v1/pods?limit=100"), 30), 2);
        // 1.31+ serves consistent pages from the cache, costed by the whole collection.
        assert_eq!(seats(&sa("/api/v1/pods?limit=100"), 31), 10);
        // global-default caps a request at 8 seats, leader-election at 4.
        let alice = list("alice", r#"["system:authenticated"]"#, "/api/v1/pods");
        assert_eq!(seats(&alice, 30), 8);
        // A named LIST (fieldSelector=metadata.name) is one object.
        assert_eq!(
            seats(
                &sa("/api/v1/namespaces/x/pods?fieldSelector=metadata.name%3Dp1"),
                30
            ),
            1
        );
        // Reads of one object and writes: one seat.
        let get = event(
            "alice",
            r#"["system:authenticated"]"#,
            "get",
            "/api/v1/namespaces/x/pods/p",
            r#""objectRef":{"resource":"pods","namespace":"x","name":"p","apiVersion":"v1"},"#,
            "",
        );
        assert_eq!(seats(&get, 35), 1);
        // Before 1.23 every request is one seat.
        assert_eq!(seats(&sa("/api/v1/pods"), 22), 1);
    }
}
