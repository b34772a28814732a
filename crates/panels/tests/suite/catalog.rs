//! The catalog's own invariants: coverage, ids, ranges, and every PromQL string parsing.

use apilens_panels::{RenderOpts, Row, Visualisation, catalog, expr_facts};
use std::collections::BTreeSet;

fn renders() -> Vec<RenderOpts> {
    vec![
        RenderOpts::new("", "5m", "1h"),
        RenderOpts::new(r#"job="apiserver""#, "1m", "30m"),
        // Grafana's variables, with its interval macros replaced as Grafana does before sending.
        RenderOpts::new(
            r#"job=~"$job", cluster=~"$cluster", instance=~"$instance""#,
            "2m",
            "6h",
        ),
    ]
}

#[test]
fn every_promql_string_parses() {
    let mut n = 0;
    for panel in catalog().panels() {
        for query in &panel.queries {
            let mut templates: Vec<String> = query
                .alternatives
                .iter()
                .map(|a| a.template.clone())
                .collect();
            templates.push(query.combined_template());
            for template in templates {
                for opts in renders() {
                    let alt = apilens_panels::Alternative {
                        since: 16,
                        until: None,
                        template: template.clone(),
                        labels: vec![],
                    };
                    let promql = alt.render(&opts);
                    assert!(
                        !promql.contains("${"),
                        "{}/{}: placeholder left in {promql}",
                        panel.id,
                        query.id
                    );
                    if let Err(e) = promql_parser::parser::parse(&promql) {
                        panic!("{}/{}: {e}\n{promql}", panel.id, query.id);
                    }
                    n += 1;
                }
            }
        }
    }
    assert!(n > 200, "{n}");
}

#[test]
fn the_catalog_covers_the_troubleshooting_questions() {
    let ids: BTreeSet<&str> = catalog().panels().iter().map(|p| p.id.as_str()).collect();
    for required in [
        "inflight-vs-limit",
        "apf-seats-vs-pool",
        "watches-per-server",
        "watches-by-resource",
        "apf-priority-level-utilisation",
        "apf-queue-wait",
        "apf-top-flows",
        "apf-execution-time",
        "apf-rejections",
        "apf-queue-length",
        "slowest-calls",
        "slo-view",
        "heatmap-reads",
        "heatmap-writes",
        "request-rate",
        "error-ratio",
        "throttled-429",
        "terminations",
        "etcd-latency-by-operation",
        "etcd-share-of-latency",
        "object-counts",
        "etcd-db-size",
        "list-response-sizes",
        "admission-webhook-latency",
        "replica-imbalance",
        // What the reference dashboards have and an engineer looks for beside the requests.
        "apiserver-memory",
        "apiserver-cpu",
        "apiserver-goroutines",
        "apiserver-restarts",
        "apiserver-workqueue-depth",
        "apiserver-workqueue-latency",
        "apiserver-client-errors",
        "etcd-disk-latency",
        "etcd-leader-and-proposals",
        "etcd-db-vs-quota",
        "aggregated-apis-unavailable",
        "deprecated-apis",
        "admission-webhook-failures",
        "apf-queue-wait-by-flow",
        "apf-enqueue-rate",
        "watch-events-per-server",
    ] {
        assert!(ids.contains(required), "missing panel {required}");
    }
    for row in Row::ALL {
        assert!(catalog().row(row).count() > 0, "{row:?} is empty");
    }
    for vis in [
        Visualisation::Timeseries,
        Visualisation::Heatmap,
        Visualisation::Table,
        Visualisation::Bargauge,
    ] {
        assert!(
            catalog().panels().iter().any(|p| p.visualisation == vis),
            "{vis:?} unused"
        );
    }
}

#[test]
fn ids_are_unique_and_references_resolve() {
    let mut seen = BTreeSet::new();
    for panel in catalog().panels() {
        assert!(seen.insert(panel.id.clone()), "duplicate id {}", panel.id);
        assert!(!panel.question.is_empty(), "{} has no question", panel.id);
        assert!(
            panel.question.ends_with('?'),
            "{}: a question ends with '?'",
            panel.id
        );
        let mut query_ids = BTreeSet::new();
        for q in &panel.queries {
            assert!(
                query_ids.insert(q.id.clone()),
                "{}: duplicate query {}",
                panel.id,
                q.id
            );
        }
        for related in &panel.drilldown.related {
            assert!(
                catalog().panel(related).is_some(),
                "{} refers to unknown panel {related}",
                panel.id
            );
        }
        if let Some(table) = &panel.table {
            assert!(
                query_ids.contains(&table.sort_by),
                "{}: sorts by unknown query",
                panel.id
            );
        }
        assert_eq!(
            panel.table.is_some(),
            panel.visualisation == Visualisation::Table,
            "{}",
            panel.id
        );
        let thresholds: Vec<f64> = panel.thresholds.iter().map(|t| t.value).collect();
        assert!(
            thresholds.windows(2).all(|w| w[0] < w[1]),
            "{}: thresholds not ascending",
            panel.id
        );
    }
    assert!(catalog().get("no-such-panel").is_err());
    assert_eq!(
        catalog().get("no-such-panel").unwrap_err().to_string(),
        r#"no panel with id "no-such-panel""#
    );
}

#[test]
fn alternatives_are_newest_first_and_do_not_overlap() {
    for panel in catalog().panels() {
        for query in &panel.queries {
            let alts = &query.alternatives;
            assert!(!alts.is_empty(), "{}/{}", panel.id, query.id);
            assert!(
                alts[0].until.is_none(),
                "{}/{}: the newest alternative must be open-ended",
                panel.id,
                query.id
            );
            for pair in alts.windows(2) {
                let older_until = pair[1]
                    .until
                    .expect("only the newest alternative is open-ended");
                assert_eq!(
                    older_until + 1,
                    pair[0].since,
                    "{}/{}: gap or overlap",
                    panel.id,
                    query.id
                );
            }
        }
    }
}

#[test]
fn the_guide_errors_are_fixed() {
    // Slowest calls include LIST (the reference recording rule dropped it).
    let slowest = catalog().panel("slowest-calls").unwrap();
    for q in &slowest.queries {
        let facts =
            expr_facts(&q.alternatives[0].render(&RenderOpts::new("", "5m", "1h"))).unwrap();
        assert!(
            facts
                .metrics
                .iter()
                .all(|m| m.starts_with("apiserver_request_duration_seconds"))
        );
        assert!(
            !q.alternatives[0]
                .template
                .replace("WATCHLIST", "")
                .contains("LIST"),
            "LIST must not be filtered out"
        );
    }
    // No panel uses a metric that is gone on every supported release.
    for panel in catalog().panels() {
        for query in &panel.queries {
            for alt in &query.alternatives {
                assert!(
                    !alt.template.contains("apiserver_registered_watchers"),
                    "{}",
                    panel.id
                );
                // The reference troubleshooter read the API server's own outgoing requests as
                // its clients' errors: only the panel that says what they are reads them.
                assert!(
                    !alt.template.contains("rest_client_requests_total")
                        || panel.id == "apiserver-client-errors",
                    "{}",
                    panel.id
                );
            }
        }
    }
    // The in-flight panel draws the 400/200 limits.
    let inflight = catalog().panel("inflight-vs-limit").unwrap();
    let limits: Vec<f64> = inflight.limits.iter().map(|l| l.value).collect();
    assert_eq!(limits, [400.0, 200.0]);
}
