//! Every read asked for at once: a CloudWatch Logs group, an S3 prefix or both, each over its
//! own connection, with one line of progress per place.

use crate::aws::{Aws, AwsOpts};
use crate::error::AwsError;
use crate::s3::S3Location;
use crate::source::{AuditSource, Query, plan_cloudwatch, plan_s3};
use crate::window::Window;

/// Where in AWS audit logs are read.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// A CloudWatch Logs group (EKS: `/aws/eks/CLUSTER/cluster`).
    pub cloudwatch: Option<String>,
    /// An S3 prefix, `s3://bucket/prefix/`.
    pub s3: Option<String>,
}

/// The sources of every place, in order (the group's first), with what the plans decided.
pub struct Reads {
    /// One source per log stream, batch of streams, or object.
    pub sources: Vec<AuditSource>,
    /// The plans' notes (streams and objects read and left out, the filter pattern sent).
    pub notes: Vec<String>,
    /// Each place's name and its connection, whose counters say what was read.
    connections: Vec<(String, Aws)>,
}

impl Reads {
    /// Plans the reads of `places`: `window` is sent as startTime/endTime and `pattern` (see
    /// [`crate::filter_pattern`]) to CloudWatch only, where it keeps a superset of what the
    /// local filter keeps. Nothing but the listing (DescribeLogStreams, ListObjectsV2) is sent.
    ///
    /// # Errors
    ///
    /// [`AwsError`] naming the place: no region or credentials, an S3 URL that is not one, a
    /// listing refused.
    pub fn plan(
        places: &Places,
        opts: &AwsOpts,
        window: Window,
        pattern: Option<String>,
    ) -> Result<Reads, AwsError> {
        let mut out = Reads {
            sources: Vec::new(),
            notes: Vec::new(),
            connections: Vec::new(),
        };
        if let Some(group) = &places.cloudwatch {
            let what = format!("cloudwatch logs group {group}");
            let aws = Aws::connect(opts, &what)?;
            let plan = plan_cloudwatch(&aws, group, &Query { window, pattern })?;
            out.sources.extend(plan.sources);
            out.notes.extend(plan.notes);
            out.connections.push((what, aws));
        }
        if let Some(url) = &places.s3 {
            let at: S3Location = url.parse()?;
            let aws = Aws::connect(opts, &at.to_string())?;
            let query = Query {
                window,
                pattern: None,
            };
            let plan = plan_s3(&aws, &at, &query)?;
            out.sources.extend(plan.sources);
            out.notes.extend(plan.notes);
            out.connections.push((url.clone(), aws));
        }
        Ok(out)
    }

    /// What was read so far: `cloudwatch logs group G: 12,345 events, 8.1 MiB read in 14
    /// requests`, one line per place.
    pub fn progress_lines(&self) -> Vec<String> {
        self.connections
            .iter()
            .map(|(name, aws)| format!("{name}: {}", aws.progress()))
            .collect()
    }
}
