//! PromQL evaluation with Prometheus 3 semantics over any [`apilens_model::Queryable`].
//!
//! # Brief overview
//!
//! - [`Engine`] parses a query with `promql-parser` and evaluates it as an instant query
//!   ([`Engine::instant_query`]) or a range query ([`Engine::range_query`]) against a
//!   `Queryable`: the embedded store or an in-memory [`MemQueryable`].
//! - [`Value`] is the result (scalar, string, vector, matrix); [`api_response`] renders it as the
//!   body of Prometheus's HTTP API, which `apilens query --format json` prints and the web
//!   layer serves.
//! - [`promqltest`] runs Prometheus's `promqltest` files against the engine; [`fuzz`] is the
//!   harness the fuzz target and a stable test share.
//!
//! # Prometheus compatibility
//!
//! Semantics are those of Prometheus v3.5.0: range selectors and the 5-minute lookback are
//! left-open (`(t - range, t]`), staleness markers end a series, `rate`/`increase`/`delta`
//! extrapolate as `promql/functions.go` does, and `histogram_quantile` uses the 3.x
//! monotonicity fix. Each module names the upstream file it follows. Native histograms and the
//! experimental functions fail with [`Error::Unsupported`] rather than answer wrongly.
#![deny(missing_docs)]

mod aggregate;
mod binary;
mod depth;
mod engine;
mod error;
mod evaluator;
mod functions;
pub mod fuzz;
mod memo;
mod memory;
pub mod promqltest;
mod response;
mod step;
mod value;

pub use crate::{
    depth::{MAX_QUERY_DEPTH, QUERY_STACK_SIZE, with_query_stack},
    engine::{Engine, EngineOpts, ExecControl, PreparedQuery, parse_series_selector},
    error::Error,
    memory::MemQueryable,
    response::{
        api_error, api_error_body, api_response, api_response_annotated, format_value_table,
        parse_duration, parse_time,
    },
    value::{Annotations, InstantSample, QueryResult, Value},
};
