//! Where the API server serves a LIST from (the watch cache or etcd), by its query and the
//! server's release: the rule the lists view shows and the APF seat estimate reads.

use crate::uri::ListParams;
use apilens_apf::KubeVersion;

/// What a consistent LIST (no `resourceVersion`) reads from 1.31: the watch cache only when etcd
/// answers progress-notify requests (etcd 3.4.31+ or 3.5.13+), which no audit event shows.
pub const CACHE_IF_PROGRESS_NOTIFY: &str = "cache if etcd has progress notify, else etcd";
/// What an exact LIST (a `resourceVersion` with `limit`, `resourceVersionMatch=Exact`, or a
/// `continue` page) reads from 1.34: a snapshot of the watch cache while the revision is still
/// in its history, else etcd.
pub const SNAPSHOT_ELSE_ETCD: &str = "cache snapshot if still in history, else etcd";

/// Where the apiserver serves a LIST from, by its query and the server version (the watch cache
/// on, its default for most resources).
///
/// The rules follow the server's own decision at each release (`pkg/storage/cacher`:
/// `shouldDelegateList` up to 1.32, `delegator.ShouldDelegateList` from 1.33, with the
/// ConsistentListFromCache gate on by default from 1.31 and ListFromCacheSnapshot from 1.34):
///
/// - up to 1.30: a consistent LIST (no `resourceVersion`), any `limit` with a `resourceVersion`
///   other than `0`, a `continue` page and a `resourceVersionMatch` other than NotOlderThan go
///   to etcd; `resourceVersion=0` and `resourceVersion=N` without `limit` read the cache;
/// - 1.31 to 1.33: a consistent LIST reads the cache when etcd supports progress notify, else
///   etcd (the audit log cannot tell: see [`CACHE_IF_PROGRESS_NOTIFY`]); NotOlderThan reads
///   the cache with its `limit`; exact LISTs and `continue` pages go to etcd;
/// - from 1.34: exact LISTs and `continue` pages read a cache snapshot while their revision is
///   in the watch cache's history, else etcd.
///
/// On every release the cache ignores `limit` when `resourceVersion=0`: the whole collection
/// comes back in one response. Without a version the answer is given per version range.
pub fn served_from(p: &ListParams<'_>, version: Option<KubeVersion>) -> String {
    let by_version = |minor: u32| -> &'static str {
        let rv = p.resource_version;
        let exact_match = p.resource_version_match == Some("Exact");
        let other_match = p
            .resource_version_match
            .is_some_and(|m| m != "Exact" && m != "NotOlderThan");
        let legacy_exact =
            p.resource_version_match.is_none() && p.limit.is_some() && rv.is_some_and(|v| v != "0");
        let limit_ignored = rv == Some("0") && p.limit.is_some();
        let cache = if limit_ignored {
            "cache (limit ignored)"
        } else {
            "cache"
        };
        if other_match {
            return "etcd";
        }
        if minor <= 30 {
            let limited = p.limit.is_some() && rv != Some("0");
            return if exact_match || p.continue_token || limited || rv.is_none() {
                "etcd"
            } else {
                cache
            };
        }
        if exact_match || legacy_exact || p.continue_token {
            return if minor >= 34 {
                SNAPSHOT_ELSE_ETCD
            } else {
                "etcd"
            };
        }
        if rv.is_none() && p.resource_version_match.is_none() {
            return CACHE_IF_PROGRESS_NOTIFY;
        }
        cache
    };
    match version {
        Some(v) => by_version(if v.major > 1 { 99 } else { v.minor }).to_owned(),
        None => {
            let (old, mid, new) = (by_version(30), by_version(33), by_version(34));
            if old == mid && mid == new {
                old.to_owned()
            } else if mid == new {
                format!("{old} (<=1.30), {new} (1.31+)")
            } else if old == mid {
                format!("{old} (<=1.33), {new} (1.34+)")
            } else {
                format!("{old} (<=1.30), {mid} (1.31-1.33), {new} (1.34+)")
            }
        }
    }
}

/// The rule of [`served_from`] settled by what the audit events show: a LIST whose latency
/// breakdown has an etcd figure was read from etcd. The breakdown is written only for requests
/// over 500 ms (1.24+), so fast LISTs give no evidence; slow ones without an etcd figure were
/// read from the cache.
pub fn served_with_evidence(rule: &str, slow: u64, etcd_seen: u64) -> String {
    let can_be_etcd = rule.contains("etcd");
    let can_be_cache = rule.contains("cache");
    match (slow, etcd_seen) {
        (0, _) => rule.to_owned(),
        (slow, 0) if can_be_cache && can_be_etcd => {
            format!("cache (no etcd time in {slow} slow ones)")
        }
        (slow, seen) if seen > 0 && can_be_cache && can_be_etcd => {
            format!("etcd (etcd time in {seen} of {slow} slow ones)")
        }
        (slow, seen) if seen > 0 && !can_be_etcd => {
            format!("{rule}; yet etcd time in {seen} of {slow} slow ones (cache not ready?)")
        }
        _ => rule.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Shape;

    fn served(uri: &str, v: Option<&str>) -> String {
        served_from(&Shape::parse(uri).params(), v.map(|v| v.parse().unwrap()))
    }

    #[test]
    fn cache_or_etcd_by_version() {
        // The cases of the server's own decision (`shouldDelegateList` at kubernetes-1.30.0
        // and 1.32.0, `delegator.ShouldDelegateList` at 1.34.0) and its limit rule
        // (`computeListLimit`: the limit is ignored for resourceVersion=0 on every release).
        let cases: &[(&str, &str, &str)] = &[
            ("/api/v1/pods", "1.30", "etcd"),
            ("/api/v1/pods", "1.31", CACHE_IF_PROGRESS_NOTIFY),
            ("/api/v1/pods", "1.34", CACHE_IF_PROGRESS_NOTIFY),
            ("/api/v1/pods?limit=500", "1.30", "etcd"),
            ("/api/v1/pods?limit=500", "1.33", CACHE_IF_PROGRESS_NOTIFY),
            (
                "/api/v1/pods?resourceVersion=0&limit=500",
                "1.29",
                "cache (limit ignored)",
            ),
            (
                "/api/v1/pods?resourceVersion=0&limit=500",
                "1.32",
                "cache (limit ignored)",
            ),
            (
                "/api/v1/pods?resourceVersion=0&limit=500",
                "1.35",
                "cache (limit ignored)",
            ),
            ("/api/v1/pods?resourceVersion=0", "1.34", "cache"),
            ("/api/v1/pods?resourceVersion=123&limit=500", "1.33", "etcd"),
            (
                "/api/v1/pods?resourceVersion=123&limit=500",
                "1.34",
                SNAPSHOT_ELSE_ETCD,
            ),
            (
                "/api/v1/pods?resourceVersion=123&resourceVersionMatch=NotOlderThan&limit=500",
                "1.30",
                "etcd",
            ),
            (
                "/api/v1/pods?resourceVersion=123&resourceVersionMatch=NotOlderThan&limit=500",
                "1.31",
                "cache",
            ),
            (
                "/api/v1/pods?resourceVersion=123&resourceVersionMatch=Exact",
                "1.33",
                "etcd",
            ),
            (
                "/api/v1/pods?resourceVersion=123&resourceVersionMatch=Exact",
                "1.34",
                SNAPSHOT_ELSE_ETCD,
            ),
            ("/api/v1/pods?limit=500&continue=x", "1.28", "etcd"),
            (
                "/api/v1/pods?limit=500&continue=x",
                "1.34",
                SNAPSHOT_ELSE_ETCD,
            ),
            ("/api/v1/pods?resourceVersion=123", "1.20", "cache"),
        ];
        for (uri, version, want) in cases {
            assert_eq!(served(uri, Some(version)), *want, "{uri} on {version}");
        }
        assert_eq!(
            served("/api/v1/pods", None),
            format!("etcd (<=1.30), {CACHE_IF_PROGRESS_NOTIFY} (1.31+)")
        );
    }

    #[test]
    fn slow_lists_settle_what_the_rules_cannot() {
        // See: issue 16 (`lists --kubernetes-version 1.34` said cache where etcd served).
        assert_eq!(
            served_with_evidence(CACHE_IF_PROGRESS_NOTIFY, 40, 40),
            "etcd (etcd time in 40 of 40 slow ones)"
        );
        assert_eq!(
            served_with_evidence(CACHE_IF_PROGRESS_NOTIFY, 12, 0),
            "cache (no etcd time in 12 slow ones)"
        );
        assert_eq!(
            served_with_evidence(CACHE_IF_PROGRESS_NOTIFY, 0, 0),
            CACHE_IF_PROGRESS_NOTIFY
        );
        assert_eq!(served_with_evidence("etcd", 5, 5), "etcd");
        assert_eq!(
            served_with_evidence("cache", 3, 2),
            "cache; yet etcd time in 2 of 3 slow ones (cache not ready?)"
        );
    }
}
