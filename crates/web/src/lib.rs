//! apilens HTTP: the Prometheus-compatible query API (`/api/v1/*`).
//!
//! # Brief overview
//!
//! - [`api_router`] serves `/api/v1/query`, `/api/v1/query_range`, `/api/v1/series`,
//!   `/api/v1/labels`, `/api/v1/label/{name}/values`, `/api/v1/metadata` and
//!   `/api/v1/status/buildinfo`, GET and POST form, with the JSON bodies, error bodies and
//!   status codes Prometheus returns, so Grafana's Prometheus data source works unchanged.
//! - [`ApiState`] holds the [`apilens_promapi::QueryEngine`] to read (the embedded engine over
//!   a store, or a remote engine) and the [`QueryPool`]: queries run on its threads (a fast
//!   lane and a bounded heavy lane), never on the async runtime.
//! - [`serve`] runs a router over plain HTTP or TLS ([`WebConfig`], the exporter-toolkit
//!   `--web.config.file`), answering oversized requests with 414/431 instead of dropping them;
//!   [`AccessPolicy`] refuses cross-site and DNS-rebinding requests and checks basic auth.
//! - [`app_router`] is the whole router of a server over one [`ApiState`] (health, the API,
//!   the dashboard, its verdict and culprits; `serve` adds [`targets_router`]); [`Site`] is a
//!   server's checked set-up, [`HttpServer`] one running in the background until
//!   [`shutdown_signal`] or its stop; [`Site::load`] and [`Listening::bind`] set one up from
//!   its options, [`QueryLimits`] bound its query API and build its routes over a store.
//! - [`dashboard_router`] serves the troubleshooter page and the panel catalog;
//!   [`verdict_router`] its banner, the report's one-line verdict over the page's range, read
//!   through the same engine as the panels; [`findings_router`] the culprit panel,
//!   what a [`FindingsSlot`] holds of the doctor's findings (404 while it holds nothing).
#![deny(missing_docs)]

mod api;
mod app;
mod dashboard;
mod error;
mod findings;
mod guard;
mod pool;
mod server;
mod setup;
mod verdict;
mod web_config;

pub use crate::{
    api::{ApiState, api_router},
    app::{HttpServer, Site, app_router, shutdown_signal, targets_router},
    dashboard::{dashboard_router, panels_json},
    error::WebError,
    findings::{FindingsSlot, findings_router},
    guard::AccessPolicy,
    pool::{FAST_MAX_SAMPLES, FAST_MAX_STEPS, FAST_TIMEOUT, PoolOpts, QueryPool},
    server::{MAX_HEAD_BYTES, exposure_warning, serve},
    setup::{Listening, QueryLimits},
    verdict::verdict_router,
    web_config::WebConfig,
};
