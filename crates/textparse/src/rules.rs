//! Rules across lines: at most one TYPE, HELP and UNIT line per metric family, and no TYPE line
//! after samples of the family.
//!
//! Both text formats require them, and `promtool check metrics` (the `expfmt` text parser of
//! `prometheus/common`) rejects an input that breaks them: "second TYPE line for metric name, or
//! TYPE reported after samples", "second HELP line for metric name". Prometheus's scrape loop
//! (`model/textparse`) does not check them: it keeps the last TYPE and HELP it saw.

use std::collections::HashMap;

/// Which rules across lines a [`crate::Parser`] applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FamilyRules {
    /// The rules of the exposition formats, as `promtool check metrics` applies them: at most one
    /// TYPE, HELP and UNIT line per metric family, and no TYPE line after a sample of the same
    /// name. For reading a scrape as evidence (`inspect`) or as data to keep (import).
    #[default]
    Exposition,
    /// Prometheus's scrape loop: repeated TYPE, HELP and UNIT lines are accepted (the last one
    /// wins), so a target Prometheus scrapes is never refused for them.
    Scrape,
}

/// Where a family's metadata and first sample were seen (line numbers from 1; 0 for never).
#[derive(Debug, Clone, Copy, Default)]
struct Lines {
    type_line: usize,
    help_line: usize,
    unit_line: usize,
    first_sample: usize,
}

/// A metadata line kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meta {
    Type,
    Help,
    Unit,
}

/// What the parser remembers across lines (and across the chunks of one streamed input).
///
/// It grows with the number of distinct metric names, never with the number of samples: a run
/// of samples of one name costs a comparison with the previous name, and only a new name is
/// looked up.
#[derive(Debug, Clone, Default)]
pub(crate) struct FamilyState {
    rules: FamilyRules,
    families: HashMap<Box<[u8]>, Lines>,
    /// The last few sample names, most recent first: a histogram's `_bucket`, `_sum` and
    /// `_count` alternate, and are looked up once each, not at every change.
    recent: [Vec<u8>; RECENT],
}

/// Sample names remembered without a lookup.
const RECENT: usize = 4;

impl FamilyState {
    pub(crate) fn new(rules: FamilyRules) -> FamilyState {
        FamilyState {
            rules,
            ..FamilyState::default()
        }
    }

    /// Notes a sample named `name` (decoded) on `line`.
    #[inline]
    pub(crate) fn sample(&mut self, name: &[u8], line: usize) {
        if self.rules == FamilyRules::Scrape || self.recent[0] == name {
            return;
        }
        self.remember(name, line);
    }

    /// A sample name that is not the last one: seen lately, or looked up.
    fn remember(&mut self, name: &[u8], line: usize) {
        if let Some(i) = self.recent.iter().position(|r| r == name) {
            self.recent[..=i].rotate_right(1);
            return;
        }
        // The oldest buffer is reused for this name: no allocation once they have grown.
        self.recent.rotate_right(1);
        self.recent[0].clear();
        self.recent[0].extend_from_slice(name);
        match self.families.get_mut(name) {
            Some(lines) if lines.first_sample == 0 => lines.first_sample = line,
            Some(_) => {}
            None => {
                self.families.insert(
                    name.into(),
                    Lines {
                        first_sample: line,
                        ..Lines::default()
                    },
                );
            }
        }
    }

    /// Notes a metadata line for the family `name` (decoded) on `line`, or says which rule it
    /// breaks.
    pub(crate) fn meta(&mut self, kind: Meta, name: &[u8], line: usize) -> Result<(), String> {
        if self.rules == FamilyRules::Scrape {
            return Ok(());
        }
        // One allocation per metadata line, never per sample.
        let lines = self.families.entry(name.into()).or_default();
        let shown = String::from_utf8_lossy(name);
        let (word, seen) = match kind {
            Meta::Type => ("TYPE", &mut lines.type_line),
            Meta::Help => ("HELP", &mut lines.help_line),
            Meta::Unit => ("UNIT", &mut lines.unit_line),
        };
        if *seen != 0 {
            return Err(format!(
                "second {word} line for metric {shown:?} (the first is on line {seen})"
            ));
        }
        if kind == Meta::Type && lines.first_sample != 0 {
            return Err(format!(
                "TYPE line for metric {shown:?} after its samples (the first is on line {})",
                lines.first_sample
            ));
        }
        *seen = line;
        Ok(())
    }
}
