//! Prometheus recording and alerting rules from the catalog: SLO burn rates in the kubernetes-mixin
//! style, APF saturation and rejections, etcd latency, watch and LIST storms.

use crate::{
    KubeVersion, PanelsError, RenderOpts, WATCHES_PER_NODE, WATCHES_PER_SERVER_FLOOR, catalog,
};
use serde::Serialize;
use std::fmt::Write as _;

/// What the rules select and which release they target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesOpts {
    /// Label matchers (without braces) that select the API servers, e.g. `job="apiserver"`.
    pub selector: String,
    /// Pick alternatives for this release; `None` joins them so the rules work on every release.
    pub version: Option<KubeVersion>,
}

impl RulesOpts {
    /// The options for `selector` as a person writes it (in braces or not), checked to be a
    /// list of label matchers, so that no rule is invalid because of it.
    ///
    /// # Errors
    ///
    /// [`PanelsError::Selector`] naming the selector and the parser's message.
    pub fn checked(selector: &str, version: Option<KubeVersion>) -> Result<Self, PanelsError> {
        let selector = selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}');
        if !selector.is_empty() {
            crate::expr_facts(&format!("up{{{selector}}}")).map_err(|message| {
                PanelsError::Selector {
                    selector: selector.to_owned(),
                    message,
                }
            })?;
        }
        Ok(RulesOpts {
            selector: selector.to_owned(),
            version,
        })
    }
}

impl Default for RulesOpts {
    fn default() -> Self {
        RulesOpts {
            selector: r#"job="apiserver""#.to_owned(),
            version: None,
        }
    }
}

/// One recording or alerting rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The recorded series name, for a recording rule.
    pub record: Option<String>,
    /// The alert name, for an alerting rule.
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the condition must hold before the alert fires.
    pub for_: Option<String>,
    /// Labels added to the result.
    pub labels: Vec<(String, String)>,
    /// Alert annotations (summary, description, runbook hints).
    pub annotations: Vec<(String, String)>,
}

/// A named group of rules evaluated together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleGroup {
    /// The group name.
    pub name: String,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
}

fn record(name: &str, expr: String, labels: &[(&str, &str)]) -> Rule {
    Rule {
        record: Some(name.to_owned()),
        alert: None,
        expr,
        for_: None,
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: Vec::new(),
    }
}

fn alert(
    name: &str,
    expr: String,
    for_: &str,
    severity: &str,
    extra: &[(&str, &str)],
    summary: &str,
    description: &str,
) -> Rule {
    let mut labels = vec![("severity".to_owned(), severity.to_owned())];
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Rule {
        record: None,
        alert: Some(name.to_owned()),
        expr,
        for_: Some(for_.to_owned()),
        labels,
        annotations: vec![
            ("summary".to_owned(), summary.to_owned()),
            ("description".to_owned(), description.to_owned()),
        ],
    }
}

/// The SLI histogram for `version` (the newest when unknown).
fn sli_metric(version: Option<KubeVersion>) -> &'static str {
    match version.map(|v| v.minor) {
        Some(minor) if minor < 23 => "apiserver_request_duration_seconds",
        Some(minor) if minor < 26 => "apiserver_request_slo_duration_seconds",
        _ => "apiserver_request_sli_duration_seconds",
    }
}

/// Watch events per second one server may send before the storm alert fires: the warning
/// threshold of the watch-events-per-server panel.
fn watch_events_threshold() -> f64 {
    catalog()
        .panel("watch-events-per-server")
        .and_then(|p| p.thresholds.first())
        .map_or(100_000.0, |t| t.value)
}

const READ: &str = r#"verb=~"LIST|GET""#;
const WRITE: &str = r#"verb=~"POST|PUT|PATCH|DELETE""#;
const NON_STREAMING: &str = r#"subresource!~"proxy|attach|log|exec|portforward""#;

fn burnrate(sel: &str, sli: &str, read: bool, window: &str) -> String {
    let s = if sel.is_empty() {
        String::new()
    } else {
        format!("{sel},")
    };
    if read {
        format!(
            "(\n  (\n    sum by (cluster) (rate({sli}_count{{{s}{READ},{NON_STREAMING}}}[{window}]))\n    -\n    (\n      (sum by (cluster) (rate({sli}_bucket{{{s}{READ},{NON_STREAMING},scope=~\"resource|\",le=~\"1(\\\\.0)?\"}}[{window}])) or vector(0))\n      +\n      (sum by (cluster) (rate({sli}_bucket{{{s}{READ},{NON_STREAMING},scope=~\"namespace|cluster\",le=~\"30(\\\\.0)?\"}}[{window}])) or vector(0))\n    )\n  )\n  +\n  (sum by (cluster) (rate(apiserver_request_total{{{s}{READ},code=~\"5..\"}}[{window}])) or vector(0))\n)\n/\nsum by (cluster) (rate(apiserver_request_total{{{s}{READ}}}[{window}]))"
        )
    } else {
        format!(
            "(\n  (\n    sum by (cluster) (rate({sli}_count{{{s}{WRITE},{NON_STREAMING}}}[{window}]))\n    -\n    (sum by (cluster) (rate({sli}_bucket{{{s}{WRITE},{NON_STREAMING},le=~\"1(\\\\.0)?\"}}[{window}])) or vector(0))\n  )\n  +\n  (sum by (cluster) (rate(apiserver_request_total{{{s}{WRITE},code=~\"5..\"}}[{window}])) or vector(0))\n)\n/\nsum by (cluster) (rate(apiserver_request_total{{{s}{WRITE}}}[{window}]))"
        )
    }
}

/// A catalog query rendered for rules: the chosen alternative, or all of them joined.
fn panel_expr(panel: &str, query: &str, opts: &RulesOpts, window: &str) -> String {
    let render = RenderOpts::new(&opts.selector, window, window);
    let query = catalog()
        .panel(panel)
        .and_then(|p| p.queries.iter().find(|q| q.id == query))
        .unwrap_or_else(|| panic!("catalog has panel {panel} query {query}"));
    match opts.version {
        Some(v) => query
            .for_version(v)
            .map(|alt| alt.render(&render))
            .unwrap_or_else(|| "vector(0) == 1".to_owned()),
        None => crate::panel::render_with(&query.combined_template(), &render),
    }
}

/// Every rule group. The SLO follows the sig-scalability definition (1 s for single objects, 30 s for
/// namespace and cluster LISTs, 5xx as errors, 99 % over 30 days) with kubernetes-mixin's
/// multi-window, multi-burn-rate alerts.
pub fn rule_groups(opts: &RulesOpts) -> Vec<RuleGroup> {
    let sel = opts.selector.as_str();
    let s = if sel.is_empty() {
        String::new()
    } else {
        format!("{sel}, ")
    };
    let sli = sli_metric(opts.version);
    let windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"];
    let mut burn = Vec::new();
    for read in [true, false] {
        for window in windows {
            burn.push(record(
                &format!("apilens:apiserver_request:burnrate{window}"),
                burnrate(sel, sli, read, window),
                &[("verb", if read { "read" } else { "write" })],
            ));
        }
    }
    let budget = |long: &str, short: &str, factor: &str, for_: &str, severity: &str| {
        alert(
            "ApilensAPIErrorBudgetBurn",
            format!(
                "sum by (cluster) (apilens:apiserver_request:burnrate{long}) > ({factor} * 0.01000)\nand on (cluster)\nsum by (cluster) (apilens:apiserver_request:burnrate{short}) > ({factor} * 0.01000)"
            ),
            for_,
            severity,
            &[("long", long), ("short", short)],
            "The API server is burning its error budget too fast.",
            "Requests slower than the SLO (1 s single object, 30 s LIST) or failing with 5xx consume the 1 % monthly budget; see apilens panels slo-view and slowest-calls.",
        )
    };
    let slo_alerts = vec![
        budget("1h", "5m", "14.40", "2m", "critical"),
        budget("6h", "30m", "6.00", "15m", "critical"),
        budget("1d", "2h", "3.00", "1h", "warning"),
        budget("3d", "6h", "1.00", "3h", "warning"),
    ];
    let apf = vec![
        record(
            "apilens:apiserver_flowcontrol_priority_level_utilisation:percent",
            panel_expr("apf-priority-level-utilisation", "utilisation", opts, "5m"),
            &[],
        ),
        alert(
            "ApilensAPFPriorityLevelSaturated",
            "max by (cluster, instance, priority_level) (apilens:apiserver_flowcontrol_priority_level_utilisation:percent) >= 90".to_owned(),
            "15m",
            "warning",
            &[],
            "APF priority level {{ $labels.priority_level }} on {{ $labels.instance }} uses {{ $value | humanize }}% of its seats.",
            "Requests of this level queue and then get 429. See apilens panels apf-top-flows and apf-queue-wait.",
        ),
        alert(
            "ApilensAPFRejections",
            format!("sum by (cluster, priority_level, flow_schema, reason) (rate(apiserver_flowcontrol_rejected_requests_total{{{s}reason!=\"cancelled\"}}[5m])) > 0"),
            "5m",
            "warning",
            &[],
            "APF rejects requests of flow schema {{ $labels.flow_schema }} ({{ $labels.reason }}).",
            "Clients of priority level {{ $labels.priority_level }} receive 429 Too Many Requests.",
        ),
        alert(
            "ApilensThrottled429",
            format!("sum by (cluster) (rate(apiserver_request_total{{{s}code=\"429\"}}[5m])) / sum by (cluster) (rate(apiserver_request_total{{{sel}}}[5m])) > 0.01"),
            "10m",
            "warning",
            &[],
            "More than 1% of API requests are throttled with 429.",
            "See apilens panels throttled-429 and apf-rejections.",
        ),
        alert(
            "ApilensTerminatedRequests",
            format!("sum by (cluster) (rate(apiserver_request_terminations_total{{{sel}}}[10m])) / (sum by (cluster) (rate(apiserver_request_total{{{sel}}}[10m])) + sum by (cluster) (rate(apiserver_request_terminations_total{{{sel}}}[10m]))) > 0.20"),
            "5m",
            "warning",
            &[],
            "The API server terminated {{ $value | humanizePercentage }} of its requests.",
            "Requests are dropped in self-defence; see the terminations panel.",
        ),
    ];
    let etcd = vec![
        record(
            "apilens:etcd_request_duration_seconds:p99_5m",
            format!(
                "histogram_quantile(0.99, sum by (cluster, operation, le) (rate(etcd_request_duration_seconds_bucket{{{sel}}}[5m])))"
            ),
            &[],
        ),
        alert(
            "ApilensEtcdRequestLatencyHigh",
            "apilens:etcd_request_duration_seconds:p99_5m > 1".to_owned(),
            "10m",
            "warning",
            &[],
            "etcd {{ $labels.operation }} p99 is {{ $value | humanizeDuration }} as the API server sees it.",
            "Slow etcd slows every uncached request; check etcd disk (WAL fsync) and database size.",
        ),
        record(
            "apilens:apiserver_etcd_latency_share:percent",
            panel_expr("etcd-share-of-latency", "all", opts, "5m"),
            &[],
        ),
    ];
    // WATCHes: apiserver_longrunning_gauge up to 1.22, apiserver_longrunning_requests from 1.23;
    // both joined when the release is not known.
    let watches = |by: &str| {
        let sum = |metric: &str| format!("sum by ({by}) ({metric}{{{s}verb=\"WATCH\"}})");
        match opts.version {
            Some(v) if v.minor < 23 => sum("apiserver_longrunning_gauge"),
            Some(_) => sum("apiserver_longrunning_requests"),
            None => format!(
                "{} or {}",
                sum("apiserver_longrunning_requests"),
                sum("apiserver_longrunning_gauge")
            ),
        }
    };
    // Nodes stored: apiserver_resource_objects from 1.34, apiserver_storage_objects 1.21-1.33,
    // etcd_object_counts up to 1.20.
    let nodes = {
        let max = |metric: &str| format!("max by (cluster) ({metric}{{{s}resource=\"nodes\"}})");
        match opts.version.map(|v| v.minor) {
            Some(minor) if minor < 21 => max("etcd_object_counts"),
            Some(minor) if minor < 34 => max("apiserver_storage_objects"),
            Some(_) => max("apiserver_resource_objects"),
            None => format!(
                "{} or {} or {}",
                max("apiserver_resource_objects"),
                max("apiserver_storage_objects"),
                max("etcd_object_counts")
            ),
        }
    };
    let replicas = format!(
        "count by (cluster) (group by (cluster, instance) (apiserver_current_inflight_requests{{{sel}}}))"
    );
    // Each replica against the mean of its own cluster's replicas (the dashboard panel is scoped
    // to one cluster; a rule sees them all).
    let per_replica = watches("cluster, instance");
    let imbalance = format!(
        "({per_replica}) / on (cluster) group_left () avg by (cluster) ({per_replica}) > 2"
    );
    let storms = vec![
        record(
            "apilens:apiserver_watches:sum",
            watches("cluster, group, resource"),
            &[],
        ),
        record(
            "apilens:apiserver_watches_per_server:sum",
            per_replica.clone(),
            &[],
        ),
        record(
            "apilens:apiserver_watches_per_server:warning",
            format!(
                "clamp_min({} * ({nodes}) / ({replicas}), {})",
                WATCHES_PER_NODE[0], WATCHES_PER_SERVER_FLOOR[0]
            ),
            &[],
        ),
        record(
            "apilens:apiserver_watch_events_per_server:rate5m",
            format!("sum by (cluster, instance) (rate(apiserver_watch_events_total{{{sel}}}[5m]))"),
            &[],
        ),
        alert(
            "ApilensWatchStorm",
            format!(
                "(apilens:apiserver_watches:sum > 2 * (apilens:apiserver_watches:sum offset 30m) and apilens:apiserver_watches:sum > 100)\nor\n(apilens:apiserver_watches_per_server:sum > on (cluster) group_left () apilens:apiserver_watches_per_server:warning)\nor\n(apilens:apiserver_watch_events_per_server:rate5m > {})",
                watch_events_threshold()
            ),
            "10m",
            "warning",
            &[],
            "WATCH storm on {{ $labels.cluster }} {{ $labels.instance }}{{ $labels.resource }} ({{ $value | humanize }}).",
            "WATCHes more than doubled in 30 minutes (value: watches of the resource), one server holds more than the cluster's nodes call for (value: its watches), or it sends more watch events per second than a server can afford (value: events/s). Usually a DaemonSet watching whole collections from every node, or a reconnect loop; the audit log names the user agent. See apilens panels watches-per-server and watch-events-per-server.",
        ),
        record(
            "apilens:apiserver_list_objects_from_etcd:rate5m",
            format!(
                "sum by (cluster, resource) (rate(apiserver_storage_list_returned_objects_total{{{sel}}}[5m]))"
            ),
            &[],
        ),
        alert(
            "ApilensListStorm",
            "apilens:apiserver_list_objects_from_etcd:rate5m > 10000".to_owned(),
            "10m",
            "warning",
            &[],
            "LISTs read {{ $value | humanize }} {{ $labels.resource }} objects per second from etcd.",
            "Repeated unpaginated LISTs; paginate or use informers. See apilens panels list-objects-returned and lists-cache-vs-etcd.",
        ),
        alert(
            "ApilensReplicaImbalance",
            imbalance,
            "30m",
            "info",
            &[],
            "API server {{ $labels.instance }} holds {{ $value | humanize }}x the mean number of WATCHes.",
            "Long-lived connections stick to one replica after restarts.",
        ),
    ];
    vec![
        RuleGroup {
            name: "apilens-apiserver-burnrate".to_owned(),
            rules: burn,
        },
        RuleGroup {
            name: "apilens-apiserver-slos".to_owned(),
            rules: slo_alerts,
        },
        RuleGroup {
            name: "apilens-apiserver-apf".to_owned(),
            rules: apf,
        },
        RuleGroup {
            name: "apilens-apiserver-etcd".to_owned(),
            rules: etcd,
        },
        RuleGroup {
            name: "apilens-apiserver-storms".to_owned(),
            rules: storms,
        },
    ]
}

/// The rule groups as a Prometheus rule file (YAML). Strings are written JSON-quoted, which YAML
/// reads as double-quoted scalars, so no expression needs escaping by hand.
pub fn rules_yaml(opts: &RulesOpts) -> String {
    let q = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let mut out = String::from(
        "# Generated by `apilens rules export` from the apilens panel catalog.\ngroups:\n",
    );
    for group in rule_groups(opts) {
        let _ = writeln!(out, "  - name: {}\n    rules:", q(&group.name));
        for rule in &group.rules {
            match (&rule.record, &rule.alert) {
                (Some(name), _) => {
                    let _ = writeln!(out, "      - record: {}", q(name));
                }
                (None, Some(name)) => {
                    let _ = writeln!(out, "      - alert: {}", q(name));
                }
                (None, None) => continue,
            }
            let _ = writeln!(out, "        expr: {}", q(&rule.expr));
            if let Some(for_) = &rule.for_ {
                let _ = writeln!(out, "        for: {for_}");
            }
            if !rule.labels.is_empty() {
                out.push_str("        labels:\n");
                for (k, v) in &rule.labels {
                    let _ = writeln!(out, "          {k}: {}", q(v));
                }
            }
            if !rule.annotations.is_empty() {
                out.push_str("        annotations:\n");
                for (k, v) in &rule.annotations {
                    let _ = writeln!(out, "          {k}: {}", q(v));
                }
            }
        }
    }
    out
}
