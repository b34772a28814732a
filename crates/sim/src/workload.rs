//! The workload model: API resources, the identities of clients, and what each client asks.

/// An API resource the simulated cluster stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// core/v1 pods.
    Pods,
    /// core/v1 nodes.
    Nodes,
    /// coordination.k8s.io/v1 leases.
    Leases,
    /// core/v1 configmaps.
    ConfigMaps,
    /// core/v1 secrets.
    Secrets,
    /// core/v1 services.
    Services,
    /// discovery.k8s.io/v1 endpointslices.
    EndpointSlices,
    /// core/v1 endpoints, deprecated in favour of EndpointSlices from 1.33.
    Endpoints,
    /// core/v1 events.
    Events,
    /// apps/v1 deployments.
    Deployments,
    /// apps/v1 replicasets.
    ReplicaSets,
    /// core/v1 namespaces.
    Namespaces,
    /// A custom resource, `widgets.acme.example.com`, served by the CRD handler.
    Widgets,
}

/// Static facts about a resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResourceInfo {
    pub(crate) resource: &'static str,
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    /// Go type as etcd_request_duration_seconds{type} spelled it up to 1.25.
    pub(crate) go_type: &'static str,
    pub(crate) namespaced: bool,
    /// Average serialized object size in bytes.
    pub(crate) object_bytes: f64,
}

impl Resource {
    /// Every resource, in a fixed order.
    pub(crate) const ALL: [Resource; 13] = [
        Resource::Pods,
        Resource::Nodes,
        Resource::Leases,
        Resource::ConfigMaps,
        Resource::Secrets,
        Resource::Services,
        Resource::EndpointSlices,
        Resource::Endpoints,
        Resource::Events,
        Resource::Deployments,
        Resource::ReplicaSets,
        Resource::Namespaces,
        Resource::Widgets,
    ];

    pub(crate) fn info(self) -> ResourceInfo {
        let r = |resource, group, version, kind, go_type, namespaced, object_bytes| ResourceInfo {
            resource,
            group,
            version,
            kind,
            go_type,
            namespaced,
            object_bytes,
        };
        match self {
            Resource::Pods => r("pods", "", "v1", "Pod", "*core.Pod", true, 4_000.0),
            Resource::Nodes => r("nodes", "", "v1", "Node", "*core.Node", false, 12_000.0),
            Resource::Leases => r(
                "leases",
                "coordination.k8s.io",
                "v1",
                "Lease",
                "*coordination.Lease",
                true,
                350.0,
            ),
            Resource::ConfigMaps => r(
                "configmaps",
                "",
                "v1",
                "ConfigMap",
                "*core.ConfigMap",
                true,
                3_000.0,
            ),
            Resource::Secrets => r("secrets", "", "v1", "Secret", "*core.Secret", true, 2_500.0),
            Resource::Services => r(
                "services",
                "",
                "v1",
                "Service",
                "*core.Service",
                true,
                1_200.0,
            ),
            Resource::EndpointSlices => r(
                "endpointslices",
                "discovery.k8s.io",
                "v1",
                "EndpointSlice",
                "*discovery.EndpointSlice",
                true,
                2_000.0,
            ),
            Resource::Endpoints => r(
                "endpoints",
                "",
                "v1",
                "Endpoints",
                "*core.Endpoints",
                true,
                1_800.0,
            ),
            Resource::Events => r("events", "", "v1", "Event", "*core.Event", true, 900.0),
            Resource::Deployments => r(
                "deployments",
                "apps",
                "v1",
                "Deployment",
                "*apps.Deployment",
                true,
                5_000.0,
            ),
            Resource::ReplicaSets => r(
                "replicasets",
                "apps",
                "v1",
                "ReplicaSet",
                "*apps.ReplicaSet",
                true,
                4_000.0,
            ),
            Resource::Namespaces => r(
                "namespaces",
                "",
                "v1",
                "Namespace",
                "*core.Namespace",
                false,
                600.0,
            ),
            Resource::Widgets => r(
                "widgets",
                "acme.example.com",
                "v1",
                "Widget",
                "*unstructured.Unstructured",
                true,
                6_000.0,
            ),
        }
    }

    /// `resource` or `resource.group`, the spelling of storage metrics and etcd `type` ≥ 1.26.
    pub(crate) fn qualified(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.resource.to_string()
        } else {
            format!("{}.{}", i.resource, i.group)
        }
    }

    /// The URL path of the collection, `/api/v1/namespaces/NS/pods` or `/apis/G/V/...`.
    pub(crate) fn path(self, namespace: Option<&str>) -> String {
        let i = self.info();
        let prefix = if i.group.is_empty() {
            format!("/api/{}", i.version)
        } else {
            format!("/apis/{}/{}", i.group, i.version)
        };
        match namespace {
            Some(ns) if i.namespaced => format!("{prefix}/namespaces/{ns}/{}", i.resource),
            _ => format!("{prefix}/{}", i.resource),
        }
    }
}

/// A request verb, as `apiserver_request_total{verb}` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// GET of one object.
    Get,
    /// LIST of a collection.
    List,
    /// Long-running WATCH.
    Watch,
    /// POST.
    Create,
    /// PUT.
    Update,
    /// PATCH.
    Patch,
    /// DELETE of one object.
    Delete,
}

impl Verb {
    pub(crate) fn metric(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::List => "LIST",
            Verb::Watch => "WATCH",
            Verb::Create => "POST",
            Verb::Update => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    pub(crate) fn audit(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    pub(crate) fn is_mutating(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete
        )
    }

    /// Operation label of etcd_request_duration_seconds.
    pub(crate) fn etcd_operation(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List | Verb::Watch => "list",
            Verb::Create => "create",
            Verb::Update | Verb::Patch => "update",
            Verb::Delete => "delete",
        }
    }

    pub(crate) fn admission_operation(self) -> &'static str {
        match self {
            Verb::Create => "CREATE",
            Verb::Delete => "DELETE",
            _ => "UPDATE",
        }
    }
}

/// Who a client authenticates as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A kubelet: `system:node:<node>` in group `system:nodes`, one per instance.
    Node,
    /// A service account; with `per_pod`, audit events carry the pod name of each instance.
    ServiceAccount {
        /// Namespace of the service account.
        namespace: String,
        /// Name of the service account.
        name: String,
    },
    /// A named user with groups (control-plane components, humans).
    User {
        /// Username.
        name: String,
        /// Groups besides `system:authenticated`.
        groups: Vec<String>,
    },
}

/// Where a request's namespace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Across all namespaces (cluster scope for LIST/WATCH, or a cluster-scoped resource).
    Cluster,
    /// One fixed namespace.
    Namespace(String),
    /// A namespace picked at random per request among the cluster's namespaces.
    AnyNamespace,
}

/// One kind of request a client makes.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// The verb.
    pub verb: Verb,
    /// The resource.
    pub resource: Resource,
    /// Subresource such as `status`, empty for none.
    pub subresource: &'static str,
    /// Namespace scope.
    pub scope: Scope,
    /// Requests per second per instance (for WATCH: open watches per instance).
    pub rate: f64,
    /// `limit=` query parameter; `None` means an unbounded LIST.
    pub limit: Option<u32>,
    /// `resourceVersion=0` (served from the watch cache, any staleness accepted).
    pub rv_zero: bool,
    /// `fieldSelector=spec.nodeName=<node>`: the request only sees its node's objects.
    pub node_selector: bool,
    /// Object name for GET and writes on one object (`{node}` is replaced by the node name).
    pub name: Option<String>,
}

impl RequestSpec {
    /// A request with defaults: cluster scope, no limit, no selector, no name.
    pub fn new(verb: Verb, resource: Resource, rate: f64) -> Self {
        Self {
            verb,
            resource,
            subresource: "",
            scope: Scope::Cluster,
            rate,
            limit: None,
            rv_zero: false,
            node_selector: false,
            name: None,
        }
    }

    /// Sets the namespace scope.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the `limit` query parameter.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Asks with `resourceVersion=0`.
    pub fn rv_zero(mut self) -> Self {
        self.rv_zero = true;
        self
    }

    /// Filters on `spec.nodeName` of the calling node.
    pub fn node_selector(mut self) -> Self {
        self.node_selector = true;
        self
    }

    /// Names the object.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Sets the subresource.
    pub fn subresource(mut self, sub: &'static str) -> Self {
        self.subresource = sub;
        self
    }
}

/// A client: one program, run as `instances` copies (one per node for a DaemonSet).
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Short name used in pod names and summaries, such as `log-agent`.
    pub name: String,
    /// The User-Agent header.
    pub user_agent: String,
    /// Who it authenticates as.
    pub identity: Identity,
    /// Number of copies; a DaemonSet has one per node.
    pub instances: u32,
    /// One instance per node (pod names and source IPs follow the node).
    pub per_node: bool,
    /// What each instance asks.
    pub requests: Vec<RequestSpec>,
}
