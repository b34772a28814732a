//! S3: the objects of a CloudWatch Logs export and of a Firehose subscription, as moto writes
//! them, and the time in Firehose keys.

use apilens_awslogs::{Query, S3Location, Window, plan_s3};
use serde_json::json;

use crate::support::{self, GROUP, Loader};

/// The real fixtures in two audit streams beside the decoys; returns the audit messages.
fn load_streams(loader: &Loader) -> Vec<String> {
    let events = support::fixture_events();
    let (a, b) = events.split_at(events.len() / 3);
    loader.put_stream(GROUP, "kube-apiserver-audit-0a1b", a);
    loader.put_stream(GROUP, "kube-apiserver-audit-2c3d", b);
    for (stream, events) in support::decoys() {
        loader.put_stream(GROUP, stream, &events);
    }
    events.into_iter().map(|(_, m)| m).collect()
}

#[test]
fn a_cloudwatch_export_is_read_for_its_audit_streams_only() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let expected = load_streams(&loader);
    loader.create_bucket("audit-exports");
    loader.export(GROUP, "audit-exports", "exports/prod");
    let aws = support::aws(&moto.url(), &[], 1000.0);
    // The whole bucket: the export's aws-logs-write-test is there too.
    let at: S3Location = "s3://audit-exports".parse().unwrap();
    let plan = plan_s3(&aws, &at, &Query::default()).unwrap();
    assert_eq!(
        plan.notes[0],
        "s3://audit-exports/: 2 of 6 objects to read (left out: 3 exports of other log streams, 1 aws-logs-write-test)"
    );
    assert!(
        plan.sources
            .iter()
            .all(|s| s.name().starts_with("s3://audit-exports/exports/prod/")
                && s.name().contains("/kube-apiserver-audit-")
                && s.name().ends_with("/000000.gz")),
        "{:?}",
        plan.sources.iter().map(|s| s.name()).collect::<Vec<_>>()
    );
    // Export lines are `<time> <message>`; the audit decoder reads that prefix.
    let got: Vec<String> = support::read_all(&plan)
        .into_iter()
        .map(|line| {
            let (time, message) = line.split_once(' ').unwrap();
            assert!(time.ends_with('Z') && time.len() == 24, "{time}");
            message.to_owned()
        })
        .collect();
    assert_eq!(support::sorted(got), support::sorted(expected));
}

#[test]
fn firehose_deliveries_are_unwrapped_and_other_streams_left_out() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_bucket("audit-firehose");
    loader.create_group(GROUP);
    loader.subscribe_firehose(GROUP, "audit-firehose", "eks/prod/");
    let expected = load_streams(&loader);
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let at: S3Location = "s3://audit-firehose/eks/prod/".parse().unwrap();
    let plan = plan_s3(&aws, &at, &Query::default()).unwrap();
    // One delivery per PutLogEvents call: the two audit streams and the three decoys.
    assert_eq!(plan.sources.len(), 5, "{:?}", plan.notes);
    let got = support::read_all(&plan);
    assert_eq!(support::sorted(got), support::sorted(expected));
    // The decoys' five events were in deliveries and were left out.
    assert_eq!(aws.progress().ignored, 5);
}

#[test]
fn firehose_hours_outside_the_time_range_are_not_read() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_bucket("audit-firehose");
    let record = |stream: &str, messages: &[String]| {
        let record = json!({
            "messageType": "DATA_MESSAGE", "owner": support::ACCOUNT, "logGroup": GROUP,
            "logStream": stream, "subscriptionFilters": ["to-s3"],
            "logEvents": messages.iter().enumerate().map(|(i, m)| json!({"id": i.to_string(), "timestamp": 0, "message": m})).collect::<Vec<_>>(),
        });
        support::gzip(record.to_string().as_bytes())
    };
    let events = support::generated_events(6, support::recent_hour(), 1);
    let hours = [
        "2026/11/30/08",
        "2026/11/30/09",
        "2026/11/30/10",
        "2026/11/30/11",
        "2026/11/30/14",
        "2026/12/01/02",
    ];
    for (hour, (_, message)) in hours.iter().zip(&events) {
        let stamp = hour.replace('/', "-");
        let key =
            format!("fh/{hour}/eks-audit-1-{stamp}-04-52-3f0c2a1e-6a7b-4c8d-9e0f-112233445566");
        // Firehose writes CloudWatch's gzip records back to back, then gzips the whole.
        let body = [
            record("kube-apiserver-audit-1", std::slice::from_ref(message)),
            record("kube-apiserver-audit-2", &[]),
        ]
        .concat();
        loader.put_object("audit-firehose", &key, support::gzip(&body));
    }
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let at: S3Location = "s3://audit-firehose/fh/".parse().unwrap();
    let us = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_microsecond();
    let window = Window::for_requests(
        Some(us("2026-11-30T10:30:00Z")),
        Some(us("2026-11-30T12:00:00Z")),
    );
    let plan = plan_s3(
        &aws,
        &at,
        &Query {
            window,
            pattern: None,
        },
    )
    .unwrap();
    let names: Vec<&str> = plan.sources.iter().map(|s| &s.name()[..37]).collect();
    // 09:00 may hold records that arrived until 10:15 (buffering): before 10:25, left out.
    // 10:00 and 11:00 hold the range; 14:00 is more than 90 minutes after its end, left out.
    assert_eq!(
        names,
        [
            "s3://audit-firehose/fh/2026/11/30/10/",
            "s3://audit-firehose/fh/2026/11/30/11/"
        ]
    );
    assert!(plan.sources[0].name().contains("/2026/11/30/10/"));
    assert!(plan.sources[1].name().contains("/2026/11/30/11/"));
    assert!(
        plan.notes[0].ends_with("(left out: 4 Firehose deliveries outside the time range)"),
        "{:?}",
        plan.notes
    );
    assert_eq!(
        support::read_all(&plan),
        [events[2].1.clone(), events[3].1.clone()]
    );
}

#[test]
fn other_objects_are_read_as_audit_lines() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_bucket("audit-copies");
    let lines: Vec<String> = support::fixture_events()
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let text = lines.join("\n") + "\n";
    loader.put_object(
        "audit-copies",
        "node-1/audit.log.gz",
        support::gzip(text.as_bytes()),
    );
    loader.put_object(
        "audit-copies",
        "node-2/audit.log",
        text.clone().into_bytes(),
    );
    loader.put_object("audit-copies", "node-2/empty.log", Vec::new());
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let plan = plan_s3(
        &aws,
        &"s3://audit-copies/".parse().unwrap(),
        &Query::default(),
    )
    .unwrap();
    assert_eq!(plan.sources.len(), 2, "the empty object is not read");
    let got = support::read_all(&plan);
    assert_eq!(got, [lines.clone(), lines].concat());
}

#[test]
fn a_missing_bucket_names_the_bucket_the_code_and_the_action() {
    let Some(moto) = support::moto() else { return };
    let aws = support::aws(&moto.url(), &[], 1000.0);
    let e = plan_s3(
        &aws,
        &"s3://no-such-bucket/x/".parse().unwrap(),
        &Query::default(),
    )
    .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
    assert!(
        e.to_string().starts_with("s3 bucket no-such-bucket prefix \"x/\": s3:ListBucket failed: NoSuchBucket: The specified bucket does not exist (HTTP 404)"),
        "{e}"
    );
}
