//! Signing one request with `aws-sigv4`.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::credentials::CredentialsChain;
use crate::error::Error;

/// Signs requests for one region and service with credentials from a [`CredentialsChain`].
#[derive(Debug, Clone)]
pub struct Signer {
    region: String,
    service: String,
    chain: CredentialsChain,
}

impl Signer {
    /// A signer for `service` (such as `aps`) in `region`.
    pub fn new(region: &str, service: &str, chain: CredentialsChain) -> Self {
        Self {
            region: region.to_owned(),
            service: service.to_owned(),
            chain,
        }
    }

    /// A signer for an AMP URL: service `aps`, the region given or else the one in the URL,
    /// credentials from the process environment.
    ///
    /// # Errors
    ///
    /// [`Error::NoRegion`] when no region is given and the URL has none.
    pub fn for_amp(url: &str, region: Option<&str>) -> Result<Self, Error> {
        let region = match region {
            Some(r) if !r.is_empty() => r.to_owned(),
            _ => region_from_url(url).ok_or_else(|| Error::NoRegion {
                url: strip_query(url).to_owned(),
            })?,
        };
        Ok(Self::new(&region, "aps", CredentialsChain::from_env()))
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs a request now; returns the headers to add to it (lowercase names).
    ///
    /// `headers` are the headers the request will carry besides `host` (which comes from the
    /// URL); they are signed, so they must be sent unchanged.
    ///
    /// # Errors
    ///
    /// The credential source's error, or [`Error::Sign`] for a URL that cannot be signed.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, Error> {
        self.sign_at(method, url, headers, body, SystemTime::now())
    }

    /// As [`Signer::sign`], at a given time.
    ///
    /// # Errors
    ///
    /// As [`Signer::sign`].
    pub fn sign_at(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, Error> {
        let creds = self.chain.credentials()?;
        let identity: Identity = aws_credential_types::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_owned),
            creds.expiry(),
            "apilens",
        )
        .into();
        let err = |message: String| Error::Sign {
            url: strip_query(url).to_owned(),
            message,
        };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| err(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| err(e.to_string()))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| err(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect())
    }
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The region of an Amazon Managed Service for Prometheus URL such as
/// `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-…/api/v1/remote_write`
/// (also the FIPS and `.com.cn` forms), or `None`.
pub fn region_from_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    let mut parts = host.split('.');
    let first = parts.next()?;
    if !first.starts_with("aps-workspaces") {
        return None;
    }
    let region = parts.next()?;
    let is_region = !region.is_empty()
        && region.contains('-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (is_region && parts.next() == Some("amazonaws")).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;

    #[test]
    fn regions_from_amp_urls() {
        assert_eq!(
            region_from_url(
                "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
            )
            .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_from_url("https://aps-workspaces-fips.us-gov-west-1.amazonaws.com/workspaces/x")
                .as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            region_from_url("https://aps-workspaces.cn-north-1.amazonaws.com.cn:443/x").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region_from_url("http://127.0.0.1:9090/api/v1/write"), None);
        assert_eq!(region_from_url("https://aps-workspaces.example.com/"), None);
        assert!(matches!(
            Signer::for_amp("http://127.0.0.1:9090/api?token=x", None),
            Err(Error::NoRegion { url }) if url == "http://127.0.0.1:9090/api"
        ));
    }

    /// The `get-vanilla` case of the AWS SigV4 test suite, as published in the AWS General
    /// Reference.
    #[test]
    fn aws_documented_test_vector() {
        let chain = CredentialsChain::fixed(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        ));
        let signer = Signer::new("us-east-1", "service", chain);
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let headers = signer
            .sign_at("GET", "https://example.amazonaws.com/", &[], b"", time)
            .unwrap();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            get("authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
        assert_eq!(get("x-amz-security-token"), None);
    }
}
