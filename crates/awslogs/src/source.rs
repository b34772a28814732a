//! What to read: the audit log streams of a CloudWatch Logs group, or the objects under an S3
//! prefix, each an [`AuditSource`] that opens as a stream of event lines.

use std::io::{BufRead, BufReader, Read};

use crate::aws::Aws;
use crate::error::AwsError;
use crate::layout::Layout;
use crate::logs::{self, AUDIT_STREAM_PREFIX, EventsQuery, LogStream};
use crate::reader::{CountedLines, EventLines, RecordLines, decompressed, is_records};
use crate::s3::{self, ObjectBody, S3Location};
use crate::window::Window;

/// The most log streams one `FilterLogEvents` call may name.
const STREAMS_PER_FILTER: usize = 100;

/// How long `DescribeLogStreams` may lag behind a stream's last event (AWS: "typically less
/// than an hour"): a stream is skipped only when its last known event is older than the
/// window's start by more than this.
const STREAM_TIMES_LAG_MS: i64 = 2 * 3_600_000;

/// A Firehose delivery holds records that arrived during the hour in its key and up to the
/// buffer interval (at most 15 minutes) after.
const FIREHOSE_SPAN_MS: i64 = 75 * 60_000;

/// What to ask of AWS besides the place.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// The log-event times to read (see [`Window::for_requests`]).
    pub window: Window,
    /// A CloudWatch Logs filter pattern (see [`crate::filter_pattern`]); with one, streams are
    /// searched with `FilterLogEvents`, without, read whole with `GetLogEvents`.
    pub pattern: Option<String>,
}

/// One piece of audit log held in AWS that reads as event lines: a CloudWatch log stream, a
/// batch of streams searched together, or an S3 object. Opening sends nothing; the first read
/// does, and an AWS error then comes out of `read` as an I/O error carrying the message.
#[derive(Debug, Clone)]
pub struct AuditSource {
    aws: Aws,
    name: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Stream {
        group: String,
        stream: String,
        window: Window,
    },
    Streams {
        group: String,
        streams: Vec<String>,
        window: Window,
        pattern: String,
    },
    Object {
        bucket: String,
        key: String,
        layout: Layout,
    },
}

impl AuditSource {
    /// The name used in messages: `cloudwatch:GROUP/STREAM`, `cloudwatch:GROUP (N streams
    /// matching PATTERN)`, `s3://BUCKET/KEY`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The content as event lines.
    pub fn open(&self) -> Box<dyn Read + Send> {
        let progress = self.aws.progress_counters();
        match &self.kind {
            Kind::Stream {
                group,
                stream,
                window,
            } => {
                let (aws, group, stream, window) =
                    (self.aws.clone(), group.clone(), stream.clone(), *window);
                Box::new(EventLines::new(
                    move |token: Option<&str>| {
                        let query = EventsQuery {
                            group: &group,
                            start_ms: window.start_ms,
                            end_ms: window.end_ms,
                        };
                        logs::get_log_events(&aws, &query, &stream, token)
                    },
                    progress,
                    false,
                ))
            }
            Kind::Streams {
                group,
                streams,
                window,
                pattern,
            } => {
                let (aws, group, streams, window, pattern) = (
                    self.aws.clone(),
                    group.clone(),
                    streams.clone(),
                    *window,
                    pattern.clone(),
                );
                Box::new(EventLines::new(
                    move |token: Option<&str>| {
                        let query = EventsQuery {
                            group: &group,
                            start_ms: window.start_ms,
                            end_ms: window.end_ms,
                        };
                        logs::filter_log_events(&aws, &query, &streams, Some(&pattern), token)
                    },
                    progress,
                    true,
                ))
            }
            Kind::Object {
                bucket,
                key,
                layout,
            } => Box::new(ObjectLines {
                body: Some(ObjectBody::new(self.aws.clone(), bucket, key)),
                name: self.name.clone(),
                layout: layout.clone(),
                lines: None,
                progress,
            }),
        }
    }
}

/// An S3 object's event lines, set up at the first read (gzip undone, records unwrapped).
struct ObjectLines {
    body: Option<ObjectBody>,
    name: String,
    layout: Layout,
    lines: Option<Box<dyn Read + Send>>,
    progress: std::sync::Arc<crate::progress::Progress>,
}

impl Read for ObjectLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.lines.is_none() {
            let Some(body) = self.body.take() else {
                return Ok(0);
            };
            let content = decompressed(Box::new(body))?;
            let mut content = BufReader::with_capacity(1 << 16, content);
            let records =
                !matches!(self.layout, Layout::Export { .. }) && is_records(&mut content)?;
            self.lines = Some(if records {
                Box::new(RecordLines::new(
                    Box::new(content),
                    &self.name,
                    std::sync::Arc::clone(&self.progress),
                ))
            } else {
                Box::new(CountedLines::new(
                    Box::new(content) as Box<dyn BufRead + Send>,
                    std::sync::Arc::clone(&self.progress),
                ))
            });
        }
        match self.lines.as_mut() {
            Some(lines) => lines.read(buf),
            None => Ok(0),
        }
    }
}

/// What a plan will read, and what it left out and why.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The sources, in the order to read them.
    pub sources: Vec<AuditSource>,
    /// One line per decision worth telling (streams or objects left out, the pattern sent).
    pub notes: Vec<String>,
}

/// The `kube-apiserver-audit-*` streams of a CloudWatch Logs group: one source per stream read
/// with `GetLogEvents`, or, with a filter pattern, one source per hundred streams searched with
/// `FilterLogEvents`. Streams whose events all lie outside the window are left out.
///
/// # Errors
///
/// The error of `DescribeLogStreams` (a missing group, missing permissions, credentials).
pub fn plan_cloudwatch(aws: &Aws, group: &str, query: &Query) -> Result<Plan, AwsError> {
    let streams = logs::describe_log_streams(aws, group, AUDIT_STREAM_PREFIX)?;
    let total = streams.len();
    let (kept, outside): (Vec<LogStream>, Vec<LogStream>) = streams
        .into_iter()
        .partition(|s| stream_may_hold(s, &query.window));
    let mut notes = vec![format!(
        "cloudwatch logs group {group}: {} of {total} {AUDIT_STREAM_PREFIX}* streams to read{}",
        kept.len(),
        if outside.is_empty() {
            String::new()
        } else {
            format!(" ({} hold no event in the time range)", outside.len())
        }
    )];
    if total == 0 {
        notes.push(format!(
            "cloudwatch logs group {group} has no {AUDIT_STREAM_PREFIX}* stream: is audit logging on? (aws eks update-cluster-config --name CLUSTER --logging '{{\"clusterLogging\":[{{\"types\":[\"audit\"],\"enabled\":true}}]}}')"
        ));
    }
    let names: Vec<String> = kept.into_iter().map(|s| s.log_stream_name).collect();
    let sources = match &query.pattern {
        Some(pattern) => {
            notes.push(format!("cloudwatch logs filter pattern: {pattern}"));
            names
                .chunks(STREAMS_PER_FILTER)
                .map(|batch| AuditSource {
                    aws: aws.clone(),
                    name: match batch {
                        [one] => format!("cloudwatch:{group}/{one}"),
                        _ => format!(
                            "cloudwatch:{group} ({} streams from {})",
                            batch.len(),
                            batch[0]
                        ),
                    },
                    kind: Kind::Streams {
                        group: group.to_owned(),
                        streams: batch.to_vec(),
                        window: query.window,
                        pattern: pattern.clone(),
                    },
                })
                .collect()
        }
        None => names
            .into_iter()
            .map(|stream| AuditSource {
                aws: aws.clone(),
                name: format!("cloudwatch:{group}/{stream}"),
                kind: Kind::Stream {
                    group: group.to_owned(),
                    stream,
                    window: query.window,
                },
            })
            .collect(),
    };
    Ok(Plan { sources, notes })
}

/// Whether a stream may hold an event in the window, by the times `DescribeLogStreams` gives
/// (the last ones lag, so they get slack; a stream without times is always read).
fn stream_may_hold(stream: &LogStream, window: &Window) -> bool {
    let first = stream.first_event_timestamp;
    let last = stream.last_event_timestamp.max(stream.last_ingestion_time);
    match (first, last) {
        (Some(first), Some(last)) => {
            !window.misses(first, last.saturating_add(STREAM_TIMES_LAG_MS))
        }
        (Some(first), None) => !window.misses(first, i64::MAX),
        _ => true,
    }
}

/// The objects under an S3 prefix that hold audit events: CloudWatch export parts of
/// `kube-apiserver-audit-*` streams, Firehose deliveries whose hour can hold events of the
/// window, and any other object (read as audit lines); the exports of other streams and the
/// exports' `aws-logs-write-test` are left out.
///
/// # Errors
///
/// The error of `ListObjectsV2` (a missing bucket, missing permissions, credentials).
pub fn plan_s3(aws: &Aws, at: &S3Location, query: &Query) -> Result<Plan, AwsError> {
    let objects = s3::list_objects(aws, at)?;
    let total = objects.len();
    let (mut other_streams, mut outside, mut tests) = (0, 0, 0);
    let mut sources = Vec::new();
    for object in objects {
        let layout = Layout::of(&object.key);
        let keep = match &layout {
            Layout::Export { stream } => {
                let audit = stream.starts_with(AUDIT_STREAM_PREFIX);
                other_streams += usize::from(!audit);
                audit
            }
            Layout::Firehose { hour_ms } => {
                let hold = !query
                    .window
                    .misses(*hour_ms, hour_ms.saturating_add(FIREHOSE_SPAN_MS));
                outside += usize::from(!hold);
                hold
            }
            Layout::WriteTest => {
                tests += 1;
                false
            }
            Layout::Other => object.size > 0,
        };
        if keep {
            sources.push(AuditSource {
                aws: aws.clone(),
                name: format!("s3://{}/{}", at.bucket, object.key),
                kind: Kind::Object {
                    bucket: at.bucket.clone(),
                    key: object.key,
                    layout,
                },
            });
        }
    }
    let mut skipped = Vec::new();
    if other_streams > 0 {
        skipped.push(format!("{other_streams} exports of other log streams"));
    }
    if outside > 0 {
        skipped.push(format!(
            "{outside} Firehose deliveries outside the time range"
        ));
    }
    if tests > 0 {
        skipped.push(format!("{tests} aws-logs-write-test"));
    }
    let mut notes = vec![format!(
        "{at}: {} of {total} objects to read{}",
        sources.len(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" (left out: {})", skipped.join(", "))
        }
    )];
    if total == 0 {
        notes.push(format!("{at}: no object under this prefix"));
    }
    Ok(Plan { sources, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_outside_the_window() {
        let w = Window {
            start_ms: Some(10 * 3_600_000),
            end_ms: Some(20 * 3_600_000),
        };
        let s = |first, last| LogStream {
            log_stream_name: "kube-apiserver-audit-x".into(),
            first_event_timestamp: first,
            last_event_timestamp: last,
            last_ingestion_time: None,
        };
        assert!(
            stream_may_hold(&s(Some(0), Some(9 * 3_600_000)), &w),
            "lag slack"
        );
        assert!(!stream_may_hold(&s(Some(0), Some(7 * 3_600_000)), &w));
        assert!(!stream_may_hold(
            &s(Some(21 * 3_600_000), Some(22 * 3_600_000)),
            &w
        ));
        assert!(stream_may_hold(&s(None, None), &w));
        assert!(stream_may_hold(&s(Some(0), None), &w));
    }
}
