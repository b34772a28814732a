//! The catalog's shape: metric families with the releases that expose them, the renames between
//! them, and the questions (signals) each chain of renames answers.

use apilens_model::{KubeRange, KubeVersion};

/// How a family's series behave on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Exposed by every server of its releases, busy or idle.
    Always,
    /// Appears only after its first event (a rejection, a webhook call, a terminated request): a
    /// quiet server does not expose it, so its absence says nothing about the release.
    Emergent,
}

/// The type of a family, as its `# TYPE` line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A counter or a gauge: one series name.
    Scalar,
    /// A histogram: series `_bucket`, `_sum` and `_count`.
    Histogram,
}

/// One metric family and the releases whose servers expose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family name (`apiserver_longrunning_requests`).
    pub name: &'static str,
    /// The releases that expose it: from the first that registers it (shown) to the last before
    /// it was hidden or removed, as the real scrapes of each release show.
    pub releases: KubeRange,
    /// Counter/gauge or histogram.
    pub kind: Kind,
    /// Always there, or only after its first event.
    pub presence: Presence,
    /// True when the first release of `releases` is the first whose idle server exposes it, so
    /// its presence proves the server is at least that release (the detector's lower bounds).
    pub marks_since: bool,
    /// The family that took its place, when it was renamed.
    pub replaced_by: Option<&'static str>,
    /// The release that marked it deprecated while still showing it.
    pub deprecated: Option<KubeVersion>,
}

impl Family {
    /// A family exposed over `releases`, always present, not a marker.
    pub const fn new(name: &'static str, releases: KubeRange) -> Family {
        Family {
            name,
            releases,
            kind: Kind::Scalar,
            presence: Presence::Always,
            marks_since: false,
            replaced_by: None,
            deprecated: None,
        }
    }

    /// The same family as a histogram.
    pub const fn histogram(mut self) -> Family {
        self.kind = Kind::Histogram;
        self
    }

    /// The same family, present only after its first event.
    pub const fn emergent(mut self) -> Family {
        self.presence = Presence::Emergent;
        self
    }

    /// The same family, whose presence proves its first release.
    pub const fn marks_since(mut self) -> Family {
        self.marks_since = true;
        self
    }

    /// The same family, renamed to `new` afterwards.
    pub const fn replaced_by(mut self, new: &'static str) -> Family {
        self.replaced_by = Some(new);
        self
    }

    /// The same family, deprecated (still shown) from minor `1.minor`.
    pub const fn deprecated_in(mut self, minor: u32) -> Family {
        self.deprecated = Some(KubeVersion::minor(1, minor));
        self
    }

    /// The series names the family exposes: its name, or a histogram's three.
    pub fn series_names(&self) -> Vec<String> {
        match self.kind {
            Kind::Scalar => vec![self.name.to_owned()],
            Kind::Histogram => ["_bucket", "_count", "_sum"]
                .iter()
                .map(|s| format!("{}{s}", self.name))
                .collect(),
        }
    }
}

/// One name a signal has had, with what is particular to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalName {
    /// The family.
    pub family: &'static str,
    /// What to add to its releases when shown (" (after borrowing)", "; labels {...}").
    pub detail: &'static str,
}

/// One thing an operator asks of the API server's metrics ("how many WATCH connections?"), and
/// every family that has answered it, preferred first: the renames in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// Stable id (`watches`, `object_counts`).
    pub id: &'static str,
    /// The question in words.
    pub question: &'static str,
    /// The families that answer it, preferred first.
    pub names: Vec<SignalName>,
    /// What an absence of every name means.
    pub absent: &'static str,
}

impl Signal {
    /// The family names, preferred first.
    pub fn families(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.names.iter().map(|n| n.family)
    }

    /// The position of `family` among the signal's names, preferred first.
    pub fn position(&self, family: &str) -> Option<usize> {
        self.names.iter().position(|n| n.family == family)
    }
}

/// Every family apilens reads, per release, with the renames and the signals.
///
/// [`crate::catalog()`] is the one built in (`builtin.rs`); a value can be extended (a test adds a
/// release) and every reader takes it as an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// The oldest minor release the catalog covers.
    pub oldest: KubeVersion,
    /// The newest minor release the catalog covers.
    pub newest: KubeVersion,
    /// Every family, in no particular order.
    pub families: Vec<Family>,
    /// Every signal, in display order.
    pub signals: Vec<Signal>,
}

impl Catalog {
    /// The family of this name.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The family a series belongs to: its own name, or a histogram's `_bucket`, `_sum` or
    /// `_count` series.
    pub fn family_of_series(&self, series: &str) -> Option<&Family> {
        self.family(series).or_else(|| {
            ["_bucket", "_count", "_sum"].iter().find_map(|suffix| {
                let base = series.strip_suffix(suffix)?;
                self.family(base).filter(|f| f.kind == Kind::Histogram)
            })
        })
    }

    /// The signal with this id.
    pub fn signal(&self, id: &str) -> Option<&Signal> {
        self.signals.iter().find(|s| s.id == id)
    }

    /// The series names of every family that appears only after its first event.
    pub fn emergent_series(&self) -> Vec<String> {
        self.families
            .iter()
            .filter(|f| f.presence == Presence::Emergent)
            .flat_map(Family::series_names)
            .collect()
    }

    /// True when a series of this name appears only after its first event.
    pub fn is_emergent(&self, series: &str) -> bool {
        self.family_of_series(series)
            .is_some_and(|f| f.presence == Presence::Emergent)
    }

    /// Every minor release the catalog covers, oldest first.
    pub fn releases(&self) -> impl Iterator<Item = KubeVersion> + '_ {
        (self.oldest.minor..=self.newest.minor).map(|m| KubeVersion::minor(self.oldest.major, m))
    }

    /// Adds a release: `families` are the families it introduces, `retired` the families it no
    /// longer exposes (their ranges end at the release before), and each `(signal, family)` of
    /// `renames` puts the new family first among that signal's names. This is all a new
    /// Kubernetes minor changes in the catalog.
    pub fn add_release(
        &mut self,
        minor: u32,
        families: Vec<Family>,
        retired: &[&str],
        renames: &[(&str, &'static str, &'static str)],
    ) {
        self.newest = KubeVersion::minor(self.newest.major, minor);
        for name in retired {
            if let Some(f) = self.families.iter_mut().find(|f| f.name == *name) {
                f.releases.until = Some(KubeVersion::minor(1, minor - 1));
            }
        }
        self.families.extend(families);
        for (signal, family, detail) in renames {
            if let Some(s) = self.signals.iter_mut().find(|s| s.id == *signal) {
                s.names.insert(0, SignalName { family, detail });
            }
        }
    }
}
