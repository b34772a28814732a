//! One signed AWS call with the crate's manners: the request-rate cap, retries with back-off for
//! throttling, 5xx and network errors, and errors that name what was read, the AWS error code
//! and the IAM action.

use std::sync::Arc;
use std::time::Duration;

use apilens_sigv4::{Signer, credential_values};

use crate::error::{AwsError, hint};
use crate::limit::{Backoff, RateLimiter};
use crate::progress::Progress;

/// Error codes that ask the caller to slow down.
const THROTTLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes of a failure on AWS's side that a retry may not meet.
const TRANSIENT_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// The largest error body read.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// The HTTP client every reader shares.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::blocking::Client,
    limiter: RateLimiter,
    max_attempts: u32,
    backoff: Backoff,
    progress: Arc<Progress>,
}

/// What a call reads, for messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// `cloudwatch logs group G stream S`, `s3 bucket B key K`.
    pub(crate) what: &'a str,
    /// The IAM action of the call.
    pub(crate) action: &'static str,
    /// The endpoint's base URL.
    pub(crate) endpoint: &'a str,
}

/// One request to sign and send.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    /// Headers besides `host`, all signed.
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) signer: &'a Signer,
}

impl Http {
    pub(crate) fn new(
        per_second: f64,
        max_attempts: u32,
        progress: Arc<Progress>,
    ) -> Result<Http, String> {
        apilens_model::install_crypto_provider();
        let client = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Per wait of the blocking client: the request, then each read of a body.
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Http {
            client,
            limiter: RateLimiter::new(per_second),
            max_attempts: max_attempts.max(1),
            backoff: Backoff::STANDARD,
            progress,
        })
    }

    /// Sends `req` until it succeeds (2xx) or fails for good; returns the response unread.
    pub(crate) fn send(
        &self,
        target: Target<'_>,
        req: &Request<'_>,
    ) -> Result<reqwest::blocking::Response, AwsError> {
        let header_refs: Vec<(&str, &str)> =
            req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut retry = 0;
        loop {
            self.limiter.acquire();
            let signed = req
                .signer
                .sign(req.method.as_str(), &req.url, &header_refs, &req.body)
                .map_err(|source| AwsError::Credentials {
                    what: target.what.to_owned(),
                    source,
                })?;
            let mut builder = self.client.request(req.method.clone(), &req.url);
            for (k, v) in &req.headers {
                builder = builder.header(*k, v);
            }
            for (k, v) in &signed {
                builder = builder.header(k, v);
            }
            self.progress.request();
            let last = retry + 1 >= self.max_attempts;
            match builder.body(req.body.clone()).send() {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let answer = ErrorAnswer::read(resp, &credential_values(&signed));
                    let again = retriable(status, &answer.code);
                    match again {
                        Some(throttled) if !last => {
                            tracing::debug!(what = target.what, code = %answer.code, retry, "retrying");
                            self.progress.retry(throttled);
                            std::thread::sleep(self.backoff.delay(retry, throttled));
                        }
                        _ => {
                            let mut hint = hint(&answer.code, target.action);
                            if again == Some(true) {
                                hint = format!(
                                    "; still throttled after {} attempts: lower --aws-max-rps, or read less at once",
                                    self.max_attempts
                                );
                            }
                            if let Some(region) = &answer.region {
                                hint.push_str(&format!(
                                    "; the bucket is in {region}: pass --region {region}"
                                ));
                            }
                            return Err(AwsError::Api {
                                what: target.what.to_owned(),
                                action: target.action,
                                code: answer.code,
                                message: answer.message,
                                status,
                                hint,
                            });
                        }
                    }
                }
                Err(err) => {
                    if last {
                        return Err(AwsError::Unreachable {
                            what: target.what.to_owned(),
                            action: target.action,
                            endpoint: target.endpoint.to_owned(),
                            cause: apilens_model::error_chain(&err),
                        });
                    }
                    tracing::debug!(what = target.what, error = %err, retry, "retrying");
                    self.progress.retry(false);
                    std::thread::sleep(self.backoff.delay(retry, false));
                }
            }
            retry += 1;
        }
    }

    /// How many times a request is tried.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before retry `retry` of a read that failed part-way.
    pub(crate) fn retry_delay(&self, retry: u32) -> Duration {
        self.backoff.delay(retry, false)
    }
}

/// `Some(throttled)` when an answer is worth another try.
fn retriable(status: u16, code: &str) -> Option<bool> {
    if status == 429 || THROTTLE_CODES.contains(&code) {
        Some(true)
    } else if matches!(status, 500 | 502 | 503 | 504) || TRANSIENT_CODES.contains(&code) {
        Some(false)
    } else {
        None
    }
}

/// The code and message of an AWS error answer, from the JSON protocols (`__type`,
/// `x-amzn-ErrorType`) or the S3 XML `<Error>` document.
#[derive(Debug, PartialEq, Eq)]
struct ErrorAnswer {
    code: String,
    message: String,
    /// The region S3 says the bucket is in, when it says so.
    region: Option<String>,
}

impl ErrorAnswer {
    fn read(resp: reqwest::blocking::Response, secrets: &[String]) -> ErrorAnswer {
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let type_header = header("x-amzn-errortype");
        let region_header = header("x-amz-bucket-region");
        let mut body = Vec::new();
        let _ =
            std::io::Read::read_to_end(&mut std::io::Read::take(resp, ERROR_BODY_LIMIT), &mut body);
        let mut answer = ErrorAnswer::parse(status, type_header.as_deref(), &body);
        answer.region = answer.region.or(region_header);
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        answer.message = apilens_model::redact(&answer.message, &secrets);
        answer
    }

    fn parse(status: u16, type_header: Option<&str>, body: &[u8]) -> ErrorAnswer {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start();
        let mut code = None;
        let mut message = None;
        let mut region = None;
        if trimmed.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed) {
                let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
                code = field("__type")
                    .or_else(|| field("code"))
                    .or_else(|| field("Code"));
                message = field("message").or_else(|| field("Message"));
            }
        } else if trimmed.starts_with('<') {
            code = xml_field(trimmed, "Code");
            message = xml_field(trimmed, "Message");
            region = xml_field(trimmed, "Region");
        }
        let code = code
            .or_else(|| type_header.map(str::to_owned))
            .map(|c| {
                // `com.amazonaws.logs#ThrottlingException`, `ThrottlingException:http://...`.
                let c = c.rsplit('#').next().unwrap_or(&c);
                c.split(':').next().unwrap_or(c).to_owned()
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| match status {
                403 => "AccessDenied".to_owned(),
                404 => "NotFound".to_owned(),
                _ => format!("HTTP{status}"),
            });
        let message = message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| apilens_model::body_excerpt(body, &[]));
        let message = apilens_model::body_excerpt(message.trim_end_matches('.').as_bytes(), &[]);
        ErrorAnswer {
            code,
            message,
            region,
        }
    }
}

/// The text of the first `<tag>` element, entities decoded.
fn xml_field(doc: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = doc[start..].find(&format!("</{tag}>"))? + start;
    quick_xml::escape::unescape(&doc[start..end])
        .ok()
        .map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_of_both_protocols() {
        let json = ErrorAnswer::parse(
            400,
            None,
            br#"{"__type":"com.amazonaws.logs#ResourceNotFoundException","message":"The specified log group does not exist."}"#,
        );
        assert_eq!(json.code, "ResourceNotFoundException");
        assert_eq!(json.message, "The specified log group does not exist");
        let header = ErrorAnswer::parse(
            400,
            Some(
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/",
            ),
            b"",
        );
        assert_eq!(header.code, "ThrottlingException");
        let xml = ErrorAnswer::parse(
            301,
            None,
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint &amp; region.</Message><Region>eu-west-2</Region></Error>",
        );
        assert_eq!(xml.code, "PermanentRedirect");
        assert!(
            xml.message.ends_with("endpoint & region"),
            "{}",
            xml.message
        );
        assert_eq!(xml.region.as_deref(), Some("eu-west-2"));
        let bare = ErrorAnswer::parse(403, None, b"");
        assert_eq!(bare.code, "AccessDenied");
        assert_eq!(
            ErrorAnswer::parse(502, None, b"<html>bad gateway</html>").code,
            "HTTP502"
        );
    }

    #[test]
    fn what_is_retried() {
        assert_eq!(retriable(400, "ThrottlingException"), Some(true));
        assert_eq!(retriable(503, "SlowDown"), Some(true));
        assert_eq!(retriable(429, "x"), Some(true));
        assert_eq!(retriable(500, "InternalError"), Some(false));
        assert_eq!(retriable(400, "ResourceNotFoundException"), None);
        assert_eq!(retriable(403, "AccessDenied"), None);
    }
}
