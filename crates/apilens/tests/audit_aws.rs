//! `apilens audit` and `apilens doctor` on audit logs read straight from AWS, against a real AWS
//! API emulator (moto in server mode): the real fixtures in CloudWatch Logs streams named as EKS
//! names them, beside the group's other streams, and in gzip S3 objects; counts equal to those
//! of the same events read from a file; paging, throttling, credentials, a missing group, an
//! empty time range and an emulator killed in the middle of a read.

// The moto loader and the event sets of the awslogs tests, shared rather than copied; not every
// helper is used here.
#[allow(dead_code)]
#[path = "../../awslogs/tests/awslogs/support.rs"]
mod support;

use apilens_testkit::{FaultProxy, ProxyAction, ProxyRequest};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{GROUP, Loader, REGION};

/// The audit streams of an EKS cluster's group, as EKS names them.
const STREAM_A: &str = "kube-apiserver-audit-0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const STREAM_B: &str = "kube-apiserver-audit-f9e8d7c6b5a4938271605f4e3d2c1b0a";

/// `apilens` with test credentials and the region in its environment, nothing else of AWS, run
/// to its end.
fn apilens(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env).output().expect("run apilens")
}

/// The command of [`apilens`], not started.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apilens"));
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_MAX_ATTEMPTS", "3")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON report of a run that must succeed.
fn report(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = apilens(&all, env);
    assert!(out.status.success(), "{:?}: {}", args, stderr(&out));
    serde_json::from_slice(&out.stdout).expect("json output")
}

/// The rows of a report as key → (count, errors), and its event count.
fn counts(doc: &Value) -> (u64, BTreeMap<String, (u64, u64)>) {
    let rows = doc["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {doc:#}"))
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                (r["count"].as_u64().unwrap(), r["errors"].as_u64().unwrap()),
            )
        })
        .collect();
    (doc["events"].as_u64().unwrap(), rows)
}

/// The real fixtures split over two audit streams, beside the decoy streams of a real EKS
/// group; returns the audit messages in file order.
fn load_eks_group(loader: &Loader) -> Vec<String> {
    let events = support::fixture_events();
    let (a, b) = events.split_at(events.len() / 2);
    loader.create_group(GROUP);
    loader.put_stream(GROUP, STREAM_A, a);
    loader.put_stream(GROUP, STREAM_B, b);
    for (stream, events) in support::decoys() {
        loader.put_stream(GROUP, stream, &events);
    }
    events.into_iter().map(|(_, m)| m).collect()
}

/// The same messages as an audit log file.
fn as_file(dir: &tempfile::TempDir, messages: &[String]) -> String {
    let path = dir.path().join("audit.log");
    std::fs::write(&path, messages.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn cloudwatch_counts_equal_the_same_events_read_from_a_file() {
    let Some(moto) = support::moto() else { return };
    let messages = load_eks_group(&Loader::new(&moto.url()));
    let dir = tempfile::tempdir().unwrap();
    let file = as_file(&dir, &messages);
    let url = moto.url();
    for by in ["user", "verb", "client", "resource"] {
        let from_file = counts(&report(&["audit", "top", "--by", by, &file], &[]));
        let from_aws = counts(&report(
            &[
                "audit",
                "top",
                "--by",
                by,
                "--cloudwatch",
                GROUP,
                "--region",
                REGION,
                "--endpoint-url",
                &url,
            ],
            &[("AWS_REGION", "us-east-1")],
        ));
        assert_eq!(from_aws, from_file, "--by {by}");
        // Only the audit streams were read: the decoys hold an audit-looking event each.
        assert_eq!(from_aws.0, messages.len() as u64, "--by {by}");
    }
    // The service's own endpoint variable, and a view other than top.
    let lists_file = report(&["audit", "lists", &file], &[]);
    let lists_aws = report(
        &["audit", "lists", "--cloudwatch", GROUP],
        &[("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &url)],
    );
    assert_eq!(lists_aws["rows"], lists_file["rows"]);
    assert_eq!(lists_aws["events"], lists_file["events"]);
}

#[test]
fn the_read_is_told_on_stderr_and_credentials_never() {
    let Some(moto) = support::moto() else { return };
    let messages = load_eks_group(&Loader::new(&moto.url()));
    let out = apilens(
        &["audit", "top", "--cloudwatch", GROUP],
        &[
            ("AWS_ENDPOINT_URL", &moto.url()),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t-value-never-shown"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "note: cloudwatch logs group /aws/eks/prod/cluster: 2 of 2 kube-apiserver-audit-* streams to read"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "read cloudwatch logs group /aws/eks/prod/cluster: {} events",
            messages.len()
        )),
        "{err}"
    );
    let all = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains("s3cr3t-value-never-shown"));
}

#[test]
fn s3_gzip_objects_count_as_the_same_events_read_from_a_file() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    let messages = load_eks_group(&loader);
    // A CloudWatch export of the whole group (audit and decoy streams, gzip parts), and a
    // second copy of the events as a plain gzip object of lines elsewhere in the bucket.
    loader.create_bucket("audit-exports");
    loader.export(GROUP, "audit-exports", "exports/prod");
    let dir = tempfile::tempdir().unwrap();
    let file = as_file(&dir, &messages);
    let from_file = counts(&report(&["audit", "top", "--by", "user", &file], &[]));
    let from_export = counts(&report(
        &[
            "audit",
            "top",
            "--by",
            "user",
            "--s3",
            "s3://audit-exports/exports/prod/",
        ],
        &[("AWS_ENDPOINT_URL_S3", &moto.url())],
    ));
    assert_eq!(from_export, from_file);

    let (head, tail) = messages.split_at(messages.len() / 3);
    loader.put_object(
        "audit-exports",
        "lines/part-0.gz",
        support::gzip((head.join("\n") + "\n").as_bytes()),
    );
    loader.put_object(
        "audit-exports",
        "lines/part-1.gz",
        support::gzip((tail.join("\n") + "\n").as_bytes()),
    );
    let from_lines = counts(&report(
        &[
            "audit",
            "top",
            "--by",
            "user",
            "--s3",
            "s3://audit-exports/lines/",
            "--endpoint-url",
            &moto.url(),
        ],
        &[],
    ));
    assert_eq!(from_lines, from_file);
}

/// A proxy in front of moto that forwards everything.
fn forward(_: &ProxyRequest) -> ProxyAction {
    ProxyAction::Forward
}

/// The JSON bodies of the CloudWatch Logs calls of one action seen by a proxy.
fn calls(proxy: &FaultProxy, action: &str) -> Vec<Value> {
    let target = format!("Logs_20140328.{action}");
    proxy
        .requests()
        .iter()
        .filter(|r| r.header("x-amz-target") == Some(target.as_str()))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[test]
fn thousands_of_events_are_paged_and_the_filters_pushed_down() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let start = support::recent_hour();
    let events = support::generated_events(12_000, start, 250);
    let (a, b) = events.split_at(7_000);
    loader.put_stream(GROUP, STREAM_A, a);
    loader.put_stream(GROUP, STREAM_B, b);
    let proxy = FaultProxy::start(moto.port(), forward);
    let url = proxy.url();
    let env = [("AWS_ENDPOINT_URL", url.as_str())];

    let verbs = report(
        &["audit", "top", "--by", "verb", "--cloudwatch", GROUP],
        &env,
    );
    let (total, rows) = counts(&verbs);
    assert_eq!(total, 12_000);
    assert_eq!(rows["list"].0, 2_400);
    let pages = calls(&proxy, "GetLogEvents");
    assert!(pages.len() > 2, "{} GetLogEvents calls", pages.len());
    assert!(
        pages.iter().any(|p| p.get("nextToken").is_some()),
        "paged with nextToken"
    );

    // --verb/--user exact values become a filter pattern; --since/--until the time range.
    let since = jiff::Timestamp::from_millisecond(start + 1_000_000)
        .unwrap()
        .to_string();
    let until = jiff::Timestamp::from_millisecond(start + 2_000_000)
        .unwrap()
        .to_string();
    let listed = report(
        &[
            "audit",
            "top",
            "--by",
            "verb",
            "--cloudwatch",
            GROUP,
            "--verb",
            "list",
            "--since",
            &since,
            "--until",
            &until,
        ],
        &env,
    );
    // Events 4,000..8,000 were received in [1,000 s, 2,000 s); a fifth of them are LISTs.
    let (total, rows) = counts(&listed);
    assert_eq!(total, 800, "{listed:#}");
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["list"]);
    let searches = calls(&proxy, "FilterLogEvents");
    assert!(!searches.is_empty(), "a filter pattern searches");
    for s in &searches {
        assert_eq!(s["filterPattern"], r#"{ $.verb = "list" }"#);
        assert_eq!(s["startTime"], start + 1_000_000 - 5 * 60_000);
        assert_eq!(s["endTime"], start + 2_000_000 + 90 * 60_000);
        assert_eq!(s["logStreamNames"], serde_json::json!([STREAM_A, STREAM_B]));
    }
}

#[test]
fn an_empty_time_range_reads_nothing_and_says_so() {
    let Some(moto) = support::moto() else { return };
    load_eks_group(&Loader::new(&moto.url()));
    let proxy = FaultProxy::start(moto.port(), forward);
    let url = proxy.url();
    // The fixtures are logged from a day ago: the last ten minutes hold nothing.
    let out = apilens(
        &[
            "audit",
            "top",
            "--cloudwatch",
            GROUP,
            "--since",
            "10m",
            "--format",
            "json",
        ],
        &[("AWS_ENDPOINT_URL", &url)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["events"], 0);
    assert_eq!(doc["rows"], serde_json::json!([]));
    // Every read asked AWS for the last ten minutes (less five of clock skew) only.
    let asked_from = jiff::Timestamp::now().as_millisecond() - 16 * 60_000;
    let reads = calls(&proxy, "GetLogEvents");
    // Each stream: an empty page, then the same token again, which ends it.
    assert_eq!(reads.len(), 4, "{reads:?}");
    for r in &reads {
        assert!(r["startTime"].as_i64().unwrap() > asked_from, "{r}");
    }
    assert!(
        stderr(&out).contains("read cloudwatch logs group /aws/eks/prod/cluster: 0 events"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn throttling_is_waited_out_and_the_counts_stay_whole() {
    let Some(moto) = support::moto() else { return };
    let messages = load_eks_group(&Loader::new(&moto.url()));
    // Every other CloudWatch Logs call is throttled.
    let proxy = FaultProxy::start(moto.port(), |req| {
        if req.index % 2 == 1 {
            ProxyAction::Respond {
                status: "400 Bad Request",
                headers: vec![("content-type".into(), "application/x-amz-json-1.1".into())],
                body: br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_vec(),
            }
        } else {
            ProxyAction::Forward
        }
    });
    let out = apilens(
        &["audit", "top", "--cloudwatch", GROUP, "--format", "json"],
        &[
            ("AWS_ENDPOINT_URL", &proxy.url()),
            ("AWS_MAX_ATTEMPTS", "4"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["events"], messages.len() as u64);
    let err = stderr(&out);
    assert!(err.contains(" throttled"), "{err}");
}

#[test]
fn wrong_credentials_and_a_missing_group_fail_naming_them() {
    let Some(moto) = support::moto() else { return };
    let loader = Loader::new(&moto.url());
    load_eks_group(&loader);
    let url = moto.url();

    let out = apilens(
        &["audit", "top", "--cloudwatch", "/aws/eks/staging/cluster"],
        &[("AWS_ENDPOINT_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("cloudwatch logs group /aws/eks/staging/cluster: logs:DescribeLogStreams failed: ResourceNotFoundException"),
        "{err}"
    );

    let out = apilens(
        &["audit", "top", "--s3", "s3://no-such-bucket/exports/"],
        &[("AWS_ENDPOINT_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("no-such-bucket"), "{err}");
    assert!(err.contains("s3:ListBucket failed: NoSuchBucket"), "{err}");

    moto.enforce_auth();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let out = apilens(
        &["audit", "top", "--cloudwatch", GROUP],
        &[
            ("AWS_ENDPOINT_URL", &url),
            ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "cloudwatch logs group /aws/eks/prod/cluster: logs:DescribeLogStreams failed: "
        ),
        "{err}"
    );
    assert!(
        err.contains("AWS does not accept these credentials"),
        "{err}"
    );
    assert!(
        !err.contains(secret) && !err.contains("AKIAIOSFODNN7EXAMPLE"),
        "{err}"
    );
}

#[test]
fn an_emulator_killed_mid_read_gives_a_partial_result_and_status_2() {
    let Some(mut moto) = support::moto() else {
        return;
    };
    let loader = Loader::new(&moto.url());
    loader.create_group(GROUP);
    let start = support::recent_hour();
    // At most 10,000 events a page: three pages.
    let events = support::generated_events(25_000, start, 250);
    loader.put_stream(GROUP, STREAM_A, &events);
    let proxy = FaultProxy::start(moto.port(), forward);
    // One request a second: the kill lands after the first page was read and before the last.
    let url = proxy.url();
    let child = command(
        &[
            "audit",
            "top",
            "--by",
            "verb",
            "--cloudwatch",
            GROUP,
            "--aws-max-rps",
            "1",
            "--format",
            "json",
        ],
        &[("AWS_ENDPOINT_URL", &url), ("AWS_MAX_ATTEMPTS", "2")],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The second page is asked for once the first was read whole.
    while calls(&proxy, "GetLogEvents").len() < 2 {
        assert!(Instant::now() < deadline, "no second GetLogEvents call");
        std::thread::sleep(Duration::from_millis(5));
    }
    moto.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cloudwatch:{GROUP}/{STREAM_A}: read failed at byte "
        )),
        "{err}"
    );
    assert!(
        err.contains("logs:GetLogEvents failed: cannot reach"),
        "{err}"
    );
    assert!(err.contains("the result is partial"), "{err}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = doc["events"].as_u64().unwrap();
    assert!(
        events > 0 && events < 25_000,
        "{events} events before the kill"
    );
}

#[test]
fn doctor_reads_cloudwatch_as_it_reads_the_file() {
    let Some(moto) = support::moto() else { return };
    let messages = load_eks_group(&Loader::new(&moto.url()));
    let dir = tempfile::tempdir().unwrap();
    let file = as_file(&dir, &messages);
    let doctor = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["doctor", "--format", "json"];
        all.extend(args);
        let out = apilens(&all, env);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        // The inputs differ by name only.
        doc["inputs"]["audit"]["files"] = Value::Null;
        doc
    };
    let from_file = doctor(&["--audit-log", &file], &[]);
    let from_aws = doctor(&["--cloudwatch", GROUP, "--endpoint-url", &moto.url()], &[]);
    assert_eq!(
        from_aws["inputs"]["audit"]["requests"],
        messages.len() as u64
    );
    assert_eq!(from_aws, from_file);
}

#[test]
fn doctor_with_metrics_from_aws_needs_since_so_the_log_is_read_once() {
    let out = apilens(
        &[
            "doctor",
            "--cloudwatch",
            GROUP,
            "--data-dir",
            "no-such-store",
            "--endpoint-url",
            "http://127.0.0.1:1",
        ],
        &[("AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--cloudwatch/--s3 with metrics (--data-dir, --prometheus, --amp-workspace) needs --since"),
        "{err}"
    );
}

#[test]
fn aws_flags_without_a_place_are_refused() {
    let out = apilens(&["audit", "top", "--region", "eu-west-1", "x.log"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--region is for --cloudwatch or --s3, and neither is given"),
        "{}",
        stderr(&out)
    );
    let out = apilens(&["audit", "top"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("<FILE|--cloudwatch <GROUP>|--s3 <s3://BUCKET/PREFIX/>>"),
        "{}",
        stderr(&out)
    );
}
