//! The troubleshooter panel catalog: every kube-apiserver panel once, as data.
//!
//! # Brief overview
//!
//! A [`Panel`] answers one question an operator asks about a slow or overloaded API server ("which
//! priority level is out of seats?", "which LIST is slowest?"). It carries its [`Unit`], its
//! [`Visualisation`], [`Threshold`]s and [`LimitLine`]s, a [`DrillDown`], and one or more
//! [`Query`] targets. Kubernetes renamed and hid many of these metrics between 1.16 and 1.35, so
//! each query holds [`Alternative`]s, one PromQL template per Kubernetes version range. An
//! alternative is chosen by the cluster's version ([`KubeVersion`], read from
//! `kubernetes_build_info` by [`version_from_build_info`]) or, when that series is missing, by
//! which series exist ([`Inventory`]). Which families exist in which release, and their renames,
//! is the family catalog of `apilens_kubemetrics`; the tests check every template against it.
//!
//! [`catalog()`] is the one list of panels. The web dashboard, the terminal report, the doctor and the
//! exports ([`grafana_dashboard`], [`rules_yaml`]) all read it; no other crate holds a PromQL string.
//!
//! Templates contain two placeholders that [`RenderOpts`] fills in: `${sel}`, the label matchers that
//! scope a query to the chosen job/cluster/instance, and `${w}`, the range of rate windows (Grafana's
//! `$__rate_interval`). Table panels that summarise the whole time range use `${range}`.
//!
//! ```
//! use apilens_panels::{catalog, KubeVersion, RenderOpts};
//!
//! let panel = catalog().panel("apf-priority-level-utilisation").unwrap();
//! let v131 = KubeVersion::minor(1, 31);
//! let alt = panel.queries[0].for_version(v131).unwrap();
//! let promql = alt.render(&RenderOpts::new(r#"job="apiserver""#, "5m", "1h"));
//! assert!(promql.contains("apiserver_flowcontrol_current_executing_seats"));
//! // The concurrency limit metric is hidden from 1.31 on, so it must not be used there.
//! assert!(!promql.contains("request_concurrency_limit"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Why data and not code: one catalog feeds five renderings, and the tests can check every PromQL
//! string against the real scrapes of every Kubernetes version in the fixtures.
#![deny(missing_docs)]

mod catalog;
mod error;
mod grafana;
mod panel;
mod promql;
mod rules;
mod scale;

pub use crate::{
    catalog::{Catalog, EMERGENT_METRICS, catalog},
    error::PanelsError,
    grafana::{GrafanaOpts, grafana_dashboard},
    panel::{
        Alternative, Ceiling, DrillDown, LimitLine, Panel, Query, RenderOpts, Row, Severity,
        TableSpec, Threshold, Unit, Visualisation,
    },
    promql::{ExprFacts, expr_facts},
    rules::{Rule, RuleGroup, RulesOpts, rule_groups, rules_yaml},
    scale::{
        ClusterSize, WATCHES_PER_NODE, WATCHES_PER_SERVER_FLOOR, watches_per_server_thresholds,
    },
};
pub use apilens_kubemetrics::{Inventory, version_from_build_info};
pub use apilens_model::KubeVersion;
