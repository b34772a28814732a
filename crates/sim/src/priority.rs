//! How simulated requests meet API Priority and Fairness. Every level, FlowSchema,
//! classification rule, work estimate, limit and borrowing rule comes from `apilens-apf`; this
//! module only builds apf's inputs from the workload model, so the simulator's metrics and
//! audit log classify the same way `apilens audit` and the doctor do.

use crate::KubeVersion;
use crate::workload::{Identity, RequestSpec, ResourceInfo, Verb};
use apilens_apf::{
    ApfConfig, Capacity, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_SERVER_CONCURRENCY_LIMIT,
    LevelCapacity, ObjectStats, RequestDigest, ResourceAttributes, ResourceVersionParam,
    SeatDivider, WorkEstimate, WorkRequest,
};

/// The APF configuration of one replica: the default objects of its version, their seats at
/// the default server limit, and the re-division of those seats among levels.
pub(crate) struct Priority {
    pub(crate) version: KubeVersion,
    pub(crate) config: ApfConfig,
    pub(crate) capacity: Capacity,
    pub(crate) divider: SeatDivider,
}

/// Where a request went: indices into [`ApfConfig::schemas`] and [`Capacity::levels`].
#[derive(Debug, Clone)]
pub(crate) struct SimClass {
    pub(crate) schema: usize,
    pub(crate) level: usize,
    /// The flow distinguisher, as the server computes it.
    pub(crate) distinguisher: String,
}

impl Priority {
    pub(crate) fn new(version: KubeVersion) -> Priority {
        let config = ApfConfig::defaults(version);
        let capacity = config.capacity(version, DEFAULT_SERVER_CONCURRENCY_LIMIT);
        let divider = SeatDivider::new(&capacity, version);
        Priority {
            version,
            config,
            capacity,
            divider,
        }
    }

    /// The level at index `i`.
    pub(crate) fn level(&self, i: usize) -> &LevelCapacity {
        &self.capacity.levels[i]
    }

    /// The name of the level at `i`.
    pub(crate) fn level_name(&self, i: usize) -> &str {
        &self.capacity.levels[i].name
    }

    /// The name of the schema at `i`.
    pub(crate) fn schema_name(&self, i: usize) -> &str {
        &self.config.schemas()[i].name
    }

    /// The longest a request may wait in a queue at the default request timeout.
    pub(crate) fn queue_wait_limit(&self) -> f64 {
        apilens_apf::queue_wait_limit_for(self.version, DEFAULT_REQUEST_TIMEOUT_S)
    }

    /// Classifies a request as the server does.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn classify(
        &self,
        groups: &[String],
        username: &str,
        verb: Verb,
        info: &ResourceInfo,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> SimClass {
        // A resource request: apf matches its resource attributes, never its path.
        let digest = RequestDigest {
            user: username,
            groups,
            verb: verb.audit(),
            resource: Some(ResourceAttributes {
                api_group: info.group,
                resource: info.resource,
                subresource,
                namespace,
                name,
            }),
            path: "",
        };
        let m = self.config.match_request(&digest);
        let schema = self
            .config
            .schemas()
            .iter()
            .position(|s| std::ptr::eq(s, m.schema))
            .unwrap_or(0);
        let level = self
            .capacity
            .levels
            .iter()
            .position(|l| l.name == m.level.name)
            .unwrap_or(0);
        SimClass {
            schema,
            level,
            distinguisher: m.distinguisher.to_string(),
        }
    }

    /// The seats the server estimates for a request of `spec` in level `level`, with `objects`
    /// stored of `object_bytes` each and `watchers` watching the resource.
    pub(crate) fn estimate(
        &self,
        spec: &RequestSpec,
        level: usize,
        from_cache: bool,
        objects: f64,
        object_bytes: f64,
        watchers: f64,
    ) -> WorkEstimate {
        let req = WorkRequest {
            verb: spec.verb.audit(),
            resource: spec.resource.info().resource,
            subresource: spec.subresource,
            // The audit log's URIs: a watch of one object asks `fieldSelector=metadata.name`.
            named: spec.name.is_some() && spec.verb != Verb::List,
            has_selector: spec.node_selector || (spec.verb == Verb::Watch && spec.name.is_some()),
            limit: spec.limit.map(u64::from),
            resource_version: if spec.rv_zero {
                ResourceVersionParam::Zero
            } else if spec.verb == Verb::Watch {
                ResourceVersionParam::Exact
            } else {
                ResourceVersionParam::Absent
            },
            continue_token: false,
            send_initial_events: false,
            served_from_cache: from_cache,
        };
        let stats = ObjectStats {
            count: Some(objects),
            avg_object_bytes: Some(object_bytes),
        };
        let max = self.level(level).max_seats_per_request;
        apilens_apf::estimate(self.version, &req, stats, watchers, max)
    }
}

/// The groups the server's authentication gives an identity (also written to the audit log).
pub(crate) fn groups(identity: &Identity) -> Vec<String> {
    match identity {
        Identity::Node => vec!["system:nodes".into(), "system:authenticated".into()],
        Identity::ServiceAccount { namespace, .. } => vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{namespace}"),
            "system:authenticated".into(),
        ],
        Identity::User { groups, .. } => {
            let mut g = groups.clone();
            g.push("system:authenticated".into());
            g
        }
    }
}
