//! Running every panel's queries over the range and reading them into sections.

use crate::ReportError;
use crate::cause::{cause_of, order_sections, overall_line};
use crate::context::Context;
use crate::explain::explain;
use crate::format::{format_value, legend};
use crate::model::{ClusterFacts, Level, PanelSummary, Report, Section, SeriesFigure, TableRow};
use crate::readings::special_reading;
use apilens_model::Labels;
use apilens_panels::{
    Alternative, EMERGENT_METRICS, KubeVersion, Panel, Query, RenderOpts, Row, Severity, TableSpec,
    Visualisation, catalog, version_from_build_info,
};
use apilens_promapi::QueryEngine;
use apilens_promql::{QUERY_STACK_SIZE, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOpts {
    /// End of the range, milliseconds since the epoch (usually now).
    pub end_ms: i64,
    /// How far back from the end to look.
    pub range: Duration,
    /// Label matchers without braces that scope every query (`cluster="prod"`); empty for all.
    pub selector: String,
    /// How many series or rows each panel keeps.
    pub top: usize,
}

impl ReportOpts {
    /// The last `range` up to `end_ms`, no selector, five series per panel.
    pub fn new(end_ms: i64, range: Duration) -> Self {
        Self {
            end_ms,
            range,
            selector: String::new(),
            top: 5,
        }
    }
}

/// Reads every panel of the catalog (heatmaps excepted: they are pictures) over the range.
///
/// The Kubernetes version comes from `kubernetes_build_info`: when every API server reports the
/// same minor release its queries are used, otherwise each query combines all its alternatives
/// (as the Grafana export does). A panel whose queries fail keeps the errors and reads as
/// [`Level::NoData`]; only a source that fails the first query fails the report.
///
/// Thresholds that depend on the cluster's size (open WATCHes per server, memory against the
/// stored data) are scaled to the nodes and replicas the data shows; panels that explain rather
/// than show a problem (etcd's share of latency, object counts, seat cost) never raise a level
/// and say in words what they explain. The most likely cause is named with the chain from it
/// to what clients see ([`Report::cause`], [`Report::overall`]), and the sections are ordered
/// along that chain.
///
/// # Errors
///
/// [`ReportError::Options`] for an empty range, [`ReportError::Source`] when the source cannot
/// answer at all.
pub fn build_report(source: &dyn QueryEngine, opts: &ReportOpts) -> Result<Report, ReportError> {
    let range_ms = i64::try_from(opts.range.as_millis()).unwrap_or(i64::MAX);
    if range_ms < 60_000 {
        return Err(ReportError::Options(format!(
            "the range must be at least 1m, got {}s",
            opts.range.as_secs()
        )));
    }
    let start_ms = opts.end_ms.checked_sub(range_ms).ok_or_else(|| {
        ReportError::Options(format!("the range ends too early: {} ms", opts.end_ms))
    })?;
    let step_ms = (range_ms / 120).max(15_000) / 1000 * 1000;
    let window = if step_ms <= 75_000 {
        "5m".to_owned()
    } else {
        format!("{}s", 4 * step_ms / 1000)
    };
    let range_text = format!("{}s", range_ms / 1000);
    let mut ctx = Ctx {
        source,
        opts,
        start_ms,
        step_ms,
        render: RenderOpts::new(&opts.selector, &window, &range_text),
        scraped: false,
    };

    let build_info = source
        .instant(
            &format!(
                "last_over_time({}[{range_text}]) and on (instance) group by (instance) (last_over_time({}[{range_text}]))",
                selector("kubernetes_build_info", &opts.selector),
                selector("apiserver_current_inflight_requests", &opts.selector)
            ),
            opts.end_ms,
        )
        .map_err(|e| ReportError::Source {
            source_name: source.describe(),
            message: e.to_string(),
        })?;
    let (kubernetes_versions, query_version) = versions(&build_info);
    let targets = targets(&ctx, &range_text);
    ctx.scraped = !targets.is_empty() || !kubernetes_versions.is_empty();
    let mut context = Context::new(build_info_instances(&build_info));

    // Every panel's queries at once (they do not depend on one another), then the readings in
    // order: the size of the cluster first, since the thresholds of the other panels scale with
    // it, and each panel after those whose context it reads.
    let panels: Vec<&Panel> = Row::ALL
        .iter()
        .flat_map(|&row| catalog().row(row))
        .filter(|p| p.visualisation != Visualisation::Heatmap)
        .collect();
    let mut answers: BTreeMap<&str, Answers> = panels
        .iter()
        .map(|p| p.id.as_str())
        .zip(evaluate_all(&ctx, &panels, query_version))
        .collect();
    let mut read: BTreeMap<&str, PanelSummary> = BTreeMap::new();
    for id in Context::SIZE_PANELS {
        if let Some(panel) = catalog().panel(id) {
            let answers = answers
                .remove(id)
                .unwrap_or_else(|| evaluate(&ctx, panel, query_version));
            let (summary, evaluated) = summarise(&ctx, panel, query_version, &context, answers);
            context.learn(panel, &evaluated);
            read.insert(id, summary);
        }
    }
    let sections = Row::ALL
        .iter()
        .map(|&row| {
            let panels = catalog()
                .row(row)
                .filter(|p| p.visualisation != Visualisation::Heatmap)
                .map(|p| match read.remove(p.id.as_str()) {
                    Some(summary) => summary,
                    None => {
                        let answers = answers
                            .remove(p.id.as_str())
                            .unwrap_or_else(|| evaluate(&ctx, p, query_version));
                        let (summary, evaluated) =
                            summarise(&ctx, p, query_version, &context, answers);
                        context.learn(p, &evaluated);
                        summary
                    }
                })
                .collect::<Vec<_>>();
            (row, panels)
        })
        .collect::<Vec<_>>();
    let sections: Vec<Section> = explain(sections, &context)
        .into_iter()
        .map(|(row, panels)| section(row, panels))
        .collect();
    let cause = cause_of(&sections, &kubernetes_versions);
    let sections = order_sections(sections, cause.as_ref());
    let level = sections
        .iter()
        .map(|s| s.level)
        .max()
        .unwrap_or(Level::NoData);
    Ok(Report {
        source: source.describe(),
        start_ms,
        end_ms: opts.end_ms,
        step_ms,
        kubernetes_versions,
        query_version: query_version.map(|v| v.to_string()),
        targets,
        overall: overall_line(level, cause.as_ref()),
        sections,
        cause,
        cluster: ClusterFacts {
            nodes: context.nodes,
            replicas: context.replicas,
            etcd_db_bytes: context.etcd_db_bytes,
        },
    })
}

/// Distinct API server instances that report their build info (the query keeps those that
/// also expose the in-flight gauge, which only kube-apiserver has).
fn build_info_instances(build_info: &Value) -> usize {
    let instances: BTreeSet<&str> = match build_info {
        Value::Vector(v) => v.iter().filter_map(|s| s.labels.get("instance")).collect(),
        _ => BTreeSet::new(),
    };
    instances.len()
}

struct Ctx<'a> {
    source: &'a dyn QueryEngine,
    opts: &'a ReportOpts,
    start_ms: i64,
    step_ms: i64,
    render: RenderOpts,
    /// Whether anything was scraped in range: only then does a missing emergent metric mean
    /// "none happened".
    scraped: bool,
}

/// `metric{selector}`, or the bare metric for an empty selector.
fn selector(metric: &str, selector: &str) -> String {
    if selector.is_empty() {
        metric.to_owned()
    } else {
        format!("{metric}{{{selector}}}")
    }
}

/// The distinct `git_version`s, and the one minor release to query with when they agree.
fn versions(build_info: &Value) -> (Vec<String>, Option<KubeVersion>) {
    let labels: Vec<&Labels> = match build_info {
        Value::Vector(v) => v.iter().map(|s| &s.labels).collect(),
        Value::Matrix(m) => m.iter().map(|s| &s.labels).collect(),
        _ => Vec::new(),
    };
    let git: BTreeSet<String> = labels
        .iter()
        .filter_map(|l| l.get("git_version").or_else(|| l.get("gitVersion")))
        .map(str::to_owned)
        .collect();
    let minors: BTreeSet<KubeVersion> = labels
        .iter()
        .filter_map(|l| version_from_build_info(l).map(KubeVersion::without_patch))
        .collect();
    let one = if minors.len() == 1 {
        minors.into_iter().next()
    } else {
        None
    };
    (git.into_iter().collect(), one)
}

/// Instances per job that were scraped at least once in range.
fn targets(ctx: &Ctx<'_>, range_text: &str) -> Vec<(String, usize)> {
    let query = format!(
        "count by (job) (max_over_time({}[{range_text}]) > 0)",
        selector("up", &ctx.opts.selector)
    );
    match ctx.source.instant(&query, ctx.opts.end_ms) {
        Ok(Value::Vector(v)) => v
            .iter()
            .map(|s| {
                (
                    s.labels.get("job").unwrap_or("").to_owned(),
                    s.v.max(0.0) as usize,
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The alternative of `query` for `version`, or every alternative combined.
fn alternative(query: &Query, version: Option<KubeVersion>) -> Option<Alternative> {
    match version {
        Some(v) => query.for_version(v).cloned(),
        None => Some(Alternative {
            since: 0,
            until: None,
            template: query.combined_template(),
            labels: Vec::new(),
        }),
    }
}

/// One query's result as labelled value lists.
pub(crate) struct Evaluated<'q> {
    pub(crate) query: &'q Query,
    pub(crate) series: Vec<Reduced>,
}

/// One series: its labels, its finite values in order with their times.
pub(crate) struct Reduced {
    pub(crate) labels: Labels,
    pub(crate) values: Vec<f64>,
    pub(crate) times: Vec<i64>,
}

impl Reduced {
    /// The highest value.
    pub(crate) fn peak(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The lowest value.
    pub(crate) fn low(&self) -> f64 {
        self.values.iter().copied().fold(f64::INFINITY, f64::min)
    }

    /// The time of the last value.
    fn last_t(&self) -> i64 {
        self.times.last().copied().unwrap_or(i64::MIN)
    }
}

/// The series of the query with this id.
pub(crate) fn series_of<'e>(evaluated: &'e [Evaluated<'_>], id: &str) -> Vec<&'e Reduced> {
    evaluated
        .iter()
        .filter(|e| e.query.id == id)
        .flat_map(|e| e.series.iter())
        .collect()
}

/// What a panel's queries answered: their PromQL, their errors, their results.
struct Answers<'c> {
    promql: Vec<String>,
    errors: Vec<String>,
    evaluated: Vec<Evaluated<'c>>,
}

/// Runs every panel's queries on [`std::thread::available_parallelism`] threads (each with the
/// stack a local query needs) and answers in the order of `panels`.
fn evaluate_all<'c>(
    ctx: &Ctx<'_>,
    panels: &[&'c Panel],
    version: Option<KubeVersion>,
) -> Vec<Answers<'c>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(panels.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Answers<'c>>>> =
        Mutex::new(panels.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let work = || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(panel) = panels.get(i) else { break };
                    let answers = evaluate(ctx, panel, version);
                    results.lock().unwrap_or_else(PoisonError::into_inner)[i] = Some(answers);
                }
            };
            // A thread that cannot start leaves its share to the others, or to the caller below.
            let _ = std::thread::Builder::new()
                .name("report-panels".to_owned())
                .stack_size(QUERY_STACK_SIZE)
                .spawn_scoped(scope, work);
        }
    });
    results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .zip(panels)
        .map(|(answers, panel)| answers.unwrap_or_else(|| evaluate(ctx, panel, version)))
        .collect()
}

/// Runs the queries of `panel` for `version`.
fn evaluate<'c>(ctx: &Ctx<'_>, panel: &'c Panel, version: Option<KubeVersion>) -> Answers<'c> {
    let mut promql = Vec::new();
    let mut errors = Vec::new();
    let mut evaluated = Vec::new();
    let table = panel.visualisation == Visualisation::Table;
    for query in &panel.queries {
        let Some(alt) = alternative(query, version) else {
            continue;
        };
        let text = alt.render(&ctx.render);
        let result = if table {
            ctx.source.instant(&text, ctx.opts.end_ms)
        } else {
            ctx.source
                .range(&text, ctx.start_ms, ctx.opts.end_ms, ctx.step_ms)
        };
        match result {
            Ok(value) => evaluated.push(Evaluated {
                query,
                series: values(value),
            }),
            Err(e) => errors.push(format!("{}: {e}", query.id)),
        }
        promql.push(text);
    }
    Answers {
        promql,
        errors,
        evaluated,
    }
}

/// Reads a panel's answers into its summary, with the cluster `context` learnt so far.
fn summarise<'c>(
    ctx: &Ctx<'_>,
    panel: &'c Panel,
    version: Option<KubeVersion>,
    context: &Context,
    answers: Answers<'c>,
) -> (PanelSummary, Vec<Evaluated<'c>>) {
    let Answers {
        promql,
        errors,
        evaluated,
    } = answers;
    let table = panel.visualisation == Visualisation::Table;
    let mut summary = PanelSummary {
        id: panel.id.clone(),
        title: panel.title.clone(),
        unit: panel.unit,
        visualisation: panel.visualisation,
        level: Level::NoData,
        headline: String::new(),
        series: Vec::new(),
        rows: Vec::new(),
        promql,
        errors,
        note: String::new(),
    };
    if summary.promql.is_empty() {
        summary.headline = match version {
            Some(v) => format!("not exposed by Kubernetes {v}"),
            None => "no query for this version".to_owned(),
        };
        return (summary, evaluated);
    }
    match (panel.table.as_ref(), table) {
        (Some(spec), true) => read_table(ctx, panel, spec, &evaluated, &mut summary),
        _ => read_series(ctx, panel, &evaluated, &mut summary),
    }
    if summary.level != Level::NoData {
        special_reading(panel, &evaluated, context, &mut summary);
    }
    if summary.level == Level::NoData
        && summary.errors.is_empty()
        && ctx.scraped
        && metrics_present(ctx, panel, version)
    {
        summary.level = Level::Ok;
        summary.headline = "none in range".to_owned();
    }
    if summary.level == Level::NoData && summary.headline.is_empty() {
        summary.headline = if summary.errors.is_empty() {
            "no series in range".to_owned()
        } else {
            format!("query failed: {}", summary.errors[0])
        };
    }
    (summary, evaluated)
}

/// True when every metric the panel reads is scraped at the end of the range, those that only appear after
/// their first event (rejections, terminations) excepted: no series then means nothing
/// happened (no 429s, no 5xx), not a missing metric.
fn metrics_present(ctx: &Ctx<'_>, panel: &Panel, version: Option<KubeVersion>) -> bool {
    let metrics: BTreeSet<String> = panel
        .queries
        .iter()
        .filter_map(|q| alternative(q, version))
        .flat_map(|alt| alt.metric_names())
        .collect();
    let needed: Vec<&str> = metrics
        .iter()
        .map(String::as_str)
        .filter(|m| !EMERGENT_METRICS.contains(m))
        .collect();
    if metrics.is_empty() {
        return false;
    }
    if needed.is_empty() {
        return true;
    }
    let mut matchers = format!("__name__=~\"{}\"", needed.join("|"));
    if !ctx.opts.selector.is_empty() {
        matchers.push_str(", ");
        matchers.push_str(&ctx.opts.selector);
    }
    let query = format!("group by (__name__) ({{{matchers}}})");
    match ctx.source.instant(&query, ctx.opts.end_ms) {
        Ok(Value::Vector(found)) => {
            let found: BTreeSet<&str> = found
                .iter()
                .filter_map(|s| s.labels.get(apilens_model::METRIC_NAME))
                .collect();
            needed.iter().all(|m| found.contains(m))
        }
        _ => false,
    }
}

/// Every series of a value with its finite values in order (staleness and gaps dropped).
fn values(value: Value) -> Vec<Reduced> {
    match value {
        Value::Matrix(series) => series
            .into_iter()
            .filter_map(|s| {
                let finite: Vec<_> = s.samples.iter().filter(|p| p.v.is_finite()).collect();
                finite.last()?;
                Some(Reduced {
                    values: finite.iter().map(|p| p.v).collect(),
                    times: finite.iter().map(|p| p.t).collect(),
                    labels: s.labels,
                })
            })
            .collect(),
        Value::Vector(samples) => samples
            .into_iter()
            .filter(|s| s.v.is_finite())
            .map(|s| Reduced {
                labels: s.labels,
                values: vec![s.v],
                times: vec![s.t],
            })
            .collect(),
        Value::Scalar { t, v } if v.is_finite() => vec![Reduced {
            labels: Labels::default(),
            values: vec![v],
            times: vec![t],
        }],
        _ => Vec::new(),
    }
}

pub(crate) fn severity_level(severity: Option<Severity>) -> Level {
    match severity {
        Some(Severity::Critical) => Level::Critical,
        Some(Severity::Warning) => Level::Warning,
        None => Level::Ok,
    }
}

/// The threshold `value` crossed, for the headline.
fn crossed(panel: &Panel, value: f64) -> Option<f64> {
    panel
        .thresholds
        .iter()
        .filter(|t| value >= t.value)
        .map(|t| t.value)
        .reduce(f64::max)
}

fn read_series(
    ctx: &Ctx<'_>,
    panel: &Panel,
    evaluated: &[Evaluated<'_>],
    summary: &mut PanelSummary,
) {
    let by_last = panel.visualisation == Visualisation::Bargauge;
    let mut figures: Vec<SeriesFigure> = evaluated
        .iter()
        .flat_map(|e| {
            e.series.iter().map(move |r| {
                let peak = r.peak();
                // Only a series still there at the end of the range has a "last" value.
                let current = ctx.opts.end_ms - r.last_t() <= ctx.step_ms;
                SeriesFigure {
                    query: e.query.id.clone(),
                    legend: legend(&e.query.legend, &r.labels),
                    peak,
                    last: r.values.last().copied().filter(|_| current),
                    mean: r.values.iter().sum::<f64>() / r.values.len() as f64,
                    trend: r.values.clone(),
                }
            })
        })
        .collect();
    if figures.is_empty() {
        return;
    }
    let key = |f: &SeriesFigure| {
        if by_last {
            f.last.unwrap_or(f.peak)
        } else {
            f.peak
        }
    };
    figures.sort_by(|a, b| {
        rank_value(key(b))
            .total_cmp(&rank_value(key(a)))
            .then_with(|| a.legend.cmp(&b.legend))
    });

    // Sorted highest first, and severity grows with the value: the first is the worst.
    let worst = figures.first().cloned();
    summary.level = Level::Ok;
    if let Some(worst) = worst {
        let level = severity_level(panel.severity_of(key(&worst)));
        {
            summary.level = level;
            summary.headline = match crossed(panel, key(&worst)) {
                Some(t) if level > Level::Ok => format!(
                    "{} {} {} (threshold {})",
                    worst.legend,
                    if by_last { "at" } else { "peaked at" },
                    format_value(key(&worst), panel.unit),
                    format_value(t, panel.unit)
                ),
                _ => {
                    let top = &figures[0];
                    format!(
                        "{} {} {}",
                        if by_last { "largest:" } else { "peak:" },
                        top.legend,
                        format_value(key(top), panel.unit)
                    )
                }
            };
        }
    }
    figures.truncate(ctx.opts.top);
    summary.series = figures;
}

/// A table row's key labels, name and value.
type KeyLabels = Vec<(String, String)>;
/// A table row's values, by query id.
type Columns = Vec<(String, f64)>;

fn read_table(
    ctx: &Ctx<'_>,
    panel: &Panel,
    spec: &TableSpec,
    evaluated: &[Evaluated<'_>],
    summary: &mut PanelSummary,
) {
    let mut rows: BTreeMap<KeyLabels, Columns> = BTreeMap::new();
    for e in evaluated {
        for r in &e.series {
            let labels: Vec<(String, String)> = spec
                .keys
                .iter()
                .filter_map(|k| Some((k.clone(), r.labels.get(k)?.to_owned())))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            if let Some(&v) = r.values.last() {
                rows.entry(labels)
                    .or_default()
                    .push((e.query.id.clone(), v));
            }
        }
    }
    let column =
        |values: &[(String, f64)], id: &str| values.iter().find(|(q, _)| q == id).map(|(_, v)| *v);
    let mut rows: Vec<TableRow> = rows
        .into_iter()
        .filter(|(_, values)| column(values, &spec.sort_by).is_some())
        .map(|(labels, values)| TableRow {
            key: labels
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            labels,
            values,
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| {
        let va = column(&a.values, &spec.sort_by).unwrap_or(f64::NEG_INFINITY);
        let vb = column(&b.values, &spec.sort_by).unwrap_or(f64::NEG_INFINITY);
        rank_value(vb)
            .total_cmp(&rank_value(va))
            .then_with(|| a.key.cmp(&b.key))
    });
    let violators: Vec<&TableRow> = match &spec.keep_above {
        Some((id, above)) => rows
            .iter()
            .filter(|r| column(&r.values, id).is_some_and(|v| v > *above))
            .collect(),
        None => Vec::new(),
    };
    let top = &rows[0];
    let sort_value = column(&top.values, &spec.sort_by).unwrap_or(f64::NAN);
    let unit_of = |id: &str| {
        panel
            .queries
            .iter()
            .find(|q| q.id == id)
            .and_then(|q| q.unit)
            .unwrap_or(panel.unit)
    };
    let describe = |row: &TableRow| {
        row.values
            .iter()
            .map(|(id, v)| format!("{id} {}", format_value(*v, unit_of(id))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    summary.level = severity_level(panel.severity_of(sort_value));
    summary.headline = format!("{}: {}", top.key, describe(top));
    if !violators.is_empty() {
        summary.level = summary.level.max(Level::Warning);
        summary.headline = format!(
            "{} over the SLO; worst {}: {}",
            plural(violators.len(), "call"),
            violators[0].key,
            describe(violators[0])
        );
    }
    let mut kept: Vec<TableRow> = rows
        .iter()
        .take(spec.top.min(ctx.opts.top))
        .cloned()
        .collect();
    for v in violators {
        if !kept.iter().any(|k| k.key == v.key) {
            kept.push(v.clone());
        }
    }
    summary.rows = kept;
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn section(row: Row, panels: Vec<PanelSummary>) -> Section {
    let level = panels
        .iter()
        .map(|p| p.level)
        .max()
        .unwrap_or(Level::NoData);
    let flagged: Vec<&PanelSummary> = panels.iter().filter(|p| p.level == level).collect();
    let verdict = match level {
        Level::NoData => "no data for this row in range".to_owned(),
        Level::Ok => "nothing crossed a threshold or a limit".to_owned(),
        Level::Warning | Level::Critical => {
            let first = flagged[0];
            let more = flagged.len() - 1;
            let mut text = format!("{}: {}", first.title, first.headline);
            if more > 0 {
                text.push_str(&format!(" (+{more} more flagged)"));
            }
            text
        }
    };
    Section {
        row,
        title: row.title().to_owned(),
        level,
        verdict,
        panels,
    }
}

/// A value rounded to 9 significant digits, for ranking: two engines that sum in a
/// different order differ in the last bits, and a tie must fall the same way on both
/// (then by name), so the order of series and rows does not depend on the engine.
fn rank_value(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let scale = 10f64.powi(8 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::rank_value;

    #[test]
    fn rank_value_hides_the_last_bits_of_a_sum() {
        let a = 0.1 + 0.2 + 0.3;
        let b = 0.3 + 0.2 + 0.1;
        assert_ne!(a, b);
        assert_eq!(rank_value(a), rank_value(b));
        assert!(rank_value(2.0) > rank_value(1.999));
        assert_eq!(rank_value(1234567.0), 1234567.0);
        assert_eq!(rank_value(0.0), 0.0);
        assert!(rank_value(f64::NAN).is_nan());
        assert_eq!(rank_value(f64::NEG_INFINITY), f64::NEG_INFINITY);
    }
}
