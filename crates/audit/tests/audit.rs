//! Every view checked on the real audit fixtures against counts computed independently here,
//! plus the input forms: wrapped records, gzip by content, long lines, malformed lines, stages.

use apilens_audit::{
    Cell, Filter, FilterSpec, Format, Input, Lists, Report, ScanOpts, Slow, Summary, Throttled,
    Timeline, Top, TopKey, View, Watches, collect_inputs, normalize_user_agent, scan,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/audit")
}

/// Runs a view over paths with the given options.
fn run<V: View, F: Fn() -> V + Sync>(
    paths: &[PathBuf],
    spec: &FilterSpec,
    opts: &ScanOpts,
    make: F,
) -> (Report, Summary) {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::Path(p.clone())).collect();
    let filter = Filter::new(spec).expect("filter");
    let (view, summary) = scan(&inputs, &filter, opts, make).expect("scan");
    (view.finish(&summary), summary)
}

fn check<V: View, F: Fn() -> V + Sync>(paths: &[PathBuf], make: F) -> (Report, Summary) {
    run(
        paths,
        &FilterSpec::default(),
        &ScanOpts {
            threads: 2,
            chunk_bytes: 4096,
            progress: None,
            ..ScanOpts::default()
        },
        make,
    )
}

fn all_fixtures() -> Vec<PathBuf> {
    let inputs =
        collect_inputs(&[fixtures_dir().to_string_lossy().into_owned()]).expect("fixtures dir");
    inputs
        .into_iter()
        .map(|i| match i {
            Input::Path(p) => p,
            other => unreachable!("a directory holds files only: {other:?}"),
        })
        .collect()
}

fn counts(report: &Report) -> BTreeMap<String, u64> {
    report
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.count))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// An independent reading of the fixtures: serde_json::Value, envelopes unwrapped by hand, one
// request per auditID (each final event; else the last event seen).

#[derive(Debug, Clone)]
struct Ev {
    audit_id: String,
    stage: String,
    user: String,
    user_agent: String,
    verb: String,
    uri: String,
    code: Option<u64>,
    namespace: String,
    received: Option<String>,
    stage_ts: Option<String>,
}

fn events_of(v: &Value, out: &mut Vec<Ev>) {
    if let Some(items) = v.get("items").and_then(Value::as_array) {
        items.iter().for_each(|i| events_of(i, out));
    } else if let Some(log) = v.pointer("/properties/log") {
        let inner: Value = match log {
            Value::String(s) => serde_json::from_str(s).expect("AKS log string"),
            other => other.clone(),
        };
        events_of(&inner, out);
    } else if let Some(p) = v.get("protoPayload") {
        let s = |ptr: &str| {
            p.pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        out.push(Ev {
            audit_id: v
                .pointer("/operation/id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            stage: "ResponseComplete".to_owned(),
            user: s("/authenticationInfo/principalEmail"),
            user_agent: s("/requestMetadata/callerSuppliedUserAgent"),
            verb: s("/methodName").rsplit('.').next().unwrap_or("").to_owned(),
            uri: format!("/{}", s("/resourceName")),
            code: p
                .pointer("/status/code")
                .and_then(Value::as_u64)
                .map(|c| if c == 0 { 200 } else { 0 }),
            namespace: String::new(),
            received: v
                .get("timestamp")
                .and_then(Value::as_str)
                .map(str::to_owned),
            stage_ts: None,
        });
    } else if let Some(msg) = v.get("message").and_then(Value::as_str) {
        events_of(&serde_json::from_str(msg).expect("message event"), out);
    } else {
        let s = |ptr: &str| {
            v.pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        out.push(Ev {
            audit_id: s("/auditID"),
            stage: s("/stage"),
            user: s("/user/username"),
            user_agent: s("/userAgent"),
            verb: s("/verb"),
            uri: s("/requestURI"),
            code: v.pointer("/responseStatus/code").and_then(Value::as_u64),
            namespace: s("/objectRef/namespace"),
            received: v
                .get("requestReceivedTimestamp")
                .or(v.get("timestamp"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            stage_ts: v
                .get("stageTimestamp")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
}

fn independent_requests(paths: &[PathBuf]) -> Vec<Ev> {
    let mut all = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).expect("fixture");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            events_of(
                &serde_json::from_str(line).expect("fixture line is JSON"),
                &mut all,
            );
        }
    }
    let is_final = |e: &Ev| matches!(e.stage.as_str(), "ResponseComplete" | "Panic" | "");
    let mut finals: HashMap<String, bool> = HashMap::new();
    for e in &all {
        *finals.entry(e.audit_id.clone()).or_default() |= is_final(e);
    }
    let mut last_nonfinal: HashMap<String, Ev> = HashMap::new();
    let mut out = Vec::new();
    for e in all {
        if is_final(&e) || e.audit_id.is_empty() {
            out.push(e);
        } else if !finals[&e.audit_id] {
            last_nonfinal.insert(e.audit_id.clone(), e);
        }
    }
    out.extend(last_nonfinal.into_values());
    out
}

fn tally(evs: &[Ev], key: impl Fn(&Ev) -> String) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for e in evs {
        *m.entry(key(e)).or_insert(0) += 1;
    }
    m
}

fn micros(ts: &str) -> i64 {
    ts.parse::<jiff::Timestamp>()
        .expect("timestamp")
        .as_microsecond()
}

// ---------------------------------------------------------------------------------------------
// top

#[test]
fn top_by_user_verb_code_matches_independent_counts() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    // 51 native events (`for f in *; do jq -c 'select(.stage!=null)' $f; done | wc -l`), 2 AKS
    // records and 1 GKE entry: 54 requests.
    assert_eq!(expected.len(), 54);
    for (key, f) in [
        (
            TopKey::User,
            Box::new(|e: &Ev| e.user.clone()) as Box<dyn Fn(&Ev) -> String>,
        ),
        (TopKey::Verb, Box::new(|e: &Ev| e.verb.clone())),
        (
            TopKey::Code,
            Box::new(|e: &Ev| e.code.map(|c| c.to_string()).unwrap_or_default()),
        ),
        (TopKey::Namespace, Box::new(|e: &Ev| e.namespace.clone())),
        (
            TopKey::UserAgent,
            Box::new(|e: &Ev| normalize_user_agent(&e.user_agent)),
        ),
    ] {
        let (report, summary) = check(&paths, || Top::new(&[key], 1000, 10_000));
        assert_eq!(summary.events, 54, "{key:?}");
        assert_eq!(
            summary.malformed.count, 0,
            "{:?}",
            summary.malformed.examples
        );
        assert_eq!(counts(&report), tally(&expected, f), "{key:?}");
        assert!(!report.approximate);
    }
}

#[test]
fn top_by_user_hand_checked_figures() {
    // jq -r 'select(.stage != null) | .user.username' liggitt-audit2rbac-demo.log | sort | uniq -c
    //   37 system:admin
    let (report, _) = check(
        &[fixtures_dir().join("liggitt-audit2rbac-demo.log")],
        || Top::new(&[TopKey::User, TopKey::Verb], 10, 100),
    );
    let c = counts(&report);
    // jq -r '.verb' liggitt-audit2rbac-demo.log | sort | uniq -c  ->  23 get, 14 list
    assert_eq!(c.get("system:admin | get"), Some(&23));
    assert_eq!(c.get("system:admin | list"), Some(&14));
    let row = report.row("system:admin | list").unwrap();
    // jq 'select(.verb=="list" and .responseStatus.code>=400)' liggitt-audit2rbac-demo.log | grep -c auditID -> 11
    assert_eq!(report.cell(row, "errors"), Some(&Cell::Int(11)));
    // The 2017 events have only `timestamp`: no latency, so no quantiles.
    assert_eq!(report.cell(row, "p50_ms"), Some(&Cell::Empty));
    let share = match report.cell(row, "share_pct") {
        Some(Cell::Float(v, _)) => *v,
        other => panic!("share {other:?}"),
    };
    assert!((share - 100.0 * 14.0 / 37.0).abs() < 1e-9);
}

#[test]
fn top_latency_quantiles_match_exact_ranks() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    let (report, _) = check(&paths, || Top::new(&[TopKey::User], 1000, 10_000));
    let mut lat: HashMap<String, Vec<f64>> = HashMap::new();
    for e in &expected {
        let long_running =
            e.verb == "watch" || e.stage == "ResponseStarted" || e.uri.contains("/exec");
        if let (Some(a), Some(b), false) = (&e.received, &e.stage_ts, long_running) {
            lat.entry(e.user.clone())
                .or_default()
                .push((micros(b) - micros(a)) as f64 / 1000.0);
        }
    }
    assert!(!lat.is_empty());
    for (user, mut v) in lat {
        v.sort_by(f64::total_cmp);
        let row = report
            .row(&user)
            .unwrap_or_else(|| panic!("row for {user}"));
        for (q, col) in [(0.5, "p50_ms"), (0.99, "p99_ms")] {
            let exact = v[(q * (v.len() as f64 - 1.0)) as usize];
            let Some(Cell::Float(got, _)) = report.cell(row, col) else {
                panic!("{user} {col}")
            };
            assert!(
                (got - exact).abs() <= exact * 0.02 + 0.001,
                "{user} {col}: {got} vs {exact}"
            );
        }
    }
}

#[test]
fn top_by_client_strips_versions() {
    let (report, _) = check(&all_fixtures(), || {
        Top::new(&[TopKey::Client], 1000, 10_000)
    });
    let c = counts(&report);
    // jq -r '.userAgent' falco-k8s_audit-create_service_account_token_secret.json
    assert_eq!(
        c.get("kube-controller-manager/tokens-controller (system:kube-controller-manager)"),
        Some(&1)
    );
    // The AKS 1.14 record: hyperkube with the controller's service account as suffix.
    assert_eq!(
        c.get("hyperkube/system:serviceaccount:kube-system:resourcequota-controller (system:serviceaccount:kube-system:resourcequota-controller)"),
        Some(&1)
    );
    // GKE entry: principalEmail + callerSuppliedUserAgent.
    assert_eq!(
        c.get("gke-master-healthcheck (system:gke-master-healthcheck)"),
        Some(&1)
    );
}

#[test]
fn filters_prefix_negation_and_time() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    let spec = FilterSpec {
        user: vec!["system:*".into(), "-system:admin".into()],
        ..FilterSpec::default()
    };
    let (report, summary) = run(&paths, &spec, &ScanOpts::default(), || {
        Top::new(&[TopKey::User], 100, 100)
    });
    let want: u64 = expected
        .iter()
        .filter(|e| e.user.starts_with("system:") && e.user != "system:admin")
        .count() as u64;
    assert_eq!(summary.events, want);
    assert_eq!(summary.filtered_out, expected.len() as u64 - want);
    assert!(report.row("system:admin").is_none());

    let spec = FilterSpec {
        verb: vec!["list".into()],
        code: vec!["4*".into()],
        ..FilterSpec::default()
    };
    let (_, summary) = run(&paths, &spec, &ScanOpts::default(), || {
        Top::new(&[TopKey::User], 100, 100)
    });
    let want = expected
        .iter()
        .filter(|e| e.verb == "list" && e.code.is_some_and(|c| (400..500).contains(&c)))
        .count() as u64;
    assert_eq!(summary.events, want);

    let spec = FilterSpec {
        since: Some("2020-01-01T00:00:00Z".into()),
        until: Some("2025-01-01T00:00:00Z".into()),
        ..FilterSpec::default()
    };
    let (_, summary) = run(&paths, &spec, &ScanOpts::default(), || {
        Top::new(&[TopKey::User], 100, 100)
    });
    let (lo, hi) = (
        micros("2020-01-01T00:00:00Z"),
        micros("2025-01-01T00:00:00Z"),
    );
    let want = expected
        .iter()
        .filter(|e| {
            e.received
                .as_deref()
                .is_some_and(|t| (lo..hi).contains(&micros(t)))
        })
        .count() as u64;
    assert_eq!(summary.events, want);

    let spec = FilterSpec {
        resource: vec!["leases".into()],
        namespace: vec!["kube-system".into()],
        ..FilterSpec::default()
    };
    let (_, summary) = run(&paths, &spec, &ScanOpts::default(), || {
        Top::new(&[TopKey::User], 100, 100)
    });
    // Two native lease GETs and the AKS lease update of the elastic sample.
    assert_eq!(summary.events, 3);
}

// ---------------------------------------------------------------------------------------------
// lists

#[test]
fn lists_on_fixtures_match_independent_shapes() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    let (report, _) = check(&paths, || Lists::new(None, 1000, 10_000));
    let mut want: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for e in expected.iter().filter(|e| e.verb == "list") {
        let path = e.uri.split('?').next().unwrap();
        let scope = if path.contains("/namespaces/") {
            "namespace"
        } else {
            "cluster"
        };
        let paging = if e.uri.contains("limit=") {
            "limit"
        } else {
            "unbounded"
        };
        let resource = path.rsplit('/').next().unwrap().to_owned();
        *want
            .entry((resource, scope.to_owned(), paging.to_owned()))
            .or_insert(0) += 1;
    }
    let mut got: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for row in &report.rows {
        let text = |c: &str| match report.cell(row, c) {
            Some(Cell::Text(t)) => t.clone(),
            other => panic!("{c}: {other:?}"),
        };
        let scope = text("scope").split(' ').next().unwrap().to_owned();
        *got.entry((text("resource"), scope, text("paging")))
            .or_insert(0) += row.count;
    }
    assert_eq!(got, want);
    // liggitt: sa1 lists /api/v1/pods twice (403 then 200), cluster-wide and unbounded.
    let row = report
        .rows
        .iter()
        .find(|r| {
            r.key == "- (system:admin)"
                && report.cell(r, "scope") == Some(&Cell::Text("cluster".into()))
                && report.cell(r, "resource") == Some(&Cell::Text("pods".into()))
        })
        .expect("cluster pods row");
    assert_eq!(row.count, 2);
    assert_eq!(report.cell(row, "errors"), Some(&Cell::Int(1)));
    assert_eq!(
        report.cell(row, "served"),
        Some(&Cell::Text(
            "etcd (<=1.30), cache if etcd has progress notify, else etcd (1.31+)".into()
        ))
    );
}

/// A real event (falco create_secret, kubectl 1.17.3 on minikube) with fields replaced.
fn variant(changes: &[(&str, Value)]) -> String {
    let text =
        std::fs::read_to_string(fixtures_dir().join("falco-k8s_audit-create_secret.json")).unwrap();
    let mut v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for (ptr, value) in changes {
        let (parent, leaf) = ptr.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut v
        } else {
            v.pointer_mut(parent).unwrap_or_else(|| panic!("{parent}"))
        };
        match value {
            Value::Null => {
                target.as_object_mut().unwrap().remove(leaf);
            }
            _ => {
                target[leaf] = value.clone();
            }
        }
    }
    serde_json::to_string(&v).unwrap()
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn lists_tell_the_three_guide_shapes_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let shapes = [
        ("/api/v1/namespaces/x/pods", "x", 3),
        ("/api/v1/pods?limit=500", "", 2),
        ("/api/v1/pods", "", 4),
    ];
    let mut n = 0;
    for (uri, ns, count) in shapes {
        for _ in 0..count {
            n += 1;
            lines.push(variant(&[
                ("/auditID", json!(format!("id-{n}"))),
                ("/verb", json!("list")),
                ("/requestURI", json!(uri)),
                (
                    "/objectRef",
                    json!({"resource": "pods", "namespace": ns, "apiVersion": "v1"}),
                ),
                ("/responseStatus/code", json!(200)),
            ]));
        }
    }
    let path = write_lines(dir.path(), "lists.log", &lines);
    let (report, summary) = check(&[path], || {
        Lists::new(Some("1.30".parse().unwrap()), 10, 100)
    });
    assert_eq!(summary.events, 9);
    let got: Vec<(String, String, String, u64)> = report
        .rows
        .iter()
        .map(|r| {
            let t = |c| match report.cell(r, c) {
                Some(Cell::Text(t)) => t.clone(),
                _ => String::new(),
            };
            (t("scope"), t("paging"), t("served"), r.count)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "cluster".to_owned(),
                "unbounded".to_owned(),
                "etcd".to_owned(),
                4
            ),
            (
                "namespace x".to_owned(),
                "unbounded".to_owned(),
                "etcd".to_owned(),
                3
            ),
            (
                "cluster".to_owned(),
                "limit=500".to_owned(),
                "etcd".to_owned(),
                2
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// watches, throttled, slow: none in the real fixtures (checked independently), then on real
// events with fields varied.

#[test]
fn real_fixtures_have_no_watches_429s_or_slow_breakdowns() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    let (watches, _) = check(&paths, || Watches::new(100, 100));
    assert_eq!(
        watches.rows.len(),
        expected
            .iter()
            .filter(|e| e.verb == "watch" || e.uri.contains("watch="))
            .count()
    );
    let (throttled, _) = check(&paths, || Throttled::new(100, 100));
    assert_eq!(
        throttled.rows.len(),
        expected.iter().filter(|e| e.code == Some(429)).count()
    );
    let (slow, _) = check(&paths, || Slow::new(5));
    // The slowest real request: the elastic lease GET (10:12:56.525137 -> .563177 = 38.04 ms).
    assert_eq!(
        slow.rows[0].key,
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/elastic-agent-cluster-test"
    );
    assert_eq!(
        slow.cell(&slow.rows[0], "latency_ms"),
        Some(&Cell::Float(38.04, 1))
    );
    assert_eq!(slow.cell(&slow.rows[0], "etcd_ms"), Some(&Cell::Empty));
    assert_eq!(slow.rows.len(), 5);
}

#[test]
fn watches_count_churn_and_lifetimes() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // 6 short watches (2 s) from one client and 1 long one (10 min) from another, each logged as
    // RequestReceived + ResponseStarted + ResponseComplete.
    let mut add = |id: &str, ua: &str, start: &str, end: &str| {
        for (stage, ts) in [
            ("RequestReceived", start),
            ("ResponseStarted", start),
            ("ResponseComplete", end),
        ] {
            lines.push(variant(&[
                ("/auditID", json!(id)),
                ("/stage", json!(stage)),
                ("/verb", json!("watch")),
                ("/userAgent", json!(ua)),
                (
                    "/requestURI",
                    json!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=100"),
                ),
                (
                    "/objectRef",
                    json!({"resource": "configmaps", "namespace": "default", "apiVersion": "v1"}),
                ),
                ("/requestReceivedTimestamp", json!(start)),
                ("/stageTimestamp", json!(ts)),
            ]));
        }
    };
    for i in 0..6 {
        add(
            &format!("short-{i}"),
            "flappy/v1.0",
            &format!("2024-05-01T10:0{i}:00.000000Z"),
            &format!("2024-05-01T10:0{i}:02.000000Z"),
        );
    }
    add(
        "long",
        "steady/v2.0",
        "2024-05-01T10:00:00.000000Z",
        "2024-05-01T10:10:00.000000Z",
    );
    let path = write_lines(dir.path(), "watches.log", &lines);
    let (report, summary) = check(&[path], || Watches::new(10, 100));
    assert_eq!(summary.records, 21);
    assert_eq!(summary.events, 7);
    assert_eq!(summary.folded_stages, 14);
    let flappy = report.row("flappy (minikube-user)").unwrap();
    assert_eq!(flappy.count, 6);
    assert_eq!(report.cell(flappy, "short_lived"), Some(&Cell::Int(6)));
    let Some(Cell::Float(life, _)) = report.cell(flappy, "median_life_s") else {
        panic!()
    };
    assert!((life - 2.0).abs() < 0.05);
    // Span 10:00:00 -> 10:05:00 of received times: 7 watches... per client 6 in 5 min.
    let Some(Cell::Float(per_min, _)) = report.cell(flappy, "per_min") else {
        panic!()
    };
    assert!((per_min - 6.0 / 5.0).abs() < 1e-9);
    let steady = report.row("steady (minikube-user)").unwrap();
    assert_eq!(report.cell(steady, "short_lived"), Some(&Cell::Int(0)));
}

#[test]
fn throttled_tells_apf_from_eviction_and_event_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let apf = |i: usize| {
        variant(&[
            ("/auditID", json!(format!("apf-{i}"))),
            ("/responseStatus", json!({"metadata": {}, "code": 429})),
            ("/annotations", Value::Null),
            (
                "/userAgent",
                json!("chatty/v9 (linux/amd64) kubernetes/abc"),
            ),
        ])
    };
    let mut lines: Vec<String> = (0..3).map(apf).collect();
    lines.push(variant(&[
        ("/auditID", json!("evict")),
        ("/requestURI", json!("/api/v1/namespaces/default/pods/web-1/eviction")),
        ("/objectRef", json!({"resource": "pods", "namespace": "default", "name": "web-1", "subresource": "eviction", "apiVersion": "v1"})),
        ("/responseStatus", json!({"metadata": {}, "code": 429, "message": "Cannot evict pod as it would violate the pod's disruption budget."})),
    ]));
    lines.push(variant(&[
        ("/auditID", json!("events")),
        ("/requestURI", json!("/api/v1/namespaces/default/events")),
        ("/objectRef", json!({"resource": "events", "namespace": "default", "apiVersion": "v1"})),
        ("/responseStatus", json!({"metadata": {}, "code": 429, "message": "limit reached on type Namespace for key default"})),
    ]));
    lines.push(variant(&[("/auditID", json!("ok"))]));
    let path = write_lines(dir.path(), "429.log", &lines);
    let (report, summary) = check(&[path], || Throttled::new(10, 100));
    assert_eq!(summary.events, 6);
    let by: BTreeMap<(String, String), u64> = report
        .rows
        .iter()
        .map(|r| match report.cell(r, "cause") {
            Some(Cell::Text(c)) => ((r.key.clone(), c.clone()), r.count),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        by,
        BTreeMap::from([
            (("chatty (minikube-user)".to_owned(), "apf".to_owned()), 3),
            (
                ("kubectl (minikube-user)".to_owned(), "eviction".to_owned()),
                1
            ),
            (
                (
                    "kubectl (minikube-user)".to_owned(),
                    "event-rate-limit".to_owned()
                ),
                1
            ),
        ])
    );
    let chatty = report.row("chatty (minikube-user)").unwrap();
    assert_eq!(
        report.cell(chatty, "pct_of_client"),
        Some(&Cell::Float(100.0, 1))
    );
    assert!(report.notes[0].contains("apf 3, eviction 1, event-rate-limit 1, other 0"));
}

#[test]
fn slow_shows_the_latency_breakdown() {
    let dir = tempfile::tempdir().unwrap();
    let slow = variant(&[
        ("/auditID", json!("slow")),
        ("/verb", json!("list")),
        ("/requestURI", json!("/api/v1/pods")),
        (
            "/requestReceivedTimestamp",
            json!("2024-05-01T10:00:00.000000Z"),
        ),
        ("/stageTimestamp", json!("2024-05-01T10:00:04.250000Z")),
        (
            "/annotations",
            json!({
                "authorization.k8s.io/decision": "allow",
                "apiserver.latency.k8s.io/total": "4.25s",
                "apiserver.latency.k8s.io/etcd": "3.9s",
                "apiserver.latency.k8s.io/serialize-response-object": "120.5ms",
                "apiserver.latency.k8s.io/mutating-webhook": "10ms",
                "apiserver.latency.k8s.io/validating-webhook": "5ms",
                "apiserver.latency.k8s.io/apf-queue-wait": "780µs"
            }),
        ),
    ]);
    let no_breakdown = variant(&[
        ("/auditID", json!("slow-no-annotations")),
        (
            "/requestReceivedTimestamp",
            json!("2024-05-01T10:00:00.000000Z"),
        ),
        ("/stageTimestamp", json!("2024-05-01T10:00:01.000000Z")),
    ]);
    let path = write_lines(dir.path(), "slow.log", &[variant(&[]), slow, no_breakdown]);
    let (report, _) = check(&[path], || Slow::new(10));
    let row = &report.rows[0];
    assert_eq!(row.key, "/api/v1/pods");
    let f = |c| report.cell(row, c).cloned();
    assert_eq!(f("latency_ms"), Some(Cell::Float(4250.0, 1)));
    assert_eq!(f("etcd_ms"), Some(Cell::Float(3900.0, 1)));
    assert_eq!(f("serialize_ms"), Some(Cell::Float(120.5, 1)));
    assert_eq!(f("webhook_ms"), Some(Cell::Float(15.0, 1)));
    assert_eq!(f("total_ms"), Some(Cell::Float(4250.0, 1)));
    let Some(Cell::Float(apf, _)) = f("apf_wait_ms") else {
        panic!()
    };
    assert!((apf - 0.78).abs() < 1e-9);
    assert_eq!(report.rows[1].key, "/api/v1/namespaces/default/secrets");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("only for requests over 500 ms"))
    );
    assert!(report.notes.iter().any(|n| {
        n.starts_with("1 of 2 requests over 500 ms have no apiserver.latency.k8s.io/total")
    }));
}

/// One event of `user` (with `agent`) at second `t`, lasting `ms`.
fn timed(id: &str, verb: &str, uri: &str, user: &str, agent: &str, t: u32, ms: u32) -> String {
    let start = format!("2024-05-01T10:00:{:02}.000000Z", t % 60);
    let end_us = u64::from(t % 60) * 1_000_000 + u64::from(ms) * 1000;
    let end = format!(
        "2024-05-01T10:{:02}:{:02}.{:06}Z",
        end_us / 60_000_000,
        (end_us / 1_000_000) % 60,
        end_us % 1_000_000
    );
    variant(&[
        ("/auditID", json!(id)),
        ("/verb", json!(verb)),
        ("/requestURI", json!(uri)),
        (
            "/user",
            json!({"username": user, "groups": ["system:authenticated"]}),
        ),
        ("/userAgent", json!(agent)),
        ("/requestReceivedTimestamp", json!(start)),
        ("/stageTimestamp", json!(end)),
        ("/responseStatus/code", json!(200)),
    ])
}

#[test]
fn slow_groups_near_identical_requests() {
    // See: issue 16 (audit slow listed near-identical rows one by one).
    let dir = tempfile::tempdir().unwrap();
    let kubectl = "kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9";
    let lines = vec![
        timed(
            "a",
            "patch",
            "/apis/apps/v1/namespaces/team-01/deployments/cart-1",
            "ci",
            kubectl,
            1,
            10_400,
        ),
        timed(
            "b",
            "patch",
            "/apis/apps/v1/namespaces/team-07/deployments/web-3",
            "ci",
            kubectl,
            2,
            10_200,
        ),
        timed(
            "c",
            "patch",
            "/apis/apps/v1/namespaces/team-01/deployments/api-2",
            "ci",
            kubectl,
            3,
            10_000,
        ),
        timed("d", "list", "/api/v1/pods", "ci", kubectl, 4, 9_000),
    ];
    let path = write_lines(dir.path(), "slow.log", &lines);
    let (report, _) = check(&[path], || Slow::new(10));
    assert_eq!(report.rows.len(), 2, "{:?}", report.rows);
    let patch = &report.rows[0];
    assert_eq!(patch.key, "/apis/apps/v1/namespaces/*/deployments/*");
    assert_eq!(patch.count, 3);
    assert_eq!(
        report.cell(patch, "latency_ms"),
        Some(&Cell::Float(10_400.0, 1))
    );
    assert_eq!(
        report.cell(patch, "fastest_ms"),
        Some(&Cell::Float(10_000.0, 1))
    );
    assert_eq!(
        report.cell(patch, "audit_id"),
        Some(&Cell::Text("a".into()))
    );
    assert_eq!(report.rows[1].key, "/api/v1/pods");
    assert_eq!(report.rows[1].count, 1);
}

#[test]
fn top_by_client_folds_kubelets_and_by_user_keeps_them_apart() {
    // See: issue 16 (a thousand kubelet rows crowded out the clients that matter).
    let dir = tempfile::tempdir().unwrap();
    let kubelet = "kubelet/v1.34.7 (linux/amd64) kubernetes/abc1234";
    let mut lines = Vec::new();
    for (i, node) in ["ip-10-0-0-1", "ip-10-0-0-1", "ip-10-0-0-2", "ip-10-0-0-3"]
        .iter()
        .enumerate()
    {
        lines.push(timed(
            &format!("k{i}"),
            "get",
            "/api/v1/nodes/x",
            &format!("system:node:{node}"),
            kubelet,
            i as u32,
            5,
        ));
    }
    lines.push(timed(
        "o",
        "get",
        "/api/v1/nodes/x",
        "ci",
        "kubectl/v1.34.1",
        9,
        5,
    ));
    let path = write_lines(dir.path(), "nodes.log", &lines);
    let (by_client, _) = check(std::slice::from_ref(&path), || {
        Top::new(&[TopKey::Client], 10, 100)
    });
    assert_eq!(by_client.rows[0].key, "kubelet (system:node:* on 3 nodes)");
    assert_eq!(by_client.rows[0].count, 4);
    assert_eq!(by_client.rows.len(), 2);
    let (by_user, _) = check(&[path], || Top::new(&[TopKey::User], 10, 100));
    assert_eq!(by_user.rows.len(), 4);
    assert_eq!(by_user.rows[0].key, "system:node:ip-10-0-0-1");
}

#[test]
fn timeline_keeps_client_names_as_written() {
    // See: issue 16 (the timeline's client columns were upper-cased).
    let dir = tempfile::tempdir().unwrap();
    let kubectl = "kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9";
    let lines = vec![timed(
        "a",
        "get",
        "/api/v1/nodes/x",
        "ci-deployer",
        kubectl,
        1,
        5,
    )];
    let path = write_lines(dir.path(), "timeline.log", &lines);
    let (report, summary) = check(&[path], || Timeline::new(60_000_000, 5, 100));
    let table = report.render(&summary, Format::Table);
    let header = table.lines().next().unwrap();
    assert!(header.contains("kubectl (ci-deployer)"), "{header}");
    assert!(header.starts_with("TIME"), "{header}");
}

// ---------------------------------------------------------------------------------------------
// timeline

#[test]
fn timeline_steps_match_independent_buckets() {
    let paths = all_fixtures();
    let expected = independent_requests(&paths);
    let (report, _) = check(&paths, || Timeline::new(60_000_000, 3, 1000));
    let mut want: BTreeMap<i64, u64> = BTreeMap::new();
    for e in &expected {
        if let Some(t) = &e.received {
            *want.entry(micros(t).div_euclid(60_000_000)).or_insert(0) += 1;
        }
    }
    let got: BTreeMap<i64, u64> = report
        .rows
        .iter()
        .map(|r| (micros(&r.key).div_euclid(60_000_000), r.count))
        .collect();
    assert_eq!(got, want);
    for row in &report.rows {
        let sum: u64 = row
            .cells
            .iter()
            .map(|c| if let Cell::Int(n) = c { *n } else { 0 })
            .sum();
        assert_eq!(
            sum, row.count,
            "columns add up to the step total at {}",
            row.key
        );
    }
    // liggitt-audit2rbac-demo.log: the 37 events fall in 19:55 .. 20:00 of 2017-09-11.
    assert_eq!(report.columns[0], "- (system:admin)");
}

// ---------------------------------------------------------------------------------------------
// Input forms

fn top_users(paths: &[PathBuf]) -> (BTreeMap<String, u64>, Summary) {
    let (report, summary) = check(paths, || Top::new(&[TopKey::User], 1000, 10_000));
    (counts(&report), summary)
}

#[test]
fn wrapped_forms_count_like_native_events() {
    let dir = tempfile::tempdir().unwrap();
    let native: Vec<String> =
        std::fs::read_to_string(fixtures_dir().join("liggitt-audit2rbac-demo.log"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
    let (want, _) = top_users(&[fixtures_dir().join("liggitt-audit2rbac-demo.log")]);

    // EKS: CloudWatch Logs records, one per line, and a subscription batch.
    let eks: Vec<String> = native
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"timestamp": 1_505_159_705_000i64 + i as i64, "message": l, "logStreamName": "kube-apiserver-audit-0123abcd", "ingestionTime": 1_505_159_706_000i64}).to_string())
        .collect();
    let batch = json!({"messageType": "DATA_MESSAGE", "logGroup": "/aws/eks/demo/cluster", "logStream": "kube-apiserver-audit-0123abcd",
        "logEvents": native.iter().map(|l| json!({"id": "1", "timestamp": 1, "message": l})).collect::<Vec<_>>()})
    .to_string();
    // AKS: properties.log as object and as an escaped string.
    let aks: Vec<String> = native
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let log = if i % 2 == 0 { serde_json::from_str::<Value>(l).unwrap() } else { Value::String(format!("{l}\n")) };
            json!({"category": "kube-audit", "properties": {"log": log, "pod": "kube-apiserver-1", "stream": "stdout"}}).to_string()
        })
        .collect();
    // An EventList on one line, and pretty-printed over many lines.
    let items: Vec<Value> = native
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items});
    // `host {json}` lines (oc adm node-logs).
    let hosted: Vec<String> = native
        .iter()
        .map(|l| format!("master-0.example.com {l}"))
        .collect();

    for (name, lines) in [
        ("eks.log", eks),
        ("eks-batch.log", vec![batch]),
        ("aks.log", aks),
        ("eventlist.json", vec![list.to_string()]),
        (
            "eventlist-pretty.json",
            vec![serde_json::to_string_pretty(&list).unwrap()],
        ),
        ("hosted.log", hosted),
    ] {
        let path = write_lines(dir.path(), name, &lines);
        let (got, summary) = top_users(&[path]);
        assert_eq!(got, want, "{name}");
        assert_eq!(
            summary.malformed.count, 0,
            "{name}: {:?}",
            summary.malformed.examples
        );
    }
}

#[test]
fn gzip_is_detected_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures_dir().join("liggitt-audit2rbac-demo.log");
    let (want, _) = top_users(std::slice::from_ref(&src));
    let path = dir.path().join("audit.log.1"); // no .gz suffix
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&src).unwrap()).unwrap();
    enc.finish().unwrap();
    let (got, summary) = top_users(&[path]);
    assert_eq!(got, want);
    assert_eq!(summary.events, 37);
}

#[test]
fn lines_longer_than_64_kib_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = variant(&[
        ("/auditID", json!("big")),
        (
            "/requestObject",
            json!({"data": {"blob": "x".repeat(300_000)}}),
        ),
    ]);
    assert!(big.len() > 64 * 1024 * 4);
    let after = variant(&[
        ("/auditID", json!("after")),
        ("/user/username", json!("after-the-big-line")),
    ]);
    let path = write_lines(
        dir.path(),
        "big.log",
        &[variant(&[("/auditID", json!("before"))]), big, after],
    );
    // Chunks of 4 KiB: the long line spans many of them.
    let (got, summary) = top_users(&[path]);
    assert_eq!(summary.events, 3);
    assert_eq!(got.get("after-the-big-line"), Some(&1));
    assert_eq!(summary.malformed.count, 0);
}

#[test]
fn malformed_lines_are_counted_and_reported_without_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let good = variant(&[]);
    let mut lines = vec![good.clone()];
    for i in 0..8 {
        lines.push(match i % 3 {
            0 => "garbage".to_owned(),
            1 => "{\"kind\":\"Event\",\"verb\":".to_owned(),
            _ => "{\"kind\":\"Pod\"}".to_owned(),
        });
        lines.push(good.replace("55a81824", &format!("{i:08}")));
    }
    let path = write_lines(dir.path(), "bad.log", &lines);
    let (report, summary) = check(std::slice::from_ref(&path), || {
        Top::new(&[TopKey::User], 10, 100)
    });
    assert_eq!(summary.events, 9);
    assert_eq!(summary.malformed.count, 8);
    let name = path.display().to_string();
    assert_eq!(summary.malformed.examples.len(), 5);
    assert_eq!(
        summary.malformed.examples[0],
        format!("{name}:2: expected a JSON object or `prefix {{json}}` (line starts \"garbage\")")
    );
    assert!(
        summary.malformed.examples[1].starts_with(&format!("{name}:4: EOF while parsing a value")),
        "{}",
        summary.malformed.examples[1]
    );
    assert_eq!(
        summary.malformed.examples[2],
        format!(
            "{name}:6: not an audit event (kind Pod) (line starts \"{{\\\"kind\\\":\\\"Pod\\\"}}\")"
        )
    );
    let table = report.render(&summary, Format::Table);
    assert!(table.contains("8 malformed lines:"));
    assert!(table.contains("... and 3 more"));
    let json: Value = serde_json::from_str(&report.render(&summary, Format::Json)).unwrap();
    assert_eq!(json["malformed"]["count"], 8);
    assert_eq!(json["events"], 9);
    assert_eq!(json["rows"][0]["key"], "minikube-user");
    assert_eq!(json["rows"][0]["count"], 9);
}

#[test]
fn stages_fold_into_one_request_across_chunks_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    for i in 0..400 {
        let id = format!("req-{i}");
        lines.push(variant(&[
            ("/auditID", json!(id)),
            ("/stage", json!("RequestReceived")),
            ("/responseStatus", Value::Null),
        ]));
        // The final event lands a few hundred lines later, often in another chunk and worker.
        if i >= 3 {
            let prev = format!("req-{}", i - 3);
            lines.push(variant(&[("/auditID", json!(prev))]));
        }
    }
    // req-397..399 never complete: each is counted once from its RequestReceived event.
    let path = write_lines(dir.path(), "stages.log", &lines);
    for (threads, chunk) in [(1, 1 << 20), (2, 2048), (3, 700)] {
        let opts = ScanOpts {
            threads,
            chunk_bytes: chunk,
            progress: None,
            ..ScanOpts::default()
        };
        let (report, summary) = run(
            std::slice::from_ref(&path),
            &FilterSpec::default(),
            &opts,
            || Top::new(&[TopKey::Code], 10, 100),
        );
        assert_eq!(summary.records, 797, "{threads}/{chunk}");
        assert_eq!(summary.events, 400, "{threads}/{chunk}");
        assert_eq!(summary.folded_stages, 397, "{threads}/{chunk}");
        let c = counts(&report);
        assert_eq!(c.get("201"), Some(&397));
        assert_eq!(c.get(""), Some(&3));
    }
}

#[test]
fn stages_fold_across_files_and_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let received = |id: &str| {
        variant(&[
            ("/auditID", json!(id)),
            ("/stage", json!("RequestReceived")),
            ("/responseStatus", Value::Null),
        ])
    };
    let complete = |id: &str| variant(&[("/auditID", json!(id))]);
    // A rotated log: requests received at the end of one file complete in the next.
    let first: Vec<String> = (0..60).map(|i| received(&format!("r-{i}"))).collect();
    let mut second: Vec<String> = (0..60).map(|i| complete(&format!("r-{i}"))).collect();
    // A final event logged before its RequestReceived in the same file (merged logs).
    second.push(complete("late"));
    second.push(received("late"));
    // Two requests that never complete, one of them seen at two stages.
    second.push(received("open-1"));
    second.push(received("open-2"));
    second.push(variant(&[
        ("/auditID", json!("open-2")),
        ("/stage", json!("ResponseStarted")),
        ("/responseStatus", Value::Null),
    ]));
    let a = write_lines(dir.path(), "audit-1.log", &first);
    let b = write_lines(dir.path(), "audit-2.log", &second);
    for (threads, chunk) in [(1, 1 << 20), (2, 1024), (3, 1500)] {
        let opts = ScanOpts {
            threads,
            chunk_bytes: chunk,
            progress: None,
            ..ScanOpts::default()
        };
        let (report, summary) = run(
            &[a.clone(), b.clone()],
            &FilterSpec::default(),
            &opts,
            || Top::new(&[TopKey::Code], 10, 100),
        );
        assert_eq!(summary.records, 125, "{threads}/{chunk}");
        assert_eq!(summary.events, 63, "{threads}/{chunk}");
        assert_eq!(summary.folded_stages, 62, "{threads}/{chunk}");
        let c = counts(&report);
        assert_eq!(c.get("201"), Some(&61), "{threads}/{chunk}");
        assert_eq!(c.get(""), Some(&2), "{threads}/{chunk}");
    }
}

#[test]
fn three_stages_fold_wherever_the_chunks_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    // Requests overlap: each one's stages are spread over the next ones' lines.
    for i in 0..40 {
        for (j, stage) in ["RequestReceived", "ResponseStarted", "ResponseComplete"]
            .iter()
            .enumerate()
        {
            let id = i as i64 - j as i64;
            if id < 0 {
                continue;
            }
            let mut changes = vec![
                ("/auditID", json!(format!("w-{id}"))),
                ("/stage", json!(stage)),
            ];
            if j < 2 {
                changes.push(("/responseStatus", Value::Null));
            }
            lines.push(variant(&changes));
        }
    }
    let path = write_lines(dir.path(), "stages.log", &lines);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    // Small chunks map the file in windows; a chunk as large as the file reads it as a stream.
    let sizes = (1024..6000).step_by(191).chain([len, 1 << 20]);
    for chunk in sizes {
        for threads in [1, 2] {
            let opts = ScanOpts {
                threads,
                chunk_bytes: chunk,
                progress: None,
                ..ScanOpts::default()
            };
            let (report, summary) = run(
                std::slice::from_ref(&path),
                &FilterSpec::default(),
                &opts,
                || Top::new(&[TopKey::Code], 10, 100),
            );
            let at = format!("{threads} threads, {chunk}-byte chunks");
            assert_eq!(summary.records, lines.len() as u64, "{at}");
            assert_eq!(summary.events, 40, "{at}");
            assert_eq!(summary.folded_stages, lines.len() as u64 - 40, "{at}");
            // 38 complete; w-38 stopped at ResponseStarted, w-39 at RequestReceived.
            let c = counts(&report);
            assert_eq!(c.get("201"), Some(&38), "{at}");
            assert_eq!(c.get(""), Some(&2), "{at}");
        }
    }
}

#[test]
fn parallel_and_sequential_scans_agree() {
    let paths = all_fixtures();
    let one = run(
        &paths,
        &FilterSpec::default(),
        &ScanOpts {
            threads: 1,
            chunk_bytes: 1 << 20,
            progress: None,
            ..ScanOpts::default()
        },
        || {
            Top::new(
                &[TopKey::User, TopKey::Verb, TopKey::Resource],
                1000,
                10_000,
            )
        },
    );
    let many = run(
        &paths,
        &FilterSpec::default(),
        &ScanOpts {
            threads: 4,
            chunk_bytes: 1024,
            progress: None,
            ..ScanOpts::default()
        },
        || {
            Top::new(
                &[TopKey::User, TopKey::Verb, TopKey::Resource],
                1000,
                10_000,
            )
        },
    );
    assert_eq!(counts(&one.0), counts(&many.0));
    assert_eq!(one.1.lines, many.1.lines);
}

#[test]
fn formats_render_the_same_rows() {
    let (report, summary) = check(
        &[fixtures_dir().join("liggitt-audit2rbac-demo.log")],
        || Top::new(&[TopKey::Verb], 10, 100),
    );
    let csv = report.render(&summary, Format::Csv);
    let mut csv_lines = csv.lines();
    assert_eq!(
        csv_lines.next(),
        Some("verb,count,share_pct,rate_per_s,errors,p50_ms,p99_ms,seat_s")
    );
    assert!(csv_lines.next().unwrap().starts_with("get,23,62.2,"));
    let md = report.render(&summary, Format::Markdown);
    assert!(md.starts_with("| verb | count | share_pct |"));
    assert!(md.contains("| list | 14 | 37.8 |"));
    let table = report.render(&summary, Format::Table);
    assert!(table.starts_with("VERB  COUNT  SHARE_PCT"));
    assert!(table.contains("37 requests counted from 37 audit events in 37 lines"));
}

// ---------------------------------------------------------------------------------------------
// Bounded and honest input: truncation, bad items, impossible times, the line limit, pipes

/// `n` events of one user with distinct auditIDs, padded to about `pad` bytes each.
fn numbered_events(n: usize, pad: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            variant(&[
                ("/auditID", json!(format!("ev-{i:06}"))),
                ("/annotations/pad", json!("p".repeat(pad))),
            ])
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_truncated_gzip_counts_every_complete_line_and_is_marked_partial() {
    // See: issue 15, "a gzip truncated halfway counted 0 of 990 recoverable lines".
    let dir = tempfile::tempdir().unwrap();
    let lines = numbered_events(990, 400);
    let text = lines.join("\n") + "\n";
    let gz = gzip(text.as_bytes());
    let path = dir.path().join("audit.log.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    // What can be recovered, counted independently: the complete lines a decoder gives before
    // it fails.
    let mut recovered = Vec::new();
    let err = std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz[..gz.len() / 2]),
        &mut recovered,
    );
    assert!(err.is_err());
    let complete = recovered.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(complete > 300, "{complete}");

    let (report, summary) = check(std::slice::from_ref(&path), || {
        Top::new(&[TopKey::User], 10, 100)
    });
    assert_eq!(summary.events, complete);
    assert_eq!(summary.malformed.count, 0);
    assert!(summary.is_partial());
    let name = path.display().to_string();
    assert_eq!(summary.read_errors.len(), 1);
    let want = format!(
        "{name}: read failed after {} bytes of decompressed data ({} bytes of the gzip file read): ",
        recovered.len(),
        gz.len() / 2
    );
    assert!(
        summary.read_errors[0].starts_with(&want),
        "{}",
        summary.read_errors[0]
    );
    // Every format says the result is partial.
    let table = report.render(&summary, Format::Table);
    assert!(
        table.starts_with("PARTIAL RESULT: 1 input could not be read to the end"),
        "{table}"
    );
    let md = report.render(&summary, Format::Markdown);
    assert!(md.starts_with("**Partial result:** 1 input"), "{md}");
    let csv = report.render(&summary, Format::Csv);
    assert!(csv.starts_with("# partial: 1 input"), "{csv}");
    assert_eq!(
        csv.lines().nth(1),
        Some("user,count,share_pct,rate_per_s,errors,p50_ms,p99_ms,seat_s")
    );
    let doc: Value = serde_json::from_str(&report.render(&summary, Format::Json)).unwrap();
    assert_eq!(doc["partial"], true);
    assert_eq!(doc["events"], complete);
    // A whole input is not partial.
    let whole = write_lines(dir.path(), "whole.log", &lines);
    let (report, summary) = check(&[whole], || Top::new(&[TopKey::User], 10, 100));
    assert_eq!(summary.events, 990);
    assert!(!summary.is_partial());
    let doc: Value = serde_json::from_str(&report.render(&summary, Format::Json)).unwrap();
    assert_eq!(doc["partial"], false);
    assert!(!report.render(&summary, Format::Csv).starts_with('#'));
}

#[test]
fn a_bad_item_of_an_envelope_is_skipped_and_counted() {
    // See: issue 15, "an EventList with one bad item dropped every item after it".
    let dir = tempfile::tempdir().unwrap();
    let mut items: Vec<Value> = numbered_events(10, 0)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    items[3]["verb"] = json!(17);
    items[6]["requestReceivedTimestamp"] = json!("0001-01-01T00:00:00Z");
    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items});
    let batch = json!({"messageType": "DATA_MESSAGE", "logEvents": [
        {"id": "1", "message": serde_json::to_string(&items[0]).unwrap()},
        {"id": "2", "message": "{\"kind\":\"Pod\"}"},
        {"id": "3", "message": serde_json::to_string(&items[1]).unwrap()},
    ]});
    let one_line = write_lines(dir.path(), "list.json", &[list.to_string()]);
    let (_, summary) = top_users(std::slice::from_ref(&one_line));
    assert_eq!(summary.events, 8);
    assert_eq!(summary.malformed.count, 2);
    let name = one_line.display().to_string();
    assert!(
        summary.malformed.examples[0].starts_with(&format!(
            "{name}:1: items[3]: invalid type: integer `17`, expected a string"
        )),
        "{:?}",
        summary.malformed.examples
    );
    assert_eq!(
        summary.malformed.examples[1],
        format!(
            "{name}:1: items[6]: requestReceivedTimestamp 0001-01-01T00:00:00Z is before 2014, older than Kubernetes: not a real time"
        )
    );
    // Pretty-printed over many lines: the same, read as one document.
    let pretty = write_lines(
        dir.path(),
        "list-pretty.json",
        &[serde_json::to_string_pretty(&list).unwrap()],
    );
    let (_, summary) = top_users(&[pretty]);
    assert_eq!((summary.events, summary.malformed.count), (8, 2));
    // A CloudWatch batch with a bad message keeps the others.
    let batch = write_lines(dir.path(), "batch.json", &[batch.to_string()]);
    let (_, summary) = top_users(std::slice::from_ref(&batch));
    assert_eq!((summary.events, summary.malformed.count), (2, 1));
    assert_eq!(
        summary.malformed.examples[0],
        format!(
            "{}:1: logEvents[1]: not an audit event (kind Pod)",
            batch.display()
        )
    );
}

#[test]
fn impossible_timestamps_are_malformed_not_data() {
    // See: issue 15, "an event stamped 0001-01-01 pushed p50 to 83 s and seat-seconds to 6e10".
    let dir = tempfile::tempdir().unwrap();
    let at = |ms: u64| format!("2024-05-01T10:00:00.{:06}Z", ms * 1000);
    let mut lines: Vec<String> = (1..=100u64)
        .map(|ms| {
            variant(&[
                ("/auditID", json!(format!("ok-{ms}"))),
                ("/requestReceivedTimestamp", json!(at(0))),
                ("/stageTimestamp", json!(at(ms))),
            ])
        })
        .collect();
    let bad = [
        ("/requestReceivedTimestamp", json!("0001-01-01T00:00:00Z")),
        ("/stageTimestamp", json!("9999-12-31T00:00:00Z")),
        ("/requestReceivedTimestamp", json!("not a time")),
    ];
    for (i, (field, value)) in bad.iter().enumerate() {
        lines.insert(
            20 * (i + 1),
            variant(&[
                ("/auditID", json!(format!("bad-{i}"))),
                (field, value.clone()),
            ]),
        );
    }
    // A create that took two hours cannot be real either.
    lines.push(variant(&[
        ("/auditID", json!("slow")),
        ("/requestReceivedTimestamp", json!("2024-05-01T08:00:00Z")),
        ("/stageTimestamp", json!("2024-05-01T10:00:00Z")),
    ]));
    let path = write_lines(dir.path(), "times.log", &lines);
    let (report, summary) = check(std::slice::from_ref(&path), || {
        Top::new(&[TopKey::User], 10, 100)
    });
    assert_eq!(summary.events, 100);
    assert_eq!(summary.malformed.count, 4);
    let name = path.display().to_string();
    assert!(
        summary.malformed.examples[0].starts_with(&format!(
            "{name}:21: requestReceivedTimestamp 0001-01-01T00:00:00Z is before 2014, older than Kubernetes: not a real time (line starts "
        )),
        "{:?}",
        summary.malformed.examples
    );
    assert!(
        summary.malformed.examples[1].starts_with(&format!(
            "{name}:41: stageTimestamp 9999-12-31T00:00:00Z is more than a day after this machine's clock"
        )),
        "{:?}",
        summary.malformed.examples
    );
    assert!(summary.malformed.examples[2].starts_with(&format!(
        "{name}:61: requestReceivedTimestamp \"not a time\" is not an RFC 3339 time"
    )));
    assert!(summary.malformed.examples[3].starts_with(&format!(
        "{name}:104: latency of 2.0 h (stageTimestamp - requestReceivedTimestamp) is longer than any create request that is not long-running can take"
    )));
    // The figures are those of the 100 real requests: latencies 1..100 ms.
    let row = report.row("minikube-user").unwrap();
    let num = |c: &str| match report.cell(row, c) {
        Some(Cell::Float(v, _)) => *v,
        other => panic!("{c}: {other:?}"),
    };
    assert!((num("p50_ms") - 50.0).abs() <= 1.5, "{}", num("p50_ms"));
    assert!((num("p99_ms") - 99.0).abs() <= 2.0, "{}", num("p99_ms"));
    // One seat (a create) times the sum of the latencies: 5.05 s.
    assert!((num("seat_s") - 5.05).abs() < 0.1, "{}", num("seat_s"));
    assert!((summary.span_seconds() - 0.0).abs() < 1e-9);
}

#[test]
fn lines_longer_than_the_limit_are_malformed_and_skipped_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = |i: usize| variant(&[("/auditID", json!(format!("g-{i}")))]);
    let long_event = variant(&[
        ("/auditID", json!("long-but-allowed")),
        ("/annotations/pad", json!("p".repeat(6000))),
    ]);
    let lines = [
        good(0),
        "x".repeat(25_000),
        good(1),
        long_event,
        good(2),
        "{".repeat(12_000),
    ];
    let text = lines.join("\n"); // no newline after the last, over-long line
    let plain = dir.path().join("long.log");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.path().join("long.log.gz");
    std::fs::write(&gz, gzip(text.as_bytes())).unwrap();
    for path in [&plain, &gz] {
        for chunk in [1024, 3000, 1 << 20] {
            let opts = ScanOpts {
                threads: 2,
                chunk_bytes: chunk,
                max_line_bytes: 10_000,
                ..ScanOpts::default()
            };
            let (_, summary) = run(
                std::slice::from_ref(path),
                &FilterSpec::default(),
                &opts,
                || Top::new(&[TopKey::User], 10, 100),
            );
            let name = path.display().to_string();
            let at = format!("{name} chunk {chunk}");
            assert_eq!(summary.events, 4, "{at}");
            assert_eq!(summary.lines, 6, "{at}");
            assert_eq!(summary.bytes, text.len() as u64, "{at}: every byte is read");
            assert_eq!(
                summary.malformed.examples,
                [
                    format!("{name}:2: line longer than 10000 bytes"),
                    format!("{name}:6: line longer than 10000 bytes"),
                ],
                "{at}"
            );
        }
    }
    // A multi-line document is held to the same limit.
    let pretty = serde_json::to_string_pretty(&json!({"kind": "EventList", "items": lines[..3].iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect::<Vec<_>>()})).unwrap();
    let doc = write_lines(dir.path(), "doc.json", std::slice::from_ref(&pretty));
    let opts = ScanOpts {
        max_line_bytes: pretty.len() - 1,
        ..ScanOpts::default()
    };
    let (_, summary) = run(
        std::slice::from_ref(&doc),
        &FilterSpec::default(),
        &opts,
        || Top::new(&[TopKey::User], 10, 100),
    );
    assert_eq!(summary.events, 0);
    assert_eq!(
        summary.read_errors,
        [format!(
            "{}: multi-line JSON document larger than the line limit of {} bytes (write one event per line instead)",
            doc.display(),
            pretty.len() - 1
        )]
    );
    let opts = ScanOpts {
        max_line_bytes: pretty.len() + 1,
        ..ScanOpts::default()
    };
    let (_, summary) = run(&[doc], &FilterSpec::default(), &opts, || {
        Top::new(&[TopKey::User], 10, 100)
    });
    assert_eq!((summary.events, summary.read_errors.len()), (2, 0));
}

/// Writes `data` into a new FIFO in `dir` from a thread, `step` bytes per write, and returns
/// its path (the writer blocks until a reader opens it).
fn slow_fifo(
    dir: &Path,
    name: &str,
    data: Vec<u8>,
    step: usize,
) -> (PathBuf, std::thread::JoinHandle<()>) {
    let path = dir.join(name);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || {
        let mut fifo = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .expect("open fifo");
        for piece in data.chunks(step) {
            fifo.write_all(piece).expect("write fifo");
            fifo.flush().expect("flush fifo");
        }
    });
    (path, writer)
}

#[test]
fn a_fifo_fed_in_small_writes_reads_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixtures_dir().join("liggitt-audit2rbac-demo.log");
    let (want, _) = top_users(std::slice::from_ref(&src));
    let text = std::fs::read(&src).unwrap();
    // Plain and gzip, one byte first then small pieces: the gzip magic spans two reads.
    for (name, data, step) in [
        ("plain.fifo", text.clone(), 7),
        ("gzip.fifo", gzip(&text), 1),
        ("gzip-13.fifo", gzip(&text), 13),
    ] {
        let (path, writer) = slow_fifo(dir.path(), name, data, step);
        let (got, summary) = top_users(&[path]);
        writer.join().unwrap();
        assert_eq!(got, want, "{name}");
        assert_eq!(summary.events, 37, "{name}");
        assert_eq!(summary.malformed.count, 0, "{name}");
    }
}

/// Event lines from elsewhere: the bytes of a file, failing with `error` after `fail_after`
/// bytes when set.
#[derive(Debug)]
struct Lines {
    name: String,
    bytes: Vec<u8>,
    fail_after: Option<usize>,
}

impl apilens_audit::LineSource for Lines {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        let cut = self.fail_after.unwrap_or(self.bytes.len());
        let head = std::io::Cursor::new(self.bytes[..cut].to_vec());
        let fail = self.fail_after.is_some();
        Ok(Box::new(std::io::Read::chain(head, FailingRead(fail))))
    }
}

/// Ends the stream, or fails it as a dropped connection would.
struct FailingRead(bool);

impl std::io::Read for FailingRead {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        if self.0 {
            Err(std::io::Error::other(
                "logs:GetLogEvents failed: cannot reach http://127.0.0.1:1",
            ))
        } else {
            Ok(0)
        }
    }
}

#[test]
fn line_sources_count_as_the_same_files_and_a_failure_part_way_keeps_what_came_before() {
    let paths = all_fixtures();
    let opts = ScanOpts {
        threads: 2,
        chunk_bytes: 4096,
        ..ScanOpts::default()
    };
    let (from_files, files_summary) = check(&paths, || Top::new(&[TopKey::User], 50, 1000));
    let sources: Vec<Input> = paths
        .iter()
        .map(|p| {
            Input::Source(std::sync::Arc::new(Lines {
                name: format!("cloudwatch:{}", p.display()),
                bytes: std::fs::read(p).unwrap(),
                fail_after: None,
            }))
        })
        .collect();
    let filter = Filter::new(&FilterSpec::default()).unwrap();
    let (view, summary) = scan(&sources, &filter, &opts, || {
        Top::new(&[TopKey::User], 50, 1000)
    })
    .unwrap();
    assert_eq!(counts(&view.finish(&summary)), counts(&from_files));
    assert_eq!(summary.events, files_summary.events);
    assert!(summary.read_errors.is_empty());

    // 37 requests of system:admin in one file; the stream breaks after its first ten lines.
    let demo = fixtures_dir().join("liggitt-audit2rbac-demo.log");
    let bytes = std::fs::read(&demo).unwrap();
    let tenth_line_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(9)
        .unwrap()
        .0
        + 1;
    let source = Input::Source(std::sync::Arc::new(Lines {
        name: "cloudwatch:/aws/eks/prod/cluster/kube-apiserver-audit-1".into(),
        bytes,
        fail_after: Some(tenth_line_end),
    }));
    let (view, summary) = scan(&[source], &filter, &opts, || {
        Top::new(&[TopKey::User], 50, 1000)
    })
    .unwrap();
    assert_eq!(summary.events, 10);
    assert_eq!(
        view.finish(&summary)
            .rows
            .iter()
            .map(|r| r.count)
            .sum::<u64>(),
        10
    );
    assert_eq!(summary.read_errors.len(), 1);
    let e = &summary.read_errors[0];
    assert!(
        e.starts_with(&format!(
            "cloudwatch:/aws/eks/prod/cluster/kube-apiserver-audit-1: read failed at byte {tenth_line_end}: logs:GetLogEvents failed"
        )),
        "{e}"
    );
}
