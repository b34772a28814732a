//! What `apilens apf` prints, built in apf: the overlay of objects on the defaults, a match
//! explained, the capacity table and the dumps as tables, on the defaults and the real dumps in
//! `../shared/fixtures/real/apf`.

use apilens_apf::{
    ApfConfig, CapacityView, DumpViews, KubeVersion, ObservedSeats, Overlay, RequestDigest,
    ResourceAttributes, explain_match, resource_path,
};
use std::path::PathBuf;

fn v(s: &str) -> KubeVersion {
    KubeVersion::parse(s).unwrap()
}

#[test]
fn resource_paths_follow_the_api_layout() {
    assert_eq!(
        resource_path("", "pods", "shop", "", ""),
        "/api/v1/namespaces/shop/pods"
    );
    assert_eq!(
        resource_path("apps", "deployments", "shop", "web", "scale"),
        "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    );
    // A request on a namespace object itself carries that namespace but no namespace segment.
    assert_eq!(
        resource_path("", "namespaces", "shop", "shop", ""),
        "/api/v1/namespaces/shop"
    );
}

#[test]
fn an_overlay_replaces_defaults_by_name_and_adds_the_others() {
    let version = v("1.32");
    let (plain, notes) = Overlay::new(version).finish();
    assert!(notes.is_empty());
    let defaults = ApfConfig::defaults(version);
    assert_eq!(plain.schemas().len(), defaults.schemas().len());

    let yaml = "\
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata:
  name: logging-agents
spec:
  priorityLevelConfiguration:
    name: workload-low
  matchingPrecedence: 900
  distinguisherMethod:
    type: ByUser
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount:
        name: agent
        namespace: logging
    resourceRules:
    - verbs: ['list']
      apiGroups: ['']
      resources: ['pods']
      clusterScope: true
      namespaces: ['*']
";
    let mut overlay = Overlay::new(version);
    overlay.add(yaml, "extra.yaml").unwrap();
    let (config, _) = overlay.finish();
    assert_eq!(config.schemas().len(), defaults.schemas().len() + 1);
    let groups = vec!["system:serviceaccounts".to_string()];
    let digest = RequestDigest {
        user: "system:serviceaccount:logging:agent",
        groups: &groups,
        verb: "list",
        resource: Some(ResourceAttributes {
            resource: "pods",
            ..Default::default()
        }),
        path: "/api/v1/pods",
    };
    let explained = explain_match(&config, version, &digest);
    let text = explained.text(true, &[]);
    assert!(
        text.starts_with("Kubernetes version  1.32 (default FlowSchemas and --apf-config)\n"),
        "{text}"
    );
    assert!(
        text.contains("FlowSchema          logging-agents (matching precedence 900)\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&explained.json(&[]).unwrap()).unwrap();
    assert_eq!(json["classification"]["flow_schema"], "logging-agents");
    assert_eq!(json["server_concurrency_limit"], 600);

    let bad = Overlay::new(version).add("kind: ConfigMap\napiVersion: v1\n", "cm.yaml");
    assert!(bad.unwrap_err().to_string().starts_with("cm.yaml: "));
}

#[test]
fn the_capacity_table_compares_with_the_observed_seats() {
    let version = v("1.32");
    let config = ApfConfig::defaults(version);
    let capacity = config.capacity(version, 600);
    let global = capacity.level("global-default").unwrap().nominal;
    let observed = vec![("global-default".to_string(), f64::from(global) + 1.0)];
    let view = CapacityView {
        config: &config,
        version,
        capacity: &capacity,
        limit_source: "default (400 + 200)",
        replicas: 3,
        queue_wait_limit_s: 15.0,
        observed: Some(ObservedSeats {
            source: "scrape.txt",
            nominal: &observed,
        }),
        notes: &[],
    };
    let text = view.text();
    assert!(text.starts_with("Kubernetes 1.32: server concurrency limit 600 per replica (default (400 + 200)), 3 replica(s), queue wait limit 15 s\n\n"), "{text}");
    assert!(text.contains("CLUSTER_NOMINAL"), "{text}");
    assert!(
        text.contains(&format!("note: scrape.txt reports different nominal seats: global-default {} (computed {global})", global + 1)),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&view.json().unwrap()).unwrap();
    assert_eq!(json["replicas"], 3);
    assert_eq!(
        json["levels"].as_array().unwrap().len(),
        capacity.levels.len()
    );
}

#[test]
fn real_dumps_read_as_tables_and_json() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/apf");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("csv"))
        .collect();
    names.sort();
    let mut one = DumpViews::new();
    let first = &names[0];
    let name = first.file_name().unwrap().to_string_lossy().to_string();
    one.add(&std::fs::read_to_string(first).unwrap(), &name)
        .unwrap();
    assert!(one.text().starts_with("LEVEL"), "{}", one.text());
    let json: serde_json::Value = serde_json::from_str(&one.json().unwrap()).unwrap();
    assert_eq!(json["file"], name.as_str());

    let mut all = DumpViews::new();
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        all.add(&std::fs::read_to_string(path).unwrap(), &name)
            .unwrap();
    }
    let text = all.text();
    assert_eq!(text.matches("\n== ").count() + 1, names.len(), "{text}");
    let json: serde_json::Value = serde_json::from_str(&all.json().unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), names.len());
    assert!(DumpViews::new().add("not a dump\n", "x.txt").is_err());
}
