//! Writing results: the `--format` choices, standard output or `-o`, and the broken-pipe rule.

use anyhow::Context as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--format` of the commands that judge (`report`, `doctor`, `demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// Reads at a glance, one screen.
    Text,
    /// Every figure, for a program.
    Json,
    /// Every panel or finding, for a ticket.
    Markdown,
}

/// `--fail-on` of the commands that judge (`report`, `doctor`): exit with status 1 when what
/// they found is at or above this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// A warning or worse.
    Warning,
    /// A critical verdict or finding.
    Critical,
}

impl FailOn {
    /// The report level this threshold is.
    pub(crate) fn level(self) -> apilens_report::Level {
        match self {
            FailOn::Warning => apilens_report::Level::Warning,
            FailOn::Critical => apilens_report::Level::Critical,
        }
    }

    /// The doctor's severity this threshold is.
    pub(crate) fn severity(self) -> apilens_doctor::Severity {
        match self {
            FailOn::Warning => apilens_doctor::Severity::Warning,
            FailOn::Critical => apilens_doctor::Severity::Critical,
        }
    }
}

/// `--format` of the commands that print for a person or a program (`inspect`, `apf`, `top --once`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TextOrJson {
    /// Aligned text for a person.
    Text,
    /// JSON for a program.
    Json,
}

/// `--format` of `audit`'s views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuditFormat {
    /// An aligned text table with notes below.
    Table,
    /// One JSON object.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A Markdown table with notes as a list.
    #[value(alias = "md")]
    Markdown,
}

impl From<AuditFormat> for apilens_audit::Format {
    fn from(f: AuditFormat) -> Self {
        match f {
            AuditFormat::Table => apilens_audit::Format::Table,
            AuditFormat::Json => apilens_audit::Format::Json,
            AuditFormat::Csv => apilens_audit::Format::Csv,
            AuditFormat::Markdown => apilens_audit::Format::Markdown,
        }
    }
}

/// Whether an error chain ends in a closed pipe on standard output (`apilens ... | head`).
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Writes `text` on standard output and flushes it; a closed pipe is not an error.
pub(crate) fn print_text(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("writing standard output")?),
    }
}

/// Writes `text` to the file `path` when given (`-o`), else on standard output.
pub(crate) fn write_output(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    let (mut out, name) = create_output(path)?;
    out.write_all(text.as_bytes())
        .with_context(|| format!("write {}", name.display()))
}

/// The file `path` (created or truncated) when given, else standard output, with its name for
/// errors.
pub(crate) fn create_output(path: Option<&Path>) -> anyhow::Result<(Box<dyn Write>, PathBuf)> {
    Ok(match path {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            (Box::new(file), path.to_owned())
        }
        None => (
            Box::new(std::io::stdout().lock()),
            PathBuf::from("<stdout>"),
        ),
    })
}
