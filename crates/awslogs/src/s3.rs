//! The S3 calls: `ListObjectsV2` (one page each) and `GetObject` (a body read as a stream that
//! resumes with a `Range` request when the connection breaks part-way).

use std::io::Read;

use serde::Deserialize;

use crate::aws::Aws;
use crate::error::AwsError;
use crate::http::{Request, Target};

/// The largest `ListObjectsV2` answer read (1000 keys of up to 1 KiB).
const LIST_LIMIT: u64 = 8 << 20;

/// A bucket and a key prefix, from `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (may be empty).
    pub prefix: String,
}

impl std::str::FromStr for S3Location {
    type Err = AwsError;

    /// `s3://bucket`, `s3://bucket/prefix/`.
    fn from_str(url: &str) -> Result<S3Location, AwsError> {
        let bad = |why: &str| AwsError::InvalidOption {
            option: "--s3".to_owned(),
            value: url.to_owned(),
            why: why.to_owned(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("expected s3://bucket/prefix/"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if !valid {
            return Err(bad(
                "a bucket name has 3 to 63 lowercase letters, digits, dots and dashes",
            ));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct S3Object {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    contents: Vec<S3Object>,
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_continuation_token: Option<String>,
}

/// Every object under the location, in key order.
pub(crate) fn list_objects(aws: &Aws, at: &S3Location) -> Result<Vec<S3Object>, AwsError> {
    let what = format!("s3 bucket {} prefix {:?}", at.bucket, at.prefix);
    let target = Target {
        what: &what,
        action: "s3:ListBucket",
        endpoint: aws.s3_endpoint().url(),
    };
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("list-type", "2".to_owned()), ("prefix", at.prefix.clone())];
        if let Some(t) = &token {
            query.push(("continuation-token", t.clone()));
        }
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v, true)))
            .collect::<Vec<_>>()
            .join("&");
        let url = format!("{}?{query}", object_url(aws, &at.bucket, ""));
        let resp = aws.http().send(target, &get(aws, url, None))?;
        let bad = |why: String| AwsError::BadResponse {
            what: what.clone(),
            action: "s3:ListBucket",
            endpoint: aws.s3_endpoint().url().to_owned(),
            why,
        };
        let mut text = String::new();
        resp.take(LIST_LIMIT)
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("reading the listing: {e}")))?;
        let page: ListBucketResult = quick_xml::de::from_str(&text).map_err(|e| {
            bad(format!(
                "{e} in {}",
                apilens_model::body_excerpt(text.as_bytes(), &[])
            ))
        })?;
        out.extend(page.contents);
        match page.next_continuation_token {
            Some(t) if page.is_truncated && Some(&t) != token.as_ref() => token = Some(t),
            _ => break,
        }
    }
    Ok(out)
}

/// An object's body as a stream. A connection that breaks part-way is resumed from the byte
/// reached with a `Range` request (`If-Match` the first answer's ETag, so a replaced object is
/// an error, not a splice), up to the retry limit.
pub(crate) struct ObjectBody {
    aws: Aws,
    bucket: String,
    key: String,
    what: String,
    body: Option<reqwest::blocking::Response>,
    offset: u64,
    etag: Option<String>,
    resumed: u32,
}

impl ObjectBody {
    /// The object, not requested until the first read.
    pub(crate) fn new(aws: Aws, bucket: &str, key: &str) -> ObjectBody {
        ObjectBody {
            what: format!("s3 bucket {bucket} key {key}"),
            aws,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            body: None,
            offset: 0,
            etag: None,
            resumed: 0,
        }
    }

    fn request(&mut self) -> Result<reqwest::blocking::Response, AwsError> {
        let range = (self.offset > 0).then(|| format!("bytes={}-", self.offset));
        let mut req = get(
            &self.aws,
            object_url(&self.aws, &self.bucket, &self.key),
            range,
        );
        if let (true, Some(etag)) = (self.offset > 0, &self.etag) {
            req.headers.push(("if-match", etag.clone()));
        }
        let target = Target {
            what: &self.what,
            action: "s3:GetObject",
            endpoint: self.aws.s3_endpoint().url(),
        };
        let resp = self.aws.http().send(target, &req)?;
        if self.etag.is_none() {
            self.etag = resp
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        Ok(resp)
    }
}

impl Read for ObjectBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.body.is_none() {
                self.body = Some(self.request().map_err(std::io::Error::other)?);
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            match body.read(buf) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.body = None;
                    if self.resumed + 1 >= self.aws.http().max_attempts() {
                        return Err(std::io::Error::other(format!(
                            "{}: s3:GetObject failed: the connection broke at byte {}: {}",
                            self.what,
                            self.offset,
                            apilens_model::error_chain(&e)
                        )));
                    }
                    std::thread::sleep(self.aws.http().retry_delay(self.resumed));
                    self.resumed += 1;
                }
            }
        }
    }
}

fn get<'a>(aws: &'a Aws, url: String, range: Option<String>) -> Request<'a> {
    Request {
        method: reqwest::Method::GET,
        url,
        headers: range.map(|r| ("range", r)).into_iter().collect(),
        body: Vec::new(),
        signer: aws.s3_signer(),
    }
}

/// The URL of `key` in `bucket` (the bucket itself for an empty key): virtual-hosted on AWS's
/// own endpoints for names without dots, path-style on a configured endpoint or for dotted
/// names (whose host would not match the wildcard certificate).
fn object_url(aws: &Aws, bucket: &str, key: &str) -> String {
    let endpoint = aws.s3_endpoint();
    let path = encode(key, false);
    if !endpoint.is_configured() && !bucket.contains('.') {
        let host = endpoint
            .url()
            .replacen("https://", &format!("https://{bucket}."), 1);
        format!("{host}/{path}")
    } else {
        format!("{}/{bucket}/{path}", endpoint.url())
    }
}

/// Percent-encodes as SigV4 wants: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` in a path).
fn encode(text: &str, query: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (!query && b == b'/');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let at: S3Location = "s3://audit-logs/exports/prod/".parse().unwrap();
        assert_eq!(at.bucket, "audit-logs");
        assert_eq!(at.prefix, "exports/prod/");
        assert_eq!(at.to_string(), "s3://audit-logs/exports/prod/");
        let bare: S3Location = "s3://my.bucket".parse().unwrap();
        assert_eq!(bare.prefix, "");
        for bad in [
            "audit-logs/x",
            "s3://",
            "s3://UPPER/x",
            "s3://ab",
            "s3://-bad/x",
        ] {
            let e = bad.parse::<S3Location>().unwrap_err().to_string();
            assert!(e.starts_with("invalid --s3"), "{bad}: {e}");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("a b/c+d=e~", false), "a%20b/c%2Bd%3De~");
        assert_eq!(encode("a/b", true), "a%2Fb");
    }
}
