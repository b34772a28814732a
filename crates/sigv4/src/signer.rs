//! Signing one request with `aws-sigv4`.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::credentials::CredentialsChain;
use crate::env::EnvSnapshot;
use crate::error::Error;

/// Signs requests for one region and service with credentials from a [`CredentialsChain`].
#[derive(Debug, Clone)]
pub struct Signer {
    region: String,
    service: String,
    chain: CredentialsChain,
    s3: bool,
}

impl Signer {
    /// A signer for `service` (such as `aps`) in `region`.
    pub fn new(region: &str, service: &str, chain: CredentialsChain) -> Self {
        Self {
            region: region.to_owned(),
            service: service.to_owned(),
            chain,
            s3: false,
        }
    }

    /// A signer for Amazon S3 in `region`: service `s3`, the payload hash sent as
    /// `x-amz-content-sha256` (which S3 requires), and the path signed as given (S3 keys are
    /// encoded once and never normalised, unlike every other service's paths).
    pub fn for_s3(region: &str, chain: CredentialsChain) -> Self {
        Self {
            s3: true,
            ..Self::new(region, "s3", chain)
        }
    }

    /// A signer for an AMP URL: service `aps`, the region given or else the one in the URL,
    /// credentials from the process environment.
    ///
    /// # Errors
    ///
    /// [`Error::NoRegion`] when no region is given and the URL has none.
    pub fn for_amp(url: &str, region: Option<&str>) -> Result<Self, Error> {
        let env = EnvSnapshot::from_process();
        let region = amp_region(url, region, env.region())?;
        Ok(Self::new(
            &region,
            "aps",
            CredentialsChain::from_snapshot(env),
        ))
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
            .settings(self.settings())
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

impl Signer {
    fn settings(&self) -> SigningSettings {
        let mut settings = SigningSettings::default();
        if self.s3 {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        settings
    }
}

/// The values in headers made by [`Signer::sign`] that identify or authenticate the caller: the
/// access key id and the signature of `authorization`, and the session token. A body that echoes
/// the request must not show them.
pub fn credential_values(headers: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("x-amz-security-token") {
            out.push(value.clone());
        } else if name.eq_ignore_ascii_case("authorization") {
            for part in value.split([' ', ',']) {
                if let Some(c) = part.strip_prefix("Credential=") {
                    out.extend(c.split('/').next().map(str::to_owned));
                } else if let Some(sig) = part.strip_prefix("Signature=") {
                    out.push(sig.to_owned());
                }
            }
        }
    }
    out.retain(|v| !v.is_empty());
    out
}

/// The region to sign for: the one given, else the URL's, else the environment's.
fn amp_region(url: &str, region: Option<&str>, env_region: Option<&str>) -> Result<String, Error> {
    match region {
        Some(r) if !r.is_empty() => Ok(r.to_owned()),
        _ => region_from_url(url)
            .or_else(|| env_region.map(str::to_owned))
            .ok_or_else(|| Error::NoRegion {
                url: strip_query(url).to_owned(),
            }),
    }
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The base URL of an Amazon Managed Service for Prometheus workspace given by its id
/// (`ws-…`, in `region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`) or by its ARN
/// (`arn:aws:aps:<region>:<account>:workspace/ws-…`, which names its region).
///
/// # Errors
///
/// [`Error::Workspace`] for an id or ARN that cannot be one, or an id without a region.
pub fn amp_workspace_url(workspace: &str, region: Option<&str>) -> Result<String, Error> {
    workspace_url(workspace, region, EnvSnapshot::from_process().region())
}

fn workspace_url(
    workspace: &str,
    region: Option<&str>,
    env_region: Option<&str>,
) -> Result<String, Error> {
    let err = |message: &str| Error::Workspace {
        workspace: workspace.to_owned(),
        message: message.to_owned(),
    };
    let (id, region) = match workspace.strip_prefix("arn:") {
        Some(arn) => {
            // partition:service:region:account:workspace/id
            let parts: Vec<&str> = arn.splitn(5, ':').collect();
            let [_, "aps", arn_region, _, resource] = parts[..] else {
                return Err(err("not an ARN of an aps workspace"));
            };
            let id = resource
                .strip_prefix("workspace/")
                .ok_or_else(|| err("not an ARN of an aps workspace"))?;
            if let Some(r) = region.filter(|r| !r.is_empty() && *r != arn_region) {
                return Err(err(&format!("the ARN is in {arn_region}, not {r}")));
            }
            (id, arn_region)
        }
        None => (
            workspace,
            region
                .filter(|r| !r.is_empty())
                .or(env_region)
                .ok_or_else(|| err("no region: pass --sigv4-region or set AWS_REGION"))?,
        ),
    };
    if id.is_empty() {
        return Err(err("no workspace id"));
    }
    let id_ok = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(err(
            "a workspace id has letters, digits, dashes and underscores only",
        ));
    }
    if !is_region_name(region) {
        return Err(err(&format!("{region:?} is not a region")));
    }
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!(
        "https://aps-workspaces.{region}.{domain}/workspaces/{id}"
    ))
}

/// True for a name made like a region's: lowercase letters, digits and dashes.
fn is_region_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The region of an Amazon Managed Service for Prometheus URL such as
/// `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-…/api/v1/remote_write`
/// (also the FIPS, `.com.cn` and VPC endpoint forms), or `None`.
pub fn region_from_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?;
    // A VPC endpoint's host puts its own label first:
    // `vpce-….aps-workspaces.<region>.vpce.amazonaws.com`.
    let mut parts = host
        .split('.')
        .skip_while(|label| !label.starts_with("aps-workspaces"))
        .skip(1);
    let region = parts.next()?;
    let is_region = is_region_name(region) && region.contains('-');
    let domain = match parts.next()? {
        "vpce" => parts.next()?,
        d => d,
    };
    (is_region && domain == "amazonaws").then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Credentials;

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
        let amp = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1";
        assert_eq!(
            amp_region(amp, Some("us-east-2"), None).unwrap(),
            "us-east-2"
        );
        assert_eq!(
            amp_region(amp, None, Some("us-east-2")).unwrap(),
            "eu-west-1"
        );
        let vpce =
            "https://vpce-0a1b-2c3d.aps-workspaces.eu-west-1.vpce.amazonaws.com/workspaces/ws-1";
        assert_eq!(
            amp_region(vpce, None, Some("ap-south-1")).unwrap(),
            "eu-west-1"
        );
        let proxy = "https://amp-proxy.internal.example/workspaces/ws-1";
        assert_eq!(
            amp_region(proxy, None, Some("ap-south-1")).unwrap(),
            "ap-south-1"
        );
        assert!(matches!(
            amp_region("http://127.0.0.1:9090/api?token=x", None, None),
            Err(Error::NoRegion { url }) if url == "http://127.0.0.1:9090/api"
        ));
    }

    #[test]
    fn workspace_urls_from_ids_and_arns() {
        let url = |ws, region, env| workspace_url(ws, region, env);
        assert_eq!(
            url("ws-1234abcd-12ab", Some("eu-west-1"), Some("us-east-1")).unwrap(),
            "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1234abcd-12ab"
        );
        assert_eq!(
            url("ws-1", None, Some("cn-north-1")).unwrap(),
            "https://aps-workspaces.cn-north-1.amazonaws.com.cn/workspaces/ws-1"
        );
        assert_eq!(
            url(
                "arn:aws:aps:us-west-2:123456789012:workspace/ws-9",
                None,
                Some("eu-west-1")
            )
            .unwrap(),
            "https://aps-workspaces.us-west-2.amazonaws.com/workspaces/ws-9"
        );
        let e = |ws, region, env| workspace_url(ws, region, env).unwrap_err().to_string();
        assert!(e("ws-1", None, None).contains("--sigv4-region"));
        assert!(e("ws-1/../x", Some("eu-west-1"), None).contains("letters, digits"));
        assert!(e("arn:aws:aps:us-west-2:1:workspace/", None, None).contains("no workspace id"));
        assert!(e("arn:aws:s3:::bucket", None, None).contains("not an ARN of an aps workspace"));
        assert!(
            e(
                "arn:aws:aps:us-west-2:1:workspace/ws-9",
                Some("eu-west-1"),
                None
            )
            .contains("in us-west-2, not eu-west-1")
        );
        assert!(e("ws-1", Some("EU WEST"), None).contains("is not a region"));
    }

    /// S3 signs the payload hash header and keeps the path as given: `%2B` in a key is not
    /// encoded again and `a/../b` is not collapsed, so the signature covers the key S3 sees.
    #[test]
    fn s3_signs_the_payload_hash_and_the_path_unchanged() {
        let chain = CredentialsChain::fixed(Credentials::new("AKIDEXAMPLE", "secret", None));
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        let url = "https://bucket.s3.us-east-1.amazonaws.com/a%2Bb/../c";
        let s3 = Signer::for_s3("us-east-1", chain.clone())
            .sign_at("GET", url, &[], b"", time)
            .unwrap();
        let get = |h: &[(String, String)], name: &str| {
            h.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        };
        assert_eq!(
            get(&s3, "x-amz-content-sha256").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert!(
            get(&s3, "authorization")
                .unwrap()
                .contains("/us-east-1/s3/aws4_request")
        );
        let plain = Signer::new("us-east-1", "s3", chain)
            .sign_at("GET", url, &[], b"", time)
            .unwrap();
        assert_eq!(get(&plain, "x-amz-content-sha256"), None);
        assert_ne!(get(&s3, "authorization"), get(&plain, "authorization"));
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
