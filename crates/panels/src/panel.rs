//! The shape of a panel: queries with version alternatives, unit, visualisation, thresholds.

use crate::{Inventory, KubeVersion};
use apilens_model::KubeRange;
use serde::Serialize;

/// A group of panels shown together, in catalog order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Row {
    /// In-flight requests against the server's limits, and APF seats against the pool.
    Saturation,
    /// Long-running WATCH connections and the events they fan out.
    Watches,
    /// API Priority and Fairness: priority levels, flows, queues, rejections.
    PriorityAndFairness,
    /// Request latency: slowest calls, the SLO view, heatmaps.
    Latency,
    /// Request rate, errors, 429s and terminations.
    Traffic,
    /// etcd as the API server sees it.
    Etcd,
    /// Object counts, database size, LIST costs, replica balance.
    Storage,
    /// The API server process: memory, CPU, goroutines, restarts, its own controllers and client.
    Process,
    /// etcd's own metrics (its `/metrics`, job `etcd`): disk, leader, proposals, quota.
    EtcdServer,
    /// What the API server calls out to or serves for others: admission webhooks, aggregated
    /// APIs, deprecated API versions.
    Extensions,
}

impl Row {
    /// Every row, in display order.
    pub const ALL: [Row; 10] = [
        Row::Saturation,
        Row::Watches,
        Row::PriorityAndFairness,
        Row::Latency,
        Row::Traffic,
        Row::Extensions,
        Row::Process,
        Row::Etcd,
        Row::EtcdServer,
        Row::Storage,
    ];

    /// The row's heading.
    pub fn title(self) -> &'static str {
        match self {
            Row::Saturation => "Saturation: in-flight requests and APF seats",
            Row::Watches => "Long-running WATCH connections",
            Row::PriorityAndFairness => "API Priority and Fairness",
            Row::Latency => "Latency: slowest calls and SLOs",
            Row::Traffic => "Traffic: rate, errors, 429s, terminations",
            Row::Etcd => "etcd as the API server sees it",
            Row::Storage => "Storage, LIST cost, replica balance",
            Row::Process => "API server process: memory, CPU, restarts, own controllers",
            Row::EtcdServer => "etcd server: disk, leader, proposals, quota",
            Row::Extensions => "Admission webhooks, aggregated APIs, deprecated APIs",
        }
    }
}

/// The unit of a panel's values, named as Grafana names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A plain count (connections, requests in flight, objects).
    Count,
    /// Events per second.
    PerSecond,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A percentage from 0 to 100.
    Percent,
    /// A ratio where 1 means "equal" (for example one replica's share against the mean).
    Ratio,
    /// APF seats.
    Seats,
}

impl Unit {
    /// Grafana's unit id.
    pub fn grafana(self) -> &'static str {
        match self {
            Unit::Count | Unit::Seats => "short",
            Unit::PerSecond => "reqps",
            Unit::Seconds => "s",
            Unit::Bytes => "bytes",
            Unit::Percent => "percent",
            Unit::Ratio => "none",
        }
    }
}

/// How a panel is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Visualisation {
    /// Lines over time.
    Timeseries,
    /// Histogram buckets over time; queries return `_bucket` increases by `le`.
    Heatmap,
    /// One number per series, the latest value.
    Stat,
    /// One row per label set; each query is a column.
    Table,
    /// Horizontal bars sorted by value, latest value per series.
    Bargauge,
}

impl Visualisation {
    /// Grafana's panel type.
    pub fn grafana(self) -> &'static str {
        match self {
            Visualisation::Timeseries => "timeseries",
            Visualisation::Heatmap => "heatmap",
            Visualisation::Stat => "stat",
            Visualisation::Table => "table",
            Visualisation::Bargauge => "bargauge",
        }
    }
}

/// How bad a threshold crossing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth a look.
    Warning,
    /// Hurts clients now.
    Critical,
}

/// A value at or above which the panel turns to a severity colour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// The boundary, in the panel's unit.
    pub value: f64,
    /// The colour from this value up.
    pub severity: Severity,
}

/// Where a histogram quantile stops being a measurement: above `value` the next bucket bound
/// is `next_bucket`, so a quantile between them is interpolated, not observed (the webhook
/// histogram has buckets at 10 s and 25 s; a call that times out at 10 s reads as 20 s at p99).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ceiling {
    /// The highest bucket bound that means something for this panel, in the panel's unit.
    pub value: f64,
    /// The bucket bound above it.
    pub next_bucket: f64,
    /// What the value is ("the default webhook timeout").
    pub what: String,
}

/// A fixed line drawn across a time series: a server limit or an SLO.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitLine {
    /// The value, in the panel's unit.
    pub value: f64,
    /// What the line is, shown beside it ("max-requests-inflight default (400)").
    pub label: String,
}

/// Where to look next from a panel.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DrillDown {
    /// Labels to split the panel's queries by for a finer view (added to each `by` clause by the
    /// dashboard's per-series view).
    pub breakdown: Vec<String>,
    /// Ids of panels that explain this one further.
    pub related: Vec<String>,
    /// What to do with what the drill-down shows, in one or two sentences.
    pub hint: String,
}

/// One PromQL template valid for a range of Kubernetes versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// The first minor release (of major 1) the template works on, inclusive.
    pub since: u32,
    /// The last minor release the template works on, inclusive; `None` means "and every later one".
    pub until: Option<u32>,
    /// The PromQL template with `${sel}`, `${w}` and `${range}` placeholders.
    pub template: String,
    /// `(metric, label)` pairs the template relies on beyond metric names, such as the `resource`
    /// label of `etcd_request_duration_seconds_bucket` that replaced `type` in 1.34. Selection by
    /// series checks them.
    pub labels: Vec<(String, String)>,
}

impl Alternative {
    /// The releases the template is meant for.
    pub fn releases(&self) -> KubeRange {
        KubeRange {
            since: Some(KubeVersion::minor(1, self.since)),
            until: self.until.map(|until| KubeVersion::minor(1, until)),
        }
    }

    /// True when the template is meant for `version`.
    pub fn covers(&self, version: KubeVersion) -> bool {
        self.releases().contains(version)
    }

    /// The PromQL with every placeholder replaced.
    pub fn render(&self, opts: &RenderOpts) -> String {
        render_with(&self.template, opts)
    }

    /// The metric names the template reads, from its parsed form (placeholders rendered empty).
    pub fn metric_names(&self) -> Vec<String> {
        let promql = self.render(&RenderOpts::new("", "5m", "1h"));
        crate::expr_facts(&promql)
            .map(|facts| facts.metrics)
            .unwrap_or_default()
    }

    /// True when every series the template needs exists in `inventory`. Metrics that only appear
    /// after their first event ([`crate::EMERGENT_METRICS`]) are not required.
    pub fn satisfied_by(&self, inventory: &Inventory) -> bool {
        let names_ok = self
            .metric_names()
            .iter()
            .filter(|name| !crate::catalog::is_emergent(name))
            .all(|name| inventory.has_metric(name));
        let labels_ok = self
            .labels
            .iter()
            .filter(|(metric, _)| !crate::catalog::is_emergent(metric))
            .all(|(metric, label)| inventory.has_label(metric, label));
        names_ok && labels_ok
    }
}

/// One target of a panel: a legend and its version alternatives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    /// Short id unique inside the panel ("p99", "limit", "in-use"); a table uses it as the column.
    pub id: String,
    /// The series name template, Grafana style (`{{instance}} {{verb}}`).
    pub legend: String,
    /// A unit for this query alone when it differs from the panel's (a ratio column in a table).
    pub unit: Option<Unit>,
    /// Newest first; ranges do not overlap.
    pub alternatives: Vec<Alternative>,
}

impl Query {
    /// The alternative meant for `version`, if the metric exists in that release at all.
    pub fn for_version(&self, version: KubeVersion) -> Option<&Alternative> {
        self.alternatives.iter().find(|alt| alt.covers(version))
    }

    /// The newest alternative whose series all exist in `inventory`; used when
    /// `kubernetes_build_info` is missing.
    pub fn for_inventory(&self, inventory: &Inventory) -> Option<&Alternative> {
        self.alternatives
            .iter()
            .find(|alt| alt.satisfied_by(inventory))
    }

    /// One template that works on every release: the alternatives joined with `or`, newest first.
    ///
    /// `or` keeps a left-hand series over a right-hand one with the same labels, so where two
    /// alternatives both have data (1.26-1.29 expose old and new APF metrics) the newer one wins.
    /// An alternative that relies on a label (such as `kind`, renamed `resource` in 1.34) is guarded
    /// with `and on() count(metric{label!=""})`, so on a release without the label it adds nothing
    /// instead of label-less series. Used where the version cannot be chosen per cluster: Grafana
    /// dashboards shared by many clusters and Prometheus rules.
    pub fn combined_template(&self) -> String {
        if self.alternatives.len() == 1 {
            return self.alternatives[0].template.clone();
        }
        let parts: Vec<String> = self
            .alternatives
            .iter()
            .map(|alt| {
                let guards: Vec<String> = alt
                    .labels
                    .iter()
                    .map(|(metric, label)| {
                        format!(r#" and on() count({metric}{{${{sel}}, {label}!=""}})"#)
                    })
                    .collect();
                format!("({}){}", alt.template, guards.join(""))
            })
            .collect();
        parts.join(" or ")
    }

    /// The alternative for `version` when known, else by `inventory`.
    pub fn select(
        &self,
        version: Option<KubeVersion>,
        inventory: &Inventory,
    ) -> Option<&Alternative> {
        match version {
            Some(version) => self.for_version(version),
            None => self.for_inventory(inventory),
        }
    }
}

/// One troubleshooter panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    /// Stable id (kebab case), used in URLs, Grafana and reports.
    pub id: String,
    /// The row the panel belongs to.
    pub row: Row,
    /// The heading.
    pub title: String,
    /// The question the panel answers, as an operator would ask it.
    pub question: String,
    /// How to read it: what is normal, what is not, and which reference dashboard got it wrong.
    pub description: String,
    /// The unit of every query.
    pub unit: Unit,
    /// How it is drawn.
    pub visualisation: Visualisation,
    /// Colour steps, ascending.
    pub thresholds: Vec<Threshold>,
    /// Fixed lines (limits, SLOs).
    pub limits: Vec<LimitLine>,
    /// The queries, drawn together.
    pub queries: Vec<Query>,
    /// Where to look next.
    pub drilldown: DrillDown,
    /// How a table panel joins and trims its rows; `None` for other visualisations.
    pub table: Option<TableSpec>,
    /// Where its quantiles stop being measurements, for histogram quantile panels whose
    /// buckets are coarse around a limit.
    pub ceiling: Option<Ceiling>,
}

/// How a table panel joins its queries into rows and which rows it keeps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableSpec {
    /// The labels that identify a row; each query's value for those labels fills one column.
    pub keys: Vec<String>,
    /// The query id whose column orders the rows, largest first.
    pub sort_by: String,
    /// How many rows to keep from the top.
    pub top: usize,
    /// Rows whose value in this query's column is above the number are kept even below the top
    /// (clusterloader2 prints the top 5 and every SLO violator).
    pub keep_above: Option<(String, f64)>,
}

impl Panel {
    /// The severity of `value` against the thresholds, if it crosses any.
    pub fn severity_of(&self, value: f64) -> Option<Severity> {
        self.thresholds
            .iter()
            .filter(|t| value >= t.value)
            .map(|t| t.severity)
            .max()
    }
}

/// What fills a template's placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOpts {
    /// Label matchers without braces, e.g. `job="apiserver"`; empty for none.
    pub selector: String,
    /// The rate window, e.g. `5m` or `$__rate_interval`.
    pub window: String,
    /// The summary range of table panels, e.g. `1h` or `$__range`.
    pub range: String,
}

impl RenderOpts {
    /// Options from the three values.
    pub fn new(selector: &str, window: &str, range: &str) -> Self {
        RenderOpts {
            selector: selector.to_owned(),
            window: window.to_owned(),
            range: range.to_owned(),
        }
    }
}

pub(crate) fn render_with(template: &str, opts: &RenderOpts) -> String {
    let mut out = if opts.selector.is_empty() {
        template
            .replace("{${sel}}", "")
            .replace("${sel}, ", "")
            .replace("${sel},", "")
            .replace("${sel}", "")
    } else {
        template.replace("${sel}", &opts.selector)
    };
    out = out
        .replace("${w}", &opts.window)
        .replace("${range}", &opts.range);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_selector_leaves_valid_braces() {
        let opts = RenderOpts::new("", "5m", "1h");
        assert_eq!(render_with("up{${sel}}", &opts), "up");
        assert_eq!(
            render_with(r#"up{${sel}, verb="LIST"}"#, &opts),
            r#"up{verb="LIST"}"#
        );
        let opts = RenderOpts::new(r#"job="a""#, "1m", "1h");
        assert_eq!(
            render_with(r#"rate(up{${sel}, verb="LIST"}[${w}])"#, &opts),
            r#"rate(up{job="a", verb="LIST"}[1m])"#
        );
    }
}
