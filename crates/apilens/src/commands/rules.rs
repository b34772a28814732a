//! `apilens rules export`: Prometheus recording and alerting rules from the panel catalog.

use anyhow::Context as _;
use apilens_panels::{KubeVersion, RulesOpts, rules_yaml};
use std::io::Write as _;
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
    let selector = args
        .selector
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_owned();
    if !selector.is_empty() {
        promql_check(&selector)?;
    }
    let text = rules_yaml(&RulesOpts {
        selector,
        version: args.kubernetes_version,
    });
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Rejects a selector that would make every rule invalid, naming it.
fn promql_check(selector: &str) -> anyhow::Result<()> {
    apilens_panels::expr_facts(&format!("up{{{selector}}}"))
        .map(|_| ())
        .map_err(|e| {
            anyhow::anyhow!("--selector {selector:?} is not a list of label matchers: {e}")
        })
}
