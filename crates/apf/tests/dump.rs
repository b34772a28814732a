//! The debug-dump parsers on every real dump in `../shared/fixtures/real/apf` (the Kubernetes
//! documentation's sample outputs of 2020 and 2023), and on malformed dumps.

use apilens_apf::{
    ApfError, DumpKind, PriorityLevelDump, QueueDump, RequestDump, detect_dump,
    parse_priority_levels, parse_queues, parse_requests,
};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/apf")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap()
}

#[test]
fn every_real_dump_is_detected_and_parsed() {
    let mut seen = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("csv") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let kind = detect_dump(&text).unwrap_or_else(|| panic!("{name}: not detected"));
        let rows = match kind {
            DumpKind::PriorityLevels => parse_priority_levels(&text, &name).map(|d| d.rows.len()),
            DumpKind::Queues => parse_queues(&text, &name).map(|d| d.rows.len()),
            DumpKind::Requests => parse_requests(&text, &name).map(|d| d.rows.len()),
        };
        let rows = rows.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(rows > 0, "{name}");
        assert!(name.contains(kind.endpoint()), "{name} read as {kind:?}");
        seen += 1;
    }
    assert_eq!(seen, 8);
}

#[test]
fn priority_levels_2020_and_2023() {
    let d = parse_priority_levels(
        &read("k8s-website-apf-debug-dump_priority_levels-2020.csv"),
        "pl-2020",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 7);
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    assert_eq!(
        d.rows[0],
        PriorityLevelDump {
            name: "workload-low".to_string(),
            active_queues: Some(0),
            is_idle: Some(true),
            is_quiescing: Some(false),
            waiting_requests: Some(0),
            executing_requests: Some(0),
            dispatched: None,
            rejected: None,
            timed_out: None,
            cancelled: None,
        }
    );
    // The exempt level prints <none> before 1.28.
    let exempt = d.rows.iter().find(|r| r.name == "exempt").unwrap();
    assert_eq!(
        (
            exempt.active_queues,
            exempt.is_idle,
            exempt.executing_requests
        ),
        (None, None, None)
    );

    let d = parse_priority_levels(
        &read("k8s-website-apf-debug-dump_priority_levels-2023.csv"),
        "pl-2023",
    )
    .unwrap();
    let names: Vec<&str> = d.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "catch-all",
            "exempt",
            "global-default",
            "leader-election",
            "node-high",
            "system",
            "workload-high",
            "workload-low"
        ]
    );
    let dispatched: Vec<u64> = d.rows.iter().map(|r| r.dispatched.unwrap()).collect();
    assert_eq!(dispatched, [1, 0, 46, 4, 34, 48, 500, 0]);
    assert!(
        d.rows
            .iter()
            .all(|r| r.rejected == Some(0) && r.timed_out == Some(0) && r.cancelled == Some(0))
    );
}

#[test]
fn queues_2020_and_2023() {
    let d = parse_queues(
        &read("k8s-website-apf-debug-dump_queues-2020.csv"),
        "q-2020",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 5);
    assert_eq!(d.rows[4].priority_level, "leader-election");
    assert_eq!(
        (
            d.rows[4].index,
            d.rows[4].virtual_start,
            d.rows[4].seats_in_use
        ),
        (15, Some(0.0), None)
    );
    assert!(
        d.notes.iter().any(|n| n.contains("1 elision line")),
        "{:?}",
        d.notes
    );

    let d = parse_queues(
        &read("k8s-website-apf-debug-dump_queues-2023.csv"),
        "q-2023",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 6);
    assert_eq!(
        d.rows[0],
        QueueDump {
            priority_level: "workload-low".to_string(),
            index: 14,
            pending: 27,
            executing: 0,
            seats_in_use: Some(0),
            next_dispatch_r: Some(77.64342019),
            initial_seats_sum: Some(270),
            max_seats_sum: Some(270),
            total_work_sum: Some(0.81),
            virtual_start: None,
        }
    );
    assert_eq!(d.rows[2].next_dispatch_r, Some(5088.87053833));
    assert!(
        d.notes.iter().any(|n| n.contains("2 elision line")),
        "{:?}",
        d.notes
    );
}

#[test]
fn requests_2020_and_2023_with_and_without_details() {
    let d = parse_requests(
        &read("k8s-website-apf-debug-dump_requests-2020.csv"),
        "r-2020",
    )
    .unwrap();
    // The exempt level's placeholder row is not a request.
    assert_eq!(d.rows.len(), 1);
    assert!(
        d.notes
            .iter()
            .any(|n| n.contains("placeholder row of level exempt")),
        "{:?}",
        d.notes
    );
    let r = &d.rows[0];
    assert_eq!(
        (
            r.priority_level.as_str(),
            r.flow_schema.as_str(),
            r.queue_index,
            r.request_index_in_queue
        ),
        ("system", "system-nodes", 12, 0)
    );
    assert_eq!(r.flow_distinguisher, "system:node:127.0.0.1");
    assert_eq!(
        r.arrive_time.as_deref(),
        Some("2020-07-23T15:26:57.179170694Z")
    );
    assert!(!r.is_executing());

    let d = parse_requests(
        &read("k8s-website-apf-debug-dump_requests-2023.csv"),
        "r-2023",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 3);
    let exempt = &d.rows[0];
    assert!(exempt.is_executing());
    assert_eq!(
        (exempt.queue_index, exempt.flow_distinguisher.as_str()),
        (-1, "")
    );
    assert_eq!(
        exempt.start_time.as_deref(),
        Some("2023-07-15T04:51:25.596404345Z")
    );
    let queued = &d.rows[2];
    assert_eq!(
        (
            queued.initial_seats,
            queued.final_seats,
            queued.additional_latency.as_deref()
        ),
        (Some(10), Some(0), Some("0s"))
    );
    assert_eq!(
        queued.start_time, None,
        "0001-01-01T00:00:00Z is not a start"
    );
    assert_eq!(queued.request_index_in_queue, 1);

    let d = parse_requests(
        &read("k8s-website-apf-debug-dump_requests-includeRequestDetails-2023.csv"),
        "rd-2023",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 3);
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    assert_eq!(
        d.rows[1],
        RequestDump {
            priority_level: "workload-low".to_string(),
            flow_schema: "service-accounts".to_string(),
            queue_index: 14,
            request_index_in_queue: 0,
            flow_distinguisher: "system:serviceaccount:default:loadtest".to_string(),
            arrive_time: Some("2023-07-18T00:13:08.986534842Z".to_string()),
            initial_seats: Some(10),
            final_seats: Some(0),
            additional_latency: Some("0s".to_string()),
            start_time: None,
            user: Some("system:serviceaccount:default:loadtest".to_string()),
            verb: Some("list".to_string()),
            api_path: Some("/api/v1/namespaces/kube-stress/configmaps".to_string()),
            namespace: Some("kube-stress".to_string()),
            name: None,
            api_version: Some("v1".to_string()),
            resource: Some("configmaps".to_string()),
            subresource: None,
        }
    );
    // 2020: the rows stop after APIPath in the documentation sample.
    let d = parse_requests(
        &read("k8s-website-apf-debug-dump_requests-includeRequestDetails-2020.csv"),
        "rd-2020",
    )
    .unwrap();
    assert_eq!(d.rows.len(), 2);
    assert_eq!(d.rows[0].verb.as_deref(), Some("create"));
    assert_eq!(
        d.rows[0].api_path.as_deref(),
        Some("/api/v1/namespaces/scaletest/configmaps")
    );
    assert_eq!(
        (d.rows[0].namespace.as_deref(), d.rows[0].initial_seats),
        (None, None)
    );
}

#[test]
fn unknown_columns_are_noted_and_bad_dumps_name_file_and_line() {
    let text = "PriorityLevelName, ActiveQueues, IsIdle, FutureColumn,\nexempt, 0, true, 42,\n";
    let d = parse_priority_levels(text, "future.csv").unwrap();
    assert_eq!(d.rows.len(), 1);
    assert_eq!(d.rows[0].is_idle, Some(true));
    assert_eq!(
        d.notes,
        ["unknown column \"FutureColumn\" kept out (header line 1)"]
    );

    let not_a_dump = "hello, world\n1, 2\n";
    let err = parse_queues(not_a_dump, "x.csv").unwrap_err();
    assert!(matches!(err, ApfError::Dump { line: 1, .. }));
    assert_eq!(
        err.to_string(),
        "x.csv:1: not an APF dump_queues dump: the header should start with PriorityLevelName, found \"hello, world\""
    );
    let wrong = read("k8s-website-apf-debug-dump_queues-2023.csv");
    let err = parse_requests(&wrong, "q.csv").unwrap_err().to_string();
    assert_eq!(
        err,
        "q.csv:1: this is a dump_queues dump, not dump_requests"
    );
    let err = parse_priority_levels("", "empty.csv")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "empty.csv:1: empty: no header row");
    let bad = "PriorityLevelName, Index, PendingRequests, ExecutingRequests\nsystem, 0, 0, 0\nsystem, one, 0, 0\n";
    let err = parse_queues(bad, "bad.csv").unwrap_err().to_string();
    assert_eq!(err, "bad.csv:3: Index is \"one\", not a number");
    let err = apilens_apf::parse_dump("\n\nkind: Deployment\n", "d.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "d.yaml:3: not an APF debug dump (dump_priority_levels, dump_queues or dump_requests): the header should start with PriorityLevelName, found \"kind: Deployment\""
    );
    let any =
        apilens_apf::parse_dump(&read("k8s-website-apf-debug-dump_queues-2020.csv"), "q").unwrap();
    assert_eq!(any.kind(), DumpKind::Queues);
    assert_eq!(any.notes().len(), 1);
    let comma = "PriorityLevelName, FlowSchemaName, QueueIndex, RequestIndexInQueue, FlowDistingsher, ArriveTime\nw, s, 1, 0, user,with,commas, 2023-01-01T00:00:00Z\n";
    let d = parse_requests(comma, "c.csv").unwrap();
    assert!(d.rows.is_empty());
    assert_eq!(
        d.notes,
        ["line 2: 8 fields for 6 columns (a comma inside a value?); skipped"]
    );
}
