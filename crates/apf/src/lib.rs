//! Kubernetes API Priority and Fairness (APF) as kube-apiserver runs it, per version
//! (1.20 … 1.35).
//!
//! # Brief overview
//!
//! - Objects: [`FlowSchema`] and [`PriorityLevel`] (one model for v1beta1 … v1), read with
//!   [`load_objects`] from YAML or JSON and written with [`to_yaml_v1`].
//! - [`ApfConfig`]: a server's configuration, either the [`ApfConfig::defaults`] of a version
//!   or a cluster's objects digested as the server digests them ([`ApfConfig::from_objects`]).
//! - Matching: [`ApfConfig::classify`] takes a [`RequestDigest`] to a [`Classification`]
//!   (schema, level, flow distinguisher and why); [`ApfConfig::match_request`] is the
//!   allocation-free form.
//! - Capacity: [`ApfConfig::capacity`] gives the seats of every level of one replica;
//!   [`infer_server_concurrency_limit`] recovers the server limit from
//!   `apiserver_flowcontrol_nominal_limit_seats`; [`queue_wait_limit`].
//! - Borrowing: [`SeatDivider`] re-divides a replica's seats among its levels every 10 s.
//! - Work estimates: [`estimate`] says how many seats a request occupies.
//! - Debug dumps: [`parse_priority_levels`], [`parse_queues`], [`parse_requests`].
//! - The dispatching model: [`replay`].
//! - What a person or a program reads: [`explain_match`], [`CapacityView`] and [`DumpViews`]
//!   (text laid out by `apilens_textout`, or JSON), over an [`Overlay`] of a cluster's objects
//!   on the defaults.
//!
//! Every rule names the upstream file of `k8s.io/apiserver` (the `kubernetes/apiserver`
//! staging repository) and the tags it was read at.
//!
//! ```
//! use apilens_apf::{ApfConfig, KubeVersion, RequestDigest, ResourceAttributes};
//!
//! let version = KubeVersion::parse("v1.34.2-eks-113cf36")?;
//! let config = ApfConfig::defaults(version);
//! let groups = vec!["system:nodes".to_string(), "system:authenticated".to_string()];
//! let c = config.classify(&RequestDigest {
//!     user: "system:node:ip-10-0-1-2",
//!     groups: &groups,
//!     verb: "update",
//!     resource: Some(ResourceAttributes { api_group: "coordination.k8s.io", resource: "leases",
//!         namespace: "kube-node-lease", name: "ip-10-0-1-2", ..Default::default() }),
//!     path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/ip-10-0-1-2",
//! });
//! assert_eq!(c.flow_schema, "system-node-high");
//! let capacity = config.capacity(version, 600);
//! assert_eq!(capacity.level(&c.priority_level).unwrap().nominal, 98);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod borrowing;
mod capacity;
mod config;
mod defaults;
mod dump;
mod dump_view;
mod error;
mod estimate;
mod explain;
mod matching;
mod objects;
mod replay;
mod server_limit;
mod yaml;

pub use apilens_model::KubeVersion;

pub use crate::{
    borrowing::{BORROWING_PERIOD_S, SeatDivider},
    capacity::{
        Capacity, DEFAULT_REQUEST_TIMEOUT_S, DEFAULT_SERVER_CONCURRENCY_LIMIT, LevelCapacity,
        infer_server_concurrency_limit, queue_wait_limit, queue_wait_limit_for,
    },
    config::{ApfConfig, ConfigNote},
    defaults::{NEWEST, OLDEST},
    dump::{
        AnyDump, Dump, DumpKind, PriorityLevelDump, QueueDump, RequestDump, detect_dump,
        parse_dump, parse_priority_levels, parse_queues, parse_requests,
    },
    dump_view::DumpViews,
    error::ApfError,
    estimate::{ObjectStats, ResourceVersionParam, WorkEstimate, WorkRequest, estimate},
    explain::{
        CapacityView, MatchExplanation, ObservedSeats, Overlay, explain_match, render_notes,
        request_path, resource_path,
    },
    matching::{Classification, Matched, RequestDigest, ResourceAttributes, flow_hash},
    objects::{
        Distinguisher, FlowSchema, LevelSpec, LimitResponse, NonResourceRule, PolicyRule,
        PriorityLevel, ResourceRule, Subject,
    },
    replay::{
        LevelOutcome, REJECT_REASONS, ReplayOpts, ReplayOutcome, ReplayRequest, TagOutcome, replay,
    },
    server_limit::{LimitFlags, ServerLimit, choose_server_limit},
    yaml::{LoadedObjects, load_objects, to_yaml_v1},
};
