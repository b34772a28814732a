//! `apilens inspect`: what one kube-apiserver `/metrics` scrape tells an operator.

use crate::output::{TextOrJson, print_text};
use anyhow::Context as _;
use apilens_kubemetrics::catalog;
use apilens_kubemetrics::inspect::{inspect, render};
use apilens_scrape::{Bundle, DEFAULT_INPUT_TIMEOUT, HttpOpts, open_input};
use std::path::{Path, PathBuf};
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
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    format: TextOrJson,
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

/// Runs `apilens inspect`.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let http = HttpOpts {
        bearer_token_file: args.bearer_token_file.clone(),
        bearer_token_env: args.bearer_token_env.clone(),
        ca_file: args.ca_file.clone(),
        ..HttpOpts::default()
    };
    let inspections = if Path::new(&args.source).is_dir() {
        let bundle = Bundle::open(Path::new(&args.source))
            .with_context(|| format!("{}: not a support bundle", args.source))?;
        let mut all = Vec::new();
        for (path, format) in bundle.latest_scrapes()? {
            // The manifest's content type decides the format of a recorded scrape.
            let source = open_input(&path.to_string_lossy(), &http, DEFAULT_INPUT_TIMEOUT)?;
            all.push(inspect(catalog(), &source.name, source.reader, format)?);
        }
        all
    } else {
        let source = open_input(&args.source, &http, args.timeout)?;
        vec![inspect(
            catalog(),
            &source.name,
            source.reader,
            source.format,
        )?]
    };
    let out = match args.format {
        TextOrJson::Text => render::text_list(&inspections, catalog()),
        TextOrJson::Json => render::json_list(&inspections, catalog())?,
    };
    print_text(&out)?;
    Ok(ExitCode::SUCCESS)
}
