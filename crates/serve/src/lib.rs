//! The apilens server: targets scraped into the embedded store while the store is served over
//! HTTP ([`serve_until`], what `apilens serve` runs), and the demo, whose simulated cluster
//! takes the targets' place ([`Demo`], what `apilens demo` runs).
//!
//! - [`serve_until`] scrapes every target into the store (and a remote writer), serves the
//!   store, and on its stop closes everything in order: scrapes, remote writer, server, store.
//! - [`Demo`] stores a simulated history at once, then gives the report and the doctor's
//!   culprits over it, and scrapes live until its stop.
//! - [`open_store`], [`close_store`] and [`store_router`] are the store's life in a server.
//!
//! The command line, the flags and what is printed stay in the binary.

mod demo;
mod error;
mod serve;
mod store;

pub use crate::{
    demo::{DEMO_SCRAPE_INTERVAL, Demo, MIN_HISTORY},
    error::ServeError,
    serve::{ServeOpts, serve_until},
    store::{close_store, open_store, store_router},
};
