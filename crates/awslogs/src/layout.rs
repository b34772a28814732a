//! What an S3 key is, by the layouts AWS writes audit logs in:
//!
//! - a CloudWatch Logs export (`CreateExportTask`): `<prefix>/<task id>/<log stream>/000000.gz`,
//!   gzip lines of `<ISO time> <message>`;
//! - a Firehose delivery of a CloudWatch Logs subscription:
//!   `<prefix>/YYYY/MM/DD/HH/<delivery stream>-<version>-YYYY-MM-DD-HH-MM-SS-<id>[.gz]`, the
//!   hour (UTC) the first record arrived, holding gzip `DATA_MESSAGE` records;
//! - the `aws-logs-write-test` object an export leaves;
//! - anything else, read as audit event lines (gzip or plain).

/// What a key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One part of a CloudWatch Logs export of `stream`.
    Export {
        /// The log stream the part holds.
        stream: String,
    },
    /// A Firehose delivery whose records arrived from `hour_ms` on (milliseconds since the
    /// epoch, UTC).
    Firehose {
        /// The start of the hour in the key.
        hour_ms: i64,
    },
    /// The object an export writes to check it may write.
    WriteTest,
    /// Anything else.
    Other,
}

impl Layout {
    /// The layout of `key`.
    pub fn of(key: &str) -> Layout {
        let segments: Vec<&str> = key.split('/').collect();
        let Some((&name, dirs)) = segments.split_last() else {
            return Layout::Other;
        };
        if name == "aws-logs-write-test" {
            return Layout::WriteTest;
        }
        if let Some(hour_ms) = firehose_hour(dirs, name) {
            return Layout::Firehose { hour_ms };
        }
        let part = name
            .strip_suffix(".gz")
            .is_some_and(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()));
        match dirs {
            [.., task, stream] if part && !task.is_empty() && !stream.is_empty() => {
                Layout::Export {
                    stream: (*stream).to_owned(),
                }
            }
            _ => Layout::Other,
        }
    }
}

/// The hour of `…/YYYY/MM/DD/HH/<name>-YYYY-MM-DD-HH-MM-SS-<id>`, when the name's time is in
/// that hour.
fn firehose_hour(dirs: &[&str], name: &str) -> Option<i64> {
    let [.., y, mo, d, h] = dirs else {
        return None;
    };
    let field = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<i16>().ok())?
    };
    let (year, month, day, hour) = (field(y, 4)?, field(mo, 2)?, field(d, 2)?, field(h, 2)?);
    let stamp = format!("-{y}-{mo}-{d}-{h}-");
    if !name.contains(&stamp) {
        return None;
    }
    let date = jiff::civil::Date::new(year, month as i8, day as i8).ok()?;
    let time = jiff::civil::Time::new(hour as i8, 0, 0, 0).ok()?;
    let at = date
        .to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(at.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layouts_aws_writes() {
        assert_eq!(
            Layout::of("exports/prod/2f1c-4e/kube-apiserver-audit-0a1b/000000.gz"),
            Layout::Export {
                stream: "kube-apiserver-audit-0a1b".into()
            }
        );
        assert_eq!(Layout::of("exports/aws-logs-write-test"), Layout::WriteTest);
        let firehose = "audit/2026/11/30/17/eks-audit-1-2026-11-30-17-04-52-5d7a0b0c-8c9f-4f3e-9f0e-1a2b3c4d5e6f.gz";
        assert_eq!(
            Layout::of(firehose),
            Layout::Firehose {
                hour_ms: 1_796_058_000_000
            }
        );
        // A date path without the matching name is not a delivery.
        assert_eq!(Layout::of("logs/2026/11/30/17/audit.log.gz"), Layout::Other);
        assert_eq!(
            Layout::of("2026/13/30/17/x-2026-13-30-17-00-00-y"),
            Layout::Other
        );
        assert_eq!(Layout::of("audit.log"), Layout::Other);
        assert_eq!(Layout::of("000000.gz"), Layout::Other);
    }
}
