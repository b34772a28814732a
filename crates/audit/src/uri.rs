//! The request shape parsed from `requestURI`, following the apiserver's `RequestInfo` rules.

/// What a `requestURI` names and asks for.
///
/// Path rules follow `k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`:
/// `/api/<version>/...` is the core group, `/apis/<group>/<version>/...` a named group, an optional
/// legacy `watch/` segment comes next, then `namespaces/<ns>/` for namespaced requests, then
/// `<resource>[/<name>[/<subresource>]]`. `/api/v1/namespaces/<ns>` names the namespace object
/// itself. Anything else is a non-resource URL (`/healthz`, `/version`, discovery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape<'a> {
    /// The API group; empty for the core group and for non-resource URLs.
    pub group: &'a str,
    /// The API version (`v1`); empty for non-resource URLs.
    pub version: &'a str,
    /// The resource (`pods`); empty for non-resource URLs and group discovery.
    pub resource: &'a str,
    /// The namespace; empty for cluster-scoped requests.
    pub namespace: &'a str,
    /// The object name; empty for collections.
    pub name: &'a str,
    /// The subresource (`status`, `log`, `exec`, ...).
    pub subresource: &'a str,
    /// True when the path is not a resource path.
    pub non_resource: bool,
    /// The legacy `/watch/` path prefix was used.
    pub watch_path: bool,
    /// The raw query string (after `?`), empty when absent.
    pub query: &'a str,
}

/// The query parameters that decide how a LIST or WATCH is served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams<'a> {
    /// `limit`, when present and a number greater than zero.
    pub limit: Option<u64>,
    /// `continue` is present and non-empty: a later page.
    pub continue_token: bool,
    /// `resourceVersion`, raw; `None` when absent or empty.
    pub resource_version: Option<&'a str>,
    /// `resourceVersionMatch`, raw.
    pub resource_version_match: Option<&'a str>,
    /// `watch` is present and not `false`/`0`.
    pub watch: bool,
    /// `sendInitialEvents=true` (streaming list).
    pub send_initial_events: bool,
    /// `labelSelector` is present and non-empty.
    pub label_selector: bool,
    /// `fieldSelector` is present and non-empty.
    pub field_selector: bool,
}

impl<'a> Shape<'a> {
    /// Parses a `requestURI`.
    ///
    /// ```
    /// use apilens_audit::Shape;
    ///
    /// let s = Shape::parse("/apis/apps/v1/namespaces/web/deployments/api/scale?timeout=32s");
    /// assert_eq!((s.group, s.resource, s.namespace, s.name, s.subresource), ("apps", "deployments", "web", "api", "scale"));
    /// assert_eq!(Shape::parse("/api/v1/pods?limit=500").params().limit, Some(500));
    /// ```
    pub fn parse(uri: &'a str) -> Shape<'a> {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, q),
            None => (uri, ""),
        };
        let mut shape = Shape {
            query,
            ..Shape::default()
        };
        let mut parts = path.trim_matches('/').split('/').filter(|p| !p.is_empty());
        match parts.next() {
            Some("api") => {
                shape.version = parts.next().unwrap_or("");
            }
            Some("apis") => {
                shape.group = parts.next().unwrap_or("");
                shape.version = parts.next().unwrap_or("");
            }
            _ => {
                shape.non_resource = true;
                return shape;
            }
        }
        if shape.version.is_empty() {
            shape.non_resource = true;
            return shape;
        }
        let rest: Vec<&'a str> = parts.collect();
        let mut rest = rest.as_slice();
        if rest.first() == Some(&"watch") {
            shape.watch_path = true;
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces") && rest.len() >= 2 {
            shape.namespace = rest[1];
            if rest.len() > 2 && rest[2] != "status" && rest[2] != "finalize" {
                rest = &rest[2..];
            } else {
                // The namespace object itself (and its status/finalize subresources).
                shape.resource = "namespaces";
                shape.name = rest[1];
                shape.subresource = rest.get(2).copied().unwrap_or("");
                return shape;
            }
        }
        shape.resource = rest.first().copied().unwrap_or("");
        shape.name = rest.get(1).copied().unwrap_or("");
        shape.subresource = rest.get(2).copied().unwrap_or("");
        shape
    }

    /// True for a request on a whole collection (LIST, WATCH, deletecollection, create).
    pub fn is_collection(&self) -> bool {
        !self.non_resource && !self.resource.is_empty() && self.name.is_empty()
    }

    /// `resource` for the core group, `resource.group` otherwise; empty without a resource.
    pub fn resource_key(&self) -> String {
        match (self.resource, self.group) {
            ("", _) => String::new(),
            (r, "") => r.to_owned(),
            (r, g) => format!("{r}.{g}"),
        }
    }

    /// The query parameters that matter for LIST and WATCH load.
    pub fn params(&self) -> ListParams<'a> {
        let mut p = ListParams::default();
        for pair in self.query.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "limit" => p.limit = v.parse().ok().filter(|&n| n > 0),
                "continue" => p.continue_token = !v.is_empty(),
                "resourceVersion" => p.resource_version = (!v.is_empty()).then_some(v),
                "resourceVersionMatch" => p.resource_version_match = (!v.is_empty()).then_some(v),
                "watch" => p.watch = !matches!(v, "false" | "0" | "False" | "FALSE"),
                "sendInitialEvents" => p.send_initial_events = v == "true",
                "labelSelector" => p.label_selector = !v.is_empty(),
                "fieldSelector" => p.field_selector = !v.is_empty(),
                _ => {}
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// group, resource, namespace, name, subresource, non-resource.
    type Expected = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        bool,
    );

    #[test]
    fn paths() {
        let cases: &[(&str, Expected)] = &[
            (
                "/api/v1/namespaces/x/pods",
                ("", "pods", "x", "", "", false),
            ),
            ("/api/v1/pods?limit=500", ("", "pods", "", "", "", false)),
            (
                "/api/v1/namespaces/kube-system",
                ("", "namespaces", "kube-system", "kube-system", "", false),
            ),
            (
                "/api/v1/namespaces/x/status",
                ("", "namespaces", "x", "x", "status", false),
            ),
            ("/api/v1/namespaces", ("", "namespaces", "", "", "", false)),
            (
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/le",
                (
                    "coordination.k8s.io",
                    "leases",
                    "kube-system",
                    "le",
                    "",
                    false,
                ),
            ),
            (
                "/api/v1/watch/namespaces/x/pods",
                ("", "pods", "x", "", "", false),
            ),
            (
                "/apis/admissionregistration.k8s.io/v1beta1?timeout=32s",
                ("admissionregistration.k8s.io", "", "", "", "", false),
            ),
            ("/api", ("", "", "", "", "", true)),
            ("/healthz", ("", "", "", "", "", true)),
            (
                "/api/v1/nodes/n1/proxy/metrics",
                ("", "nodes", "", "n1", "proxy", false),
            ),
        ];
        for (uri, want) in cases {
            let s = Shape::parse(uri);
            assert_eq!(
                (
                    s.group,
                    s.resource,
                    s.namespace,
                    s.name,
                    s.subresource,
                    s.non_resource
                ),
                *want,
                "{uri}"
            );
        }
        assert!(Shape::parse("/api/v1/watch/pods").watch_path);
    }

    #[test]
    fn params() {
        let p = Shape::parse(
            "/api/v1/pods?limit=500&continue=abc&resourceVersion=0&watch=false&labelSelector=a%3Db",
        )
        .params();
        assert_eq!(p.limit, Some(500));
        assert!(p.continue_token && !p.watch && p.label_selector && !p.field_selector);
        assert_eq!(p.resource_version, Some("0"));
        let p = Shape::parse("/api/v1/pods?watch=1&resourceVersion=&limit=0").params();
        assert!(p.watch);
        assert_eq!((p.limit, p.resource_version), (None, None));
    }
}
