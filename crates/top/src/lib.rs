//! `apilens top`: the live terminal view of the Kubernetes API server.
//!
//! # Brief overview
//!
//! A [`Frame`] is one refresh: [`build_frame`] reads it from the troubleshooter report
//! (`apilens_report::build_report` over the store, a remote engine or the simulator) and the
//! doctor's diagnosis of the audit log (`apilens_doctor::diagnose`), with no PromQL and no APF
//! rule of its own. [`App`] holds the view's state and turns keys into changes
//! ([`App::handle_key`]); [`draw`] draws it with ratatui; [`run_live`] runs it on the terminal
//! with a [`Source`] read on a thread of its own, so a slow source never blocks the screen.
//! [`render_text`] and [`render_json`] print one frame for `--once`. The sources are here too:
//! [`SimSource`], [`StoreSource`], [`RemoteStoreSource`] and [`ClusterSource`], each read
//! through the report and the doctor with the audit logs read whole or followed as they grow.
//!
//! Screens: overview (one verdict per report section, with sparklines), priority levels (seats
//! in use against the limit per replica, queue wait p99, 429/s), clients (the doctor's ranking:
//! harm first, never request counts; the fix YAML one key away), slowest calls, WATCHes, etcd.
//!
//! ```
//! use apilens_top::{App, Frame, Theme, draw_to_text};
//! use std::time::{Duration, Instant};
//!
//! let mut app = App::new(Duration::from_secs(2));
//! app.set_frame(Frame { overall: "OK: nothing stands out".into(), ..Frame::default() }, Instant::now());
//! let text = draw_to_text(&app, Theme { colour: false }, 80, 24);
//! assert!(text.contains("OK: nothing stands out"));
//! ```
#![deny(missing_docs)]

mod app;
mod build;
mod error;
mod frame;
mod once;
mod signals;
mod source;
mod style;
mod term;
mod text;
mod ui;

pub use crate::{
    app::{App, Effect, Overlay, Prompt, Screen},
    build::{SERIES_PER_PANEL, build_frame, merge_replicas},
    error::TopError,
    frame::{
        ClientRow, EVENT_FIELD_BYTES, EventRow, FindingLine, FlowRow, Frame, LevelRow, PanelRow,
        PanelTable, RequestRow, SectionLine,
    },
    once::{
        OnceFormat, buffer_text, draw_to_buffer, draw_to_text, once_text, print_once, render_text,
    },
    signals::{remove_scratch_on_signal, run_on_terminal},
    source::{
        ClusterFuture, ClusterSettings, ClusterSource, RemoteStoreSource, Settings, SimSource,
        SimStart, Simulation, SourceChoice, SourceFlags, StoreSource, check_cadence, choose_source,
        remove_scratch_dirs,
    },
    style::Theme,
    term::{LiveOpts, Source, run_live},
    text::{duration as duration_text, render_json},
    ui::draw,
};
