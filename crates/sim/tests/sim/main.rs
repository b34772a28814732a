//! Integration tests of the simulator: catalog against the real fixtures, output format,
//! scenario signals, determinism, audit log and the HTTP server.

mod audit;
mod catalog;
mod common;
mod format;
mod health;
mod scenarios;
mod server;
