//! One module per command; `run` dispatches.

pub(crate) mod apf;
pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod grafana;
pub(crate) mod inspect;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod sim;
pub(crate) mod top;
pub(crate) mod tsdb;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Runs the parsed command.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
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
