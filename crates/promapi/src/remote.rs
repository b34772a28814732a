//! A client of a remote Prometheus-compatible engine's HTTP API.
//!
//! The client sends the query string unchanged to `/api/v1/query` or `/api/v1/query_range`
//! (Prometheus, Mimir, Thanos, VictoriaMetrics, Amazon Managed Service for Prometheus), and the
//! selectors of `/api/v1/series` and the label APIs, with a bearer token, basic auth, or AWS
//! SigV4 signing (service `aps`) for Amazon Managed Service for Prometheus.

use crate::error::PromApiError as Error;
use apilens_model::{Labels, Sample, Series};
use apilens_promql::{InstantSample, Value, parse_time};
use std::time::Duration;

/// How to authenticate to the remote engine. Secrets are never logged or shown by `Debug`.
#[derive(Clone, Default)]
pub enum RemoteAuth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// AWS SigV4: each request is signed (body included) with credentials from the standard
    /// AWS sources, as Amazon Managed Service for Prometheus requires.
    SigV4(apilens_sigv4::Signer),
}

impl std::fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemoteAuth::None => "None",
            RemoteAuth::Bearer(_) => "Bearer(<redacted>)",
            RemoteAuth::Basic { .. } => "Basic(<redacted>)",
            RemoteAuth::SigV4(_) => "SigV4",
        })
    }
}

/// A client of a Prometheus-compatible query API.
#[derive(Debug, Clone)]
pub struct RemoteClient {
    base: String,
    auth: RemoteAuth,
    timeout: Duration,
    http: reqwest::blocking::Client,
}

impl RemoteClient {
    /// A client for the engine at `base` (such as `http://127.0.0.1:9090`; a trailing `/` and
    /// a trailing `/api/v1` are accepted).
    ///
    /// # Errors
    ///
    /// [`Error::Remote`] when the HTTP client cannot be built.
    pub fn new(base: &str, auth: RemoteAuth, timeout: Duration) -> Result<Self, Error> {
        apilens_model::install_crypto_provider();
        let base = base
            .trim_end_matches('/')
            .trim_end_matches("/api/v1")
            .to_owned();
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Remote {
                url: base.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            base,
            auth,
            timeout,
            http,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs an instant query at `time_ms` and returns the raw response body.
    ///
    /// # Errors
    ///
    /// [`Error::Remote`] when the engine cannot be reached or answers with an error; the
    /// message carries the remote `errorType` and `error`.
    pub fn query_raw(&self, query: &str, time_ms: i64) -> Result<String, Error> {
        self.relay_query(query, time_ms)
            .and_then(|a| self.success("/api/v1/query", a))
    }

    /// Runs a range query and returns the raw response body.
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::query_raw`].
    pub fn query_range_raw(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<String, Error> {
        self.relay_query_range(query, start_ms, end_ms, step_ms)
            .and_then(|a| self.success("/api/v1/query_range", a))
    }

    /// Runs an instant query and returns the engine's answer as it came, Prometheus error
    /// bodies included, for passing it on unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::Remote`] when the engine cannot be reached, or answers with a status and a
    /// body that is not the Prometheus API's (a proxy's error page, say).
    pub fn relay_query(&self, query: &str, time_ms: i64) -> Result<Answer, Error> {
        self.relay(
            "/api/v1/query",
            &[("query", query.to_owned()), ("time", secs(time_ms))],
        )
    }

    /// Runs a range query and returns the engine's answer as it came.
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::relay_query`].
    pub fn relay_query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Answer, Error> {
        self.relay(
            "/api/v1/query_range",
            &[
                ("query", query.to_owned()),
                ("start", secs(start_ms)),
                ("end", secs(end_ms)),
                ("step", secs(step_ms)),
            ],
        )
    }

    /// Runs an instant query and decodes the result.
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::query_raw`], and [`Error::Remote`] for a body that is not a query
    /// result.
    pub fn query(&self, query: &str, time_ms: i64) -> Result<Value, Error> {
        let body = self.query_raw(query, time_ms)?;
        decode_value(&body).map_err(|message| self.err("/api/v1/query", message))
    }

    /// Runs a range query and decodes the result.
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::query`].
    pub fn query_range(
        &self,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value, Error> {
        let body = self.query_range_raw(query, start_ms, end_ms, step_ms)?;
        decode_value(&body).map_err(|message| self.err("/api/v1/query_range", message))
    }

    pub(crate) fn err(&self, path: &str, message: String) -> Error {
        Error::Remote {
            url: format!("{}{path}", self.base),
            message,
        }
    }

    /// The body of a successful answer, else the remote error naming the engine.
    fn success(&self, path: &str, answer: Answer) -> Result<String, Error> {
        if answer.is_success() {
            Ok(answer.body)
        } else {
            Err(self.failure(path, &answer))
        }
    }

    /// The error for a failed answer: status, and the Prometheus error or the body's start.
    pub(crate) fn failure(&self, path: &str, answer: &Answer) -> Error {
        let detail = api_error_detail(&answer.body)
            .unwrap_or_else(|| apilens_model::body_excerpt(answer.body.as_bytes(), &[]));
        self.err(path, format!("status {}: {detail}", answer.status))
    }

    /// Posts `form` to `path` (such as `/api/v1/series`) and returns the engine's answer as it
    /// came, Prometheus error bodies included.
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::relay_query`].
    pub fn relay(&self, path: &str, form: &[(&str, String)]) -> Result<Answer, Error> {
        self.send(true, path, form)
    }

    /// As [`RemoteClient::relay`], with the parameters in the query string of a GET (for
    /// `/api/v1/label/<name>/values`, which takes no POST).
    ///
    /// # Errors
    ///
    /// As [`RemoteClient::relay_query`].
    pub fn relay_get(&self, path: &str, params: &[(&str, String)]) -> Result<Answer, Error> {
        self.send(false, path, params)
    }

    /// The longest a request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `form` as a POST body or a GET query string; a success or a Prometheus API error
    /// comes back as it is.
    fn send(&self, post: bool, path: &str, form: &[(&str, String)]) -> Result<Answer, Error> {
        let encoded = form
            .iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        const CONTENT_TYPE: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
        let (url, body, method, headers): (String, String, &str, &[(&str, &str)]) = if post {
            (
                format!("{}{path}", self.base),
                encoded,
                "POST",
                &[CONTENT_TYPE],
            )
        } else if encoded.is_empty() {
            (format!("{}{path}", self.base), String::new(), "GET", &[])
        } else {
            (
                format!("{}{path}?{encoded}", self.base),
                String::new(),
                "GET",
                &[],
            )
        };
        let mut req = if post {
            self.http.post(&url).header(CONTENT_TYPE.0, CONTENT_TYPE.1)
        } else {
            self.http.get(&url)
        };
        // What was sent that an error body must not show.
        let mut sent: Vec<String> = Vec::new();
        req = match &self.auth {
            RemoteAuth::None => req,
            RemoteAuth::Bearer(token) => {
                sent.push(token.clone());
                req.bearer_auth(token)
            }
            RemoteAuth::Basic { user, password } => {
                sent.push(password.clone());
                req.basic_auth(user, Some(password))
            }
            RemoteAuth::SigV4(signer) => {
                let headers = signer
                    .sign(method, &url, headers, body.as_bytes())
                    .map_err(|e| self.err(path, e.to_string()))?;
                sent.extend(apilens_sigv4::credential_values(&headers));
                headers
                    .into_iter()
                    .fold(req, |req, (k, v)| req.header(k, v))
            }
        };
        let req = req.body(body);
        let resp = req
            .send()
            .map_err(|e| self.err(path, apilens_model::error_chain(&e.without_url())))?;
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .map_err(|e| self.err(path, apilens_model::error_chain(&e.without_url())))?;
        let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
        let mut answer = Answer { status, body };
        if !answer.is_success() {
            // Relayed to the dashboard as it is: never with a credential echoed by a proxy.
            answer.body = apilens_model::redact(&answer.body, &sent);
        }
        if answer.is_success() && !is_api_body(&answer.body) {
            // A login page of a proxy in front of the engine, say.
            let start = apilens_model::body_excerpt(answer.body.as_bytes(), &sent);
            return Err(self.err(
                path,
                format!("status {status} with a body that is not a Prometheus API answer: {start}"),
            ));
        }
        if answer.is_success() || api_error_detail(&answer.body).is_some() {
            Ok(answer)
        } else {
            Err(self.failure(path, &answer))
        }
    }
}

/// An answer of the API: its HTTP status and its JSON body (Prometheus's error bodies
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body, unchanged.
    pub body: String,
}

impl Answer {
    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// True for a body that opens as the Prometheus API's JSON object (`{"status":…`), read from
/// its start only, so a large answer is not parsed twice.
fn is_api_body(body: &str) -> bool {
    let head = body.trim_start().as_bytes();
    let head = &head[..head.len().min(80)];
    head.starts_with(b"{") && head.windows(8).any(|w| w == b"\"status\"")
}

/// `errorType: error` of a Prometheus API error body.
fn api_error_detail(body: &str) -> Option<String> {
    let v = serde_json::from_str::<serde_json::Value>(body).ok()?;
    if v.get("status")?.as_str()? != "error" {
        return None;
    }
    Some(format!(
        "{}: {}",
        v.get("errorType")?.as_str()?,
        v.get("error")?.as_str()?
    ))
}

/// Percent-encodes a form value (`application/x-www-form-urlencoded`).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Milliseconds as the seconds the API takes (`1.5`, `-1.500`).
pub(crate) fn secs(ms: i64) -> String {
    let mut s = String::new();
    let (sign, v) = if ms < 0 {
        ("-", -(ms as i128))
    } else {
        ("", ms as i128)
    };
    s.push_str(sign);
    s.push_str(&(v / 1000).to_string());
    if v % 1000 != 0 {
        s.push_str(&format!(".{:03}", v % 1000));
    }
    s
}

/// Decodes the body of a successful query response.
fn decode_value(body: &str) -> Result<Value, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("invalid JSON: {e}"))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err(format!(
            "status is not success: {}",
            body.chars().take(200).collect::<String>()
        ));
    }
    let data = v.get("data").ok_or("missing data")?;
    let kind = data
        .get("resultType")
        .and_then(|s| s.as_str())
        .ok_or("missing resultType")?;
    let result = data.get("result").ok_or("missing result")?;
    let labels = |m: &serde_json::Value| -> Labels {
        Labels::from_pairs(
            m.get("metric")
                .and_then(|m| m.as_object())
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())),
        )
    };
    match kind {
        "scalar" | "string" => {
            let (t, s) = decode_point(result)?;
            if kind == "scalar" {
                Ok(Value::Scalar {
                    t,
                    v: parse_value(&s)?,
                })
            } else {
                Ok(Value::String { t, v: s })
            }
        }
        "vector" => {
            let mut out = Vec::new();
            for e in result.as_array().ok_or("vector result is not an array")? {
                let (t, s) = decode_point(e.get("value").ok_or("missing value")?)?;
                out.push(InstantSample {
                    labels: labels(e),
                    t,
                    v: parse_value(&s)?,
                });
            }
            Ok(Value::Vector(out))
        }
        "matrix" => {
            let mut out = Vec::new();
            for e in result.as_array().ok_or("matrix result is not an array")? {
                let mut samples = Vec::new();
                for p in e
                    .get("values")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                {
                    let (t, s) = decode_point(p)?;
                    samples.push(Sample {
                        t,
                        v: parse_value(&s)?,
                    });
                }
                out.push(Series {
                    labels: labels(e),
                    samples,
                });
            }
            Ok(Value::Matrix(out))
        }
        other => Err(format!("unknown resultType {other:?}")),
    }
}

fn decode_point(p: &serde_json::Value) -> Result<(i64, String), String> {
    let arr = p
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or("a point is not [time, value]")?;
    let t = match &arr[0] {
        serde_json::Value::Number(n) => parse_time(&n.to_string()).map_err(|e| e.to_string())?,
        other => return Err(format!("bad timestamp {other}")),
    };
    let v = arr[1].as_str().ok_or("value is not a string")?.to_owned();
    Ok((t, v))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad sample value {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_prometheus_bodies() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a"},"values":[[1.5,"1"],[3,"NaN"]]}]}}"#;
        let Value::Matrix(m) = decode_value(body).unwrap() else {
            panic!("not a matrix")
        };
        assert_eq!(m[0].samples[0], Sample { t: 1500, v: 1.0 });
        assert!(m[0].samples[1].v.is_nan());
        assert_eq!(m[0].labels.get("job"), Some("a"));
        assert!(decode_value(r#"{"status":"error"}"#).is_err());
    }

    #[test]
    fn times_are_seconds() {
        assert_eq!(secs(-1500), "-1.500");
        assert_eq!(secs(2000), "2");
    }

    /// A proxy that answers every request with `status` and a page quoting the request head.
    fn echoing_proxy(status: u16) -> String {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; len];
                let _ = reader.read_exact(&mut body);
                let page = format!("<html><pre>denied:\n{head}</pre></html>");
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
            }
        });
        base
    }

    /// See: issue 15 ("Secrets"): the relay errors of `dashboard --prometheus` carried the body.
    #[test]
    fn relayed_errors_never_show_the_credentials_sent() {
        let base = echoing_proxy(403);
        let bearer = RemoteClient::new(
            &base,
            RemoteAuth::Bearer("tok3n-0123456789-secret".into()),
            Duration::from_secs(10),
        )
        .unwrap();
        let err = bearer.relay_query("up", 1000).unwrap_err().to_string();
        assert!(err.contains("status 403"), "{err}");
        assert!(!err.contains("tok3n"), "{err}");
        let chain = apilens_sigv4::CredentialsChain::fixed(apilens_sigv4::Credentials::new(
            "ASIAEXAMPLEKEYID0001",
            "secret",
            Some("session-token-value"),
        ));
        let signer = apilens_sigv4::Signer::new("eu-west-1", "aps", chain);
        let sigv4 =
            RemoteClient::new(&base, RemoteAuth::SigV4(signer), Duration::from_secs(10)).unwrap();
        let err = sigv4.relay_query("up", 1000).unwrap_err().to_string();
        assert!(!err.contains("session-token"), "{err}");
        assert!(!err.contains("ASIAEXAMPLE"), "{err}");
        // A page behind a 200 (a login page) is cut and scrubbed the same way.
        let base = echoing_proxy(200);
        let basic = RemoteClient::new(
            &base,
            RemoteAuth::Basic {
                user: "u".into(),
                password: "pa55word-very-secret".into(),
            },
            Duration::from_secs(10),
        )
        .unwrap();
        let err = basic.relay_query("up", 1000).unwrap_err().to_string();
        assert!(err.contains("not a Prometheus API answer"), "{err}");
        assert!(!err.contains("dTpwYTU1"), "{err}");
        assert!(!err.chars().any(char::is_control), "{err:?}");
    }

    /// A query signed with SigV4 reaches the server with the AWS headers, and the signature
    /// covers the form body.
    #[test]
    fn sigv4_signs_queries() {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim_end().is_empty() {
                    break;
                }
                head.push(line.trim_end().to_ascii_lowercase());
            }
            let len: usize = head
                .iter()
                .find_map(|h| h.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let reply = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}"#;
            write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
            (head, String::from_utf8(body).unwrap())
        });
        let chain = apilens_sigv4::CredentialsChain::fixed(apilens_sigv4::Credentials::new(
            "ASIAEXAMPLE",
            "secret",
            Some("session"),
        ));
        let signer = apilens_sigv4::Signer::new("eu-west-1", "aps", chain);
        let client = RemoteClient::new(
            &base,
            RemoteAuth::SigV4(signer.clone()),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(matches!(
            client.query("1", 1000).unwrap(),
            Value::Scalar { .. }
        ));
        let (head, body) = seen.join().unwrap();
        assert_eq!(body, "query=1&time=1");
        let get = |name: &str| {
            head.iter()
                .find_map(|h| h.strip_prefix(&format!("{name}: ")))
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(get("x-amz-security-token"), "session");
        let date = get("x-amz-date").to_ascii_uppercase();
        assert_eq!(date.len(), 16);
        // The same request signed independently at the same time gives the same signature.
        let time = jiff::Timestamp::strptime("%Y%m%dT%H%M%S%z", date.replace('Z', "+0000"))
            .map(std::time::SystemTime::from)
            .unwrap();
        let expected = signer
            .sign_at(
                "POST",
                &format!("{base}/api/v1/query"),
                &[("content-type", "application/x-www-form-urlencoded")],
                body.as_bytes(),
                time,
            )
            .unwrap();
        let auth = expected
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap();
        assert_eq!(get("authorization"), auth);
        assert!(auth.contains("/eu-west-1/aps/aws4_request"));
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = RemoteAuth::Basic {
            user: "u".into(),
            password: "p".into(),
        };
        assert_eq!(format!("{a:?}"), "Basic(<redacted>)");
    }
}
