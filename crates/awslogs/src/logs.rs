//! The CloudWatch Logs calls (JSON 1.1 over HTTPS, `X-Amz-Target: Logs_20140328.<Action>`):
//! `DescribeLogStreams`, `FilterLogEvents` and `GetLogEvents`, one page each.

use serde::Deserialize;
use serde_json::json;

use crate::aws::Aws;
use crate::error::AwsError;
use crate::http::{Request, Target};

/// The largest answer read: a page holds at most 1 MB of events, JSON escaping can double it.
const PAGE_LIMIT: u64 = 16 << 20;

/// The log streams EKS writes the API server's audit events to.
pub const AUDIT_STREAM_PREFIX: &str = "kube-apiserver-audit-";

/// One log stream as `DescribeLogStreams` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogStream {
    pub(crate) log_stream_name: String,
    #[serde(default)]
    pub(crate) first_event_timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) last_event_timestamp: Option<i64>,
    #[serde(default)]
    pub(crate) last_ingestion_time: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamsPage {
    #[serde(default)]
    log_streams: Vec<LogStream>,
    #[serde(default)]
    next_token: Option<String>,
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEvent {
    /// Set by `FilterLogEvents` only.
    #[serde(default)]
    pub(crate) log_stream_name: Option<String>,
    #[serde(default)]
    pub(crate) message: String,
}

/// One page of events and the token of the next.
#[derive(Debug, Default)]
pub(crate) struct EventsPage {
    pub(crate) events: Vec<LogEvent>,
    pub(crate) next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterPage {
    #[serde(default)]
    events: Vec<LogEvent>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetPage {
    #[serde(default)]
    events: Vec<LogEvent>,
    #[serde(default)]
    next_forward_token: Option<String>,
}

/// Every log stream of `group` whose name starts with `prefix`, in name order.
pub(crate) fn describe_log_streams(
    aws: &Aws,
    group: &str,
    prefix: &str,
) -> Result<Vec<LogStream>, AwsError> {
    let what = format!("cloudwatch logs group {group}");
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({
            "logGroupName": group,
            "logStreamNamePrefix": prefix,
            "orderBy": "LogStreamName",
        });
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page: StreamsPage = call(aws, &what, "DescribeLogStreams", &body)?;
        out.extend(page.log_streams);
        match page.next_token {
            Some(t) if Some(&t) != token.as_ref() => token = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

/// The parameters of an events query.
#[derive(Debug, Clone)]
pub(crate) struct EventsQuery<'a> {
    pub(crate) group: &'a str,
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
}

/// One page of `FilterLogEvents` over `streams` (at most 100), with `pattern`.
pub(crate) fn filter_log_events(
    aws: &Aws,
    query: &EventsQuery<'_>,
    streams: &[String],
    pattern: Option<&str>,
    token: Option<&str>,
) -> Result<EventsPage, AwsError> {
    let what = match streams {
        [one] => format!("cloudwatch logs group {} stream {one}", query.group),
        _ => format!(
            "cloudwatch logs group {} ({} streams)",
            query.group,
            streams.len()
        ),
    };
    let mut body = json!({ "logGroupName": query.group, "logStreamNames": streams });
    set_times(&mut body, query);
    if let Some(p) = pattern {
        body["filterPattern"] = json!(p);
    }
    if let Some(t) = token {
        body["nextToken"] = json!(t);
    }
    let page: FilterPage = call(aws, &what, "FilterLogEvents", &body)?;
    Ok(EventsPage {
        events: page.events,
        next_token: page.next_token,
    })
}

/// One page of `GetLogEvents` of one stream, oldest first.
pub(crate) fn get_log_events(
    aws: &Aws,
    query: &EventsQuery<'_>,
    stream: &str,
    token: Option<&str>,
) -> Result<EventsPage, AwsError> {
    let what = format!("cloudwatch logs group {} stream {stream}", query.group);
    let mut body = json!({
        "logGroupName": query.group,
        "logStreamName": stream,
        "startFromHead": true,
    });
    set_times(&mut body, query);
    if let Some(t) = token {
        body["nextToken"] = json!(t);
    }
    let page: GetPage = call(aws, &what, "GetLogEvents", &body)?;
    Ok(EventsPage {
        events: page.events,
        next_token: page.next_forward_token,
    })
}

fn set_times(body: &mut serde_json::Value, query: &EventsQuery<'_>) {
    if let Some(s) = query.start_ms {
        body["startTime"] = json!(s.max(0));
    }
    if let Some(e) = query.end_ms {
        body["endTime"] = json!(e.max(0));
    }
}

/// Sends one JSON 1.1 call and decodes its answer.
fn call<T: serde::de::DeserializeOwned>(
    aws: &Aws,
    what: &str,
    action: &'static str,
    body: &serde_json::Value,
) -> Result<T, AwsError> {
    let endpoint = aws.logs_endpoint();
    let iam_action = match action {
        "DescribeLogStreams" => "logs:DescribeLogStreams",
        "FilterLogEvents" => "logs:FilterLogEvents",
        _ => "logs:GetLogEvents",
    };
    let target = Target {
        what,
        action: iam_action,
        endpoint: endpoint.url(),
    };
    let req = Request {
        method: reqwest::Method::POST,
        url: format!("{}/", endpoint.url()),
        headers: vec![
            ("content-type", "application/x-amz-json-1.1".to_owned()),
            ("x-amz-target", format!("Logs_20140328.{action}")),
        ],
        body: serde_json::to_vec(body).unwrap_or_default(),
        signer: aws.logs_signer(),
    };
    let resp = aws.http().send(target, &req)?;
    let bad = |why: String| AwsError::BadResponse {
        what: what.to_owned(),
        action: iam_action,
        endpoint: endpoint.url().to_owned(),
        why,
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(resp, PAGE_LIMIT + 1), &mut bytes)
        .map_err(|e| bad(format!("reading the answer: {e}")))?;
    if bytes.len() as u64 > PAGE_LIMIT {
        return Err(bad(format!("an answer over {PAGE_LIMIT} bytes")));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "{e} in {}",
            apilens_model::body_excerpt(&bytes, &[])
        ))
    })
}
