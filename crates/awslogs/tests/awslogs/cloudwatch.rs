//! CloudWatch Logs: the audit streams of an EKS log group, whole and searched, paged, and cut
//! to a time range.

use apilens_awslogs::{Query, Window, filter_pattern, plan_cloudwatch};
use apilens_testkit::{FaultProxy, ProxyAction};
use serde_json::Value;

use crate::support::{self, GROUP, Loader};

/// Two audit streams holding the real fixtures and the decoy streams of a real EKS group.
fn load_eks_group(loader: &Loader) -> Vec<String> {
    let events = support::fixture_events();
    let (a, b) = events.split_at(events.len() / 2);
    loader.create_group(GROUP);
    loader.put_stream(
        GROUP,
        "kube-apiserver-audit-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        a,
    );
    loader.put_stream(
        GROUP,
        "kube-apiserver-audit-f9e8d7c6b5a4938271605f4e3d2c1b0a",
        b,
    );
    for (stream, events) in support::decoys() {
        loader.put_stream(GROUP, stream, &events);
    }
    events.into_iter().map(|(_, m)| m).collect()
}

#[test]
fn audit_streams_are_read_whole_and_other_streams_never() {
    let Some(moto) = support::moto() else { return };
    let expected = load_eks_group(&Loader::new(&moto.url()));
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let plan = plan_cloudwatch(&aws, GROUP, &Query::default()).unwrap();
    assert_eq!(plan.sources.len(), 2, "{:?}", plan.notes);
    assert_eq!(
        plan.notes[0],
        "cloudwatch logs group /aws/eks/prod/cluster: 2 of 2 kube-apiserver-audit-* streams to read"
    );
    assert_eq!(
        plan.sources[0].name(),
        "cloudwatch:/aws/eks/prod/cluster/kube-apiserver-audit-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    );
    let got = support::read_all(&plan);
    assert_eq!(support::sorted(got), support::sorted(expected.clone()));
    let progress = aws.progress();
    assert_eq!(progress.events, expected.len() as u64);
    assert!(progress.bytes > 10_000, "{progress}");
}

#[test]
fn a_filter_pattern_searches_the_audit_streams_with_the_time_range() {
    let Some(moto) = support::moto() else { return };
    let expected = load_eks_group(&Loader::new(&moto.url()));
    let proxy = FaultProxy::start(moto.port(), |_| ProxyAction::Forward);
    let aws = support::aws(&proxy.url(), &[], 1000.0);
    let pattern = filter_pattern(&["list".to_owned()], &["bob".to_owned()]).unwrap();
    let query = Query {
        window: Window::for_requests(Some(1_500_000_000_000_000), Some(1_800_000_000_000_000)),
        pattern: Some(pattern.clone()),
    };
    let plan = plan_cloudwatch(&aws, GROUP, &query).unwrap();
    assert_eq!(plan.sources.len(), 1, "both streams in one search");
    assert!(
        plan.notes.iter().any(|n| n.contains(&pattern)),
        "{:?}",
        plan.notes
    );
    // moto does not evaluate JSON patterns (it returns every event): the local filter is the
    // one that counts, and the streams named keep the decoys out.
    let got = support::read_all(&plan);
    assert_eq!(support::sorted(got), support::sorted(expected));
    let searches: Vec<Value> = proxy
        .requests()
        .iter()
        .filter(|r| r.header("x-amz-target") == Some("Logs_20140328.FilterLogEvents"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(!searches.is_empty());
    for body in &searches {
        assert_eq!(body["filterPattern"], pattern.as_str());
        assert_eq!(body["startTime"], 1_500_000_000_000_i64 - 300_000);
        assert_eq!(body["endTime"], 1_800_000_000_000_i64 + 5_400_000);
        let streams: Vec<&str> = body["logStreamNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(streams.len(), 2);
        assert!(
            streams
                .iter()
                .all(|s| s.starts_with("kube-apiserver-audit-"))
        );
    }
}

#[test]
fn pages_run_until_the_token_runs_out_or_repeats() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let big = support::generated_events(23_500, support::recent_hour(), 100);
    let small = support::generated_events(4_000, support::recent_hour() + 50, 100);
    loader.put_stream(GROUP, "kube-apiserver-audit-big", &big);
    loader.put_stream(GROUP, "kube-apiserver-audit-small", &small);
    let expected: Vec<String> = big.iter().chain(&small).map(|(_, m)| m.clone()).collect();
    let proxy = FaultProxy::start(moto.port(), |_| ProxyAction::Forward);
    let aws = support::aws(&proxy.url(), &[], 1000.0);

    // Whole streams: GetLogEvents, 10,000 events a page, until the forward token repeats.
    let plan = plan_cloudwatch(&aws, GROUP, &Query::default()).unwrap();
    let got = support::read_all(&plan);
    assert_eq!(got.len(), expected.len());
    assert_eq!(
        support::sorted(got.clone()),
        support::sorted(expected.clone())
    );
    // Each stream comes oldest first.
    assert_eq!(got[0], big[0].1);
    assert_eq!(got[23_499], big[23_499].1);
    let gets = |proxy: &FaultProxy, stream: &str| {
        proxy
            .requests()
            .iter()
            .filter(|r| r.header("x-amz-target") == Some("Logs_20140328.GetLogEvents"))
            .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
            .filter(|b| b["logStreamName"] == stream)
            .map(|b| b["nextToken"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    // Three full pages and the empty page that repeats the token.
    let tokens = gets(&proxy, "kube-apiserver-audit-big");
    assert_eq!(tokens.len(), 4, "{tokens:?}");
    assert_eq!(tokens[0], None);
    assert_eq!(gets(&proxy, "kube-apiserver-audit-small").len(), 2);

    // Searched: FilterLogEvents over both streams until no nextToken.
    let query = Query {
        pattern: filter_pattern(&["get,list,watch,update,create".to_owned()], &[]),
        ..Query::default()
    };
    let before = proxy.requests().len();
    let plan = plan_cloudwatch(&aws, GROUP, &query).unwrap();
    let got = support::read_all(&plan);
    assert_eq!(support::sorted(got), support::sorted(expected));
    let searches = proxy.requests()[before..]
        .iter()
        .filter(|r| r.header("x-amz-target") == Some("Logs_20140328.FilterLogEvents"))
        .count();
    assert_eq!(searches, 3, "27,500 events in pages of 10,000");
}

#[test]
fn the_time_range_is_read_and_an_empty_one_reads_nothing() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let hour = 3_600_000;
    let start = support::recent_hour() / hour * hour;
    // Ten hours, an event a minute.
    let events = support::generated_events(600, start, 60_000);
    loader.put_stream(GROUP, "kube-apiserver-audit-1", &events);
    let aws = support::aws(&moto.url(), &[], 1000.0);

    let since_us = (start + 4 * hour) * 1000;
    let until_us = (start + 5 * hour) * 1000;
    let window = Window::for_requests(Some(since_us), Some(until_us));
    let query = Query {
        window,
        pattern: None,
    };
    let got = support::read_all(&plan_cloudwatch(&aws, GROUP, &query).unwrap());
    let expected: Vec<String> = events
        .iter()
        .filter(|(t, _)| Some(*t) >= window.start_ms && Some(*t) <= window.end_ms)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(got, expected);
    // The widened range holds 5 minutes before and 90 after the hour asked for.
    assert_eq!(got.len(), 5 + 60 + 90);

    // Long after the last event: the stream is not even read.
    let later = Window::for_requests(Some((start + 100 * hour) * 1000), None);
    let plan = plan_cloudwatch(
        &aws,
        GROUP,
        &Query {
            window: later,
            pattern: None,
        },
    )
    .unwrap();
    assert!(plan.sources.is_empty());
    assert_eq!(
        plan.notes[0],
        "cloudwatch logs group /aws/eks/prod/cluster: 0 of 1 kube-apiserver-audit-* streams to read (1 hold no event in the time range)"
    );
    // A range between events: read, empty.
    let gap = Window {
        start_ms: Some(start + 30_001),
        end_ms: Some(start + 59_999),
    };
    let plan = plan_cloudwatch(
        &aws,
        GROUP,
        &Query {
            window: gap,
            pattern: None,
        },
    )
    .unwrap();
    assert_eq!(plan.sources.len(), 1);
    assert!(support::read_all(&plan).is_empty());
}

#[test]
fn a_missing_group_names_the_group_the_code_and_the_action() {
    let Some(moto) = support::moto() else { return };
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let e = plan_cloudwatch(&aws, "/aws/eks/staging/cluster", &Query::default()).unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        e.to_string(),
        "cloudwatch logs group /aws/eks/staging/cluster: logs:DescribeLogStreams failed: ResourceNotFoundException: The specified log group does not exist (HTTP 400)"
    );
}
