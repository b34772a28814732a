//! Credentials of an EC2 instance profile from the instance metadata service (IMDS): a
//! session token first (IMDSv2), the older token-less calls when the service refuses tokens.

use std::time::Duration;

use crate::env::EnvSnapshot;
use crate::error::Error;
use crate::keys::{Credentials, json_document};
use apilens_model::error_chain;

/// The IPv4 endpoint of the instance metadata service.
const IPV4_ENDPOINT: &str = "http://169.254.169.254";
/// The IPv6 endpoint of the instance metadata service (Nitro instances).
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Connect and read timeout of one metadata call, as in the AWS SDKs: off EC2 the chain
/// gives up after about this long.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Lifetime asked for the IMDSv2 session token.
const TOKEN_TTL_SECONDS: &str = "21600";
/// Where the instance profile's role and credentials are listed.
const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The client for metadata calls: the SDKs' one-second timeouts, never through a proxy.
pub(crate) fn client_builder() -> reqwest::blocking::ClientBuilder {
    reqwest::blocking::Client::builder()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .no_proxy()
}

/// The metadata endpoint this environment points at, or `None` when instance metadata is
/// turned off with `AWS_EC2_METADATA_DISABLED=true`.
pub(crate) fn endpoint(env: &EnvSnapshot) -> Option<String> {
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    Some(match env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None if env
            .get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|m| m.eq_ignore_ascii_case("ipv6")) =>
        {
            IPV6_ENDPOINT.to_owned()
        }
        None => IPV4_ENDPOINT.to_owned(),
    })
}

/// The instance profile's credentials, `None` when there is no metadata service to reach or
/// the instance has no instance profile.
///
/// # Errors
///
/// [`Error::Source`] when the service answers but its answers cannot be used.
pub(crate) fn credentials(
    http: Result<&reqwest::blocking::Client, String>,
    env: &EnvSnapshot,
    endpoint: &str,
) -> Result<Option<Credentials>, Error> {
    let err = |message: String| Error::Source {
        source_name: format!("instance metadata {endpoint}"),
        message,
    };
    let http = http.map_err(err)?;
    let token = match session_token(http, endpoint, env).map_err(err)? {
        Session::Unreachable => return Ok(None),
        Session::Token(t) => Some(t),
        Session::NoToken => None,
    };
    let get = |path: &str| {
        let mut req = http.get(format!("{endpoint}{path}"));
        if let Some(t) = &token {
            req = req.header("x-aws-ec2-metadata-token", t);
        }
        let resp = req.send().map_err(|e| error_chain(&e.without_url()))?;
        let status = resp.status().as_u16();
        let body = resp.text().map_err(|e| error_chain(&e.without_url()))?;
        Ok::<_, String>((status, body))
    };
    let roles = match get(CREDENTIALS_PATH) {
        Ok((200, roles)) => roles,
        // 404: the instance has no instance profile; another status or no answer: what is
        // there is not a metadata service that serves credentials (a proxy, a firewall).
        // Either way this source has nothing, as in the AWS SDKs.
        Ok((status, _)) => {
            tracing::debug!(endpoint, status, "no instance profile credentials");
            return Ok(None);
        }
        Err(e) => {
            tracing::debug!(endpoint, error = e, "no instance profile credentials");
            return Ok(None);
        }
    };
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let (status, body) = get(&format!("{CREDENTIALS_PATH}{role}")).map_err(err)?;
    if status != 200 {
        return Err(err(format!("credentials of role {role} answered {status}")));
    }
    json_document(&body)
        .map(Some)
        .map_err(|m| err(format!("credentials of role {role}: {m}")))
}

/// How the metadata calls are made.
enum Session {
    /// Nothing answers at the endpoint.
    Unreachable,
    /// With this IMDSv2 session token.
    Token(String),
    /// Without a token (IMDSv1): the service does not hand them out.
    NoToken,
}

/// Asks for an IMDSv2 session token; falls back to IMDSv1 when the service does not hand
/// them out, unless `AWS_EC2_METADATA_V1_DISABLED=true`.
fn session_token(
    http: &reqwest::blocking::Client,
    endpoint: &str,
    env: &EnvSnapshot,
) -> Result<Session, String> {
    let v1_disabled = env
        .get("AWS_EC2_METADATA_V1_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let resp = match http
        .put(format!("{endpoint}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)
        .send()
    {
        Ok(resp) => resp,
        // Nothing listens there: not an EC2 instance.
        Err(e) if e.is_connect() => return Ok(Session::Unreachable),
        // The token's answer can be lost on its way into a container when the instance's
        // PUT response hop limit is 1, while token-less calls still work: the SDKs go on
        // without a token.
        Err(e) if e.is_timeout() && !v1_disabled => return Ok(Session::NoToken),
        Err(e) if e.is_timeout() => {
            return Err(format!(
                "no answer to the session token request within {TIMEOUT:?}; in a container, raise the instance's metadata PUT response hop limit to 2"
            ));
        }
        Err(_) => return Ok(Session::Unreachable),
    };
    match resp.status().as_u16() {
        200 => {
            let token = resp.text().map_err(|e| error_chain(&e.without_url()))?;
            match token.trim() {
                "" => Err("empty session token".to_owned()),
                t => Ok(Session::Token(t.to_owned())),
            }
        }
        // Forbidden, not found, method not allowed: a service without IMDSv2.
        403..=405 if !v1_disabled => Ok(Session::NoToken),
        s => Err(format!("session token request answered {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_from_the_environment() {
        let env = |pairs: &[(&str, &str)]| EnvSnapshot::from_pairs(pairs.iter().copied(), None);
        assert_eq!(endpoint(&env(&[])).as_deref(), Some(IPV4_ENDPOINT));
        assert_eq!(
            endpoint(&env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")])).as_deref(),
            Some(IPV6_ENDPOINT)
        );
        assert_eq!(
            endpoint(&env(&[(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://127.0.0.1:9/"
            )]))
            .as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(
            endpoint(&env(&[("AWS_EC2_METADATA_DISABLED", "TRUE")])),
            None
        );
    }

    #[test]
    fn role_credentials_documents() {
        let c = json_document(
            r#"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAX","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-28T12:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(c.access_key_id(), "ASIAX");
        assert_eq!(c.session_token(), Some("t"));
        assert!(c.expiry().is_some());
        let e = json_document(r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"}"#)
            .unwrap_err();
        assert_eq!(e, "AssumeRoleUnauthorizedAccess denied");
        assert!(json_document("{").unwrap_err().starts_with("invalid JSON"));
    }
}
