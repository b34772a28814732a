//! Grafana dashboard and Prometheus rules exports.

use apilens_panels::{
    GrafanaOpts, KubeVersion, RulesOpts, catalog, grafana_dashboard, rule_groups, rules_yaml,
};
use std::process::Command;

#[test]
fn grafana_dashboard_snapshot() {
    let dashboard = grafana_dashboard(
        catalog(),
        &GrafanaOpts {
            datasource_uid: Some("prometheus".into()),
            version: None,
        },
    );
    insta::assert_json_snapshot!("grafana-dashboard", dashboard);
}

#[test]
fn grafana_dashboard_has_variables_and_valid_queries() {
    let dashboard = grafana_dashboard(catalog(), &GrafanaOpts::default());
    assert_eq!(dashboard["schemaVersion"], 41);
    let vars: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        vars,
        ["datasource", "job", "cluster", "instance", "etcd_job"]
    );
    // etcd's own panels read etcd's job, not the API server's.
    let fsync = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "etcd WAL fsync and backend commit latency (p99)")
        .unwrap();
    let expr = fsync["targets"][0]["expr"].as_str().unwrap();
    assert!(expr.contains(r#"job=~"$etcd_job""#), "{expr}");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut n_targets = 0;
    let mut ids = std::collections::BTreeSet::new();
    for panel in panels {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id"
        );
        let w = panel["gridPos"]["w"].as_u64().unwrap();
        let x = panel["gridPos"]["x"].as_u64().unwrap();
        assert!(x + w <= 24);
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "5m")
                .replace("$__range", "1h");
            promql_parser::parser::parse(&expr)
                .unwrap_or_else(|e| panic!("{}: {e}\n{expr}", panel["title"]));
            n_targets += 1;
        }
    }
    let catalog_panels = catalog().panels().len();
    assert_eq!(
        panels.iter().filter(|p| p["type"] != "row").count(),
        catalog_panels
    );
    assert!(n_targets >= catalog_panels);
    // A version-specific export picks one alternative: no `or` joins of renamed metrics.
    let v131 = grafana_dashboard(
        catalog(),
        &GrafanaOpts {
            datasource_uid: None,
            version: Some(KubeVersion::minor(1, 31)),
        },
    );
    let text: String = v131["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !text.contains("request_concurrency_limit"),
        "hidden from 1.31"
    );
    assert!(text.contains("apiserver_flowcontrol_current_executing_seats"));
}

#[test]
fn every_rule_expression_parses() {
    for version in [
        None,
        Some(KubeVersion::minor(1, 24)),
        Some(KubeVersion::minor(1, 31)),
    ] {
        let opts = RulesOpts {
            version,
            ..RulesOpts::default()
        };
        for group in rule_groups(&opts) {
            for rule in group.rules {
                promql_parser::parser::parse(&rule.expr)
                    .unwrap_or_else(|e| panic!("{}: {e}\n{}", group.name, rule.expr));
            }
        }
    }
}

#[test]
fn a_rules_selector_is_taken_in_braces_or_not_and_checked() {
    for given in [
        r#" {job="apiserver", cluster=~"prod-.*"} "#,
        r#"job="apiserver", cluster=~"prod-.*""#,
    ] {
        let opts = RulesOpts::checked(given, None).expect(given);
        assert_eq!(opts.selector, r#"job="apiserver", cluster=~"prod-.*""#);
    }
    assert_eq!(RulesOpts::checked("{}", None).unwrap().selector, "");
    for bad in ["job", r#"job="a"#, "job=~", "rate(up[5m])"] {
        let err = RulesOpts::checked(bad, None).unwrap_err().to_string();
        assert!(
            err.starts_with("--selector ") && err.contains("is not a list of label matchers"),
            "{err}"
        );
    }
}

/// `promtool check rules` accepts the exported file. The peer is required in CI.
#[test]
fn promtool_accepts_the_rules() {
    let Some(promtool) = find_promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but promtool (Debian package prometheus) is missing"
        );
        eprintln!("note: promtool not found, skipping the rules check");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (name, opts) in [
        ("all.yaml", RulesOpts::default()),
        (
            "v1_24.yaml",
            RulesOpts {
                version: Some(KubeVersion::minor(1, 24)),
                ..RulesOpts::default()
            },
        ),
        (
            "no-selector.yaml",
            RulesOpts {
                selector: String::new(),
                version: None,
            },
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, rules_yaml(&opts)).unwrap();
        let out = Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check rules {name} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("SUCCESS"), "{stdout}");
    }
}

fn find_promtool() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    })
}

/// The WatchStorm alert fires on a storm that is steady (65,000 watches per server on a
/// 5,000-node cluster with 2 servers, as the watch-storm scenario holds them from its start), not
/// only on a doubling, and stays quiet for a healthy 1,000-node cluster. Checked with
/// `promtool test rules`.
///
/// See: issue 16 (watch-storm read OK at 65k watches per server).
#[test]
fn watch_storm_fires_on_a_steady_storm_and_not_on_a_healthy_cluster() {
    let Some(promtool) = find_promtool() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but promtool (Debian package prometheus) is missing"
        );
        eprintln!("note: promtool not found, skipping the rules test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        rules_yaml(&RulesOpts::default()),
    )
    .unwrap();
    let storm = rule_groups(&RulesOpts::default())
        .into_iter()
        .flat_map(|g| g.rules)
        .find(|r| r.alert.as_deref() == Some("ApilensWatchStorm"))
        .unwrap();
    let description = &storm
        .annotations
        .iter()
        .find(|(k, _)| k == "description")
        .unwrap()
        .1;
    let mut series = String::new();
    for (cluster, nodes, watches) in [("storm", 5000, 65000), ("healthy", 1000, 3000)] {
        for instance in ["a", "b"] {
            let labels = format!(r#"job="apiserver",cluster="{cluster}",instance="{instance}""#);
            series.push_str(&format!(
                "      - series: 'apiserver_longrunning_requests{{{labels},verb=\"WATCH\",group=\"\",resource=\"configmaps\",scope=\"cluster\"}}'\n        values: '{watches}x90'\n"
            ));
            series.push_str(&format!(
                "      - series: 'apiserver_current_inflight_requests{{{labels},request_kind=\"readOnly\"}}'\n        values: '5x90'\n"
            ));
            series.push_str(&format!(
                "      - series: 'apiserver_resource_objects{{{labels},group=\"\",resource=\"nodes\"}}'\n        values: '{nodes}x90'\n"
            ));
        }
    }
    let expected: String = ["a", "b"]
        .iter()
        .map(|instance| {
            format!(
                "          - exp_labels: {{severity: warning, cluster: storm, instance: {instance}}}\n            exp_annotations:\n              summary: {}\n              description: {}\n",
                serde_json::to_string(&format!("WATCH storm on storm {instance} (65k).")).unwrap(),
                serde_json::to_string(description).unwrap()
            )
        })
        .collect();
    let test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n      - eval_time: 60m\n        alertname: ApilensWatchStorm\n        exp_alerts:\n{expected}"
    );
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules", "test.yml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}\n{}\n{test}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
