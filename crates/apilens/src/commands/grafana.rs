//! `apilens grafana export`: the troubleshooter panels as a Grafana dashboard.

use crate::output::write_output;
use apilens_panels::{GrafanaOpts, KubeVersion, catalog, grafana_dashboard};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `apilens grafana`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens grafana export -o apilens-dashboard.json
  apilens grafana export --datasource-uid prom --kubernetes-version 1.29")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: GrafanaCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GrafanaCommand {
    /// Write the dashboard JSON (import it in Grafana or Amazon Managed Grafana).
    #[command(after_help = "\
Examples:
  apilens grafana export -o apilens-dashboard.json
  apilens grafana export --datasource-uid prom --kubernetes-version 1.29")]
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// uid of the Prometheus data source selected by default (else chosen on import).
    #[arg(long, value_name = "UID")]
    datasource_uid: Option<String>,
    /// Use the queries for this Kubernetes release only (e.g. 1.31); by default each query joins
    /// its version alternatives so the dashboard works on every release.
    #[arg(long, value_name = "VERSION")]
    kubernetes_version: Option<KubeVersion>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Runs `apilens grafana`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let GrafanaCommand::Export(args) = args.command;
    let opts = GrafanaOpts {
        datasource_uid: args.datasource_uid,
        version: args.kubernetes_version,
    };
    let mut text = serde_json::to_string_pretty(&grafana_dashboard(catalog(), &opts))?;
    text.push('\n');
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
