//! A kube-apiserver that misbehaves on demand: simulated `/metrics` of every API server replica
//! and of etcd, plus the matching audit log, for demos, tests and learning what a problem looks
//! like before meeting it. **The data is synthetic**; only the metric names, HELP texts, label
//! names and bucket layouts are real, taken from real scrapes of the chosen Kubernetes version.
//!
//! # Brief overview
//!
//! - [`Simulator`] runs one [`ScenarioConfig`]: [`Simulator::advance`] steps simulated time
//!   (one-second ticks, no waiting), [`Simulator::render_metrics`] and
//!   [`Simulator::render_etcd_metrics`] give the text exposition, and
//!   [`Simulator::set_audit_sink`] writes `audit.k8s.io/v1` events of the same requests.
//! - [`scenario_names`] / [`SCENARIOS`] ([`scenario_list`] prints them): `healthy`, `chatty-daemonset`, `watch-storm`,
//!   `etcd-slow`, `apf-saturation`, `webhook-slow`, `upgrade-skew`.
//! - [`Catalog`]: names, types, HELP, labels and buckets of a real scrape per version, generated
//!   from the fixtures by [`generate_catalog`] and embedded in the binary.
//! - [`serve`]: the HTTP side (`apilens sim`): one port per replica plus one for etcd.
//!
//! A workload model drives everything: clients (kubelets, controllers, DaemonSets, operators)
//! issue requests with a verb, resource, scope, rate and query; each request is served from the
//! watch cache or from etcd according to its query and the server version, costs APF seats,
//! may queue or be rejected with 429, may fail (500 when etcd stalls past its 7 s request
//! timeout or a webhook hangs, 504 past the 60 s request timeout; 429s and 504s also count as
//! `apiserver_request_terminations_total`), and lands in the request, APF, storage and etcd
//! metrics and in the audit log with the same status. Counters only grow, histograms are cumulative and consistent, and a
//! given seed gives the same output however time is advanced.
//!
//! ```
//! use apilens_sim::{KubeVersion, ScenarioConfig, Simulator};
//! use std::time::Duration;
//!
//! let mut sim = Simulator::new(ScenarioConfig::new("healthy", KubeVersion::parse("1.34")?))?;
//! sim.advance(Duration::from_secs(60))?;
//! let text = sim.render_metrics(0)?;
//! assert!(text.contains("# TYPE apiserver_request_total counter"));
//! assert!(text.contains("apiserver_request_duration_seconds_bucket{"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod audit;
mod catalog;
mod engine;
mod error;
mod priority;
mod rng;
mod scenario;
mod server;
mod store;
mod version;
mod workload;

pub use apilens_model::KubeVersion;

pub use crate::{
    catalog::{
        APISERVER_FAMILIES, Catalog, Component, ETCD_FAMILIES, FamilyDef, FamilyKind,
        embedded_catalog_files, generate_catalog,
    },
    engine::{ScenarioConfig, Simulator},
    error::SimError,
    scenario::{SCENARIOS, ScenarioInfo, check_scenario, scenario_list, scenario_names},
    server::{ServeConfig, SimServer, Target, serve},
};
