//! Audit events (`audit.k8s.io/v1` `Event`, one JSON object per line) and the time formats
//! they use: RFC 3339 MicroTime and Go duration strings.

use serde::Serialize;
use std::collections::BTreeMap;

/// One audit event, serialized as the kube-apiserver log backend writes it (`--audit-log-format=json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event<'a> {
    pub(crate) kind: &'static str,
    pub(crate) api_version: &'static str,
    pub(crate) level: &'static str,
    #[serde(rename = "auditID")]
    pub(crate) audit_id: String,
    pub(crate) stage: &'static str,
    #[serde(rename = "requestURI")]
    pub(crate) request_uri: String,
    pub(crate) verb: &'static str,
    pub(crate) user: User<'a>,
    #[serde(rename = "sourceIPs")]
    pub(crate) source_ips: [String; 1],
    pub(crate) user_agent: &'a str,
    pub(crate) object_ref: ObjectRef<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_status: Option<ResponseStatus>,
    pub(crate) request_received_timestamp: String,
    pub(crate) stage_timestamp: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<&'static str, String>,
}

/// The authenticated user.
#[derive(Debug, Serialize)]
pub(crate) struct User<'a> {
    pub(crate) username: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) uid: Option<String>,
    pub(crate) groups: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra: BTreeMap<&'static str, [String; 1]>,
}

/// The object a request addressed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectRef<'a> {
    pub(crate) resource: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) api_group: &'a str,
    pub(crate) api_version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) subresource: &'a str,
}

/// The response code, with status, reason and message for errors returned as a `Status`.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseStatus {
    pub(crate) metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<&'static str>,
    pub(crate) code: u16,
}

/// Formats microseconds since the epoch as RFC 3339 with six fractional digits, UTC.
pub(crate) fn micro_time(unix_us: i64) -> String {
    let secs = unix_us.div_euclid(1_000_000);
    let micros = unix_us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats seconds as Go's `time.Duration.String()` does: `415ns`, `12.5µs`, `1.138415ms`,
/// `4.73s`, `1m5.2s`.
pub(crate) fn go_duration(seconds: f64) -> String {
    let ns = (seconds * 1e9).round() as i64;
    if ns == 0 {
        return "0s".to_string();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{}µs", trim(format!("{:.3}", ns as f64 / 1e3)))
    } else if ns < 1_000_000_000 {
        format!("{}ms", trim(format!("{:.6}", ns as f64 / 1e6)))
    } else if ns < 60_000_000_000 {
        format!("{}s", trim(format!("{:.9}", ns as f64 / 1e9)))
    } else {
        let m = ns / 60_000_000_000;
        let rest = (ns % 60_000_000_000) as f64 / 1e9;
        format!("{m}m{}s", trim(format!("{rest:.9}")))
    }
}

/// A random (version 4) UUID from 128 random bits.
pub(crate) fn uuid(hi: u64, lo: u64) -> String {
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_time_is_rfc3339_utc() {
        assert_eq!(micro_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            micro_time(1_648_157_932_741_392),
            "2022-03-24T21:38:52.741392Z"
        );
        assert_eq!(
            micro_time(1_709_210_096_000_001),
            "2024-02-29T12:34:56.000001Z"
        );
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(415e-9), "415ns");
        assert_eq!(go_duration(12.5e-6), "12.5µs");
        assert_eq!(go_duration(0.001138415), "1.138415ms");
        assert_eq!(go_duration(4.73), "4.73s");
        assert_eq!(go_duration(65.2), "1m5.2s");
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let u = uuid(u64::MAX, u64::MAX);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
