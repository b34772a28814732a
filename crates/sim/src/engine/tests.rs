//! The simulator's own rules, tested through its private state.

use super::*;

fn sum(text: &str, prefix: &str, part: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix) && l.contains(part))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn requests_past_the_request_timeout_are_answered_504_and_terminated() {
    let mut sim =
        Simulator::new(ScenarioConfig::new("healthy", KubeVersion::new(1, 34, 0))).unwrap();
    // A disk so slow that every write takes minutes.
    sim.scenario.etcd_disk_factor = 20_000.0;
    sim.advance(Duration::from_secs(5)).unwrap();
    let text = sim.render_metrics(0).unwrap();
    let timeouts = sum(&text, "apiserver_request_total{", "code=\"504\"");
    assert!(timeouts > 10.0, "{timeouts} answers 504");
    assert_eq!(
        sum(
            &text,
            "apiserver_request_terminations_total{",
            "code=\"504\""
        ),
        timeouts
    );
    // The client hears back at the deadline, not when the handler finishes.
    let lease_puts = "resource=\"leases\",scope=\"resource\",subresource=\"\",verb=\"PUT\"";
    let at_60 = sum(
        &text,
        "apiserver_request_duration_seconds_bucket{",
        &format!("{lease_puts},version=\"v1\",le=\"60\""),
    );
    let all = sum(
        &text,
        "apiserver_request_duration_seconds_count{",
        lease_puts,
    );
    assert!(
        all > 0.0 && at_60 == all,
        "{at_60} of {all} lease PUTs within 60 s"
    );
}
