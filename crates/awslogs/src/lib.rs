//! Kubernetes audit logs where EKS keeps them: CloudWatch Logs, and S3 (CloudWatch exports and
//! Firehose deliveries), read as streams of audit event lines for the audit scanner.
//!
//! EKS writes the API server's audit events to the log group `/aws/eks/<cluster>/cluster`, in
//! streams named `kube-apiserver-audit-<id>` beside the API server's, the authenticator's and the
//! controllers' own logs. This crate finds those streams and reads them, or the objects an export
//! or a Firehose subscription put in S3, with the manners a shared account needs.
//!
//! # Brief overview
//!
//! - [`Aws::connect`]: region (`--region`, `AWS_REGION`, the profile), endpoints as the AWS SDKs
//!   resolve them (`--endpoint-url`, `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`, `AWS_ENDPOINT_URL_S3`,
//!   `AWS_ENDPOINT_URL`), credentials from the SigV4 chain of `apilens-sigv4` (environment,
//!   profile, IRSA, Pod Identity, instance metadata), a cap on requests per second shared by
//!   every reader, and retries (`AWS_MAX_ATTEMPTS`) with exponential back-off and full jitter
//!   for throttling (`ThrottlingException`, `SlowDown`), 5xx and network errors.
//! - [`plan_cloudwatch`]: `DescribeLogStreams` for the `kube-apiserver-audit-*` streams of a
//!   group, leaving out streams whose events all lie outside the time range; each stream is read
//!   with `GetLogEvents` (in parallel, oldest first), or, when [`filter_pattern`] gives a pattern
//!   for `--verb`/`--user`, a hundred at a time with `FilterLogEvents`. Both pass the time range
//!   down as `startTime`/`endTime` ([`Window`]) and page with `nextToken` until it runs out or
//!   repeats.
//! - [`plan_s3`]: `ListObjectsV2` under a prefix; CloudWatch export parts of audit streams,
//!   Firehose deliveries whose hour can hold the time range ([`Layout`]), other objects as audit
//!   lines. Gzip is undone (twice for the records of a subscription), and subscription records
//!   are unwrapped into their events, without those of other streams.
//! - [`AuditSource`]: one stream or object; `open` gives event lines, a page or record at a
//!   time, so memory does not grow with what is read.
//! - [`Progress`](ProgressSnapshot): events, bytes, requests, throttles, for a line on stderr.
//!
//! Errors name the group and stream or the bucket and key, the AWS error code, and the IAM
//! action the call needs (`logs:DescribeLogStreams`, `logs:GetLogEvents`,
//! `logs:FilterLogEvents`, `s3:ListBucket`, `s3:GetObject`).
//!
//! ```no_run
//! use apilens_awslogs::{Aws, AwsOpts, Query, Window, plan_cloudwatch};
//! use std::io::Read;
//!
//! let aws = Aws::connect(&AwsOpts::default(), "cloudwatch logs group /aws/eks/prod/cluster")?;
//! let query = Query { window: Window::for_requests(Some(1_764_000_000_000_000), None), pattern: None };
//! let plan = plan_cloudwatch(&aws, "/aws/eks/prod/cluster", &query)?;
//! for source in &plan.sources {
//!     let mut lines = String::new();
//!     source.open().read_to_string(&mut lines)?;
//!     println!("{}: {} events", source.name(), lines.lines().count());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Why not the AWS SDK
//!
//! The SDK's CloudWatch Logs and S3 clients with `aws-config` add minutes of build and about
//! 12 MB to the binary; the four calls used here are a JSON POST and two GETs signed with the
//! `aws-sigv4` signer the project already has, plus `quick-xml` for S3's listing.
#![deny(missing_docs)]

mod audit_input;
mod aws;
mod endpoint;
mod error;
mod http;
mod layout;
mod limit;
mod logs;
mod pattern;
mod progress;
mod reader;
mod reads;
mod s3;
mod source;
mod terminal;
mod window;

pub use crate::{
    audit_input::with_progress,
    aws::{Aws, AwsOpts, DEFAULT_MAX_ATTEMPTS, DEFAULT_REQUESTS_PER_SECOND},
    endpoint::{Endpoint, Service},
    error::AwsError,
    layout::Layout,
    logs::AUDIT_STREAM_PREFIX,
    pattern::filter_pattern,
    progress::ProgressSnapshot,
    reads::{Places, Reads},
    s3::S3Location,
    source::{AuditSource, Plan, Query, plan_cloudwatch, plan_s3},
    window::{EARLY_MARGIN, LATE_MARGIN, Window},
};
