//! `apilens inspect`: what one kube-apiserver `/metrics` scrape tells an operator.

use anyhow::bail;
use apilens_kubemetrics::catalog;
use apilens_kubemetrics::inspect::{Inspection, render};
use apilens_scrape::{DEFAULT_INPUT_TIMEOUT, HttpOpts, open_input};
use apilens_textparse::Format;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `apilens inspect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  apilens inspect scrape.txt
  apilens inspect <(kubectl get --raw /metrics)
  apilens inspect https://10.0.0.1:6443/metrics --bearer-token-file token --format json")]
pub(crate) struct Args {
    /// A scrape to read: a file (plain or gzip), a pipe or FIFO (`<(kubectl get --raw
    /// /metrics)`), `-` for standard input, an http(s) URL, or a support bundle directory written
    /// by `apilens record` (its latest scrape of each target).
    #[arg(default_value = "-")]
    source: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Bearer token file for a URL (for example a service account token).
    #[arg(long, value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// Bearer token for a URL, read from this environment variable.
    #[arg(long, value_name = "ENV", conflicts_with = "bearer_token_file")]
    bearer_token_env: Option<String>,
    /// CA certificate bundle (PEM) that signs the URL's server certificate.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The most reading a URL may take, from connecting to the end of the body (500ms, 10s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = apilens_model::parse_duration)]
    timeout: std::time::Duration,
}

/// How `inspect` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Aligned tables for a person.
    Text,
    /// One JSON object.
    Json,
}

/// Runs `apilens inspect`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let http = HttpOpts {
        bearer_token_file: args.bearer_token_file.clone(),
        bearer_token_env: args.bearer_token_env.clone(),
        ca_file: args.ca_file.clone(),
        ..HttpOpts::default()
    };
    let inspections = if std::path::Path::new(&args.source).is_dir() {
        inspect_bundle(std::path::Path::new(&args.source))?
    } else {
        let source = open_input(&args.source, &http, args.timeout)?;
        vec![inspect(&source.name, source.reader, source.format)?]
    };
    let out = match (args.format, inspections.as_slice()) {
        (OutputFormat::Text, _) => inspections
            .iter()
            .map(|i| render::text(i, catalog()))
            .collect::<Vec<_>>()
            .join("\n"),
        (OutputFormat::Json, [one]) => render::json(one, catalog())?,
        (OutputFormat::Json, many) => render::json_list(many, catalog())?,
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Inspects the latest successful scrape of each target of a support bundle.
fn inspect_bundle(dir: &std::path::Path) -> anyhow::Result<Vec<Inspection>> {
    use anyhow::Context;
    let bundle = apilens_scrape::Bundle::open(dir)
        .with_context(|| format!("{}: not a support bundle", dir.display()))?;
    let mut latest: std::collections::BTreeMap<(String, String), (i64, PathBuf, Format)> =
        std::collections::BTreeMap::new();
    for (scrape, path) in bundle.scrapes() {
        if scrape.error.is_some() {
            continue;
        }
        let key = (scrape.job.clone(), scrape.instance.clone());
        let format = scrape
            .content_type
            .as_deref()
            .map_or(Format::PrometheusText, Format::from_content_type);
        if latest
            .get(&key)
            .is_none_or(|(t, _, _)| *t <= scrape.timestamp_ms)
        {
            latest.insert(key, (scrape.timestamp_ms, path, format));
        }
    }
    if latest.is_empty() {
        bail!("{}: the bundle holds no successful scrape", dir.display());
    }
    latest
        .into_values()
        .map(|(_, path, format)| {
            // The manifest's content type decides the format of a recorded scrape.
            let source = open_input(
                &path.to_string_lossy(),
                &HttpOpts::default(),
                DEFAULT_INPUT_TIMEOUT,
            )?;
            inspect(&source.name, source.reader, format)
        })
        .collect()
}

/// Inspects one scrape with the built-in catalog.
fn inspect(name: &str, reader: impl Read, format: Format) -> anyhow::Result<Inspection> {
    Ok(apilens_kubemetrics::inspect::inspect(
        catalog(),
        name,
        reader,
        format,
    )?)
}
