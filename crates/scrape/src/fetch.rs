//! Fetching one scrape's raw body from any kind of target.

use std::io::Read;
use std::time::Duration;

use apilens_kube::KubeError;
use bytes::{Bytes, BytesMut};

use crate::target::TargetKind;
use crate::{HttpOpts, ScrapeError, Target};

/// The `Accept` header of every `/metrics` request, scrapes and one-shot reads alike: the
/// Prometheus text format 0.0.4 first (what every kube-apiserver and etcd serves, and what a
/// scrape stores), OpenMetrics 1.0 second, anything else last.
pub(crate) const ACCEPT: &str =
    "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

/// The raw answer of one successful scrape.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The exposition, decompressed.
    pub body: Bytes,
    /// The time of the scrape when it is known beforehand (a replayed recording, a body fed
    /// through `ScrapeLoop::ingest`); `None` for live targets, which are stamped when fetched.
    pub timestamp_ms: Option<i64>,
}

impl Target {
    /// Fetches the next scrape: one GET of a live target, or the next file of a replay.
    ///
    /// `Ok(None)` means a replay target has no scrape left (an external target never has one).
    /// The whole fetch, connection and body included, must finish within `timeout`, and the
    /// body (after gzip decoding) may not pass `max_body` bytes.
    ///
    /// # Errors
    ///
    /// [`ScrapeError::Timeout`], [`ScrapeError::BodyTooLarge`], [`ScrapeError::TooManyRequests`]
    /// (with the `Retry-After` delay), [`ScrapeError::Status`] for other non-2xx answers,
    /// [`ScrapeError::Request`] for connection and TLS failures, [`ScrapeError::File`] for
    /// unreadable replay files. Each names the target.
    pub async fn fetch(
        &mut self,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Option<Fetched>, ScrapeError> {
        let name = self.name();
        match &mut self.kind {
            TargetKind::External { .. } => Ok(None),
            TargetKind::Replay { scrapes, next } => {
                let Some(scrape) = scrapes.get(*next).cloned() else {
                    return Ok(None);
                };
                *next += 1;
                let path = scrape.path.clone();
                let body = tokio::task::spawn_blocking(move || read_replay_file(&path, max_body))
                    .await
                    .map_err(|e| ScrapeError::File {
                        path: scrape.path.display().to_string(),
                        reason: e.to_string(),
                    })??;
                Ok(Some(Fetched {
                    content_type: None,
                    body,
                    timestamp_ms: scrape.timestamp_ms,
                }))
            }
            TargetKind::Http { url, client, opts } => {
                let fut = fetch_http(&name, url, client, opts, max_body);
                with_timeout(&name, timeout, fut).await.map(Some)
            }
            TargetKind::ApiServer(server) => {
                let fut = async {
                    let res = server
                        .get("/metrics", max_body)
                        .await
                        .map_err(|e| kube_error(&name, e))?;
                    // The kubeconfig's credentials stay inside the client: only credential
                    // shapes can be scrubbed from this body.
                    check_status(
                        &name,
                        res.status,
                        res.retry_after.as_deref(),
                        &res.body,
                        &[],
                    )?;
                    Ok(Fetched {
                        content_type: res.content_type,
                        body: res.body,
                        timestamp_ms: None,
                    })
                };
                with_timeout(&name, timeout, fut).await.map(Some)
            }
        }
    }
}

async fn with_timeout<F>(name: &str, timeout: Duration, fut: F) -> Result<Fetched, ScrapeError>
where
    F: Future<Output = Result<Fetched, ScrapeError>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(res) => res,
        Err(_) => Err(ScrapeError::Timeout {
            target: name.to_owned(),
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

async fn fetch_http(
    name: &str,
    url: &reqwest::Url,
    client: &reqwest::Client,
    opts: &HttpOpts,
    max_body: usize,
) -> Result<Fetched, ScrapeError> {
    let (mut response, token_sent) = send_get(client, url, opts).await.map_err(|e| match e {
        SendError::Token(reason) => ScrapeError::Config {
            target: name.to_owned(),
            reason,
        },
        SendError::Request(e) => ScrapeError::Request {
            target: name.to_owned(),
            reason: apilens_model::error_chain(&e),
        },
    })?;
    let token_sent = token_sent.unwrap_or_default();
    let header = |h: reqwest::header::HeaderName| {
        response
            .headers()
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let content_type = header(reqwest::header::CONTENT_TYPE);
    let retry_after = header(reqwest::header::RETRY_AFTER);
    let mut buf = BytesMut::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| ScrapeError::Request {
            target: name.to_owned(),
            reason: format!("reading the body: {}", apilens_model::error_chain(&e)),
        })?;
        let Some(chunk) = chunk else { break };
        if buf.len() + chunk.len() > max_body {
            return Err(ScrapeError::BodyTooLarge {
                target: name.to_owned(),
                limit: max_body,
            });
        }
        buf.extend_from_slice(&chunk);
        // An error answer needs no more than its start.
        if !(200..300).contains(&status) && buf.len() > 4096 {
            break;
        }
    }
    let body = buf.freeze();
    check_status(name, status, retry_after.as_deref(), &body, &[&token_sent])?;
    Ok(Fetched {
        content_type,
        body,
        timestamp_ms: None,
    })
}

/// Turns a non-2xx answer into its error; the body shows as a short printable excerpt without
/// `secrets` (the credentials sent) or anything shaped like a credential, since the message
/// reaches WARN logs and the unauthenticated `/api/v1/targets`.
fn check_status(
    name: &str,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    secrets: &[&str],
) -> Result<(), ScrapeError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    if status == 429 {
        let now_ms = apilens_model::now_ms();
        return Err(ScrapeError::TooManyRequests {
            target: name.to_owned(),
            retry_after_ms: retry_after.and_then(|v| parse_retry_after(v, now_ms)),
        });
    }
    let start = apilens_model::body_excerpt(body, secrets);
    let message = match status {
        401 => "unauthorized: the bearer token or client certificate was refused".to_owned(),
        403 => format!(
            "forbidden: the credentials lack permission for this path ({})",
            if start.is_empty() {
                "no message"
            } else {
                &start
            }
        ),
        _ if start.is_empty() => "no message".to_owned(),
        _ => start,
    };
    Err(ScrapeError::Status {
        target: name.to_owned(),
        status,
        message,
    })
}

/// Parses `Retry-After`: delay seconds or an HTTP date, as milliseconds from `now_ms` (never
/// negative).
pub(crate) fn parse_retry_after(value: &str, now_ms: i64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    Some(u64::try_from(at.as_millisecond() - now_ms).unwrap_or(0))
}

/// Why [`send_get`] failed.
pub(crate) enum SendError {
    /// The bearer token could not be read or used (the reason names the file or variable).
    Token(String),
    /// The request failed before an answer arrived.
    Request(reqwest::Error),
}

/// The one GET of a `/metrics` URL, for scrapes and one-shot reads alike: [`ACCEPT`], and the
/// bearer token of `opts` (its file re-read on every call so a rotated token is picked up, else
/// its environment variable), marked sensitive so no log shows it. Returns the response and the
/// token sent, which an error excerpt must hide.
pub(crate) async fn send_get(
    client: &reqwest::Client,
    url: &reqwest::Url,
    opts: &HttpOpts,
) -> Result<(reqwest::Response, Option<String>), SendError> {
    let mut request = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, ACCEPT);
    let token = bearer_token(opts).await.map_err(SendError::Token)?;
    if let Some(token) = &token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| {
                SendError::Token(format!(
                    "the bearer token {} holds characters not allowed in a header",
                    token_origin(opts)
                ))
            })?;
        value.set_sensitive(true);
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let response = request.send().await.map_err(SendError::Request)?;
    Ok((response, token))
}

/// The bearer token of `opts`, trimmed: from its file, else from its environment variable.
async fn bearer_token(opts: &HttpOpts) -> Result<Option<String>, String> {
    if let Some(path) = &opts.bearer_token_file {
        let token = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("cannot read bearer token file {}: {e}", path.display()))?;
        return Ok(Some(token.trim().to_owned()));
    }
    if let Some(var) = &opts.bearer_token_env {
        let token =
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))?;
        return Ok(Some(token.trim().to_owned()));
    }
    Ok(None)
}

/// Where the bearer token of `opts` comes from, for messages (never the token).
fn token_origin(opts: &HttpOpts) -> String {
    match (&opts.bearer_token_file, &opts.bearer_token_env) {
        (Some(path), _) => format!("file {}", path.display()),
        (None, Some(var)) => format!("variable {var}"),
        (None, None) => String::new(),
    }
}

fn kube_error(name: &str, err: KubeError) -> ScrapeError {
    match err {
        KubeError::BodyTooLarge { limit, .. } => ScrapeError::BodyTooLarge {
            target: name.to_owned(),
            limit,
        },
        other => ScrapeError::Request {
            target: name.to_owned(),
            reason: apilens_model::error_chain(&other),
        },
    }
}

fn read_replay_file(path: &std::path::Path, max_body: usize) -> Result<Bytes, ScrapeError> {
    let file_err = |reason: String| ScrapeError::File {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| file_err(e.to_string()))?;
    let limit = u64::try_from(max_body)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut buf = Vec::new();
    let gz = path.extension().is_some_and(|e| e == "gz");
    let res = if gz {
        flate2::read::MultiGzDecoder::new(file)
            .take(limit)
            .read_to_end(&mut buf)
    } else {
        file.take(limit).read_to_end(&mut buf)
    };
    res.map_err(|e| file_err(e.to_string()))?;
    if buf.len() > max_body {
        return Err(file_err(format!(
            "larger than the limit of {max_body} bytes"
        )));
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        assert_eq!(parse_retry_after("7", 0), Some(7000));
        let now = jiff::Timestamp::from_second(1_445_412_470)
            .unwrap()
            .as_millisecond();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(10_000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 60_000),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
