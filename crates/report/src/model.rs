//! What a report holds: sections (one per catalog row), panel summaries, verdicts.

use apilens_panels::{Row, Unit, Visualisation};
use serde::Serialize;

/// How a panel or a section reads, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Nothing in range: the metrics are missing (version, scrape) or never moved.
    NoData,
    /// Data, and nothing crossed a threshold or limit.
    Ok,
    /// A threshold was crossed: worth a look.
    Warning,
    /// A limit or critical threshold was crossed: clients are hurt.
    Critical,
}

impl Level {
    /// The word printed for the level.
    pub fn label(self) -> &'static str {
        match self {
            Level::NoData => "NO DATA",
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

/// One series of a panel reduced to figures over the report range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesFigure {
    /// The id of the panel query the series came from.
    pub query: String,
    /// The series named by the query's legend (`10.0.0.1:6443 readOnly`).
    pub legend: String,
    /// The highest value in range.
    pub peak: f64,
    /// The value at the end of the range; `None` when the series ended more than one step
    /// before it.
    pub last: Option<f64>,
    /// The mean over the steps that had a value.
    pub mean: f64,
    /// Its values at each step, oldest first, for a view that draws the trend (not printed:
    /// the figures above say it in words).
    #[serde(skip)]
    pub trend: Vec<f64>,
}

/// One row of a table panel: its key labels and one value per query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableRow {
    /// The key labels' values joined with spaces (`LIST pods cluster`).
    pub key: String,
    /// The key labels, name and value, in the table's key order (empty values left out).
    pub labels: Vec<(String, String)>,
    /// `(query id, value)` pairs, in the panel's query order; missing columns are left out.
    pub values: Vec<(String, f64)>,
}

/// A panel read over the report range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PanelSummary {
    /// The catalog id.
    pub id: String,
    /// The panel's title.
    pub title: String,
    /// The unit of its values.
    pub unit: Unit,
    /// How the dashboard draws it.
    pub visualisation: Visualisation,
    /// How it reads.
    pub level: Level,
    /// One line saying what matters most on the panel ("peak 41 readOnly on 10.0.0.1:6443, 10% of 400").
    pub headline: String,
    /// The series with the highest peaks, highest first (time series and bar panels).
    pub series: Vec<SeriesFigure>,
    /// The top rows (table panels).
    pub rows: Vec<TableRow>,
    /// The PromQL that was run, one per panel query.
    pub promql: Vec<String>,
    /// Query errors, if any (the panel then reads as far as the other queries allow).
    pub errors: Vec<String>,
    /// Why the figures read as they do, in words, where a number alone would mislead: what an
    /// explanatory panel explains, why two panels disagree, which limit was read. Empty when
    /// there is nothing to add.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// What most likely causes the findings, and the chain from it to what clients see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// The kind of cause.
    pub kind: CauseKind,
    /// The cause with its figure ("webhook validate.policy.acme.example.com p99 above 10 s").
    pub what: String,
    /// Its effects, nearest first ("PATCH deployments slow (p99 13 s)", "APF workload-high
    /// queues").
    pub chain: Vec<String>,
    /// The ids of the panels that show the cause, then those that show the chain.
    pub panels: Vec<String>,
}

impl Cause {
    /// The cause and its chain on one line, joined with arrows.
    pub fn line(&self) -> String {
        std::iter::once(self.what.as_str())
            .chain(self.chain.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// The kinds of cause the report knows how to name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CauseKind {
    /// An admission webhook is slow or failing.
    Webhook,
    /// etcd is slow (its disk, its leader) and every uncached request waits for it.
    Etcd,
    /// LISTs without `limit` of large collections: huge responses, memory, seats.
    UnboundedLists,
    /// WATCHes fan events out to far more watchers than the cluster needs.
    WatchFanOut,
    /// One priority level is saturated by a class of requests: queueing and 429s.
    ApfSaturation,
    /// API servers of different versions mid-upgrade, with the load unbalanced.
    VersionSkew,
    /// A finding the report cannot trace further: the worst one is named.
    Other,
}

/// How big the cluster is, as the report read it (thresholds scale with it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClusterFacts {
    /// Nodes stored, when an object count is exposed.
    pub nodes: Option<f64>,
    /// API server replicas scraped in range.
    pub replicas: usize,
    /// The largest etcd database size the API servers report, in bytes.
    pub etcd_db_bytes: Option<f64>,
}

/// One catalog row read as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    /// The catalog row.
    pub row: Row,
    /// The row's heading.
    pub title: String,
    /// The worst level of its panels.
    pub level: Level,
    /// One sentence: the worst finding, or what is normal.
    pub verdict: String,
    /// Its panels, in catalog order.
    pub panels: Vec<PanelSummary>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The engine or store the queries ran on.
    pub source: String,
    /// Start of the range, milliseconds since the epoch.
    pub start_ms: i64,
    /// End of the range, milliseconds since the epoch.
    pub end_ms: i64,
    /// The step of range queries, milliseconds.
    pub step_ms: i64,
    /// The Kubernetes versions the API servers report (`kubernetes_build_info`), one per
    /// distinct `git_version`.
    pub kubernetes_versions: Vec<String>,
    /// The minor version whose queries were used; `None` when versions differ or are unknown
    /// and every alternative was combined.
    pub query_version: Option<String>,
    /// The scraped instances per job (`apiserver: 2`, `etcd: 1`).
    pub targets: Vec<(String, usize)>,
    /// The sections, the one holding the most likely cause first, then the ones its chain
    /// runs through, then the other findings worst first, then the rest in catalog order.
    pub sections: Vec<Section>,
    /// The verdict in one line: the worst level, then the cause and its chain, or what is
    /// normal ("CRITICAL: webhook … p99 above 10 s → PATCH deployments slow → APF
    /// workload-high queues").
    pub overall: String,
    /// The most likely cause, when anything is flagged.
    pub cause: Option<Cause>,
    /// The size of the cluster the thresholds were scaled to.
    pub cluster: ClusterFacts,
}

impl Report {
    /// The worst level of all sections.
    pub fn level(&self) -> Level {
        self.sections
            .iter()
            .map(|s| s.level)
            .max()
            .unwrap_or(Level::NoData)
    }
}
