//! The one clap definition of every command and flag.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// apilens tells why the Kubernetes API server is slow or overloaded, who is causing it, and how
/// to stop it.
#[derive(Debug, Parser)]
#[command(name = "apilens", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Every apilens command.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Read one kube-apiserver /metrics scrape and tell what it says: version, troubleshooter
    /// coverage, in-flight load, APF, slowest calls.
    Inspect(crate::commands::inspect::Args),
    /// Analyse audit logs: top clients, LISTs, WATCH churn, 429s, slowest calls, timeline.
    Audit(crate::commands::audit::Args),
    /// API Priority and Fairness offline: where a request goes and why, seats per level, dumps.
    Apf(crate::commands::apf::Args),
    /// The embedded time-series store: backfill from OpenMetrics, export to OpenMetrics.
    Tsdb(crate::commands::tsdb::Args),
    /// Scrape API servers, etcd, URLs or recorded bundles into the embedded store and serve it.
    Serve(crate::commands::serve::Args),
    /// Record raw scrapes into a support bundle (one file per scrape plus a manifest).
    Record(crate::commands::record::Args),
    /// Export the troubleshooter panels as a Grafana dashboard.
    Grafana(crate::commands::grafana::Args),
    /// Export Prometheus recording and alerting rules (SLO burn rates, APF, etcd, storms).
    Rules(crate::commands::rules::Args),
    /// Run a simulated kube-apiserver and etcd that misbehave on demand (SIMULATED data).
    Sim(crate::commands::sim::Args),
    /// Run a PromQL query against the embedded store or a remote Prometheus-compatible engine.
    Query(crate::commands::query::Args),
    /// Read every troubleshooter panel over a time range: one screen, a verdict per section.
    Report(crate::commands::report::Args),
    /// A simulated cluster with a problem, its dashboard and report: no cluster needed.
    Demo(crate::commands::demo::Args),
    /// Serve the troubleshooter dashboard over a stored directory or a remote engine.
    Dashboard(crate::commands::dashboard::Args),
    /// Name the client that hurts the API server, cost it in APF seats, and write the fix.
    Doctor(crate::commands::doctor::Args),
    /// The API server's load per priority level and per client, live in the terminal, with
    /// the culprit and its fix one key away.
    Top(crate::commands::top::Args),
}

/// Parses the process arguments; on bad usage clap prints help and exits with status 2.
pub(crate) fn parse() -> Cli {
    Cli::parse()
}

impl Cli {
    /// Runs the command.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        use crate::commands::{
            apf, audit, dashboard, demo, doctor, grafana, inspect, query, record, report, rules,
            serve, sim, top, tsdb,
        };
        match self.command {
            Command::Inspect(args) => inspect::run(args),
            Command::Audit(args) => audit::run(args),
            Command::Apf(args) => apf::run(args),
            Command::Tsdb(args) => tsdb::run(args),
            Command::Serve(args) => serve::run(args),
            Command::Record(args) => record::run(args),
            Command::Grafana(args) => grafana::run(args),
            Command::Rules(args) => rules::run(args),
            Command::Sim(args) => sim::run(args),
            Command::Query(args) => query::run(args),
            Command::Report(args) => report::run(args),
            Command::Demo(args) => demo::run(args),
            Command::Dashboard(args) => dashboard::run(args),
            Command::Doctor(args) => doctor::run(args),
            Command::Top(args) => top::run(args),
        }
    }
}

#[cfg(test)]
#[path = "../tests/unit/cli_help.rs"]
mod tests;
