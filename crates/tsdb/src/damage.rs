//! Damage found on disk: what could not be read, what was lost, and what the store did about it.

use std::path::PathBuf;

/// What the store did with damage it found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageAction {
    /// Left in place and skipped (a read-only open changes nothing).
    Skipped,
    /// A write cut off by a crash or a full disk was cut from the end of the file.
    Truncated,
    /// The damaged WAL segment was moved to this path and rewritten with its readable records.
    MovedAside(PathBuf),
    /// The block was moved to this path under `quarantine/` and is no longer served.
    Quarantined(PathBuf),
}

/// One piece of damage found in a WAL segment or a block.
///
/// The store logs each one as a warning when it finds it and keeps the list
/// ([`Db::damage`](crate::Db::damage)), so a caller can show it beside its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The damaged file.
    pub path: PathBuf,
    /// Byte offset of the damage in the file, when known.
    pub offset: Option<u64>,
    /// What was wrong and what was lost, in words.
    pub detail: String,
    /// WAL records lost, when known.
    pub lost_records: Option<u64>,
    /// Samples lost, when known.
    pub lost_samples: Option<u64>,
    /// What the store did about it.
    pub action: DamageAction,
    /// A write cut off at the end of a WAL segment by a crash or a full disk: it was never
    /// acknowledged, so nothing committed is lost.
    pub torn_write: bool,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(o) = self.offset {
            write!(f, " at offset {o}")?;
        }
        write!(f, ": {}", self.detail)?;
        match &self.action {
            DamageAction::Skipped => write!(f, "; skipped, the file is left as it is"),
            DamageAction::Truncated => write!(f, "; cut from the end of the file"),
            DamageAction::MovedAside(p) => write!(
                f,
                "; the damaged file is kept as {} and the segment was rewritten with its readable records",
                p.display()
            ),
            DamageAction::Quarantined(p) => {
                write!(f, "; moved to {} and no longer served", p.display())
            }
        }
    }
}

/// "N records (M samples)" or what is known of it.
pub(crate) fn lost_words(records: Option<u64>, samples: Option<u64>) -> String {
    let records = match records {
        Some(1) => "1 record".to_string(),
        Some(n) => format!("{n} records"),
        None => "an unknown number of records (at least 1)".to_string(),
    };
    match samples {
        Some(1) => format!("{records} (1 sample)"),
        Some(s) => format!("{records} ({s} samples)"),
        None => records,
    }
}
