//! Audit logs read straight from AWS for `apilens audit` and `apilens doctor`: the
//! `--cloudwatch` and `--s3` flags, turned into scanner inputs, with a progress line on stderr.

use anyhow::Context as _;
use apilens_audit::{Filter, Input, LineSource};
use apilens_awslogs::{
    AuditSource, AwsOpts, DEFAULT_REQUESTS_PER_SECOND, Places, Reads, Window, filter_pattern,
};
use std::io::Read;
use std::sync::Arc;

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

/// Scanner inputs read from AWS, and the reads that report on them.
pub(crate) struct AwsInputs {
    /// One input per log stream, batch of streams, or object.
    pub(crate) inputs: Vec<Input>,
    reads: Reads,
}

/// Plans the reads `args` asks for: the time range of `filter` is sent as startTime/endTime
/// (widened so every request it keeps is fetched), and `verbs`/`users` as a CloudWatch filter
/// pattern where one can keep a superset of what the local filter keeps. Nothing but the
/// listing (DescribeLogStreams, ListObjectsV2) is sent yet.
pub(crate) fn plan(
    args: &AwsArgs,
    filter: &Filter,
    verbs: &[String],
    users: &[String],
) -> anyhow::Result<AwsInputs> {
    let opts = AwsOpts {
        region: args.region.clone(),
        endpoint_url: args.endpoint_url.clone(),
        max_requests_per_second: args.aws_max_rps,
    };
    let places = Places {
        cloudwatch: args.cloudwatch.clone(),
        s3: args.s3.clone(),
    };
    let window = Window::for_requests(filter.since_us(), filter.until_us());
    let mut reads = Reads::plan(&places, &opts, window, filter_pattern(verbs, users))?;
    let inputs = std::mem::take(&mut reads.sources)
        .into_iter()
        .map(|s| Input::Source(Arc::new(AwsSource(s))))
        .collect();
    Ok(AwsInputs { inputs, reads })
}

impl AwsInputs {
    /// Runs `work` with the reads' notes and progress on stderr (awslogs' `run_with_progress`).
    pub(crate) fn run_with_progress<T>(&self, work: impl FnOnce() -> T) -> T {
        self.reads.run_with_progress(work)
    }
}

/// Runs `work` with the progress of the AWS reads on stderr when there are any.
pub(crate) fn with_progress<T>(aws: Option<&AwsInputs>, work: impl FnOnce() -> T) -> T {
    match aws {
        Some(aws) => aws.run_with_progress(work),
        None => work(),
    }
}

/// An AWS audit source as a scanner input.
#[derive(Debug)]
struct AwsSource(AuditSource);

impl LineSource for AwsSource {
    fn name(&self) -> String {
        self.0.name().to_owned()
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(self.0.open())
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

/// Plans the AWS reads when `args` names any, with context for the error.
pub(crate) fn plan_if_set(
    args: &AwsArgs,
    filter: &Filter,
    verbs: &[String],
    users: &[String],
) -> anyhow::Result<Option<AwsInputs>> {
    check_flags(args)?;
    if !args.is_set() {
        return Ok(None);
    }
    plan(args, filter, verbs, users)
        .context("cannot read audit logs from AWS")
        .map(Some)
}
