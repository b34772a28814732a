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
        // Most requests have no query: skip parsing one.
        let params = if shape.query.is_empty() {
            apilens_audit::ListParams::default()
        } else {
            shape.params()
        };
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
        let name_selector = (params.field_selector)
            && memchr::memmem::find(shape.query.as_bytes(), b"metadata.name").is_some();
        let path = &req.request_uri[..req.request_uri.len() - shape.query.len()];
        let path = path.strip_suffix('?').unwrap_or(path);
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
            selector: params.label_selector || params.field_selector,
            name_selector,
            send_initial_events: params.send_initial_events,
            path,
            shape,
        }
    }

    /// A hash of everything that decides the call row and the classification of a request of
    /// `client`: the shape, the namespace (schemas may match it, ByNamespace flows use it), the
    /// name of a namespace object, and the user of a folded kubelet (its own flow).
    pub(crate) fn hash(&self, client: u32, node_user: Option<&str>, from_cache: bool) -> u128 {
        let mut h = crate::hash::Hash128::default();
        h.write_u64(u64::from(client));
        for p in [
            self.verb,
            self.group,
            self.resource,
            self.subresource,
            self.namespace,
            if self.resource == "namespaces" {
                self.name
            } else {
                ""
            },
            if self.scope == Scope::NonResource {
                self.path
            } else {
                ""
            },
            node_user.unwrap_or(""),
        ] {
            h.part(p);
        }
        h.write(&[
            self.scope.code() as u8,
            self.rv.code() as u8,
            u8::from(self.continue_token)
                | u8::from(self.selector) << 1
                | u8::from(self.name_selector) << 2
                | u8::from(self.send_initial_events) << 3
                | u8::from(from_cache) << 4,
        ]);
        h.write_u64(self.limit.map_or(u64::MAX, |l| l));
        h.finish()
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
