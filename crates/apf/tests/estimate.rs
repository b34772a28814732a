//! The work estimator against the expectations of kube-apiserver's own
//! `pkg/util/flowcontrol/request/width_test.go` (count-based at kubernetes-1.33.0, size-based
//! at kubernetes-1.35.0), re-expressed: each upstream request URI becomes a [`WorkRequest`] whose
//! `served_from_cache` is what the storage layer decides for it in that test.

use apilens_apf::{
    KubeVersion, ObjectStats, ResourceVersionParam, WorkEstimate, WorkRequest, estimate,
};

const LIST: WorkRequest<'static> = WorkRequest {
    verb: "list",
    resource: "events",
    subresource: "",
    named: false,
    has_selector: false,
    limit: None,
    resource_version: ResourceVersionParam::Absent,
    continue_token: false,
    send_initial_events: false,
    served_from_cache: false,
};

fn count(n: f64) -> ObjectStats {
    ObjectStats {
        count: Some(n),
        avg_object_bytes: None,
    }
}

fn sized(n: f64, bytes: f64) -> ObjectStats {
    ObjectStats {
        count: Some(n),
        avg_object_bytes: Some(bytes),
    }
}

const STALE: ObjectStats = ObjectStats {
    count: None,
    avg_object_bytes: None,
};
/// A resource the server does not count (ObjectCountNotFoundErr): no objects.
const NOT_FOUND: ObjectStats = ObjectStats {
    count: Some(0.0),
    avg_object_bytes: None,
};

fn cache(limit: Option<u64>, rv: ResourceVersionParam) -> WorkRequest<'static> {
    WorkRequest {
        limit,
        resource_version: rv,
        served_from_cache: true,
        ..LIST
    }
}

fn etcd(limit: Option<u64>, rv: ResourceVersionParam) -> WorkRequest<'static> {
    WorkRequest {
        limit,
        resource_version: rv,
        served_from_cache: false,
        ..LIST
    }
}

use ResourceVersionParam::{Absent, Exact, Zero};

#[test]
fn count_based_lists_as_1_33() {
    let v = KubeVersion::minor(1, 33);
    let cases: Vec<(&str, WorkRequest, ObjectStats, u32, u32)> = vec![
        (
            "limit 399, rv 1 (etcd)",
            etcd(Some(399), Exact),
            count(699.0),
            10,
            8,
        ),
        (
            "rv 1, no limit (cache)",
            cache(None, Exact),
            count(699.0),
            10,
            7,
        ),
        (
            "limit 399, no rv (etcd)",
            etcd(Some(399), Absent),
            count(699.0),
            10,
            8,
        ),
        (
            "no parameters (etcd)",
            etcd(None, Absent),
            count(399.0),
            10,
            8,
        ),
        ("not found", etcd(None, Absent), NOT_FOUND, 10, 1),
        (
            "continue, limit 399 (etcd)",
            WorkRequest {
                continue_token: true,
                ..etcd(Some(399), Exact)
            },
            count(699.0),
            10,
            8,
        ),
        (
            "rv 0, limit 299 (cache)",
            cache(Some(299), Zero),
            count(399.0),
            10,
            4,
        ),
        (
            "rv 0, no limit (cache)",
            cache(None, Zero),
            count(799.0),
            10,
            8,
        ),
        (
            "match Exact, limit 399 (etcd)",
            etcd(Some(399), Exact),
            count(699.0),
            10,
            8,
        ),
        (
            "match NotOlderThan (cache)",
            cache(None, Exact),
            count(799.0),
            10,
            8,
        ),
        ("capped", cache(None, Exact), count(1999.0), 10, 10),
        (
            "capped, lower max seats",
            cache(None, Exact),
            count(1999.0),
            5,
            5,
        ),
        (
            "rv 0, limit 799, not found",
            cache(Some(799), Zero),
            NOT_FOUND,
            10,
            1,
        ),
        ("stale", etcd(Some(499), Absent), STALE, 10, 10),
        (
            "metadata.name",
            WorkRequest {
                named: true,
                has_selector: true,
                ..etcd(None, Absent)
            },
            count(799.0),
            10,
            1,
        ),
        (
            "metadata.name, rv 0, limit 500",
            WorkRequest {
                named: true,
                has_selector: true,
                ..cache(Some(500), Zero)
            },
            count(799.0),
            10,
            1,
        ),
        (
            "selector (etcd): count + limit",
            WorkRequest {
                has_selector: true,
                ..etcd(Some(100), Absent)
            },
            count(799.0),
            10,
            9,
        ),
    ];
    for (name, req, stats, max, want) in cases {
        let got = estimate(v, &req, stats, 0.0, max);
        assert_eq!(
            got,
            WorkEstimate {
                initial_seats: want,
                final_seats: 0,
                additional_latency_s: 0.0
            },
            "{name}"
        );
    }
}

#[test]
fn size_based_lists_as_1_35() {
    let v = KubeVersion::minor(1, 35);
    let k10 = 10_000.0;
    let named = |r: WorkRequest<'static>| WorkRequest {
        named: true,
        has_selector: true,
        ..r
    };
    let selector = |r: WorkRequest<'static>| WorkRequest {
        has_selector: true,
        ..r
    };
    let cases: Vec<(&str, WorkRequest, ObjectStats, u32, u32)> = vec![
        (
            "rv 1, limit 399: 4 MB from etcd",
            etcd(Some(399), Exact),
            sized(699.0, k10),
            100,
            40,
        ),
        (
            "rv 1: capped by the cache",
            cache(None, Exact),
            sized(699.0, k10),
            100,
            10,
        ),
        (
            "rv 1: 690 kB from the cache",
            cache(None, Exact),
            sized(69.0, k10),
            100,
            7,
        ),
        (
            "limit 399: 4 MB from etcd",
            etcd(Some(399), Absent),
            sized(699.0, k10),
            100,
            40,
        ),
        (
            "no parameters: 4 MB from etcd",
            etcd(None, Absent),
            sized(399.0, k10),
            100,
            40,
        ),
        ("count not found", etcd(None, Absent), NOT_FOUND, 100, 1),
        (
            "continue, limit 399",
            WorkRequest {
                continue_token: true,
                ..etcd(Some(399), Absent)
            },
            sized(699.0, k10),
            100,
            40,
        ),
        (
            "rv 0, limit 299: capped by the cache",
            cache(Some(299), Zero),
            sized(399.0, k10),
            100,
            10,
        ),
        (
            "rv 0, limit 20: 200 kB from the cache",
            cache(Some(20), Zero),
            sized(399.0, k10),
            100,
            2,
        ),
        (
            "rv 0: capped by the cache",
            cache(None, Zero),
            sized(799.0, k10),
            100,
            10,
        ),
        (
            "rv 0: 790 kB from the cache",
            cache(None, Zero),
            sized(79.0, k10),
            100,
            8,
        ),
        (
            "Exact, limit 399",
            etcd(Some(399), Exact),
            sized(699.0, k10),
            100,
            40,
        ),
        (
            "Exact: capped by the level",
            etcd(None, Exact),
            sized(5000.0, k10),
            20,
            20,
        ),
        (
            "bad match: 2 MB from etcd",
            etcd(None, Absent),
            sized(200.0, k10),
            100,
            20,
        ),
        ("stale: max seats", etcd(None, Absent), STALE, 100, 100),
        (
            "no object size: 1.5 MB",
            etcd(None, Absent),
            count(1.0),
            100,
            15,
        ),
        (
            "stale, limit 1: one object of 1.5 MB",
            etcd(Some(1), Absent),
            STALE,
            100,
            15,
        ),
        (
            "no size, limit 1",
            etcd(Some(1), Absent),
            count(1.0),
            100,
            15,
        ),
        ("stale, limit 499", etcd(Some(499), Absent), STALE, 100, 100),
        (
            "no size, rv 0, limit 499: capped by the cache",
            cache(Some(499), Zero),
            count(1.0),
            100,
            10,
        ),
        (
            "metadata.name: 200 kB",
            named(etcd(None, Absent)),
            sized(799.0, 200_000.0),
            100,
            2,
        ),
        (
            "metadata.name: 1.5 MB",
            named(etcd(None, Absent)),
            sized(799.0, 1_500_000.0),
            100,
            15,
        ),
        (
            "metadata.name, rv 0: 200 kB",
            named(cache(Some(500), Zero)),
            sized(799.0, 200_000.0),
            100,
            2,
        ),
        (
            "metadata.name, rv 0: capped by the cache",
            named(cache(Some(500), Zero)),
            sized(799.0, 1_500_000.0),
            100,
            10,
        ),
        (
            "selector: 8 MB from etcd",
            selector(etcd(None, Absent)),
            sized(799.0, k10),
            100,
            80,
        ),
        (
            "selector, limit 49: half the objects",
            selector(etcd(Some(49), Absent)),
            sized(799.0, k10),
            100,
            40,
        ),
        (
            "selector, limit 699",
            selector(etcd(Some(699), Absent)),
            sized(799.0, k10),
            100,
            70,
        ),
        (
            "selector, rv 0: capped by the cache",
            selector(cache(None, Zero)),
            sized(799.0, k10),
            100,
            10,
        ),
        (
            "selector, rv 0, limit 29",
            selector(cache(Some(29), Zero)),
            sized(799.0, k10),
            100,
            3,
        ),
    ];
    for (name, req, stats, max, want) in cases {
        assert_eq!(
            estimate(v, &req, stats, 0.0, max).initial_seats,
            want,
            "{name}"
        );
    }
}

fn watch(rv: ResourceVersionParam, initial_events: bool) -> WorkRequest<'static> {
    WorkRequest {
        verb: "watch",
        resource_version: rv,
        send_initial_events: initial_events,
        served_from_cache: true,
        ..LIST
    }
}

#[test]
fn watches_by_version() {
    let stats = sized(799.0, 1_000.0);
    // 1.35: legacy watches (no rv or rv 0) send initial events and cost like a cache LIST.
    let v35 = KubeVersion::minor(1, 35);
    for (rv, initial, want) in [
        (Absent, false, 8),
        (Zero, false, 8),
        (Exact, false, 1),
        (Absent, true, 8),
        (Zero, true, 8),
        (Exact, true, 8),
    ] {
        assert_eq!(
            estimate(v35, &watch(rv, initial), stats, 0.0, 100).initial_seats,
            want,
            "1.35 {rv:?} {initial}"
        );
    }
    // 1.34: only sendInitialEvents=true counts.
    let v34 = KubeVersion::minor(1, 34);
    assert_eq!(
        estimate(v34, &watch(Absent, false), stats, 0.0, 100).initial_seats,
        1
    );
    assert_eq!(
        estimate(v34, &watch(Absent, true), stats, 0.0, 100).initial_seats,
        8
    );
    // 1.32 (WatchList on, count-based): 799 objects from the cache.
    let v32 = KubeVersion::minor(1, 32);
    assert_eq!(
        estimate(v32, &watch(Absent, true), count(799.0), 0.0, 10).initial_seats,
        8
    );
    assert_eq!(
        estimate(v32, &watch(Absent, false), count(799.0), 0.0, 10).initial_seats,
        1
    );
    // 1.33 and 1.31: WatchList is off by default, every watch takes one seat.
    for minor in [31, 33] {
        let v = KubeVersion::minor(1, minor);
        assert_eq!(
            estimate(v, &watch(Absent, true), count(799.0), 0.0, 10),
            WorkEstimate::ONE
        );
    }
}

#[test]
fn mutating_requests_hold_final_seats_for_watchers() {
    let create = WorkRequest {
        verb: "create",
        resource: "foos",
        ..LIST
    };
    let v = KubeVersion::minor(1, 35);
    let est = |req: &WorkRequest, watchers: f64, max: u32| {
        estimate(v, req, ObjectStats::default(), watchers, max)
    };
    let ms = |x: f64| x / 1000.0;
    assert_eq!(est(&create, 0.0, 10), WorkEstimate::ONE);
    assert_eq!(est(&create, 5.0, 10), WorkEstimate::ONE);
    assert_eq!(
        est(&create, 29.0, 10),
        WorkEstimate {
            initial_seats: 1,
            final_seats: 3,
            additional_latency_s: ms(5.0)
        }
    );
    assert_eq!(
        est(&create, 199.0, 10),
        WorkEstimate {
            initial_seats: 1,
            final_seats: 10,
            additional_latency_s: ms(10.0)
        }
    );
    let patch = WorkRequest {
        verb: "patch",
        ..create
    };
    assert_eq!(
        est(&patch, 100.0, 5),
        WorkEstimate {
            initial_seats: 1,
            final_seats: 5,
            additional_latency_s: ms(10.0)
        }
    );
    let token = WorkRequest {
        resource: "serviceaccounts",
        subresource: "token",
        ..create
    };
    assert_eq!(est(&token, 5777.0, 10), WorkEstimate::ONE);
    let sa = WorkRequest {
        resource: "serviceaccounts",
        ..create
    };
    // The level allows 20, mutating requests at most 10.
    assert_eq!(
        est(&sa, 1000.0, 20),
        WorkEstimate {
            initial_seats: 1,
            final_seats: 10,
            additional_latency_s: ms(50.0)
        }
    );
    let e = est(&sa, 1000.0, 20);
    assert!((e.seat_seconds(0.2) - (0.2 + 10.0 * 0.05)).abs() < 1e-12);
    assert_eq!(e.max_seats(), 10);
    // Before 1.24 the mutating estimator is off; before 1.26 tokens are not exempt.
    assert_eq!(
        estimate(
            KubeVersion::minor(1, 23),
            &create,
            ObjectStats::default(),
            199.0,
            10
        ),
        WorkEstimate::ONE
    );
    assert_eq!(
        estimate(
            KubeVersion::minor(1, 25),
            &token,
            ObjectStats::default(),
            29.0,
            10
        )
        .final_seats,
        3
    );
}

#[test]
fn before_1_23_every_request_is_one_seat_and_unknown_verbs_too() {
    let req = etcd(None, Absent);
    assert_eq!(
        estimate(KubeVersion::minor(1, 22), &req, count(1e6), 0.0, 10),
        WorkEstimate::ONE
    );
    let get = WorkRequest { verb: "get", ..req };
    assert_eq!(
        estimate(KubeVersion::minor(1, 35), &get, count(1e6), 0.0, 100),
        WorkEstimate::ONE
    );
    // 1.23 to 1.25 have no shortcut for named LISTs.
    let named = WorkRequest {
        named: true,
        has_selector: true,
        ..cache(None, Zero)
    };
    assert_eq!(
        estimate(KubeVersion::minor(1, 25), &named, count(799.0), 0.0, 10).initial_seats,
        8
    );
    assert_eq!(
        estimate(KubeVersion::minor(1, 26), &named, count(799.0), 0.0, 10).initial_seats,
        1
    );
}
