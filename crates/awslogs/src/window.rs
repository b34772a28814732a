//! The time range asked of AWS: the local `--since`/`--until` window, widened so that every event
//! the local filter keeps is fetched.
//!
//! The local filter cuts on `requestReceivedTimestamp`. A log event's own time (the CloudWatch
//! timestamp, the hour in a Firehose key) comes later: a request is logged when its stage ends,
//! and a WATCH ends up to an hour after it was received (`--min-request-timeout` 1800 s, doubled
//! at most), then the log travels. So the range asked for starts a little before `since` (clocks
//! differ) and ends well after `until`; the local filter then makes the exact cut.

use std::time::Duration;

/// How far before `since` a log event of a request received at `since` may be stamped: clock
/// skew between the API server and the log pipeline.
pub const EARLY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How far after `until` a log event of a request received before `until` may be stamped: the
/// longest WATCH (one hour) plus delivery (Firehose buffers up to 15 minutes) and slack.
pub const LATE_MARGIN: Duration = Duration::from_secs(90 * 60);

/// A range of log-event times in milliseconds since the epoch, each end open when unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// The earliest log-event time to read.
    pub start_ms: Option<i64>,
    /// The latest log-event time to read.
    pub end_ms: Option<i64>,
}

impl Window {
    /// Everything.
    pub const ALL: Window = Window {
        start_ms: None,
        end_ms: None,
    };

    /// The log-event times that can hold requests received in `[since_us, until_us)`
    /// (microseconds since the epoch, as the audit filter keeps them).
    pub fn for_requests(since_us: Option<i64>, until_us: Option<i64>) -> Window {
        Window {
            start_ms: since_us.map(|s| s / 1000 - EARLY_MARGIN.as_millis() as i64),
            end_ms: until_us.map(|u| u / 1000 + LATE_MARGIN.as_millis() as i64),
        }
    }

    /// True when no time in `[from_ms, to_ms]` falls in the window.
    pub fn misses(&self, from_ms: i64, to_ms: i64) -> bool {
        self.start_ms.is_some_and(|s| to_ms < s) || self.end_ms.is_some_and(|e| from_ms > e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_on_both_sides() {
        let w = Window::for_requests(Some(10_000_000_000), Some(20_000_000_000));
        assert_eq!(w.start_ms, Some(10_000_000 - 300_000));
        assert_eq!(w.end_ms, Some(20_000_000 + 5_400_000));
        assert!(!w.misses(9_800_000, 9_800_000));
        assert!(w.misses(0, 9_699_999));
        assert!(w.misses(25_400_001, 30_000_000));
        assert!(!Window::ALL.misses(i64::MIN, i64::MIN));
    }
}
