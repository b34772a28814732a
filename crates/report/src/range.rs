//! The time range of a report as a person writes it: `--since` and `--until`.

use crate::{ReportError, ReportOpts};
use apilens_model::parse_duration;
use std::time::Duration;

impl ReportOpts {
    /// The options of the range from `since` (a duration before the end, such as `30m` or
    /// `1d`, or a time) to `until` (a time or a duration before `now_ms`; `None` for now), no
    /// selector, five series per panel. A time is RFC 3339 or Unix seconds.
    ///
    /// # Errors
    ///
    /// [`ReportError::Time`] naming the text that is neither a time nor a duration,
    /// [`ReportError::Options`] when `since` is not before the end.
    pub fn for_range(since: &str, until: Option<&str>, now_ms: i64) -> Result<Self, ReportError> {
        let end_ms = match until {
            Some(t) => instant_ms(t, now_ms).ok_or_else(|| time_error("--until", t))?,
            None => now_ms,
        };
        let range = match parse_duration(since) {
            Ok(d) => d,
            Err(_) => {
                let start =
                    instant_ms(since, now_ms).ok_or_else(|| time_error("--since", since))?;
                if start >= end_ms {
                    return Err(ReportError::Options(format!(
                        "--since {since} is not before the end of the range"
                    )));
                }
                Duration::from_millis(end_ms.abs_diff(start))
            }
        };
        Ok(Self::new(end_ms, range))
    }
}

/// A time as Unix seconds, RFC 3339, or a duration before `now_ms`; milliseconds since the
/// epoch.
fn instant_ms(text: &str, now_ms: i64) -> Option<i64> {
    if let Ok(t) = apilens_promql::parse_time(text) {
        return Some(t);
    }
    let ago = parse_duration(text.trim()).ok()?;
    Some(now_ms.saturating_sub(i64::try_from(ago.as_millis()).ok()?))
}

fn time_error(option: &'static str, text: &str) -> ReportError {
    ReportError::Time {
        option,
        text: text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn since_and_until_take_durations_times_and_unix_seconds() {
        let o = ReportOpts::for_range("1h", None, NOW).unwrap();
        assert_eq!((o.end_ms, o.range), (NOW, Duration::from_secs(3600)));
        let o = ReportOpts::for_range("2023-11-14T21:13:20Z", Some("30m"), NOW).unwrap();
        assert_eq!(o.end_ms, NOW - 1_800_000);
        assert_eq!(o.range, Duration::from_secs(1800));
        let o = ReportOpts::for_range("20m", Some("1699999000"), NOW).unwrap();
        assert_eq!(o.end_ms, 1_699_999_000_000);
        assert_eq!(o.range, Duration::from_secs(1200));
    }

    #[test]
    fn a_range_that_cannot_be_read_names_the_option_and_its_text() {
        let err = ReportOpts::for_range("soon", None, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--since soon: cannot parse \"soon\": expected RFC 3339, Unix seconds or a duration such as 30m"
        );
        let err = ReportOpts::for_range("1h", Some("later"), NOW).unwrap_err();
        assert!(err.to_string().starts_with("--until later: "), "{err}");
        let err = ReportOpts::for_range("1699999000", Some("1699998000"), NOW).unwrap_err();
        assert!(
            err.to_string()
                .contains("--since 1699999000 is not before the end"),
            "{err}"
        );
    }
}
