//! apilens HTTP: the Prometheus-compatible query API (`/api/v1/*`).
//!
//! # Brief overview
//!
//! - [`api_router`] serves `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//!   `/api/v1/labels`, `/api/v1/label/{name}/values`, `/api/v1/metadata` and
//!   `/api/v1/status/buildinfo`, GET and POST form, with the JSON bodies, error bodies and
//!   status codes Prometheus returns, so Grafana's Prometheus data source works unchanged.
//! - [`ApiState`] holds the [`apilens_model::Queryable`] to read and the
//!   [`apilens_promql::Engine`]; queries run on the blocking pool.
//! - [`dashboard_router`] serves the troubleshooter page and the panel catalog;
//!   [`verdict_router`] its banner, the report's one-line verdict over the page's range, read
//!   through the same [`VerdictSource`] as the panels.
#![deny(missing_docs)]

mod api;
mod dashboard;
mod verdict;

pub use crate::{
    api::{ApiState, api_router},
    dashboard::{dashboard_router, panels_json},
    verdict::{VerdictSource, verdict_router},
};
