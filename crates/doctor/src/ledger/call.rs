//! One request reduced to its call shape: verb, resource, scope, paging, resourceVersion and
//! where the server reads it from. Requests of one client with one shape cost the same seats.

use apilens_audit::{Request, Shape};
use std::fmt::Write as _;

/// How a request addresses its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// A collection across all namespaces, or a cluster-scoped resource's collection.
    Cluster,
    /// A collection in one namespace.
    Namespace,
    /// One named object.
    Object,
    /// A non-resource URL (`/healthz`, discovery).
    NonResource,
}

impl Scope {
    pub(crate) fn code(self) -> char {
        match self {
            Scope::Cluster => 'c',
            Scope::Namespace => 'n',
            Scope::Object => 'o',
            Scope::NonResource => 'u',
        }
    }
}

/// The `resourceVersion` a LIST, GET or WATCH asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rv {
    /// Absent: a consistent read (LIST, GET) or "start from now after sending everything"
    /// (WATCH).
    Absent,
    /// `0`: any version, served from the watch cache.
    Zero,
    /// A specific version.
    Exact,
}

impl Rv {
    fn code(self) -> char {
        match self {
            Rv::Absent => 'a',
            Rv::Zero => '0',
            Rv::Exact => 'n',
        }
    }

    fn of(rv: Option<&str>) -> Rv {
        match rv {
            None => Rv::Absent,
            Some("0") => Rv::Zero,
            Some(_) => Rv::Exact,
        }
    }
}

/// A request's shape, borrowing from the request.
#[derive(Debug, Clone)]
pub(crate) struct Call<'r> {
    pub(crate) verb: &'r str,
    pub(crate) group: &'r str,
    pub(crate) resource: &'r str,
    pub(crate) subresource: &'r str,
    pub(crate) namespace: &'r str,
    pub(crate) name: &'r str,
    pub(crate) scope: Scope,
    pub(crate) limit: Option<u64>,
    pub(crate) continue_token: bool,
    pub(crate) rv: Rv,
    pub(crate) rv_match: Option<&'r str>,
    pub(crate) selector: bool,
    pub(crate) name_selector: bool,
    pub(crate) send_initial_events: bool,
    /// The path without the query.
    pub(crate) path: &'r str,
    pub(crate) shape: Shape<'r>,
}

impl<'r> Call<'r> {
    /// Reads the shape of `req`: the object reference when the event has one, else the URI
    /// parsed the way the API server does.
    pub(crate) fn of(req: &'r Request<'_>) -> Call<'r> {
        let shape = req.shape();
        let params = shape.params();
        let (group, resource, subresource, namespace) = match req.object_resource.as_deref() {
            Some(res) if !res.is_empty() => (
                req.object_api_group.as_deref().unwrap_or(""),
                res,
                req.object_subresource.as_deref().unwrap_or(""),
                req.object_namespace.as_deref().unwrap_or(""),
            ),
            _ => (
                shape.group,
                shape.resource,
                shape.subresource,
                shape.namespace,
            ),
        };
        let scope = if shape.non_resource || resource.is_empty() {
            Scope::NonResource
        } else if !shape.name.is_empty() {
            Scope::Object
        } else if namespace.is_empty() {
            Scope::Cluster
        } else {
            Scope::Namespace
        };
        let name_selector = shape.query.contains("fieldSelector=metadata.name")
            || shape.query.contains("fieldSelector=metadata.name%3D");
        let path = req
            .request_uri
            .split_once('?')
            .map_or(req.request_uri.as_ref(), |(p, _)| p);
        Call {
            verb: &req.verb,
            group,
            resource,
            subresource,
            namespace,
            name: shape.name,
            scope,
            limit: params.limit,
            continue_token: params.continue_token,
            rv: Rv::of(params.resource_version),
            rv_match: params.resource_version_match,
            selector: params.label_selector || params.field_selector,
            name_selector,
            send_initial_events: params.send_initial_events,
            path,
            shape,
        }
    }

    /// True for the verbs that change state.
    pub(crate) fn is_mutating(&self) -> bool {
        matches!(
            self.verb,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }

    /// A single-object request: a GET or write of one object, or a create.
    pub(crate) fn is_single_object(&self) -> bool {
        self.scope == Scope::Object || (self.verb == "create" && self.scope != Scope::NonResource)
    }

    /// `resource` or `resource/subresource`, as FlowSchema rules spell it.
    pub(crate) fn rule_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// Appends the shape key (everything but the client and classification) to `out`.
    pub(crate) fn write_key(&self, from_cache: bool, out: &mut String) {
        use crate::identity::KEY_SEP as S;
        out.push_str(self.verb);
        out.push(S);
        out.push_str(self.group);
        out.push(S);
        out.push_str(self.resource);
        out.push(S);
        out.push_str(self.subresource);
        out.push(S);
        out.push(self.scope.code());
        out.push(self.rv.code());
        out.push(if self.continue_token { 'k' } else { '-' });
        out.push(if self.selector { 's' } else { '-' });
        out.push(if self.name_selector { 'm' } else { '-' });
        out.push(if self.send_initial_events { 'i' } else { '-' });
        out.push(if from_cache { 'C' } else { 'E' });
        if let Some(l) = self.limit {
            let _ = write!(out, "{l}");
        }
        if self.scope == Scope::NonResource {
            out.push(S);
            out.push_str(self.path);
        }
    }
}
