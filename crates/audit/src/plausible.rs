//! Which audit timestamps are data and which make an event malformed.
//!
//! One event stamped `0001-01-01` (a zero Go `time.Time`, as a broken exporter writes it) made a
//! latency of two thousand years: it moved every quantile sketch and the seat-seconds by orders
//! of magnitude. Such an event is counted as malformed, never as a request. An event is
//! implausible when:
//!
//! - a timestamp (`requestReceivedTimestamp`, `stageTimestamp`, or the old layouts' `timestamp`)
//!   is present but is not an RFC 3339 time;
//! - a timestamp is before 2014-01-01, older than Kubernetes itself;
//! - a timestamp is more than a day after this machine's clock (log clocks drift by seconds, not
//!   days);
//! - `stageTimestamp` is more than a second before `requestReceivedTimestamp` (both come from
//!   the same server clock, in this order);
//! - a request the API server does not treat as long-running took longer than an hour. The
//!   server ends such a request at `--request-timeout` (60 s by default; the `timeout` query
//!   parameter can only shorten it), so an hour is far beyond any real configuration. Long-running
//!   requests are those of kube-apiserver's own rule: the verbs `watch` and `proxy`, the
//!   subresources `attach`, `exec`, `log`, `portforward` and `proxy`, and `/debug/pprof/` paths.

use crate::request::Request;
use std::sync::OnceLock;

/// 2014-01-01T00:00:00Z in µs: nothing logged by Kubernetes is older.
pub(crate) const EARLIEST_US: i64 = 1_388_534_400_000_000;

/// How far after this machine's clock a timestamp may be.
pub(crate) const FUTURE_SLACK_US: i64 = 86_400_000_000;

/// How far `stageTimestamp` may be before `requestReceivedTimestamp`.
pub(crate) const STAGE_BEFORE_RECEIVED_US: i64 = 1_000_000;

/// The longest latency of a request that is not long-running.
pub(crate) const MAX_LATENCY_US: i64 = 3_600_000_000;

/// This machine's clock when it was first asked, so one run judges every event alike.
fn now_us() -> i64 {
    static NOW: OnceLock<i64> = OnceLock::new();
    *NOW.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    })
}

/// A timestamp field as read from the event: absent, readable (µs since the epoch, and the text
/// as written), or present but not a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stamp<'t> {
    Absent,
    At(i64, &'t str),
    Unreadable(&'t str),
}

impl<'t> Stamp<'t> {
    /// The field's text read as a time.
    pub(crate) fn read(text: Option<&'t str>) -> Stamp<'t> {
        match text {
            None => Stamp::Absent,
            Some(t) => crate::request::parse_timestamp_us(t)
                .map_or(Stamp::Unreadable(t), |us| Stamp::At(us, t)),
        }
    }

    pub(crate) fn us(self) -> Option<i64> {
        match self {
            Stamp::At(us, _) => Some(us),
            _ => None,
        }
    }
}

fn check_one(field: &str, stamp: Stamp<'_>) -> Result<(), String> {
    match stamp {
        Stamp::Absent => Ok(()),
        Stamp::Unreadable(text) => Err(format!("{field} {text:?} is not an RFC 3339 time")),
        Stamp::At(us, text) if us < EARLIEST_US => Err(format!(
            "{field} {text} is before 2014, older than Kubernetes: not a real time"
        )),
        Stamp::At(us, text) if us > now_us().saturating_add(FUTURE_SLACK_US) => Err(format!(
            "{field} {text} is more than a day after this machine's clock"
        )),
        Stamp::At(..) => Ok(()),
    }
}

/// Whether kube-apiserver treats the request as long-running (its `LongRunningFunc`: verbs
/// `watch` and `proxy`; subresources `attach`, `exec`, `log`, `portforward`, `proxy`; and
/// `/debug/pprof/`).
fn long_running_for_the_server(req: &Request<'_>) -> bool {
    if req.verb == "watch" || req.verb == "proxy" {
        return true;
    }
    let shape = req.shape();
    let sub = req
        .object_subresource
        .as_deref()
        .unwrap_or(shape.subresource);
    matches!(sub, "attach" | "exec" | "log" | "portforward" | "proxy")
        || req.request_uri.starts_with("/debug/pprof/")
}

/// Why the event's times cannot be real, if they cannot (the rules of this module).
pub(crate) fn check(
    req: &Request<'_>,
    received: Stamp<'_>,
    received_field: &str,
    stage: Stamp<'_>,
) -> Result<(), String> {
    check_one(received_field, received)?;
    check_one("stageTimestamp", stage)?;
    let (Some(a), Some(b)) = (received.us(), stage.us()) else {
        return Ok(());
    };
    if b < a - STAGE_BEFORE_RECEIVED_US {
        return Err(format!(
            "stageTimestamp is {:.3} s before {received_field}",
            (a - b) as f64 / 1e6
        ));
    }
    if b - a > MAX_LATENCY_US && !long_running_for_the_server(req) {
        return Err(format!(
            "latency of {:.1} h (stageTimestamp - {received_field}) is longer than any {} request that is not long-running can take",
            (b - a) as f64 / 3.6e9,
            req.verb
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounds_are_the_dates_they_claim() {
        assert_eq!(
            crate::request::parse_timestamp_us("2014-01-01T00:00:00Z"),
            Some(EARLIEST_US)
        );
        assert!(check_one("t", Stamp::At(EARLIEST_US, "")).is_ok());
        assert!(check_one("t", Stamp::At(EARLIEST_US - 1, "")).is_err());
        assert!(check_one("t", Stamp::At(now_us(), "")).is_ok());
        assert!(check_one("t", Stamp::At(now_us() + FUTURE_SLACK_US + 1, "")).is_err());
        assert_eq!(
            check_one("t", Stamp::read(Some("0001-01-01T00:00:00Z"))).unwrap_err(),
            "t 0001-01-01T00:00:00Z is before 2014, older than Kubernetes: not a real time"
        );
        assert_eq!(
            check_one("t", Stamp::read(Some("9999-12-31T23:59:59Z"))).unwrap_err(),
            "t 9999-12-31T23:59:59Z is more than a day after this machine's clock"
        );
    }
}
