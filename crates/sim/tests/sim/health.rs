//! The server-health families an engineer looks for beside the request metrics: process memory,
//! the API server's own controllers and loopback client, etcd's own view, webhook rejections,
//! deprecated APIs, and the APF queue-wait cap. Each behaves as its scenario says, and `healthy`
//! stays quiet.

use crate::common::{Samples, increase, samples, sim, total, window};
use std::time::Duration;

/// Highest and lowest resident memory of replica 0 over `seconds` of `scenario`, one read a
/// scrape interval.
fn memory_range(scenario: &str, seconds: u64) -> (f64, f64) {
    let mut s = sim(scenario, "1.34");
    let (mut low, mut high) = (f64::INFINITY, 0.0f64);
    for _ in 0..seconds / 15 {
        s.advance(Duration::from_secs(15)).unwrap();
        let rss = total(
            &samples(&s.render_metrics(0).unwrap()),
            &["process_resident_memory_bytes"],
        );
        low = low.min(rss);
        high = high.max(rss);
    }
    (low, high)
}

#[test]
fn unbounded_lists_raise_memory_and_a_healthy_server_stays_flat() {
    let (low, high) = memory_range("healthy", 300);
    assert!(high < 1.1 * low, "healthy memory {low}..{high}");
    let (c_low, c_high) = memory_range("chatty-daemonset", 300);
    assert!(
        c_high > 2.0 * high,
        "chatty peak {c_high} vs healthy {high}"
    );
    assert!(
        c_high > 1.5 * c_low,
        "chatty memory {c_low}..{c_high} does not rise"
    );
}

/// Highest finite `le` with observations above the one below it, for series matching `parts`.
fn highest_used_bucket(after: &Samples, parts: &[&str]) -> f64 {
    let mut by_le: Vec<(f64, f64)> = Vec::new();
    for (k, v) in after {
        if !parts.iter().all(|p| k.contains(p)) {
            continue;
        }
        let Some(le) = k.split(" le=").nth(1).and_then(|l| l.split(' ').next()) else {
            continue;
        };
        let le: f64 = le.parse().unwrap_or(f64::INFINITY);
        match by_le.iter_mut().find(|(b, _)| *b == le) {
            Some(entry) => entry.1 += v,
            None => by_le.push((le, *v)),
        }
    }
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut highest = 0.0;
    let mut below = 0.0;
    for (le, count) in by_le {
        if count > below {
            highest = le;
        }
        below = count;
    }
    highest
}

#[test]
fn apf_queue_waits_stop_at_a_quarter_of_the_request_timeout() {
    // See: issue 16 (waits of 22-30 s past the server's 15 s cap).
    for scenario in ["apf-saturation", "chatty-daemonset"] {
        let mut s = sim(scenario, "1.34");
        let (_, a) = window(&mut s, 60, 240);
        let highest = highest_used_bucket(
            &a,
            &[
                "apiserver_flowcontrol_request_wait_duration_seconds_bucket",
                "execute=\"true\"",
            ],
        );
        assert!(
            highest <= 15.0,
            "{scenario}: executed after waiting up to {highest} s"
        );
        let timed_out = total(
            &a,
            &[
                "apiserver_flowcontrol_rejected_requests_total",
                "reason=\"time-out\"",
            ],
        );
        assert!(
            timed_out > 0.0,
            "{scenario}: no request timed out in its queue"
        );
    }
}

#[test]
fn hung_webhook_calls_count_as_webhook_rejections() {
    let mut s = sim("webhook-slow", "1.34");
    let (b, a) = window(&mut s, 60, 300);
    let rejections = increase(
        &b,
        &a,
        &[
            "apiserver_admission_webhook_rejection_count",
            "error_type=\"calling_webhook_error\"",
            "name=\"validate.policy.acme.example.com\"",
            "rejection_code=\"0\"",
        ],
    );
    let rejected_calls = increase(
        &b,
        &a,
        &[
            "apiserver_admission_webhook_admission_duration_seconds_count",
            "rejected=\"true\"",
        ],
    );
    assert!(rejections > 0.0);
    assert_eq!(rejections, rejected_calls);
    let mut h = sim("healthy", "1.34");
    let (_, a) = window(&mut h, 60, 60);
    assert_eq!(
        total(&a, &["apiserver_admission_webhook_rejection_count"]),
        0.0
    );
}

#[test]
fn etcd_stalls_show_in_loopback_errors_controller_queues_and_etcd_itself() {
    let mut s = sim("etcd-slow", "1.34");
    // The first stall starts at 240 s and lasts 12 s.
    let (b, a) = window(&mut s, 200, 120);
    let errors = increase(&b, &a, &["rest_client_requests_total", "code=\"500\""]);
    assert!(errors > 0.0, "no loopback 500 during a stall");
    let slow_work = increase(
        &b,
        &a,
        &[
            "workqueue_work_duration_seconds_count",
            "name=\"autoregister\"",
        ],
    ) - increase(
        &b,
        &a,
        &[
            "workqueue_work_duration_seconds_bucket",
            "name=\"autoregister\"",
            "le=1 ",
        ],
    );
    assert!(
        slow_work > 0.0,
        "no controller work over 1 s during a stall"
    );
    let etcd_after = samples(&s.render_etcd_metrics());
    assert_eq!(
        total(&etcd_after, &["etcd_server_quota_backend_bytes"]),
        2_147_483_648.0
    );

    let mut h = sim("healthy", "1.34");
    let (b, a) = window(&mut h, 200, 120);
    assert_eq!(
        increase(&b, &a, &["rest_client_requests_total", "code=\"500\""]),
        0.0
    );
    assert!(increase(&b, &a, &["rest_client_requests_total", "code=\"200\""]) > 100.0);
    assert_eq!(total(&a, &["workqueue_depth"]), 0.0);
    assert_eq!(total(&a, &["aggregator_unavailable_apiservice"]), 0.0);
    assert!(
        a.keys()
            .any(|k| k.contains("aggregator_unavailable_apiservice"))
    );
}

#[test]
fn deprecated_endpoints_are_reported_from_1_33_only() {
    let mut s = sim("healthy", "1.34");
    s.advance(Duration::from_secs(120)).unwrap();
    let now = samples(&s.render_metrics(0).unwrap());
    assert_eq!(
        total(
            &now,
            &[
                "apiserver_requested_deprecated_apis",
                "resource=\"endpoints\"",
                "version=\"v1\""
            ]
        ),
        1.0
    );
    let mut old = sim("healthy", "1.32");
    old.advance(Duration::from_secs(120)).unwrap();
    let now = samples(&old.render_metrics(0).unwrap());
    assert!(
        !now.keys()
            .any(|k| k.contains("apiserver_requested_deprecated_apis"))
    );
}
