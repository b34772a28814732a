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
    assert_eq!(vars, ["datasource", "job", "cluster", "instance"]);
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
            version: Some(KubeVersion::new(1, 31)),
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
        Some(KubeVersion::new(1, 24)),
        Some(KubeVersion::new(1, 31)),
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
                version: Some(KubeVersion::new(1, 24)),
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
