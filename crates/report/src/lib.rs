//! The troubleshooter as a report a person reads in one screen.
//!
//! # Brief overview
//!
//! [`build_report`] runs every panel of the catalog (`apilens-panels`) over a time range through
//! an [`apilens_promapi::QueryEngine`]: the embedded engine over the store or a remote
//! Prometheus-compatible engine, which receives the queries unchanged. Each
//! panel is reduced to figures (peak, last and mean per series; top rows for tables) and read
//! against its thresholds and limits into a [`Level`]; each catalog row becomes a [`Section`]
//! with the worst level of its panels and a verdict sentence naming the worst finding.
//! [`render_text`], [`render_markdown`] and [`render_json`] print it.
//!
//! Heatmaps are left out: they are pictures, and the latency panels next to them carry the
//! same histograms as figures.
//!
//! ```no_run
//! use apilens_promapi::LocalEngine;
//! use apilens_promql::{Engine, EngineOpts, MemQueryable};
//! use apilens_report::{ReportOpts, build_report, render_text};
//! use std::time::Duration;
//!
//! let store = MemQueryable::new();
//! let source = LocalEngine::new(Engine::new(EngineOpts::default()), &store, "memory");
//! let report = build_report(&source, &ReportOpts::new(1_767_229_200_000, Duration::from_secs(3600)))?;
//! print!("{}", render_text(&report));
//! # Ok::<(), apilens_report::ReportError>(())
//! ```
#![deny(missing_docs)]

mod build;
mod cache;
mod cause;
mod context;
mod error;
mod explain;
mod format;
mod model;
mod range;
mod readings;
mod render;

pub use crate::{
    build::{ReportOpts, build_report},
    cache::{CachedSource, QueryCache},
    error::ReportError,
    format::{format_value, legend},
    model::{
        Cause, CauseKind, ClusterFacts, Level, PanelSummary, Report, Section, SeriesFigure,
        TableRow,
    },
    render::{render_json, render_markdown, render_text},
};
