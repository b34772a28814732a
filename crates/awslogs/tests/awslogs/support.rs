//! Loading moto the way EKS and AWS fill CloudWatch Logs and S3: log groups and streams written
//! with `PutLogEvents`, exports made with `CreateExportTask`, Firehose deliveries of a
//! subscription filter, IAM users with policies; all over signed requests.

use std::io::Write as _;
use std::path::Path;

use apilens_awslogs::{Aws, AwsOpts};
use apilens_sigv4::{Credentials, CredentialsChain, EnvSnapshot, Signer};
use apilens_testkit::Moto;
use serde_json::{Value, json};

/// The region every test uses.
pub const REGION: &str = "eu-west-1";

/// The account moto serves.
pub const ACCOUNT: &str = "123456789012";

/// The log group of a cluster named `prod`.
pub const GROUP: &str = "/aws/eks/prod/cluster";

/// A client for loading moto, signing as any key (moto checks nothing until auth is enforced).
pub struct Loader {
    base: String,
    http: reqwest::blocking::Client,
    chain: CredentialsChain,
}

impl Loader {
    pub fn new(base: &str) -> Loader {
        apilens_model::install_crypto_provider();
        Loader {
            base: base.to_owned(),
            http: reqwest::blocking::Client::new(),
            chain: CredentialsChain::fixed(Credentials::new("testing", "testing", None)),
        }
    }

    fn send(
        &self,
        signer: &Signer,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let signed = signer.sign(method, url, headers, &body).unwrap();
        let mut req = self.http.request(method.parse().unwrap(), url).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        for (k, v) in &signed {
            req = req.header(k, v);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().unwrap())
    }

    /// One JSON 1.1 call (`Logs_20140328.X`, `Firehose_20150804.X`).
    pub fn json(&self, service: &str, target: &str, body: Value) -> Value {
        let signer = Signer::new(REGION, service, self.chain.clone());
        let (status, text) = self.send(
            &signer,
            "POST",
            &format!("{}/", self.base),
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", target),
            ],
            serde_json::to_vec(&body).unwrap(),
        );
        assert!(status < 300, "{target}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub fn logs(&self, action: &str, body: Value) -> Value {
        self.json("logs", &format!("Logs_20140328.{action}"), body)
    }

    pub fn create_group(&self, group: &str) {
        self.logs("CreateLogGroup", json!({ "logGroupName": group }));
    }

    /// A stream with its events, in `PutLogEvents` batches of at most 2,000 events (sorted by
    /// time, as the API wants them).
    pub fn put_stream(&self, group: &str, stream: &str, events: &[(i64, String)]) {
        self.logs(
            "CreateLogStream",
            json!({ "logGroupName": group, "logStreamName": stream }),
        );
        let mut events = events.to_vec();
        events.sort_by_key(|(t, _)| *t);
        for batch in events.chunks(2000) {
            let batch: Vec<Value> = batch
                .iter()
                .map(|(t, m)| json!({ "timestamp": t, "message": m }))
                .collect();
            let answer = self.logs(
                "PutLogEvents",
                json!({ "logGroupName": group, "logStreamName": stream, "logEvents": batch }),
            );
            // CloudWatch refuses events older than 14 days or more than 2 hours ahead.
            assert!(answer.get("rejectedLogEventsInfo").is_none(), "{answer}");
        }
    }

    pub fn s3(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, String) {
        let signer = Signer::for_s3(REGION, self.chain.clone());
        self.send(&signer, method, &format!("{}{path}", self.base), &[], body)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let conf = format!(
            "<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint></CreateBucketConfiguration>"
        );
        let (status, text) = self.s3("PUT", &format!("/{bucket}"), conf.into_bytes());
        assert!(status < 300, "create bucket {bucket}: {status} {text}");
    }

    pub fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let (status, text) = self.s3("PUT", &format!("/{bucket}/{key}"), body);
        assert!(status < 300, "put {bucket}/{key}: {status} {text}");
    }

    /// `CreateExportTask` of the whole group to `bucket/prefix`.
    pub fn export(&self, group: &str, bucket: &str, prefix: &str) {
        self.logs(
            "CreateExportTask",
            json!({
                "logGroupName": group, "from": 0, "to": 4_102_444_800_000_i64,
                "destination": bucket, "destinationPrefix": prefix,
            }),
        );
    }

    /// A Firehose delivery stream to `bucket/prefix` and a subscription filter sending every
    /// event of `group` to it.
    pub fn subscribe_firehose(&self, group: &str, bucket: &str, prefix: &str) {
        let name = "eks-audit";
        self.json(
            "firehose",
            "Firehose_20150804.CreateDeliveryStream",
            json!({
                "DeliveryStreamName": name,
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {
                    "RoleARN": format!("arn:aws:iam::{ACCOUNT}:role/firehose"),
                    "BucketARN": format!("arn:aws:s3:::{bucket}"),
                    "Prefix": prefix,
                    "CompressionFormat": "UNCOMPRESSED",
                },
            }),
        );
        self.logs(
            "PutSubscriptionFilter",
            json!({
                "logGroupName": group, "filterName": "to-s3", "filterPattern": "",
                "destinationArn": format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"),
                "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/cwl-to-firehose"),
            }),
        );
    }

    /// An IAM user allowed `actions` on everything; returns its access key id and secret.
    pub fn iam_user(&self, name: &str, actions: &[&str]) -> (String, String) {
        let iam = |params: &[(&str, &str)]| {
            let signer = Signer::new("us-east-1", "iam", self.chain.clone());
            let mut body = form(&[("Version", "2010-05-08")]);
            body.push('&');
            body.push_str(&form(params));
            let (status, text) = self.send(
                &signer,
                "POST",
                &format!("{}/", self.base),
                &[("content-type", "application/x-www-form-urlencoded")],
                body.into_bytes(),
            );
            assert!(status < 300, "iam {params:?}: {status} {text}");
            text
        };
        iam(&[("Action", "CreateUser"), ("UserName", name)]);
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }],
        })
        .to_string();
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "audit"),
            ("PolicyDocument", &policy),
        ]);
        let keys = iam(&[("Action", "CreateAccessKey"), ("UserName", name)]);
        (xml(&keys, "AccessKeyId"), xml(&keys, "SecretAccessKey"))
    }
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn xml(doc: &str, tag: &str) -> String {
    let start = doc.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
    let end = doc[start..].find('<').unwrap() + start;
    doc[start..end].to_owned()
}

/// A connection to moto (or a proxy in front of it) with `vars` as the environment.
pub fn aws(endpoint: &str, vars: &[(&str, &str)], rps: f64) -> Aws {
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
    ];
    for (k, v) in vars {
        env.retain(|(name, _)| name != k);
        env.push((k, v));
    }
    let opts = AwsOpts {
        max_requests_per_second: rps,
        ..AwsOpts::default()
    };
    Aws::with_env(&opts, EnvSnapshot::from_pairs(env, None), "test").unwrap()
}

/// Starts moto, or returns `None` (with a note) where it is not installed outside CI.
pub fn moto() -> Option<Moto> {
    Moto::start()
}

/// The start of the hour three days ago (ms): CloudWatch takes events of the last 14 days only.
pub fn recent_hour() -> i64 {
    let hour = 3_600_000;
    (jiff::Timestamp::now().as_millisecond() - 3 * 24 * hour) / hour * hour
}

/// The native audit events of the real fixtures, one compact JSON text each, logged a second
/// apart from a day ago in file order: the events EKS would write to its audit streams.
pub fn fixture_events() -> Vec<(i64, String)> {
    let base = jiff::Timestamp::now().as_millisecond() - 24 * 3_600_000;
    fixture_messages()
        .into_iter()
        .enumerate()
        .map(|(i, m)| (base + i as i64 * 1000, m))
        .collect()
}

/// The native audit events of the real fixtures, one compact JSON text each.
fn fixture_messages() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/audit");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let value = value.unwrap();
            let native = value.get("auditID").is_some() && value.get("stage").is_some();
            if !native {
                continue;
            }
            out.push(value.to_string());
        }
    }
    assert!(out.len() > 40, "{} native fixture events", out.len());
    out
}

/// `n` generated native events from `start_ms`, one every `step_ms`, with users, verbs and
/// resources that vary.
pub fn generated_events(n: usize, start_ms: i64, step_ms: i64) -> Vec<(i64, String)> {
    const VERBS: [&str; 5] = ["get", "list", "watch", "update", "create"];
    const USERS: [&str; 4] = [
        "system:serviceaccount:kube-system:fluent-bit",
        "system:node:ip-10-0-1-17.eu-west-1.compute.internal",
        "alice",
        "system:kube-controller-manager",
    ];
    const RESOURCES: [&str; 3] = ["pods", "configmaps", "leases"];
    (0..n)
        .map(|i| {
            let t = start_ms + i as i64 * step_ms;
            let at = |ms: i64| {
                jiff::Timestamp::from_millisecond(ms)
                    .unwrap()
                    .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string()
            };
            let resource = RESOURCES[i % 3];
            let event = json!({
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": format!("gen-{i:08}"), "stage": "ResponseComplete",
                "requestURI": format!("/api/v1/namespaces/ns-{}/{resource}?limit=500", i % 7),
                "verb": VERBS[i % 5],
                "user": { "username": USERS[i % 4], "groups": ["system:authenticated"] },
                "sourceIPs": ["10.0.1.17"], "userAgent": "fluent-bit/3.1.4",
                "objectRef": { "resource": resource, "namespace": format!("ns-{}", i % 7), "apiVersion": "v1" },
                "responseStatus": { "metadata": {}, "code": if i % 50 == 0 { 429 } else { 200 } },
                "requestReceivedTimestamp": at(t),
                "stageTimestamp": at(t + 12),
                "annotations": { "authorization.k8s.io/decision": "allow" },
            });
            (t + 12, event.to_string())
        })
        .collect()
}

/// Decoy streams of an EKS control-plane log group: the API server's own log, the
/// authenticator's and the controller manager's (one line each looking like an audit event, so
/// that reading one would show in the counts).
pub fn decoys() -> Vec<(&'static str, Vec<(i64, String)>)> {
    let t = recent_hour();
    let audit_like = generated_events(1, t, 1).remove(0).1;
    vec![
        (
            "kube-apiserver-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            vec![
                (t, "I0911 19:55:05.123456      10 trace.go:236] Trace[1]: \"List\" url:/api/v1/pods (11-Sep-2017 19:55:05.000) (total time: 612ms)".to_owned()),
                (t + 1, audit_like.clone()),
            ],
        ),
        (
            "authenticator-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            vec![(t, "time=\"2020-09-13T12:26:40Z\" level=info msg=\"access granted\" arn=\"arn:aws:iam::123456789012:role/node\"".to_owned())],
        ),
        (
            "kube-controller-manager-0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            vec![
                (t, "I0913 12:26:40.000000       1 event.go:294] \"Event occurred\"".to_owned()),
                (t + 2, audit_like),
            ],
        ),
    ]
}

/// Gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every line read from the sources of a plan, in order.
pub fn read_all(plan: &apilens_awslogs::Plan) -> Vec<String> {
    let mut out = Vec::new();
    for source in &plan.sources {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut source.open(), &mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", source.name()));
        out.extend(text.lines().map(str::to_owned));
    }
    out
}

/// Sorted copies, for comparing multisets.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
