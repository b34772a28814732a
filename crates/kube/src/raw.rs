//! Raw GETs against one API server, with a cap on the body size.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde::Deserialize;

use crate::KubeError;

/// The `Accept` header of raw GETs: the text exposition format for `/metrics`, JSON for the
/// rest.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,application/json;q=0.9,*/*;q=0.1";

/// A client for one API server (the service URL or one replica).
#[derive(Clone)]
pub struct ApiServer {
    client: kube::Client,
    name: String,
    url: String,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("name", &self.name)
            .field("url", &self.url)
            .finish()
    }
}

/// The answer to a raw GET.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Retry-After` header, if any (sent with HTTP 429 by API Priority and Fairness).
    pub retry_after: Option<String>,
    /// The body, decompressed when the server sent it gzip-encoded.
    pub body: Bytes,
}

/// The answer of `/version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Major version, such as `1`.
    #[serde(default)]
    pub major: String,
    /// Minor version, such as `33` (some distributions append `+`).
    #[serde(default)]
    pub minor: String,
    /// The full version, such as `v1.33.2-eks-1234`.
    #[serde(default)]
    pub git_version: String,
    /// The platform, such as `linux/amd64`.
    #[serde(default)]
    pub platform: String,
}

/// The API Priority and Fairness debug dumps of `/debug/api_priority_and_fairness/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApfDump {
    /// `dump_priority_levels`: seats, queues and requests per priority level.
    PriorityLevels,
    /// `dump_queues`: each queue of each priority level.
    Queues,
    /// `dump_requests?includeRequestDetails=1`: every waiting and executing request, with
    /// its user, verb and path.
    Requests,
}

impl ApfDump {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            ApfDump::PriorityLevels => "/debug/api_priority_and_fairness/dump_priority_levels",
            ApfDump::Queues => "/debug/api_priority_and_fairness/dump_queues",
            ApfDump::Requests => {
                "/debug/api_priority_and_fairness/dump_requests?includeRequestDetails=1"
            }
        }
    }
}

impl ApiServer {
    pub(crate) fn new(config: kube::Config, name: String) -> Result<Self, KubeError> {
        let url = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let client = kube::Client::try_from(config).map_err(|source| KubeError::Client {
            server: url.clone(),
            source,
        })?;
        Ok(Self { client, name, url })
    }

    /// How messages name this server: `address:port` for a replica, the URL for the service.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// GETs `path` (with its query string) and returns whatever status came back. The body is
    /// read up to `max_bytes` after decompression.
    ///
    /// Time limits are the caller's: wrap the future in `tokio::time::timeout`.
    ///
    /// # Errors
    ///
    /// [`KubeError::Request`] when no response arrived, [`KubeError::Body`] when the body broke
    /// off, [`KubeError::BodyTooLarge`] past `max_bytes`.
    pub async fn get(&self, path: &str, max_bytes: usize) -> Result<RawResponse, KubeError> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, ACCEPT)
            .body(kube::client::Body::empty())
            .map_err(|err| KubeError::Request {
                server: self.name.clone(),
                path: path.to_owned(),
                source: kube::Error::HttpError(err),
            })?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|source| KubeError::Request {
                server: self.name.clone(),
                path: path.to_owned(),
                source,
            })?;
        let (parts, mut body) = response.into_parts();
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let status = parts.status.as_u16();
        let content_type = header(http::header::CONTENT_TYPE);
        let retry_after = header(http::header::RETRY_AFTER);
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| KubeError::Body {
                server: self.name.clone(),
                path: path.to_owned(),
                reason: err.to_string(),
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max_bytes {
                    return Err(KubeError::BodyTooLarge {
                        server: self.name.clone(),
                        path: path.to_owned(),
                        limit: max_bytes,
                    });
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(RawResponse {
            status,
            content_type,
            retry_after,
            body: buf.freeze(),
        })
    }

    /// Like [`ApiServer::get`], but a status other than 2xx is an error.
    ///
    /// # Errors
    ///
    /// As [`ApiServer::get`], plus [`KubeError::Status`] carrying the server's message (for 401,
    /// a hint that the kubeconfig's credentials were refused).
    pub async fn get_ok(&self, path: &str, max_bytes: usize) -> Result<RawResponse, KubeError> {
        let res = self.get(path, max_bytes).await?;
        if (200..300).contains(&res.status) {
            return Ok(res);
        }
        Err(KubeError::Status {
            server: self.name.clone(),
            path: path.to_owned(),
            status: res.status,
            message: status_message(res.status, &res.body),
        })
    }

    /// The server's `/version`.
    ///
    /// # Errors
    ///
    /// As [`ApiServer::get_ok`], plus [`KubeError::Decode`].
    pub async fn version(&self) -> Result<VersionInfo, KubeError> {
        let res = self.get_ok("/version", 1 << 20).await?;
        serde_json::from_slice(&res.body).map_err(|source| KubeError::Decode {
            server: self.name.clone(),
            path: "/version".to_owned(),
            source,
        })
    }

    /// One API Priority and Fairness debug dump, as the text table the server writes.
    ///
    /// # Errors
    ///
    /// As [`ApiServer::get_ok`]; a body that is not UTF-8 is a [`KubeError::Body`].
    pub async fn apf_dump(&self, dump: ApfDump) -> Result<String, KubeError> {
        let res = self.get_ok(dump.path(), 64 << 20).await?;
        String::from_utf8(res.body.to_vec()).map_err(|err| KubeError::Body {
            server: self.name.clone(),
            path: dump.path().to_owned(),
            reason: err.to_string(),
        })
    }
}

/// A cluster's API Priority and Fairness objects as the server lists them: the
/// `FlowSchemaList` and `PriorityLevelConfigurationList` JSON of the newest
/// `flowcontrol.apiserver.k8s.io` version it serves.
#[derive(Debug, Clone)]
pub struct ApfObjects {
    /// The version listed (`v1`, `v1beta3`, ...).
    pub api_version: String,
    /// The `FlowSchemaList` body.
    pub flow_schemas: bytes::Bytes,
    /// The `PriorityLevelConfigurationList` body.
    pub priority_levels: bytes::Bytes,
}

/// The `flowcontrol.apiserver.k8s.io` versions, newest first (v1 from 1.29, v1beta3 1.26-1.31,
/// v1beta2 1.23-1.28, v1beta1 1.20-1.25).
const FLOWCONTROL_VERSIONS: [&str; 4] = ["v1", "v1beta3", "v1beta2", "v1beta1"];

impl ApiServer {
    /// Lists the FlowSchemas and PriorityLevelConfigurations, trying the newest API version
    /// first.
    ///
    /// # Errors
    ///
    /// As [`ApiServer::get_ok`]; [`KubeError::Status`] 404 when the server serves none of the
    /// versions.
    pub async fn apf_objects(&self) -> Result<ApfObjects, KubeError> {
        for version in FLOWCONTROL_VERSIONS {
            let base = format!("/apis/flowcontrol.apiserver.k8s.io/{version}");
            let schemas = self.get(&format!("{base}/flowschemas"), 64 << 20).await?;
            if schemas.status == 404 {
                continue;
            }
            if !(200..300).contains(&schemas.status) {
                return Err(KubeError::Status {
                    server: self.name.clone(),
                    path: format!("{base}/flowschemas"),
                    status: schemas.status,
                    message: status_message(schemas.status, &schemas.body),
                });
            }
            let levels = self
                .get_ok(&format!("{base}/prioritylevelconfigurations"), 64 << 20)
                .await?;
            return Ok(ApfObjects {
                api_version: version.to_owned(),
                flow_schemas: schemas.body,
                priority_levels: levels.body,
            });
        }
        Err(KubeError::Status {
            server: self.name.clone(),
            path: "/apis/flowcontrol.apiserver.k8s.io".to_owned(),
            status: 404,
            message: "the server serves no flowcontrol.apiserver.k8s.io version (v1, v1beta3, v1beta2, v1beta1)".to_owned(),
        })
    }
}

/// A short message for an error status: the `message` of a `metav1.Status` body, else the start
/// of the body, else a hint for 401/403.
fn status_message(status: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Status {
        message: Option<String>,
    }
    let from_body = serde_json::from_slice::<Status>(body)
        .ok()
        .and_then(|s| s.message)
        .unwrap_or_else(|| {
            let cut = body.len().min(200);
            String::from_utf8_lossy(&body[..cut]).trim().to_owned()
        });
    match status {
        401 => format!(
            "unauthorized: the API server refused the credentials of the kubeconfig ({})",
            if from_body.is_empty() {
                "no message"
            } else {
                &from_body
            }
        ),
        _ if from_body.is_empty() => "no message".to_owned(),
        _ => from_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_come_from_the_status_object() {
        let body = br#"{"kind":"Status","status":"Failure","message":"forbidden: User \"x\" cannot get path \"/metrics\"","code":403}"#;
        assert_eq!(
            status_message(403, body),
            r#"forbidden: User "x" cannot get path "/metrics""#
        );
        assert!(status_message(401, b"").starts_with("unauthorized:"));
        assert_eq!(status_message(500, b"  boom \n"), "boom");
    }
}
