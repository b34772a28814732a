//! What an input is when it is not a scrape: an HTML page or a JSON document, such as a proxy's
//! login page or the API server's `Status` for a refused request.

use std::io::{self, Read};

/// Bytes kept from the start of the input to tell what it is.
const HEAD: usize = 4096;

/// A reader that keeps the first few KiB it hands on, for [`foreign`].
pub(crate) struct Head<R> {
    inner: R,
    head: Vec<u8>,
}

impl<R: Read> Head<R> {
    pub(crate) fn new(inner: R) -> Self {
        Head {
            inner,
            head: Vec::new(),
        }
    }

    /// The first bytes read so far (at most 4 KiB).
    pub(crate) fn seen(&self) -> &[u8] {
        &self.head
    }
}

impl<R: Read> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = HEAD.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..room]);
        Ok(n)
    }
}

/// What `head` is, when it is plainly not the text format: `an HTML page titled "Forbidden"`,
/// `a Kubernetes Status: 403 Forbidden: ...`, `a JSON document`. `None` for anything else.
pub(crate) fn foreign(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('<') {
        let lower = text.to_ascii_lowercase();
        let title = lower.find("<title>").and_then(|start| {
            let from = start + "<title>".len();
            let end = lower[from..].find("</title>")? + from;
            Some(text[from..end].trim().to_owned())
        });
        return Some(match title {
            Some(t) if !t.is_empty() => format!("an HTML page titled {t:?}"),
            _ if lower.starts_with("<!doctype html") || lower.contains("<html") => {
                "an HTML page".to_owned()
            }
            _ => "markup (HTML or XML)".to_owned(),
        });
    }
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let status = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .filter(|v| v["kind"] == "Status");
    Some(match status {
        Some(v) => {
            let mut out = "a Kubernetes Status".to_owned();
            if let Some(code) = v["code"].as_u64() {
                out.push_str(&format!(": {code}"));
            }
            if let Some(reason) = v["reason"].as_str() {
                out.push_str(&format!(" {reason}"));
            }
            if let Some(message) = v["message"].as_str() {
                out.push_str(&format!(": {message}"));
            }
            out
        }
        None => "a JSON document".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_json_are_named() {
        assert_eq!(
            foreign(b"<html><head><title>403 Forbidden</title></head></html>").as_deref(),
            Some("an HTML page titled \"403 Forbidden\"")
        );
        assert_eq!(
            foreign(b"\n<!DOCTYPE html>\n<body>no</body>").as_deref(),
            Some("an HTML page")
        );
        assert_eq!(
            foreign(br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"bob\" cannot get path \"/metrics\"","reason":"Forbidden","details":{},"code":403}"#).as_deref(),
            Some("a Kubernetes Status: 403 Forbidden: forbidden: User \"bob\" cannot get path \"/metrics\"")
        );
        assert_eq!(foreign(b"[1, 2").as_deref(), Some("a JSON document"));
        assert_eq!(foreign(b"up{job=\"x\" 1"), None);
        assert_eq!(foreign(b"# HELP up\nup x"), None);
    }

    #[test]
    fn the_head_keeps_only_the_first_bytes() {
        let data = vec![b'a'; 10_000];
        let mut head = Head::new(&data[..]);
        let mut out = Vec::new();
        head.read_to_end(&mut out).expect("read");
        assert_eq!(out.len(), 10_000);
        assert_eq!(head.seen().len(), HEAD);
    }
}
