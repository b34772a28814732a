//! `apilens apf` end to end on the real fixtures: match, capacity and dump, their JSON, help
//! examples, and bad input (exit 2 with a message naming the input, never a panic).

use std::path::PathBuf;
use std::process::Command;

fn apilens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

fn fixture(dir: &str, name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real")
        .join(dir)
        .join(name)
        .display()
        .to_string()
}

fn ok(args: &[&str]) -> String {
    let out = apilens(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with exit 2 and returns its stderr.
fn fails(args: &[&str]) -> String {
    let out = apilens(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn match_names_schema_level_flow_and_why() {
    let text = ok(&[
        "apf",
        "match",
        "--user",
        "system:serviceaccount:logging:agent",
        "--verb",
        "list",
        "--resource",
        "pods",
        "--kubernetes-version",
        "1.34",
    ]);
    assert!(
        text.contains("FlowSchema          service-accounts (matching precedence 9000)"),
        "{text}"
    );
    assert!(text.contains("Priority level      workload-low"), "{text}");
    assert!(
        text.contains("Flow                system:serviceaccount:logging:agent (ByUser)"),
        "{text}"
    );
    assert!(
        text.contains("group system:serviceaccounts (implicit), list pods (cluster scope)"),
        "{text}"
    );
    assert!(text.contains("245 nominal seats per replica"), "{text}");

    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "apf",
        "match",
        "--user",
        "system:node:n1",
        "--group",
        "system:nodes",
        "--verb",
        "update",
        "--resource",
        "leases",
        "--api-group",
        "coordination.k8s.io",
        "--namespace",
        "kube-node-lease",
        "--name",
        "n1",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["classification"]["flow_schema"], "system-node-high");
    assert_eq!(json["classification"]["priority_level"], "node-high");
    assert_eq!(json["classification"]["distinguisher"], "system:node:n1");
    assert_eq!(json["distinguisher_method"], "ByUser");
    assert_eq!(json["level"]["nominal"], 98);
    assert_eq!(json["queue_wait_limit_s"], 15.0);

    // Probes are exempt from 1.22; before, anonymous requests take global-default.
    let text = ok(&[
        "apf",
        "match",
        "--user",
        "system:anonymous",
        "--verb",
        "get",
        "--path",
        "/readyz",
        "--kubernetes-version",
        "1.22",
    ]);
    assert!(text.contains("FlowSchema          probes"), "{text}");
    assert!(text.contains("exempt: never queued nor rejected"), "{text}");
    let text = ok(&[
        "apf",
        "match",
        "--user",
        "system:anonymous",
        "--verb",
        "get",
        "--path",
        "/readyz",
        "--kubernetes-version",
        "1.21",
    ]);
    assert!(
        text.contains("FlowSchema          global-default"),
        "{text}"
    );
    assert!(text.contains("(fixed)"), "{text}");
}

#[test]
fn match_with_a_clusters_objects() {
    let text = ok(&[
        "apf",
        "match",
        "--user",
        "system:serviceaccount:openshift-kube-apiserver-operator:kube-apiserver-operator",
        "--verb",
        "get",
        "--resource",
        "configmaps",
        "--namespace",
        "openshift-kube-apiserver",
        "--apf-config",
        &fixture(
            "apf",
            "openshift-cluster-kube-apiserver-operator-flowschema.yaml",
        ),
        "--kubernetes-version",
        "1.31",
    ]);
    assert!(
        text.contains(
            "FlowSchema          openshift-kube-apiserver-operator (matching precedence 2000)"
        ),
        "{text}"
    );
    assert!(
        text.contains("Priority level      openshift-control-plane-operators"),
        "{text}"
    );
    // A schema whose level is missing dangles: noted, never matched.
    let text = ok(&[
        "apf",
        "match",
        "--user",
        "system:serviceaccount:openshift-authentication-operator:authentication-operator",
        "--verb",
        "get",
        "--resource",
        "secrets",
        "--namespace",
        "x",
        "--apf-config",
        &fixture(
            "apf",
            "openshift-cluster-authentication-operator-flowschema.yaml",
        ),
    ]);
    assert!(
        text.contains("note: FlowSchema/openshift-authentication-operator: dangling"),
        "{text}"
    );
    assert!(
        text.contains("FlowSchema          service-accounts"),
        "{text}"
    );
}

#[test]
fn capacity_tables_and_the_inferred_server_limit() {
    let text = ok(&[
        "apf",
        "capacity",
        "--kubernetes-version",
        "1.32",
        "--replicas",
        "3",
    ]);
    assert!(text.starts_with("Kubernetes 1.32: server concurrency limit 600 per replica (default (400 + 200)), 3 replica(s), queue wait limit 15 s"), "{text}");
    let low = text
        .lines()
        .find(|l| l.starts_with("workload-low"))
        .unwrap();
    let cells: Vec<&str> = low.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "workload-low",
            "queue",
            "100",
            "245",
            "221",
            "600",
            "24",
            "845",
            "10",
            "128",
            "6",
            "50",
            "735"
        ]
    );

    let text = ok(&[
        "apf",
        "capacity",
        "--max-requests-inflight",
        "800",
        "--max-mutating-requests-inflight",
        "400",
        "--kubernetes-version",
        "1.34",
    ]);
    assert!(text.contains("server concurrency limit 1200 per replica (--max-requests-inflight + --max-mutating-requests-inflight)"), "{text}");

    let scrape = fixture(
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.32.0-minikube.txt",
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "apf",
        "capacity",
        "--metrics",
        &scrape,
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["kubernetes_version"], "1.32.0");
    assert_eq!(json["server_concurrency_limit"], 600);
    assert!(
        json["server_concurrency_limit_source"]
            .as_str()
            .unwrap()
            .starts_with("inferred from")
    );
    let levels = json["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 8);
    assert!(
        levels
            .iter()
            .any(|l| l["name"] == "catch-all" && l["nominal"] == 13 && l["reject"] == true)
    );
    let text = ok(&["apf", "capacity", "--metrics", &scrape]);
    assert!(text.contains("agree with every level above"), "{text}");
}

#[test]
fn every_real_dump_prints() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/apf");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert_eq!(files.len(), 8);
    let mut args = vec!["apf", "dump"];
    args.extend(files.iter().map(String::as_str));
    let text = ok(&args);
    assert_eq!(text.matches("== ").count(), 8, "{text}");
    assert!(text.contains("(dump_priority_levels) =="));
    assert!(text.contains("placeholder row of level exempt"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "apf",
        "dump",
        "--format",
        "json",
        &fixture("apf", "k8s-website-apf-debug-dump_requests-2023.csv"),
    ]))
    .unwrap();
    assert_eq!(json["dump"], "dump_requests");
    assert_eq!(json["rows"][0]["request_index_in_queue"], -1);
    assert_eq!(json["rows"][1]["initial_seats"], 10);
}

#[test]
fn bad_input_is_a_clear_error_or_note() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    // A dump with a column this version does not know: noted, not fatal.
    let future = write(
        "future.txt",
        "PriorityLevelName, ActiveQueues, IsIdle, NewColumn\nexempt, 0, true, 7\n",
    );
    let text = ok(&["apf", "dump", &future]);
    assert!(
        text.contains("note: ") && text.contains("unknown column \"NewColumn\" kept out"),
        "{text}"
    );
    // Not a dump: the file and line.
    let yaml = write(
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    );
    let err = fails(&["apf", "dump", &yaml]);
    assert!(
        err.contains(&format!("error: {yaml}:1: not an APF debug dump")),
        "{err}"
    );
    let empty = write("empty.txt", "");
    let err = fails(&["apf", "dump", &empty]);
    assert!(err.contains(&format!("{empty}:1: empty")), "{err}");
    // YAML that is not APF, an empty file and a malformed object for --apf-config.
    let err = fails(&["apf", "capacity", "--apf-config", &yaml]);
    assert!(err.contains(&format!("{yaml}: document 1 is a apps/v1 Deployment, not a FlowSchema or PriorityLevelConfiguration")), "{err}");
    let err = fails(&["apf", "capacity", "--apf-config", &empty]);
    assert!(
        err.contains(&format!(
            "{empty}: no FlowSchema or PriorityLevelConfiguration found"
        )),
        "{err}"
    );
    let broken = write(
        "broken.yaml",
        "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\nmetadata: {name: x}\nspec: {type: Sometimes}\n",
    );
    let err = fails(&[
        "apf",
        "match",
        "--user",
        "u",
        "--verb",
        "get",
        "--path",
        "/",
        "--apf-config",
        &broken,
    ]);
    assert!(
        err.contains("spec.type is \"Sometimes\", expected Exempt or Limited"),
        "{err}"
    );
    let err = fails(&["apf", "capacity", "--apf-config", "/no/such/file.yaml"]);
    assert!(err.contains("/no/such/file.yaml: cannot read"), "{err}");
    // A scrape without nominal limits, and something that is not a scrape.
    let old = fixture(
        "metrics-apiserver",
        "newrelic-nri-kubernetes-apiserver-1.23.17-minikube.txt",
    );
    let err = fails(&["apf", "capacity", "--metrics", &old]);
    assert!(
        err.contains(
            "no apiserver_flowcontrol_nominal_limit_seats (it exists from Kubernetes 1.26)"
        ),
        "{err}"
    );
    let err = fails(&["apf", "capacity", "--metrics", &yaml]);
    assert!(
        err.contains(&format!("{yaml}: not a Prometheus text scrape")),
        "{err}"
    );
    // Usage errors.
    let err = fails(&["apf", "match", "--user", "u", "--verb", "get"]);
    assert!(
        err.contains("give --resource for a resource request or --path"),
        "{err}"
    );
    let err = fails(&[
        "apf",
        "match",
        "--user",
        "u",
        "--verb",
        "get",
        "--path",
        "/x",
        "--kubernetes-version",
        "latest",
    ]);
    assert!(
        err.contains("invalid kubernetes version \"latest\""),
        "{err}"
    );
    let err = fails(&[
        "apf",
        "capacity",
        "--server-concurrency-limit",
        "600",
        "--max-requests-inflight",
        "400",
        "--max-mutating-requests-inflight",
        "200",
    ]);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn each_help_ends_with_examples() {
    for sub in ["match", "capacity", "dump"] {
        let text = ok(&["apf", sub, "--help"]);
        let tail = text
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub}: no examples\n{text}"));
        let examples = tail
            .lines()
            .filter(|l| l.trim_start().starts_with("apilens apf"))
            .count();
        assert!(
            (2..=3).contains(&examples),
            "{sub}: {examples} examples\n{text}"
        );
    }
}
