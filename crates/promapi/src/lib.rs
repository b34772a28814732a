//! The Prometheus HTTP query API as one seam: [`QueryEngine`], over the embedded engine or a
//! remote Prometheus-compatible engine.
//!
//! # Brief overview
//!
//! - [`QueryEngine`] answers instant and range queries, `/api/v1/series` and the label APIs.
//!   Every reader of metrics goes through one: the report, `apilens query`, the web API that
//!   `serve`, `demo` and `dashboard` serve, the doctor's metrics and `top`.
//! - [`LocalEngine`] is the embedded PromQL engine (`apilens-promql`) over any
//!   [`apilens_model::Queryable`]; [`RemoteEngine`] sends every request unchanged to a
//!   Prometheus-compatible engine (Prometheus, Mimir, Thanos, VictoriaMetrics, Amazon Managed
//!   Service for Prometheus) through a [`RemoteClient`] (bearer token, basic auth or AWS SigV4)
//!   and hands back its answers, Prometheus error bodies included; [`RemoteSpec`] builds the
//!   client from a URL or a workspace and where the credentials are.
//! - [`query_once`] runs one query as `apilens query` prints it ([`PrintAs`]).
//! - [`Answer`] is an API answer (status and JSON body); [`PromApiError`] the one error, which
//!   [`PromApiError::api_error`] renders as Prometheus's error body and status.
#![deny(missing_docs)]

mod bodies;
mod engine;
mod error;
mod one_shot;
mod remote;
mod remote_spec;

pub use crate::{
    engine::{
        EngineLimits, LocalEngine, QueryEngine, QueryPlan, QueryRequest, RemoteEngine, Selection,
    },
    error::PromApiError,
    one_shot::{PrintAs, Printed, query_once},
    remote::{Answer, RemoteAuth, RemoteClient},
    remote_spec::RemoteSpec,
};
