//! The connection to AWS shared by every reader: region, endpoints, signers, the HTTP client
//! with its rate cap, and the progress counters.

use std::sync::Arc;

use apilens_sigv4::{CredentialsChain, EnvSnapshot, Signer};

use crate::endpoint::{Endpoint, Service, is_region};
use crate::error::AwsError;
use crate::http::Http;
use crate::progress::{Progress, ProgressSnapshot};

/// The default cap on requests per second: CloudWatch Logs allows `FilterLogEvents` 5 per
/// second per account and region, shared with every other user of the account.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 5.0;

/// How many times a request is tried when `AWS_MAX_ATTEMPTS` is not set.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// How to reach AWS.
#[derive(Debug, Clone)]
pub struct AwsOpts {
    /// The region (`--region`); else `AWS_REGION`, `AWS_DEFAULT_REGION`, then the region of the
    /// profile in `~/.aws/config`.
    pub region: Option<String>,
    /// `--endpoint-url`: every service at this URL (a VPC endpoint, a proxy, an emulator).
    pub endpoint_url: Option<String>,
    /// The most requests per second over every reader (`--aws-max-rps`).
    pub max_requests_per_second: f64,
}

impl Default for AwsOpts {
    fn default() -> Self {
        AwsOpts {
            region: None,
            endpoint_url: None,
            max_requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
        }
    }
}

/// A connection to AWS; cheap to clone, clones share the rate cap and the counters.
#[derive(Debug, Clone)]
pub struct Aws {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    region: String,
    logs: Endpoint,
    s3: Endpoint,
    logs_signer: Signer,
    s3_signer: Signer,
    http: Http,
    progress: Arc<Progress>,
}

impl Aws {
    /// A connection with this process's environment: credentials from the standard chain
    /// (environment, profile, IRSA, Pod Identity, instance metadata), endpoints and
    /// `AWS_MAX_ATTEMPTS` as the AWS SDKs read them. `what` names what will be read, for the
    /// error of a missing region. Nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`AwsError::NoRegion`], or [`AwsError::InvalidOption`] for an unusable option or
    /// variable.
    pub fn connect(opts: &AwsOpts, what: &str) -> Result<Aws, AwsError> {
        Aws::with_env(opts, EnvSnapshot::from_process(), what)
    }

    /// As [`Aws::connect`], with the given environment.
    ///
    /// # Errors
    ///
    /// As [`Aws::connect`].
    pub fn with_env(opts: &AwsOpts, env: EnvSnapshot, what: &str) -> Result<Aws, AwsError> {
        let invalid = |option: &str, value: String, why: &str| AwsError::InvalidOption {
            option: option.to_owned(),
            value,
            why: why.to_owned(),
        };
        let rps = opts.max_requests_per_second;
        if !(rps.is_finite() && rps > 0.0) {
            return Err(invalid(
                "--aws-max-rps",
                rps.to_string(),
                "expected a positive number of requests per second",
            ));
        }
        let max_attempts = match env.get("AWS_MAX_ATTEMPTS") {
            Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(
                    "AWS_MAX_ATTEMPTS",
                    v.to_owned(),
                    "expected a positive integer",
                )
            })?,
            None => DEFAULT_MAX_ATTEMPTS,
        };
        let region = opts
            .region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| env.region().map(str::to_owned))
            .or_else(|| env.config_region())
            .ok_or_else(|| AwsError::NoRegion {
                what: what.to_owned(),
            })?;
        if !is_region(&region) {
            return Err(invalid(
                "--region",
                region,
                "not a region name such as eu-west-1",
            ));
        }
        let flag = opts.endpoint_url.as_deref();
        let logs = Endpoint::resolve(Service::CloudWatchLogs, &region, flag, &env)?;
        let s3 = Endpoint::resolve(Service::S3, &region, flag, &env)?;
        let chain = CredentialsChain::from_snapshot(env);
        let progress = Arc::new(Progress::default());
        let http = Http::new(rps, max_attempts, Arc::clone(&progress)).map_err(|why| {
            AwsError::InvalidOption {
                option: "TLS".to_owned(),
                value: String::new(),
                why,
            }
        })?;
        Ok(Aws {
            inner: Arc::new(Inner {
                logs_signer: Signer::new(
                    &region,
                    Service::CloudWatchLogs.signing_name(),
                    chain.clone(),
                ),
                s3_signer: Signer::for_s3(&region, chain),
                region,
                logs,
                s3,
                http,
                progress,
            }),
        })
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The CloudWatch Logs endpoint.
    pub fn logs_endpoint(&self) -> &Endpoint {
        &self.inner.logs
    }

    /// The S3 endpoint.
    pub fn s3_endpoint(&self) -> &Endpoint {
        &self.inner.s3
    }

    /// What every reader has done so far.
    pub fn progress(&self) -> ProgressSnapshot {
        self.inner.progress.snapshot()
    }

    pub(crate) fn progress_counters(&self) -> Arc<Progress> {
        Arc::clone(&self.inner.progress)
    }

    pub(crate) fn logs_signer(&self) -> &Signer {
        &self.inner.logs_signer
    }

    pub(crate) fn s3_signer(&self) -> &Signer {
        &self.inner.s3_signer
    }

    pub(crate) fn http(&self) -> &Http {
        &self.inner.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvSnapshot {
        EnvSnapshot::from_pairs(vars.iter().copied(), None)
    }

    #[test]
    fn region_and_options() {
        let opts = AwsOpts::default();
        let e = Aws::with_env(&opts, env(&[]), "cloudwatch logs group g").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no AWS region for cloudwatch logs group g: pass --region"),
            "{e}"
        );
        let aws = Aws::with_env(&opts, env(&[("AWS_DEFAULT_REGION", "eu-west-1")]), "x").unwrap();
        assert_eq!(aws.region(), "eu-west-1");
        assert_eq!(
            aws.logs_endpoint().url(),
            "https://logs.eu-west-1.amazonaws.com"
        );
        let flagged = AwsOpts {
            region: Some("us-east-2".into()),
            ..AwsOpts::default()
        };
        let aws = Aws::with_env(&flagged, env(&[("AWS_REGION", "eu-west-1")]), "x").unwrap();
        assert_eq!(aws.region(), "us-east-2");
        let bad = |vars: &[(&str, &str)], opts: &AwsOpts| {
            Aws::with_env(opts, env(vars), "x").unwrap_err().to_string()
        };
        assert!(
            bad(
                &[("AWS_REGION", "eu-west-1"), ("AWS_MAX_ATTEMPTS", "0")],
                &opts
            )
            .contains("AWS_MAX_ATTEMPTS")
        );
        assert!(bad(&[("AWS_REGION", "EU")], &opts).contains("not a region name"));
        let zero = AwsOpts {
            max_requests_per_second: 0.0,
            ..AwsOpts::default()
        };
        assert!(bad(&[("AWS_REGION", "eu-west-1")], &zero).contains("--aws-max-rps"));
    }
}
