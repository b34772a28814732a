//! Who may use the server: cross-site and DNS-rebinding requests are refused, basic auth is
//! checked, and the configured response headers are added.
//!
//! A browser marks every request with `Sec-Fetch-Site` (and `Origin` on POST and fetches), and
//! a page cannot forge either. A request from a page of another origin is refused with 403
//! unless that origin is allowed (`--web.allowed-origin`), so no page can make a visitor's
//! browser run queries here, a form POST without preflight included; only a top-level
//! navigation to the dashboard page itself may come from elsewhere (a link). A browser request
//! whose `Host` is a DNS name other than `localhost` (or one allowed by `--web.allowed-host`) is
//! refused too: that is what a DNS-rebinding page sends. IP-literal hosts cannot be rebound.
//! Requests without those headers (curl, Grafana's server-side data source, Prometheus) come
//! from no page and pass.

use crate::WebConfig;
use crate::error::WebError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};

/// The access rules of one server.
#[derive(Clone)]
pub struct AccessPolicy {
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
    users: Arc<BTreeMap<String, String>>,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    verified: Arc<Mutex<HashSet<u64>>>,
    hasher: RandomState,
    bcrypt_slots: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("hosts", &self.hosts)
            .field("origins", &self.origins)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A bcrypt hash checked for unknown users, so that an answer takes as long whether the user
/// exists or not.
fn dummy_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("apilens", bcrypt::DEFAULT_COST).unwrap_or_default())
        .clone()
}
/// Successful (user, password) pairs remembered, so bcrypt runs once per pair.
const VERIFIED_CACHE: usize = 1024;

impl AccessPolicy {
    /// The rules for a server with the web configuration `web`, plus the extra hosts (names
    /// such as `apilens.example.com`, or `*` for any) and origins (`https://grafana.example.com`,
    /// or `*` for any) that browsers may use.
    ///
    /// # Errors
    ///
    /// [`WebError::Allow`] for an origin that is not `scheme://host[:port]`.
    pub fn new(web: &WebConfig, hosts: &[String], origins: &[String]) -> Result<Self, WebError> {
        let mut checked_origins = Vec::new();
        for o in origins {
            let o = o.trim_end_matches('/').to_ascii_lowercase();
            let ok = o == "*"
                || o.split_once("://").is_some_and(|(scheme, rest)| {
                    matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
                });
            if !ok {
                return Err(WebError::Allow(format!(
                    "--web.allowed-origin {o:?}: expected scheme://host[:port], such as https://grafana.example.com, or *"
                )));
            }
            checked_origins.push(o);
        }
        let headers = web
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        Ok(Self {
            hosts: Arc::new(hosts.iter().map(|h| h.to_ascii_lowercase()).collect()),
            origins: Arc::new(checked_origins),
            users: Arc::new(web.basic_auth_users.clone()),
            headers: Arc::new(headers),
            verified: Arc::new(Mutex::new(HashSet::new())),
            hasher: RandomState::new(),
            bcrypt_slots: Arc::new(tokio::sync::Semaphore::new(2)),
        })
    }

    /// Wraps `router` so every request passes these rules first.
    pub fn apply(self, router: axum::Router) -> axum::Router {
        router.layer(axum::middleware::from_fn_with_state(self, check))
    }

    /// Why a request is refused as cross-site or rebound, if it is.
    fn refusal(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<String> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let origin = get("origin");
        let site = get("sec-fetch-site");
        if origin.is_none() && site.is_none() {
            return None;
        }
        let host = get("host").unwrap_or("");
        let host_name = host_name(host);
        if !self.host_allowed(&host_name) {
            return Some(format!(
                "host {host:?} is not allowed for browsers (DNS rebinding protection); start apilens with --web.allowed-host {host_name} to allow it"
            ));
        }
        let same_origin = origin.is_some_and(|o| {
            o.split_once("://")
                .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
        });
        let origin_allowed = origin.is_some_and(|o| {
            let o = o.trim_end_matches('/').to_ascii_lowercase();
            self.origins.iter().any(|a| *a == "*" || *a == o)
        });
        let cross = match site {
            Some("same-origin") | Some("none") => origin.is_some() && !same_origin,
            Some(_) => !same_origin,
            None => !same_origin,
        };
        if !cross || origin_allowed {
            return None;
        }
        // A link from another site to the page itself is fine; it can run nothing.
        let navigation = get("sec-fetch-mode") == Some("navigate")
            && method == Method::GET
            && !path.starts_with("/api/");
        if navigation {
            return None;
        }
        Some(format!(
            "cross-origin request from {} refused; start apilens with --web.allowed-origin ORIGIN to allow a trusted origin",
            origin.unwrap_or("another site")
        ))
    }

    fn host_allowed(&self, name: &str) -> bool {
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.hosts.iter().any(|h| h == "*" || h == name)
    }

    /// Whether the request carries the password of a configured user.
    async fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let hash = self.users.get(&user).cloned();
        let key = self
            .hasher
            .hash_one((&user, &password, hash.as_deref().unwrap_or("")));
        if hash.is_some()
            && self
                .verified
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&key)
        {
            return true;
        }
        // bcrypt is slow on purpose: at most two checks at once, off the runtime's threads.
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        let known = hash.is_some();
        let ok = tokio::task::spawn_blocking(move || {
            let against = hash.unwrap_or_else(dummy_hash);
            bcrypt::verify(password, &against)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false)
            && known;
        if ok {
            let mut set = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if set.len() >= VERIFIED_CACHE {
                set.clear();
            }
            set.insert(key);
        }
        ok
    }
}

/// The host name of a `Host` header, lower-case, without port or IPv6 brackets.
fn host_name(host: &str) -> String {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

async fn check(State(policy): State<AccessPolicy>, req: Request, next: Next) -> Response {
    if let Some(why) = policy.refusal(req.method(), req.uri().path(), req.headers()) {
        let body = format!(
            r#"{{"status":"error","errorType":"forbidden","error":{}}}"#,
            serde_json::Value::String(why)
        );
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
    }
    if !policy.authorized(req.headers()).await {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Basic")
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("Unauthorized\n"))
            .unwrap_or_else(|_| StatusCode::UNAUTHORIZED.into_response());
    }
    let mut res = next.run(req).await;
    for (k, v) in policy.headers.iter() {
        res.headers_mut().insert(k.clone(), v.clone());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn policy() -> AccessPolicy {
        AccessPolicy::new(
            &WebConfig::default(),
            &["apilens.example.com".into()],
            &["https://grafana.example.com".into()],
        )
        .unwrap()
    }

    #[test]
    fn server_side_clients_pass_whatever_their_host() {
        let p = policy();
        let h = headers(&[("host", "apilens.monitoring.svc:9797")]);
        assert_eq!(p.refusal(&Method::POST, "/api/v1/query", &h), None);
    }

    #[test]
    fn same_origin_pages_pass_and_other_sites_do_not() {
        let p = policy();
        let same = headers(&[
            ("host", "127.0.0.1:9797"),
            ("origin", "http://127.0.0.1:9797"),
            ("sec-fetch-site", "same-origin"),
        ]);
        assert_eq!(p.refusal(&Method::POST, "/api/v1/query", &same), None);
        let form = headers(&[
            ("host", "127.0.0.1:9797"),
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ]);
        let why = p.refusal(&Method::POST, "/api/v1/query", &form).unwrap();
        assert!(why.contains("https://evil.example"), "{why}");
        let img = headers(&[("host", "localhost:9797"), ("sec-fetch-site", "cross-site")]);
        assert!(p.refusal(&Method::GET, "/api/v1/query", &img).is_some());
        let allowed = headers(&[
            ("host", "127.0.0.1:9797"),
            ("origin", "https://grafana.example.com"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(p.refusal(&Method::POST, "/api/v1/query", &allowed), None);
        let link = headers(&[
            ("host", "127.0.0.1:9797"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
        ]);
        assert_eq!(p.refusal(&Method::GET, "/", &link), None);
        assert!(p.refusal(&Method::GET, "/api/v1/query", &link).is_some());
    }

    #[test]
    fn rebound_names_are_refused_ip_literals_and_allowed_names_pass() {
        let p = policy();
        let rebound = headers(&[
            ("host", "evil.example:9797"),
            ("sec-fetch-site", "same-origin"),
        ]);
        let why = p.refusal(&Method::GET, "/api/v1/query", &rebound).unwrap();
        assert!(why.contains("--web.allowed-host evil.example"), "{why}");
        for host in [
            "[::1]:9797",
            "10.1.2.3:9797",
            "localhost",
            "apilens.example.com:443",
        ] {
            let h = headers(&[("host", host), ("sec-fetch-site", "none")]);
            assert_eq!(p.refusal(&Method::GET, "/", &h), None, "{host}");
        }
    }

    #[test]
    fn origins_must_be_scheme_and_host() {
        let err = AccessPolicy::new(&WebConfig::default(), &[], &["grafana.example.com".into()])
            .unwrap_err();
        assert!(err.to_string().contains("scheme://host"), "{err}");
    }
}
