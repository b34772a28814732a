//! Where requests go: the regional endpoint of a service, or the one configured as the AWS SDKs
//! and CLI read it (`--endpoint-url`, `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`).

use apilens_sigv4::EnvSnapshot;

use crate::error::AwsError;

/// A service this crate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Amazon CloudWatch Logs.
    CloudWatchLogs,
    /// Amazon S3.
    S3,
}

impl Service {
    /// The service's SigV4 signing name and endpoint prefix.
    pub(crate) fn signing_name(self) -> &'static str {
        match self {
            Service::CloudWatchLogs => "logs",
            Service::S3 => "s3",
        }
    }

    /// The service-specific endpoint variable of the AWS SDKs.
    pub fn endpoint_variable(self) -> &'static str {
        match self {
            Service::CloudWatchLogs => "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
            Service::S3 => "AWS_ENDPOINT_URL_S3",
        }
    }
}

/// The base URL of a service, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: String,
    configured: bool,
}

impl Endpoint {
    /// The base URL, such as `https://logs.eu-west-1.amazonaws.com`.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// True when the endpoint was configured (a VPC endpoint, a proxy, an emulator), not the
    /// regional default; S3 is then addressed path-style.
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// The endpoint of `service` in `region`: `flag` (`--endpoint-url`) first, then the
    /// service's variable, then `AWS_ENDPOINT_URL` (both ignored when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true), then the regional endpoint.
    ///
    /// # Errors
    ///
    /// [`AwsError::InvalidOption`] for a value that is not an `http://` or `https://` URL
    /// without query or fragment.
    pub fn resolve(
        service: Service,
        region: &str,
        flag: Option<&str>,
        env: &EnvSnapshot,
    ) -> Result<Endpoint, AwsError> {
        let ignore_env = env
            .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let configured = flag
            .filter(|f| !f.is_empty())
            .map(|f| ("--endpoint-url", f))
            .or_else(|| {
                (!ignore_env)
                    .then(|| {
                        let var = service.endpoint_variable();
                        env.get(var).map(|v| (var, v)).or_else(|| {
                            env.get("AWS_ENDPOINT_URL").map(|v| ("AWS_ENDPOINT_URL", v))
                        })
                    })
                    .flatten()
            });
        if let Some((option, value)) = configured {
            return Ok(Endpoint {
                base: checked_url(option, value)?,
                configured: true,
            });
        }
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(Endpoint {
            base: format!("https://{}.{region}.{domain}", service.signing_name()),
            configured: false,
        })
    }
}

fn checked_url(option: &str, value: &str) -> Result<String, AwsError> {
    let bad = |why: &str| AwsError::InvalidOption {
        option: option.to_owned(),
        value: value.to_owned(),
        why: why.to_owned(),
    };
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| bad("expected an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("the URL has no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(bad("an endpoint URL has no query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// True for a region name: lowercase letters, digits and dashes, with a dash.
pub(crate) fn is_region(name: &str) -> bool {
    name.contains('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(vars.iter().copied(), None)
    }

    #[test]
    fn precedence_of_the_flag_the_service_variable_and_the_global_one() {
        let all = env(&[
            ("AWS_ENDPOINT_URL", "http://global:1"),
            ("AWS_ENDPOINT_URL_S3", "http://s3-only:2/"),
        ]);
        let resolve = |service, flag, env: &EnvSnapshot| {
            Endpoint::resolve(service, "eu-west-1", flag, env).unwrap()
        };
        assert_eq!(resolve(Service::S3, None, &all).url(), "http://s3-only:2");
        assert_eq!(
            resolve(Service::CloudWatchLogs, None, &all).url(),
            "http://global:1"
        );
        assert_eq!(
            resolve(
                Service::S3,
                Some("https://vpce-1.s3.eu-west-1.vpce.amazonaws.com"),
                &all
            )
            .url(),
            "https://vpce-1.s3.eu-west-1.vpce.amazonaws.com"
        );
        let default = resolve(Service::CloudWatchLogs, None, &env(&[]));
        assert_eq!(default.url(), "https://logs.eu-west-1.amazonaws.com");
        assert!(!default.is_configured());
        let ignored = env(&[
            ("AWS_ENDPOINT_URL", "http://global:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(
            resolve(Service::S3, None, &ignored).url(),
            "https://s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            Endpoint::resolve(Service::S3, "cn-north-1", None, &env(&[]))
                .unwrap()
                .url(),
            "https://s3.cn-north-1.amazonaws.com.cn"
        );
    }

    #[test]
    fn bad_endpoints_name_the_variable() {
        let e = Endpoint::resolve(
            Service::CloudWatchLogs,
            "eu-west-1",
            None,
            &env(&[("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "localhost:4566")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid AWS_ENDPOINT_URL_CLOUDWATCH_LOGS \"localhost:4566\": expected an http:// or https:// URL"
        );
        let e = Endpoint::resolve(Service::S3, "eu-west-1", Some("http://h/?x=1"), &env(&[]))
            .unwrap_err();
        assert!(e.to_string().starts_with("invalid --endpoint-url"), "{e}");
    }
}
