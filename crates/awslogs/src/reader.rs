//! Readers that turn what AWS holds into audit event lines, one page or record at a time:
//! CloudWatch pages of log events, and the `DATA_MESSAGE` records of a Firehose delivery.

use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::AwsError;
use crate::logs::{AUDIT_STREAM_PREFIX, EventsPage, LogEvent};
use crate::progress::Progress;

/// The largest single JSON record of a Firehose delivery (a record is at most 1000 KiB).
const MAX_RECORD: u64 = 64 << 20;

/// Log events as lines, fetched a page at a time until the token runs out or repeats (the
/// end of `GetLogEvents`). A message's own line breaks become spaces, so one event is one line.
pub(crate) struct EventLines<F> {
    fetch: F,
    token: Option<String>,
    done: bool,
    buf: Vec<u8>,
    pos: usize,
    progress: std::sync::Arc<Progress>,
    /// Only events of audit streams are kept (`FilterLogEvents` names each event's stream).
    audit_only: bool,
}

impl<F> EventLines<F>
where
    F: FnMut(Option<&str>) -> Result<EventsPage, AwsError>,
{
    pub(crate) fn new(fetch: F, progress: std::sync::Arc<Progress>, audit_only: bool) -> Self {
        EventLines {
            fetch,
            token: None,
            done: false,
            buf: Vec::new(),
            pos: 0,
            progress,
            audit_only,
        }
    }

    fn refill(&mut self) -> Result<(), AwsError> {
        let page = (self.fetch)(self.token.as_deref())?;
        self.buf.clear();
        self.pos = 0;
        for event in page.events {
            self.push(event);
        }
        match page.next_token {
            Some(t) if Some(&t) != self.token.as_ref() => self.token = Some(t),
            _ => self.done = true,
        }
        Ok(())
    }

    fn push(&mut self, event: LogEvent) {
        if self.audit_only
            && event
                .log_stream_name
                .as_deref()
                .is_some_and(|s| !s.starts_with(AUDIT_STREAM_PREFIX))
        {
            self.progress.ignored();
            return;
        }
        push_line(&mut self.buf, &event.message, &self.progress);
    }
}

impl<F> Read for EventLines<F>
where
    F: FnMut(Option<&str>) -> Result<EventsPage, AwsError>,
{
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.refill().map_err(std::io::Error::other)?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Appends `message` as one line.
fn push_line(buf: &mut Vec<u8>, message: &str, progress: &Progress) {
    let start = buf.len();
    buf.extend(
        message
            .trim_end_matches(['\n', '\r'])
            .bytes()
            .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    buf.push(b'\n');
    progress.event(buf.len() - start);
}

/// The content of an S3 object, gzip undone (twice for a gzip delivery of records CloudWatch
/// already compressed).
pub(crate) fn decompressed(raw: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    if !is_gzip(&mut reader)? {
        return Ok(Box::new(reader));
    }
    let mut inner = BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(reader));
    if is_gzip(&mut inner)? {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(inner),
        )));
    }
    Ok(Box::new(inner))
}

fn is_gzip<R: BufRead>(reader: &mut R) -> std::io::Result<bool> {
    Ok(reader.fill_buf()?.starts_with(&[0x1f, 0x8b]))
}

/// True when content starts like CloudWatch Logs subscription records: a JSON object with
/// `"messageType"` in its first 8 KiB, or one that opens with its `"logEvents"` (the key order
/// is not fixed): a Firehose delivery that was not unwrapped.
pub(crate) fn is_records<R: BufRead>(reader: &mut R) -> std::io::Result<bool> {
    let head = reader.fill_buf()?;
    let head = head[..head.len().min(8 << 10)].trim_ascii_start();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    let opens_with_events = head
        .strip_prefix(b"{")
        .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"\"logEvents\""));
    Ok(head.starts_with(b"{") && (has(b"\"messageType\"") || opens_with_events))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    message_type: Option<String>,
    #[serde(default)]
    log_stream: Option<String>,
    #[serde(default)]
    log_events: Vec<RecordEvent>,
}

#[derive(Deserialize)]
struct RecordEvent {
    #[serde(default)]
    message: String,
}

/// The events of CloudWatch Logs subscription records as lines: records written back to back
/// (as Firehose delivers them) or one per line. Control messages and the events of streams other
/// than `kube-apiserver-audit-*` are left out; a JSON value that is not a record is one line.
pub(crate) struct RecordLines {
    values: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Limited>, Box<RawValue>>,
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
    name: String,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    progress: std::sync::Arc<Progress>,
}

impl RecordLines {
    pub(crate) fn new(
        reader: Box<dyn Read + Send>,
        name: &str,
        progress: std::sync::Arc<Progress>,
    ) -> RecordLines {
        let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(MAX_RECORD));
        let limited = Limited {
            inner: reader,
            budget: std::sync::Arc::clone(&budget),
        };
        RecordLines {
            values: serde_json::Deserializer::from_reader(limited).into_iter(),
            budget,
            name: name.to_owned(),
            buf: Vec::new(),
            pos: 0,
            done: false,
            progress,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        self.budget
            .store(MAX_RECORD, std::sync::atomic::Ordering::Relaxed);
        let Some(value) = self.values.next() else {
            self.done = true;
            return Ok(());
        };
        let value = value.map_err(|e| {
            std::io::Error::other(format!(
                "{}: not a stream of CloudWatch Logs records: {e}",
                self.name
            ))
        })?;
        match serde_json::from_str::<Record>(value.get()) {
            Ok(record) if record.message_type.is_some() || !record.log_events.is_empty() => {
                if record.message_type.as_deref() == Some("CONTROL_MESSAGE") {
                    return Ok(());
                }
                let audit = record
                    .log_stream
                    .as_deref()
                    .is_none_or(|s| s.starts_with(AUDIT_STREAM_PREFIX));
                for event in record.log_events {
                    if audit {
                        push_line(&mut self.buf, &event.message, &self.progress);
                    } else {
                        self.progress.ignored();
                    }
                }
            }
            _ => push_line(&mut self.buf, value.get(), &self.progress),
        }
        Ok(())
    }
}

impl Read for RecordLines {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that fails once more than the budget has been read since the budget was last set:
/// one record may not exceed [`MAX_RECORD`].
struct Limited {
    inner: Box<dyn Read + Send>,
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let left = self.budget.load(std::sync::atomic::Ordering::Relaxed);
        if n as u64 > left {
            return Err(std::io::Error::other(format!(
                "a record larger than {MAX_RECORD} bytes"
            )));
        }
        self.budget
            .store(left - n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Lines of an object read as they are, counted for progress.
pub(crate) struct CountedLines {
    inner: Box<dyn BufRead + Send>,
    progress: std::sync::Arc<Progress>,
}

impl CountedLines {
    pub(crate) fn new(inner: Box<dyn BufRead + Send>, progress: std::sync::Arc<Progress>) -> Self {
        CountedLines { inner, progress }
    }
}

impl Read for CountedLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes(n);
        self.progress
            .events(buf[..n].iter().filter(|&&b| b == b'\n').count());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn page(messages: &[(&str, &str)], next: Option<&str>) -> EventsPage {
        EventsPage {
            events: messages
                .iter()
                .map(|(s, m)| LogEvent {
                    log_stream_name: Some((*s).to_owned()),
                    message: (*m).to_owned(),
                })
                .collect(),
            next_token: next.map(str::to_owned),
        }
    }

    #[test]
    fn pages_until_the_token_repeats() {
        let mut calls = Vec::new();
        let pages = vec![
            page(&[("kube-apiserver-audit-a", "{\"a\":1}")], Some("t1")),
            page(&[], Some("t2")),
            page(
                &[
                    ("kube-apiserver-b", "not audit"),
                    ("kube-apiserver-audit-b", "{\n\"b\":2}\n"),
                ],
                Some("t3"),
            ),
            page(&[], Some("t3")),
        ];
        let mut it = pages.into_iter();
        let progress = Arc::new(Progress::default());
        let mut r = EventLines::new(
            |t: Option<&str>| {
                calls.push(t.map(str::to_owned));
                Ok(it.next().unwrap_or_default())
            },
            Arc::clone(&progress),
            true,
        );
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        drop(r);
        assert_eq!(out, "{\"a\":1}\n{ \"b\":2}\n");
        assert_eq!(
            calls,
            [
                None,
                Some("t1".into()),
                Some("t2".into()),
                Some("t3".into())
            ]
        );
        let snap = progress.snapshot();
        assert_eq!((snap.events, snap.ignored), (2, 1));
    }

    #[test]
    fn records_back_to_back_and_one_per_line() {
        let record = |stream: &str, msgs: &[&str]| {
            serde_json::json!({
                "messageType": "DATA_MESSAGE", "owner": "123", "logGroup": "/aws/eks/c/cluster",
                "logStream": stream, "subscriptionFilters": ["f"],
                "logEvents": msgs.iter().enumerate().map(|(i, m)| serde_json::json!({"id": i.to_string(), "timestamp": 1, "message": m})).collect::<Vec<_>>(),
            })
            .to_string()
        };
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        let content = format!(
            "{}{}{}\n{}",
            record("kube-apiserver-audit-1", &["{\"e\":1}", "{\"e\":2}"]),
            control,
            record("authenticator-1", &["time=x level=info"]),
            record("kube-apiserver-audit-2", &["{\"e\":3}"]),
        );
        let progress = Arc::new(Progress::default());
        let mut r = RecordLines::new(
            Box::new(std::io::Cursor::new(content.into_bytes())),
            "k",
            Arc::clone(&progress),
        );
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "{\"e\":1}\n{\"e\":2}\n{\"e\":3}\n");
        assert_eq!(progress.snapshot().ignored, 1);
        let mut bad = RecordLines::new(
            Box::new(std::io::Cursor::new(b"{\"messageType\": tru".to_vec())),
            "s3 bucket b key k",
            Arc::new(Progress::default()),
        );
        let e = bad.read_to_string(&mut String::new()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("s3 bucket b key k: not a stream of CloudWatch Logs records"),
            "{e}"
        );
    }

    #[test]
    fn gzip_once_or_twice() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let members = [gz(b"{\"a\":1}"), gz(b"{\"b\":2}")].concat();
        for content in [
            b"{\"a\":1}{\"b\":2}".to_vec(),
            members.clone(),
            gz(&members),
        ] {
            let mut out = String::new();
            decompressed(Box::new(std::io::Cursor::new(content)))
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert_eq!(out, "{\"a\":1}{\"b\":2}");
        }
    }
}
