//! Throttling, a cap on the request rate, wrong credentials, and an endpoint that dies or breaks
//! a connection part-way.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apilens_awslogs::{Query, S3Location, filter_pattern, plan_cloudwatch, plan_s3};
use apilens_testkit::{FaultProxy, ProxyAction, ProxyRequest};

use crate::support::{self, GROUP, Loader};

fn throttled(req: &ProxyRequest) -> ProxyAction {
    if req.header("x-amz-target").is_some() {
        ProxyAction::Respond {
            status: "400 Bad Request",
            headers: vec![
                ("content-type".into(), "application/x-amz-json-1.1".into()),
                ("x-amzn-errortype".into(), "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/".into()),
            ],
            body: br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_vec(),
        }
    } else {
        ProxyAction::Respond {
            status: "503 Slow Down",
            headers: vec![("content-type".into(), "application/xml".into())],
            body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>".to_vec(),
        }
    }
}

#[test]
fn throttling_is_retried_with_backoff_and_the_rate_stays_under_the_cap() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let events = support::generated_events(12_000, support::recent_hour(), 100);
    loader.put_stream(GROUP, "kube-apiserver-audit-1", &events[..6_000]);
    loader.put_stream(GROUP, "kube-apiserver-audit-2", &events[6_000..]);
    loader.create_bucket("audit");
    loader.put_object(
        "audit",
        "copy/audit.log.gz",
        support::gzip(b"{\"kind\":\"Event\"}\n"),
    );
    let expected: Vec<String> = events.into_iter().map(|(_, m)| m).collect();
    // Every third request is refused as AWS refuses it when the account goes too fast.
    let proxy = FaultProxy::start(moto.port(), |req| {
        if req.index % 3 == 1 {
            throttled(req)
        } else {
            ProxyAction::Forward
        }
    });
    let aws = support::aws(&proxy.url(), &[], 20.0);
    let plan = plan_cloudwatch(&aws, GROUP, &Query::default()).unwrap();
    // The two streams in parallel, as the audit scanner reads them.
    let readers: Vec<_> = plan
        .sources
        .iter()
        .map(|s| {
            let mut r = s.open();
            std::thread::spawn(move || {
                let mut text = String::new();
                r.read_to_string(&mut text).map(|_| text)
            })
        })
        .collect();
    let mut got = Vec::new();
    for r in readers {
        got.extend(r.join().unwrap().unwrap().lines().map(str::to_owned));
    }
    assert_eq!(support::sorted(got), support::sorted(expected));
    let s3 = plan_s3(
        &aws,
        &"s3://audit/copy/".parse::<S3Location>().unwrap(),
        &Query::default(),
    )
    .unwrap();
    assert_eq!(support::read_all(&s3), ["{\"kind\":\"Event\"}"]);

    let progress = aws.progress();
    let requests = proxy.requests();
    assert_eq!(progress.requests, requests.len() as u64);
    assert!(
        progress.throttled >= requests.len() as u64 / 3 - 1,
        "{progress}"
    );
    assert_eq!(progress.throttled, progress.retries);
    // At most 20 requests a second over both readers, retries included.
    let span = requests.last().unwrap().at - requests[0].at;
    let floor = Duration::from_millis(50) * (requests.len() as u32 - 1);
    assert!(
        span >= floor.mul_f64(0.9),
        "{} requests in {span:?}",
        requests.len()
    );
}

#[test]
fn throttling_that_never_ends_fails_naming_the_code_and_the_attempts() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let proxy = FaultProxy::start(moto.port(), throttled);
    let aws = support::aws(&proxy.url(), &[("AWS_MAX_ATTEMPTS", "3")], 1000.0);
    let e = plan_cloudwatch(&aws, GROUP, &Query::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cloudwatch logs group /aws/eks/prod/cluster: logs:DescribeLogStreams failed: ThrottlingException: Rate exceeded (HTTP 400); still throttled after 3 attempts: lower --aws-max-rps, or read less at once"
    );
    assert_eq!(proxy.requests().len(), 3);
}

#[test]
fn wrong_credentials_and_missing_permissions_say_which() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    loader.put_stream(
        GROUP,
        "kube-apiserver-audit-1",
        &support::generated_events(10, support::recent_hour(), 1),
    );
    loader.create_bucket("audit");
    let (reader_key, reader_secret) = loader.iam_user(
        "audit-reader",
        &[
            "logs:DescribeLogStreams",
            "logs:GetLogEvents",
            "logs:FilterLogEvents",
            "s3:ListBucket",
            "s3:GetObject",
        ],
    );
    let (list_key, list_secret) = loader.iam_user("lister", &["logs:DescribeLogStreams"]);
    let (s3_key, s3_secret) = loader.iam_user("s3-only", &["s3:ListBucket"]);
    moto.enforce_auth();
    let with = |key: &str, secret: &str| {
        support::aws(
            &moto.url(),
            &[
                ("AWS_ACCESS_KEY_ID", key),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_MAX_ATTEMPTS", "1"),
            ],
            1000.0,
        )
    };

    // The right key with its permissions reads.
    let plan =
        plan_cloudwatch(&with(&reader_key, &reader_secret), GROUP, &Query::default()).unwrap();
    assert_eq!(support::read_all(&plan).len(), 10);

    // A key AWS does not know.
    let e = plan_cloudwatch(
        &with(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        GROUP,
        &Query::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "cloudwatch logs group /aws/eks/prod/cluster: logs:DescribeLogStreams failed: "
        ),
        "{e}"
    );
    assert!(e.contains("AWS does not accept these credentials"), "{e}");
    // A known key with a wrong secret.
    let e = plan_cloudwatch(
        &with(&reader_key, "not-the-secret"),
        GROUP,
        &Query::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("AWS does not accept these credentials"),
        "{e}"
    );
    assert!(!e.to_string().contains(&reader_secret));

    // A key without the permission: the action it needs.
    let e = plan_cloudwatch(&with(&s3_key, &s3_secret), GROUP, &Query::default()).unwrap_err();
    // AWS says AccessDeniedException, moto AccessDenied.
    assert!(e.code().unwrap().starts_with("AccessDenied"), "{e}");
    assert!(
        e.to_string()
            .ends_with("; the credentials need the IAM permission logs:DescribeLogStreams on it"),
        "{e}"
    );
    // Allowed to list the streams, not to read them: the read fails naming the stream.
    let plan = plan_cloudwatch(&with(&list_key, &list_secret), GROUP, &Query::default()).unwrap();
    let mut text = String::new();
    let e = plan.sources[0]
        .open()
        .read_to_string(&mut text)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("cloudwatch logs group /aws/eks/prod/cluster stream kube-apiserver-audit-1: logs:GetLogEvents failed: AccessDenied"),
        "{e}"
    );
    let query = Query {
        pattern: filter_pattern(&["list".into()], &[]),
        ..Query::default()
    };
    let plan = plan_cloudwatch(&with(&list_key, &list_secret), GROUP, &query).unwrap();
    let e = plan.sources[0]
        .open()
        .read_to_string(&mut text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("logs:FilterLogEvents failed: AccessDenied"),
        "{e}"
    );
    let e = plan_s3(
        &with(&list_key, &list_secret),
        &"s3://audit/".parse().unwrap(),
        &Query::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("s3 bucket audit prefix \"\": s3:ListBucket failed: AccessDenied"),
        "{e}"
    );
}

#[test]
fn an_emulator_killed_mid_read_fails_the_stream_with_what_was_read_kept() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let events = support::generated_events(15_000, support::recent_hour(), 100);
    loader.put_stream(GROUP, "kube-apiserver-audit-1", &events);
    let moto = Arc::new(Mutex::new(moto));
    let aws = support::aws(
        &moto.lock().unwrap().url(),
        &[("AWS_MAX_ATTEMPTS", "2")],
        1000.0,
    );
    let plan = plan_cloudwatch(&aws, GROUP, &Query::default()).unwrap();
    let mut reader = plan.sources[0].open();
    let mut first = vec![0; 1000];
    reader.read_exact(&mut first).unwrap();
    moto.lock().unwrap().kill();
    let mut rest = Vec::new();
    let e = reader.read_to_end(&mut rest).unwrap_err().to_string();
    assert!(
        e.starts_with("cloudwatch logs group /aws/eks/prod/cluster stream kube-apiserver-audit-1: logs:GetLogEvents failed: cannot reach http://127.0.0.1:"),
        "{e}"
    );
    // The first page (10,000 events) came through whole before the failure.
    first.extend(rest);
    let text = String::from_utf8(first).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10_000);
    assert_eq!(lines[9_999], events[9_999].1);
    assert_eq!(aws.progress().retries, 1);
}

#[test]
fn an_object_cut_part_way_is_resumed_from_the_byte_reached() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_bucket("audit");
    let lines: Vec<String> = support::generated_events(3_000, support::recent_hour(), 10)
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let body = support::gzip((lines.join("\n") + "\n").as_bytes());
    assert!(body.len() > 20_000);
    loader.put_object("audit", "copy/audit.log.gz", body);
    let gets = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&gets);
    let proxy = FaultProxy::start(moto.port(), move |req| {
        if req.method == "GET" && req.target.starts_with("/audit/copy/") {
            let mut n = counter.lock().unwrap();
            *n += 1;
            if *n == 1 {
                return ProxyAction::ForwardCut { body_bytes: 10_000 };
            }
        }
        ProxyAction::Forward
    });
    let aws = support::aws(&proxy.url(), &[], 1000.0);
    let plan = plan_s3(
        &aws,
        &"s3://audit/copy/".parse().unwrap(),
        &Query::default(),
    )
    .unwrap();
    assert_eq!(support::read_all(&plan), lines);
    let resumed: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.target.starts_with("/audit/copy/"))
        .collect();
    assert_eq!(resumed.len(), 2);
    assert_eq!(resumed[1].header("range"), Some("bytes=10000-"));
    assert!(resumed[1].header("if-match").is_some());
}
