//! The dispatching model on constructed cases with known answers.

use apilens_apf::{
    ApfConfig, KubeVersion, LevelSpec, LimitResponse, PriorityLevel, ReplayOpts, ReplayOutcome,
    ReplayRequest, TagOutcome, flow_hash, replay,
};

const V: KubeVersion = KubeVersion::minor(1, 35);

fn limited(
    name: &str,
    shares: u32,
    lendable: u32,
    borrowing: Option<u32>,
    response: LimitResponse,
) -> PriorityLevel {
    PriorityLevel {
        name: name.to_string(),
        spec: LevelSpec::Limited {
            nominal_concurrency_shares: shares,
            lendable_percent: lendable,
            borrowing_limit_percent: borrowing,
            limit_response: response,
        },
    }
}

fn queue(queues: u32, hand_size: u32, queue_length_limit: u32) -> LimitResponse {
    LimitResponse::Queue {
        queues,
        hand_size,
        queue_length_limit,
    }
}

/// Levels of 10 seats each at a server limit of 20: `test` (queued) and `catch-all` (Reject),
/// neither lending nor borrowing.
fn fixed_config() -> ApfConfig {
    let levels = vec![
        limited("test", 10, 0, Some(0), queue(8, 2, 50)),
        limited("catch-all", 10, 0, Some(0), LimitResponse::Reject),
    ];
    ApfConfig::from_objects(V, vec![], levels).0
}

fn opts(server_cl: u32) -> ReplayOpts {
    ReplayOpts {
        replicas: 1,
        server_concurrency_limit: server_cl,
        queue_wait_limit_s: 15.0,
    }
}

fn req(at: f64, level: &str, flow: &str, seats: u32, exec: f64, tag: u32) -> ReplayRequest {
    ReplayRequest {
        arrival_s: at,
        replica: 0,
        level: level.to_string(),
        flow: flow_hash("fs", flow),
        seats,
        final_seats: 0,
        additional_latency_s: 0.0,
        execution_s: exec,
        tag,
    }
}

fn tag(out: &ReplayOutcome, t: u32) -> &TagOutcome {
    out.tags.get(&t).expect("tag")
}

#[test]
fn a_level_at_exactly_its_limit_does_not_queue_one_more_does() {
    let config = fixed_config();
    assert_eq!(config.capacity(V, 20).level("test").unwrap().nominal, 10);
    let mut reqs: Vec<ReplayRequest> = (0..10)
        .map(|i| req(0.0, "test", &format!("f{i}"), 1, 1.0, 0))
        .collect();
    let out = replay(&config, V, &reqs, &opts(20));
    let t = tag(&out, 0);
    assert_eq!(
        (t.requests, t.dispatched, t.rejected, t.wait_s_sum),
        (10, 10, 0, 0.0)
    );
    assert_eq!(
        out.levels
            .iter()
            .find(|l| l.name == "test")
            .unwrap()
            .peak_seats,
        10
    );
    reqs.push(req(0.0, "test", "late", 1, 1.0, 1));
    let out = replay(&config, V, &reqs, &opts(20));
    let late = tag(&out, 1);
    assert_eq!((late.dispatched, late.rejected), (1, 0));
    assert!((late.wait_s_sum - 1.0).abs() < 1e-9, "{late:?}");
    assert!((late.seat_seconds - 1.0).abs() < 1e-9);
}

#[test]
fn a_flood_in_one_flow_does_not_starve_another_flow() {
    let config = fixed_config();
    let mut reqs = Vec::new();
    // Flow A: 2000 requests in the first second, each one seat for one second.
    for i in 0..2000 {
        reqs.push(req(f64::from(i) * 0.0005, "test", "flood", 1, 1.0, 0));
    }
    // Flow B: one request every half second for 20 s.
    for i in 0..40 {
        reqs.push(req(f64::from(i) * 0.5 + 0.01, "test", "quiet", 1, 1.0, 1));
    }
    reqs.sort_by(|a, b| a.arrival_s.total_cmp(&b.arrival_s));
    let out = replay(&config, V, &reqs, &opts(20));
    let flood = tag(&out, 0);
    let quiet = tag(&out, 1);
    // The flood fills its hand of two queues (2 × 50) and the seats; the rest is rejected.
    assert!(flood.rejected_by_reason[0] > 1500, "{flood:?}");
    assert_eq!(quiet.rejected, 0, "{quiet:?}");
    assert_eq!(quiet.dispatched, 40);
    // Fair queuing lets the quiet flow in within about one execution time.
    assert!(quiet.wait_s_p99 <= 1.5, "{quiet:?}");
    assert!(flood.wait_s_p99 > 5.0, "{flood:?}");
}

#[test]
fn a_reject_level_rejects_what_does_not_fit() {
    let config = fixed_config();
    let reqs: Vec<ReplayRequest> = (0..15)
        .map(|i| req(0.0, "catch-all", &format!("u{i}"), 1, 2.0, 0))
        .collect();
    let out = replay(&config, V, &reqs, &opts(20));
    let t = tag(&out, 0);
    assert_eq!(
        (t.dispatched, t.rejected, t.rejected_by_reason),
        (10, 5, [0, 5, 0])
    );
    assert_eq!(t.wait_s_p99, 0.0);
    // Once the first ones finish there is room again.
    let later: Vec<ReplayRequest> = reqs
        .iter()
        .cloned()
        .chain((0..3).map(|i| req(2.5, "catch-all", &format!("v{i}"), 1, 1.0, 1)))
        .collect();
    let out = replay(&config, V, &later, &opts(20));
    assert_eq!(tag(&out, 1).rejected, 0);
    // An unknown level name goes to catch-all.
    let unknown = vec![req(0.0, "no-such-level", "x", 1, 1.0, 2)];
    let out = replay(&config, V, &unknown, &opts(20));
    assert_eq!(
        out.levels
            .iter()
            .find(|l| l.name == "catch-all")
            .unwrap()
            .peak_seats,
        1
    );
}

#[test]
fn requests_waiting_past_the_limit_time_out() {
    // One seat: `one` is the only level and the server has one seat.
    let levels = vec![
        limited("one", 1, 0, Some(0), queue(4, 1, 50)),
        limited("catch-all", 0, 0, Some(0), LimitResponse::Reject),
    ];
    let config = ApfConfig::from_objects(V, vec![], levels).0;
    assert_eq!(config.capacity(V, 1).level("one").unwrap().nominal, 1);
    let reqs: Vec<ReplayRequest> = (0..5).map(|_| req(0.0, "one", "f", 1, 10.0, 0)).collect();
    let out = replay(&config, V, &reqs, &opts(1));
    let t = tag(&out, 0);
    // 0-10 s runs the first, 10-20 s the second (waited 10 s); the rest wait past 15 s.
    assert_eq!((t.dispatched, t.rejected_by_reason), (2, [0, 0, 3]));
    assert!((t.wait_s_sum - 10.0).abs() < 1e-9, "{t:?}");
    assert!((t.wait_s_p99 - 15.0).abs() < 1e-6, "{t:?}");
}

#[test]
fn wide_requests_and_final_seats() {
    let config = fixed_config();
    // A 10-seat request must wait for the whole level; a 12-seat one runs alone.
    let reqs = vec![
        req(0.0, "test", "a", 3, 1.0, 0),
        req(0.1, "test", "wide", 10, 1.0, 1),
        req(0.2, "test", "huge", 12, 1.0, 2),
    ];
    let out = replay(&config, V, &reqs, &opts(20));
    assert!(
        (tag(&out, 1).wait_s_sum - 0.9).abs() < 1e-9,
        "{:?}",
        tag(&out, 1)
    );
    assert!(
        (tag(&out, 2).wait_s_sum - 1.8).abs() < 1e-9,
        "{:?}",
        tag(&out, 2)
    );
    assert_eq!(
        out.levels
            .iter()
            .find(|l| l.name == "test")
            .unwrap()
            .peak_seats,
        12
    );
    // Final seats hold the level after execution: 10 seats for 0.5 s more.
    let mut write = req(0.0, "test", "w", 1, 0.1, 0);
    write.final_seats = 10;
    write.additional_latency_s = 0.5;
    let next = req(0.2, "test", "r", 1, 0.1, 1);
    let out = replay(&config, V, &[write, next], &opts(20));
    assert!(
        (tag(&out, 1).wait_s_sum - 0.4).abs() < 1e-9,
        "{:?}",
        tag(&out, 1)
    );
    assert!(
        (tag(&out, 0).seat_seconds - 6.0).abs() < 1e-9,
        "{:?}",
        tag(&out, 0)
    );
}

#[test]
fn each_replica_has_its_own_seats() {
    let config = fixed_config();
    let mut reqs: Vec<ReplayRequest> = (0..20)
        .map(|i| req(0.0, "test", &format!("f{i}"), 1, 1.0, 0))
        .collect();
    for (i, r) in reqs.iter_mut().enumerate() {
        r.replica = (i % 2) as u32;
    }
    let two = ReplayOpts {
        replicas: 2,
        ..opts(20)
    };
    let out = replay(&config, V, &reqs, &two);
    assert_eq!(tag(&out, 0).wait_s_sum, 0.0);
    let one = replay(&config, V, &reqs, &opts(20));
    assert!(tag(&one, 0).wait_s_sum > 9.0);
}

#[test]
fn an_idle_level_lends_its_seats_after_the_first_adjustment() {
    // `busy` has 10 nominal seats and may borrow up to 10 more; `idle` lends all 10 of its.
    let levels = vec![
        limited("busy", 10, 0, Some(100), queue(16, 4, 1000)),
        limited("idle", 10, 100, Some(0), queue(16, 4, 50)),
        limited("catch-all", 0, 0, Some(0), LimitResponse::Reject),
    ];
    let config = ApfConfig::from_objects(V, vec![], levels).0;
    let cap = config.capacity(V, 20);
    assert_eq!(
        (
            cap.level("busy").unwrap().nominal,
            cap.level("busy").unwrap().max_limit
        ),
        (10, 20)
    );
    // A steady load of 20 seats for 60 s: 200 requests per second of 0.1 s each.
    let reqs: Vec<ReplayRequest> = (0..12_000)
        .map(|i| {
            req(
                f64::from(i) * 0.005,
                "busy",
                &format!("f{}", i % 50),
                1,
                0.1,
                0,
            )
        })
        .collect();
    let out = replay(&config, V, &reqs, &opts(20));
    let busy = out.levels.iter().find(|l| l.name == "busy").unwrap();
    assert!(busy.peak_seats > 10, "{busy:?}");
    // Before 1.26 nothing is lent.
    let old = KubeVersion::minor(1, 25);
    let out = replay(&config, old, &reqs, &opts(20));
    assert_eq!(
        out.levels
            .iter()
            .find(|l| l.name == "busy")
            .unwrap()
            .peak_seats,
        10
    );
}

#[test]
fn exempt_requests_never_wait() {
    let config = ApfConfig::defaults(V);
    let reqs: Vec<ReplayRequest> = (0..5000)
        .map(|i| req(f64::from(i) * 1e-4, "exempt", "admin", 1, 5.0, 0))
        .collect();
    let out = replay(&config, V, &reqs, &ReplayOpts::default());
    let t = tag(&out, 0);
    assert_eq!((t.dispatched, t.rejected, t.wait_s_sum), (5000, 0, 0.0));
}

#[test]
fn extreme_and_malformed_requests_never_panic() {
    let config = fixed_config();
    let mut reqs = vec![
        req(f64::NAN, "test", "a", u32::MAX, 1.0, 0),
        req(-5.0, "test", "b", 1, f64::INFINITY, 1),
        req(1.0, "test", "c", 0, f64::NAN, 2),
        req(2.0, "catch-all", "d", u32::MAX, 1.0, 3),
        req(0.5, "", "e", 1, -1.0, 4),
        // A day later and at the end of time: the quiet stretch is skipped, not walked.
        req(86_400.0 * 365.0, "test", "f", 1, 1.0, 5),
        req(f64::INFINITY, "test", "g", 1, 1.0, 6),
    ];
    reqs[2].final_seats = u32::MAX;
    reqs[2].additional_latency_s = f64::NAN;
    let out = replay(&config, V, &reqs, &opts(20));
    let total: u64 = out.tags.values().map(|t| t.requests).sum();
    assert_eq!(total, 7);
    for t in out.tags.values() {
        assert_eq!(t.requests, t.dispatched + t.rejected, "{t:?}");
    }
    let zero = ReplayOpts {
        replicas: 0,
        server_concurrency_limit: 0,
        queue_wait_limit_s: -1.0,
    };
    let out = replay(&config, V, &reqs, &zero);
    assert_eq!(out.tags.values().map(|t| t.requests).sum::<u64>(), 7);
    assert!(replay(&config, V, &[], &opts(20)).tags.is_empty());
}
