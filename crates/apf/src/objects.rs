//! FlowSchema and PriorityLevelConfiguration as one model for every served version
//! (`flowcontrol.apiserver.k8s.io` v1beta1, v1beta2, v1beta3 and v1).
//!
//! The fields are those of `k8s.io/api/flowcontrol/v1/types.go` (kubernetes-1.29.0 and later);
//! v1beta1/v1beta2's `assuredConcurrencyShares` is read as `nominal_concurrency_shares`.

use serde::Serialize;

/// One FlowSchema: which requests go to which priority level, and how they are split into flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSchema {
    /// `metadata.name`.
    pub name: String,
    /// `spec.matchingPrecedence`: lower is tried first; ties go to the smaller name.
    pub matching_precedence: u32,
    /// `spec.priorityLevelConfiguration.name`.
    pub priority_level: String,
    /// `spec.distinguisherMethod.type`; `None` makes the whole schema one flow.
    pub distinguisher: Option<Distinguisher>,
    /// `spec.rules`: the schema matches when any rule matches.
    pub rules: Vec<PolicyRule>,
}

/// How requests of one FlowSchema are split into flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Distinguisher {
    /// One flow per user name.
    ByUser,
    /// One flow per namespace (cluster-scoped requests share the flow of namespace "").
    ByNamespace,
}

impl Distinguisher {
    /// The API spelling: `ByUser` or `ByNamespace`.
    pub fn as_str(self) -> &'static str {
        match self {
            Distinguisher::ByUser => "ByUser",
            Distinguisher::ByNamespace => "ByNamespace",
        }
    }
}

/// One `PolicyRulesWithSubjects`: it matches when a subject matches and, for a resource request,
/// a resource rule matches, or for a non-resource request, a non-resource rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyRule {
    /// Who: at least one must match the request's user.
    pub subjects: Vec<Subject>,
    /// What, for resource requests.
    pub resource_rules: Vec<ResourceRule>,
    /// What, for non-resource requests (`/healthz`, `/metrics`, ...).
    pub non_resource_rules: Vec<NonResourceRule>,
}

/// A subject of a policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Subject {
    /// A user by name; `*` matches every user.
    User {
        /// The user name.
        name: String,
    },
    /// A group; `*` matches every user.
    Group {
        /// The group name.
        name: String,
    },
    /// A service account; name `*` matches every service account of the namespace.
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name, or `*`.
        name: String,
    },
}

/// A resource rule: verbs, API groups, resources, and where (namespaces or cluster scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResourceRule {
    /// Verbs such as `get`, `list`; `["*"]` matches all.
    pub verbs: Vec<String>,
    /// API groups (`""` is the core group); `["*"]` matches all.
    pub api_groups: Vec<String>,
    /// Resources, `resource/subresource` for a subresource; `["*"]` matches all.
    pub resources: Vec<String>,
    /// Whether requests without a namespace match.
    pub cluster_scope: bool,
    /// Namespaces; `["*"]` matches every namespace, but never a request without one.
    pub namespaces: Vec<String>,
}

/// A non-resource rule: verbs and URL paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NonResourceRule {
    /// Verbs (lower-case HTTP methods); `["*"]` matches all.
    pub verbs: Vec<String>,
    /// Paths; `*` matches all, `/foo/*` every path under `/foo/`, and `/foo` also matches every
    /// path under `/foo/`.
    pub non_resource_urls: Vec<String>,
}

/// One PriorityLevelConfiguration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityLevel {
    /// `metadata.name`.
    pub name: String,
    /// `spec`.
    pub spec: LevelSpec,
}

/// `spec` of a PriorityLevelConfiguration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LevelSpec {
    /// Not limited (the `exempt` level). The shares and lendable percent exist from 1.28 and
    /// take part in the division of the server's seats from then on.
    Exempt {
        /// `spec.exempt.nominalConcurrencyShares` (0 when unset).
        nominal_concurrency_shares: u32,
        /// `spec.exempt.lendablePercent` (0 when unset).
        lendable_percent: u32,
    },
    /// Limited: a share of the server's seats, queued or rejected beyond it.
    Limited {
        /// `nominalConcurrencyShares` (`assuredConcurrencyShares` before v1beta3).
        nominal_concurrency_shares: u32,
        /// `lendablePercent` (from 1.26; 0 when unset).
        lendable_percent: u32,
        /// `borrowingLimitPercent`; `None` lets the level borrow without limit.
        borrowing_limit_percent: Option<u32>,
        /// What happens to requests beyond the limit.
        limit_response: LimitResponse,
    },
}

impl LevelSpec {
    /// The nominal concurrency shares of either kind.
    pub fn nominal_concurrency_shares(&self) -> u32 {
        match *self {
            LevelSpec::Exempt {
                nominal_concurrency_shares,
                ..
            }
            | LevelSpec::Limited {
                nominal_concurrency_shares,
                ..
            } => nominal_concurrency_shares,
        }
    }

    /// The lendable percent of either kind.
    pub fn lendable_percent(&self) -> u32 {
        match *self {
            LevelSpec::Exempt {
                lendable_percent, ..
            }
            | LevelSpec::Limited {
                lendable_percent, ..
            } => lendable_percent,
        }
    }

    /// True for the `Exempt` type.
    pub fn is_exempt(&self) -> bool {
        matches!(self, LevelSpec::Exempt { .. })
    }
}

/// `limitResponse` of a limited level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LimitResponse {
    /// Requests beyond the limit get 429 at once (`concurrency-limit`).
    Reject,
    /// Requests beyond the limit wait in shuffle-sharded queues.
    Queue {
        /// `queuing.queues`.
        queues: u32,
        /// `queuing.handSize`: how many queues one flow may use.
        hand_size: u32,
        /// `queuing.queueLengthLimit`: requests one queue may hold.
        queue_length_limit: u32,
    },
}

impl FlowSchema {
    /// A schema with the given name, precedence, level, distinguisher and rules.
    pub fn new(
        name: &str,
        matching_precedence: u32,
        priority_level: &str,
        distinguisher: Option<Distinguisher>,
        rules: Vec<PolicyRule>,
    ) -> FlowSchema {
        FlowSchema {
            name: name.to_string(),
            matching_precedence,
            priority_level: priority_level.to_string(),
            distinguisher,
            rules,
        }
    }
}

impl Subject {
    /// A `User` subject.
    pub fn user(name: &str) -> Subject {
        Subject::User {
            name: name.to_string(),
        }
    }

    /// A `Group` subject.
    pub fn group(name: &str) -> Subject {
        Subject::Group {
            name: name.to_string(),
        }
    }

    /// A `ServiceAccount` subject.
    pub fn service_account(namespace: &str, name: &str) -> Subject {
        Subject::ServiceAccount {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// Owned strings from string literals.
pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl ResourceRule {
    /// A resource rule from string slices.
    pub fn new(
        verbs: &[&str],
        api_groups: &[&str],
        resources: &[&str],
        namespaces: &[&str],
        cluster_scope: bool,
    ) -> ResourceRule {
        ResourceRule {
            verbs: strings(verbs),
            api_groups: strings(api_groups),
            resources: strings(resources),
            cluster_scope,
            namespaces: strings(namespaces),
        }
    }
}

impl NonResourceRule {
    /// A non-resource rule from string slices.
    pub fn new(verbs: &[&str], non_resource_urls: &[&str]) -> NonResourceRule {
        NonResourceRule {
            verbs: strings(verbs),
            non_resource_urls: strings(non_resource_urls),
        }
    }
}
