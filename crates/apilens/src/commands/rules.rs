//! `apilens rules export`: Prometheus recording and alerting rules from the panel catalog.

use crate::output::write_output;
use apilens_panels::{KubeVersion, RulesOpts, rules_yaml};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `apilens rules`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens rules export -o apilens-rules.yml
  apilens rules export --selector 'job=\"apiserver\"' --kubernetes-version 1.34")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RulesCommand {
    /// Write a Prometheus rule file: SLO burn rates, APF, etcd latency, watch and LIST storms.
    #[command(after_help = "\
Examples:
  apilens rules export -o apilens-rules.yml
  apilens rules export --selector 'job=\"apiserver\"' --kubernetes-version 1.34")]
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// Label matchers that select the API servers, without braces.
    #[arg(long, default_value = r#"job="apiserver""#, value_name = "MATCHERS")]
    selector: String,
    /// Use the metrics of this Kubernetes release only (e.g. 1.24); by default the rules join the
    /// alternatives of every release.
    #[arg(long, value_name = "VERSION")]
    kubernetes_version: Option<KubeVersion>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `apilens rules`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let RulesCommand::Export(args) = args.command;
    let opts = RulesOpts::checked(&args.selector, args.kubernetes_version)?;
    write_output(args.output.as_deref(), &rules_yaml(&opts))?;
    Ok(ExitCode::SUCCESS)
}
