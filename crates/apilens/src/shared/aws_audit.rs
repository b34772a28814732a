//! Audit logs read straight from AWS for `apilens audit` and `apilens doctor`: the
//! `--cloudwatch` and `--s3` flags, planned as awslogs' reads of the scan's inputs.

use anyhow::Context as _;
use apilens_audit::{Filter, FilterSpec};
use apilens_awslogs::{AwsOpts, DEFAULT_REQUESTS_PER_SECOND, Places, Reads};

/// Where in AWS to read audit logs, and how to reach it.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct AwsArgs {
    /// Read the `kube-apiserver-audit-*` streams of this CloudWatch Logs group (EKS:
    /// `/aws/eks/CLUSTER/cluster`); the group's other streams are ignored. Needs
    /// logs:DescribeLogStreams and logs:GetLogEvents (logs:FilterLogEvents with --verb/--user).
    #[arg(long, value_name = "GROUP")]
    pub(crate) cloudwatch: Option<String>,
    /// Read the audit events under this S3 prefix (CloudWatch exports, Firehose deliveries,
    /// gzip or plain event lines): `s3://bucket/prefix/`. Needs s3:ListBucket and s3:GetObject.
    #[arg(long, value_name = "s3://BUCKET/PREFIX/")]
    pub(crate) s3: Option<String>,
    /// The AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, then the profile's).
    #[arg(long, value_name = "REGION")]
    pub(crate) region: Option<String>,
    /// Send every AWS request to this URL (a VPC endpoint, a proxy, an emulator); without it,
    /// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL are used as
    /// the AWS SDKs use them.
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// The most AWS requests per second, over every reader (CloudWatch Logs allows an account
    /// five FilterLogEvents calls per second in a region, shared with everyone else).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_REQUESTS_PER_SECOND)]
    pub(crate) aws_max_rps: f64,
}

impl AwsArgs {
    /// True when a `--cloudwatch` group or an `--s3` prefix is given.
    pub(crate) fn is_set(&self) -> bool {
        self.cloudwatch.is_some() || self.s3.is_some()
    }
}

/// Checks that `--region` and `--endpoint-url` come with a place in AWS to read.
pub(crate) fn check_flags(args: &AwsArgs) -> anyhow::Result<()> {
    if !args.is_set() {
        for (flag, set) in [
            ("--region", args.region.is_some()),
            ("--endpoint-url", args.endpoint_url.is_some()),
        ] {
            if set {
                anyhow::bail!("{flag} is for --cloudwatch or --s3, and neither is given");
            }
        }
    }
    Ok(())
}

/// Plans the AWS reads of a scan with `filter` (compiled from `spec`) when `args` names any;
/// nothing but the listing is sent yet. The caller has run [`check_flags`] first, before the
/// local inputs are read.
pub(crate) fn plan_if_set(
    args: &AwsArgs,
    filter: &Filter,
    spec: &FilterSpec,
) -> anyhow::Result<Option<Reads>> {
    if !args.is_set() {
        return Ok(None);
    }
    let opts = AwsOpts {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        max_requests_per_second: args.aws_max_rps,
    };
    let places = Places {
        cloudwatch: args.cloudwatch.clone(),
        s3: args.s3.clone(),
    };
    Reads::plan_for_scan(&places, &opts, filter, spec)
        .context("cannot read audit logs from AWS")
        .map(Some)
}
