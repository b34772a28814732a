//! What one kube-apiserver `/metrics` scrape tells an operator (`apilens inspect`): counts, the
//! release, which family answers each signal, and the state now and since start.

pub mod coverage;
pub mod render;
pub mod snapshot;
mod sniff;

use crate::{Catalog, Detected, InspectError};
use apilens_textparse::{Entry, Format, families::Assembler, parse_reader};
use serde::Serialize;
use snapshot::{Inflight, Latency, Named, PriorityLevel, Snapshot};
use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::ops::ControlFlow;

/// Counts and findings of one scrape.
#[derive(Debug)]
pub struct Inspection {
    /// The input's name.
    pub source: String,
    /// Metric families.
    pub families: usize,
    /// Distinct series.
    pub series: usize,
    /// Samples.
    pub samples: usize,
    /// Every family name.
    pub family_names: BTreeSet<String>,
    /// What the families the snapshot reads say.
    pub snapshot: Snapshot,
}

/// Streams `reader` through the parser in bounded memory and gathers the inspection, reading
/// the families of `catalog`'s signals.
///
/// # Errors
///
/// The first syntax error, as `SOURCE:LINE:COLUMN: WHAT` (or, when the very first line fails and
/// the input is HTML or JSON, what it is instead), a read error, or an input with nothing to
/// inspect: empty (as when the command feeding a pipe failed) or without a single sample.
pub fn inspect(
    catalog: &Catalog,
    name: &str,
    reader: impl Read,
    format: Format,
) -> Result<Inspection, InspectError> {
    let mut snapshot = Snapshot::new(catalog);
    let wanted = snapshot.wanted();
    let mut assembler = Assembler::with_filter(move |n| wanted.contains(n));
    let mut family_names = BTreeSet::new();
    let mut families = 0usize;
    let mut samples = 0usize;
    let hasher = RandomState::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut error = None;
    let mut entries = 0usize;
    let mut head = sniff::Head::new(reader);
    let mut take = |family: apilens_textparse::families::Family| {
        families += 1;
        samples += family.n_samples;
        snapshot.observe(&family);
        family_names.insert(family.name);
    };
    let stats = parse_reader(&mut head, format, |entry| match entry {
        Err(e) => {
            error = Some(e);
            ControlFlow::Break(())
        }
        Ok(entry) => {
            entries += 1;
            if let Entry::Series(s) = &entry {
                seen.insert(hasher.hash_one(s.raw));
            }
            if let Some(family) = assembler.push(entry) {
                take(family);
            }
            ControlFlow::Continue(())
        }
    });
    let name = name.to_owned();
    if let Some(error) = error {
        if entries == 0
            && let Some(what) = sniff::foreign(head.seen())
        {
            return Err(InspectError::Foreign { name, what });
        }
        return Err(InspectError::Syntax { name, error });
    }
    let stats = stats.map_err(|error| InspectError::Read {
        name: name.clone(),
        error,
    })?;
    if let Some(family) = assembler.finish() {
        take(family);
    }
    if stats.bytes == 0 {
        return Err(InspectError::Empty { name });
    }
    if samples == 0 {
        return Err(InspectError::NoSamples {
            name,
            bytes: stats.bytes,
        });
    }
    Ok(Inspection {
        source: name,
        families,
        series: seen.len(),
        samples,
        family_names,
        snapshot,
    })
}

/// WATCH connections by resource, from the preferred family present.
#[derive(Debug, Clone, Serialize)]
pub struct Watches {
    /// The family counted.
    pub metric: Option<&'static str>,
    /// WATCH connections in all.
    pub total: f64,
    /// The largest first.
    pub by_resource: Vec<Named>,
}

/// Everything an inspection says, as `apilens inspect --format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The input's name.
    pub source: String,
    /// The release as detected (see [`Detected::version`]).
    pub kubernetes_version: Option<String>,
    /// How it was detected (see [`Detected::source`]).
    pub version_source: String,
    /// Metric families.
    pub families: usize,
    /// Distinct series.
    pub series: usize,
    /// Samples.
    pub samples: usize,
    /// Which family answers each signal.
    pub coverage: Vec<coverage::Coverage>,
    /// In-flight requests against their limits.
    pub inflight: Vec<Inflight>,
    /// WATCH connections.
    pub watches: Watches,
    /// APF priority levels, the busiest first.
    pub priority_levels: Vec<PriorityLevel>,
    /// Stored objects, the largest first.
    pub objects: Vec<Named>,
    /// The etcd database size.
    pub etcd_db_size_bytes: Option<f64>,
    /// The slowest API calls since start.
    pub slowest_calls: Vec<Latency>,
    /// The slowest etcd operations since start.
    pub slowest_etcd: Vec<Latency>,
}

impl Inspection {
    /// The release of the scrape, by `catalog`'s detector.
    pub fn detect(&self, catalog: &Catalog) -> Detected {
        catalog.detect(self.snapshot.build_info.as_ref(), |n| {
            self.family_names.contains(n)
        })
    }

    /// Everything the inspection says, with the release and the coverage read by `catalog`.
    pub fn summary(&self, catalog: &Catalog) -> Summary {
        let has = |n: &str| self.family_names.contains(n);
        let detected = self.detect(catalog);
        let (metric, total, by_resource) = self.snapshot.watches();
        Summary {
            source: self.source.clone(),
            kubernetes_version: detected.version,
            version_source: detected.source,
            families: self.families,
            series: self.series,
            samples: self.samples,
            coverage: coverage::evaluate(catalog, has),
            inflight: self.snapshot.inflight(),
            watches: Watches {
                metric,
                total,
                by_resource,
            },
            priority_levels: self.snapshot.priority_levels(),
            objects: self.snapshot.objects(),
            etcd_db_size_bytes: self.snapshot.db_size(),
            slowest_calls: self.snapshot.slowest_calls(),
            slowest_etcd: self.snapshot.slowest_etcd(),
        }
    }
}
