//! Which Kubernetes version a scrape comes from.

use serde::Serialize;
use std::collections::BTreeMap;

/// The detected version and how it was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Detected {
    /// `v1.34.0`-style version from `kubernetes_build_info`, or `>=1.31`-style when inferred.
    pub(crate) version: Option<String>,
    /// Major and minor, when known exactly or as a lower bound.
    #[serde(skip)]
    pub(crate) minor: Option<u32>,
    /// `kubernetes_build_info`, the metric name that the inference rests on, or `none`.
    pub(crate) source: String,
}

/// Metrics that first appear in a Kubernetes minor (observed in the real scrapes of each
/// release), newest first: the first one present gives a lower bound.
const FIRST_SEEN: &[(u32, &str)] = &[
    (34, "apiserver_resource_objects"),
    (32, "apiserver_watch_list_duration_seconds"),
    (31, "apiserver_watch_cache_consistent_read_total"),
    (30, "apiserver_authorization_decisions_total"),
    (29, "apiserver_request_body_size_bytes"),
    (28, "etcd_requests_total"),
    (27, "apiserver_watch_cache_events_received_total"),
    (26, "kubernetes_feature_enabled"),
    (25, "etcd_bookmark_counts"),
    (24, "apiserver_watch_cache_events_dispatched_total"),
    (23, "apiserver_storage_list_total"),
    (22, "apiserver_flowcontrol_request_concurrency_in_use"),
    (21, "apiserver_storage_objects"),
    (20, "apiserver_flowcontrol_dispatched_requests_total"),
    (19, "apiserver_tls_handshake_errors_total"),
    (17, "apiserver_request_total"),
];

/// Parses `v1.34.0`, `1.28`, `v1.29.5-eks-5e0fdde` into the minor number.
pub(crate) fn minor_of(version: &str) -> Option<u32> {
    let v = version.trim_start_matches('v');
    let mut parts = v.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (major == 1).then(|| minor.parse().ok()).flatten()
}

/// Detects the version from the `kubernetes_build_info` labels if present, else infers a lower
/// bound from which families exist.
pub(crate) fn detect(
    build_info: Option<&BTreeMap<String, String>>,
    has_family: impl Fn(&str) -> bool,
) -> Detected {
    if let Some(labels) = build_info
        && let Some(v) = labels
            .get("git_version")
            .or_else(|| labels.get("gitVersion"))
    {
        return Detected {
            version: Some(v.clone()),
            minor: minor_of(v),
            source: "kubernetes_build_info".to_owned(),
        };
    }
    for &(minor, name) in FIRST_SEEN {
        if has_family(name) {
            return Detected {
                version: Some(format!(">=1.{minor}")),
                minor: Some(minor),
                source: name.to_owned(),
            };
        }
    }
    if has_family("apiserver_request_count") {
        return Detected {
            version: Some("<=1.16".to_owned()),
            minor: Some(16),
            source: "apiserver_request_count".to_owned(),
        };
    }
    Detected {
        version: None,
        minor: None,
        source: "none".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_parses_vendor_suffixes() {
        assert_eq!(minor_of("v1.29.5-eks-5e0fdde"), Some(29));
        assert_eq!(minor_of("1.34"), Some(34));
        assert_eq!(minor_of("v2.0.0"), None);
    }

    #[test]
    fn inference_takes_the_newest_marker() {
        let d = detect(None, |n| {
            n == "apiserver_storage_objects" || n == "apiserver_request_total"
        });
        assert_eq!(d.version.as_deref(), Some(">=1.21"));
        assert_eq!(d.source, "apiserver_storage_objects");
    }
}
