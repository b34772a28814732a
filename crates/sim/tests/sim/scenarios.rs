//! Each scenario shows its signal, large, and `healthy` shows none of them.
//!
//! Every check compares increases over the same window after the same warm-up, summed over
//! both replicas, as a PromQL `increase()` over the scrapes would.

use crate::common::{Samples, all_replicas, increase, sim, total, window};

const WARMUP: u64 = 60;
const WINDOW: u64 = 120;

fn run(scenario: &str) -> (Samples, Samples) {
    let mut s = sim(scenario, "1.34");
    window(&mut s, WARMUP, WINDOW)
}

/// Mean of a histogram over the window: increase of `_sum` over increase of `_count`.
fn mean(before: &Samples, after: &Samples, family: &str, parts: &[&str]) -> f64 {
    let sum_key = format!("{family}_sum{{");
    let count_key = format!("{family}_count{{");
    let mut with_sum = parts.to_vec();
    with_sum.push(&sum_key);
    let mut with_count = parts.to_vec();
    with_count.push(&count_key);
    increase(before, after, &with_sum) / increase(before, after, &with_count)
}

#[test]
fn healthy_shows_none_of_the_signals() {
    let (b, a) = run("healthy");
    assert_eq!(
        increase(&b, &a, &["apiserver_request_total{", "code=\"429\""]),
        0.0
    );
    assert_eq!(
        total(&a, &["apiserver_flowcontrol_rejected_requests_total"]),
        0.0
    );
    assert_eq!(
        total(
            &a,
            &["apiserver_admission_webhook_admission_duration_seconds_count"]
        ),
        0.0
    );
    let lists = increase(&b, &a, &["apiserver_request_total{", "verb=\"LIST\""]);
    let cluster_pod_lists = increase(
        &b,
        &a,
        &[
            "apiserver_request_total{",
            "verb=\"LIST\"",
            "resource=\"pods\"",
            "scope=\"cluster\"",
        ],
    );
    assert!(
        cluster_pod_lists < 0.1 * lists,
        "{cluster_pod_lists} of {lists}"
    );
    let etcd_list = mean(
        &b,
        &a,
        "etcd_request_duration_seconds",
        &["operation=\"list\""],
    );
    assert!(
        etcd_list.is_nan() || etcd_list < 0.1,
        "etcd list mean {etcd_list}"
    );
    let leases = mean(
        &b,
        &a,
        "apiserver_request_duration_seconds",
        &["resource=\"leases\"", "verb=\"PUT\""],
    );
    assert!(leases < 0.03, "lease PUT mean {leases}");
    let writes = mean(
        &b,
        &a,
        "etcd_request_duration_seconds",
        &["operation=\"update\""],
    );
    assert!(writes < 0.03, "etcd update mean {writes}");
    let watches = total(&a, &["apiserver_longrunning_requests{", "verb=\"WATCH\""]);
    assert!((3_000.0..15_000.0).contains(&watches), "{watches} watches");
    let r0 = increase(&b, &a, &["apiserver_request_total{", "#replica=0"]);
    let r1 = increase(&b, &a, &["apiserver_request_total{", "#replica=1"]);
    assert!((r0 / r1 - 1.0).abs() < 0.25, "replicas {r0} vs {r1}");
}

#[test]
fn chatty_daemonset_dominates_lists_and_etcd_list_latency() {
    let (b, a) = run("chatty-daemonset");
    let pods = [
        "apiserver_request_total{",
        "verb=\"LIST\"",
        "resource=\"pods\"",
        "scope=\"cluster\"",
    ];
    let lists = increase(&b, &a, &["apiserver_request_total{", "verb=\"LIST\""]);
    let cluster_pod_lists = increase(&b, &a, &pods);
    // 1,000 agents once a minute.
    let rate = cluster_pod_lists / WINDOW as f64;
    assert!(
        (12.0..22.0).contains(&rate),
        "{rate}/s cluster-scoped pod LISTs"
    );
    assert!(
        cluster_pod_lists > 0.9 * lists,
        "{cluster_pod_lists} of {lists} LISTs"
    );
    // The time the API servers spend on requests (WATCH excluded) goes to these LISTs.
    let busy = increase(&b, &a, &["apiserver_request_duration_seconds_sum{"])
        - increase(
            &b,
            &a,
            &["apiserver_request_duration_seconds_sum{", "verb=\"WATCH\""],
        );
    let pod_lists = increase(
        &b,
        &a,
        &[
            "apiserver_request_duration_seconds_sum{",
            "verb=\"LIST\"",
            "resource=\"pods\"",
            "scope=\"cluster\"",
        ],
    );
    assert!(pod_lists > 0.8 * busy, "{pod_lists} of {busy} busy seconds");
    // etcd list latency: pods own it, and it is slow.
    let etcd_lists = increase(
        &b,
        &a,
        &["etcd_request_duration_seconds_sum{", "operation=\"list\""],
    );
    let etcd_pod_lists = increase(
        &b,
        &a,
        &[
            "etcd_request_duration_seconds_sum{",
            "operation=\"list\"",
            "resource=\"pods\"",
        ],
    );
    assert!(
        etcd_pod_lists > 0.95 * etcd_lists,
        "{etcd_pod_lists} of {etcd_lists}"
    );
    let m = mean(
        &b,
        &a,
        "etcd_request_duration_seconds",
        &["operation=\"list\"", "resource=\"pods\""],
    );
    assert!(m > 1.0, "etcd pod LIST mean {m}");
    // Each unbounded list returns the whole cluster: 50,000 pods (the few paginated LISTs of
    // other clients add at most 500 each).
    let returned = increase(
        &b,
        &a,
        &[
            "apiserver_storage_list_returned_objects_total{",
            "resource=\"pods\"",
        ],
    );
    let served = increase(
        &b,
        &a,
        &[
            "apiserver_request_total{",
            "verb=\"LIST\"",
            "resource=\"pods\"",
            "scope=\"cluster\"",
            "code=\"200\"",
        ],
    );
    let per_list = returned / served;
    assert!(
        (49_500.0..51_500.0).contains(&per_list),
        "{per_list} objects per list"
    );
    // Responses are hundreds of MB.
    let size = mean(
        &b,
        &a,
        "apiserver_response_sizes",
        &["verb=\"LIST\"", "resource=\"pods\"", "scope=\"cluster\""],
    );
    assert!(size > 1e8, "response size {size}");
}

#[test]
fn watch_storm_multiplies_watches_and_events() {
    let (hb, ha) = run("healthy");
    let mut s = crate::common::sim("watch-storm", "1.34");
    let (b, a) = window(&mut s, 30, 60);
    let watches = total(&a, &["apiserver_longrunning_requests{", "verb=\"WATCH\""]);
    let healthy_watches = total(&ha, &["apiserver_longrunning_requests{", "verb=\"WATCH\""]);
    assert!(
        watches > 100_000.0 && watches > 10.0 * healthy_watches,
        "{watches} vs {healthy_watches}"
    );
    let events = increase(&b, &a, &["apiserver_watch_events_total"]) / 60.0;
    let healthy_events = increase(&hb, &ha, &["apiserver_watch_events_total"]) / WINDOW as f64;
    assert!(
        events > 50.0 * healthy_events,
        "{events}/s vs {healthy_events}/s"
    );
    // Writes to watched resources hold their final seats far longer: the controller
    // manager's executing seats climb.
    let seats = total(
        &a,
        &[
            "apiserver_flowcontrol_current_executing_seats{",
            "flow_schema=\"kube-controller-manager\"",
        ],
    );
    let healthy_seats = total(
        &ha,
        &[
            "apiserver_flowcontrol_current_executing_seats{",
            "flow_schema=\"kube-controller-manager\"",
        ],
    );
    assert!(
        seats > 3.0 * healthy_seats.max(1.0),
        "{seats} vs {healthy_seats}"
    );
}

#[test]
fn etcd_slow_shows_two_latency_bands() {
    let (hb, ha) = run("healthy");
    let (b, a) = run("etcd-slow");
    let writes = mean(
        &b,
        &a,
        "etcd_request_duration_seconds",
        &["operation=\"update\""],
    );
    let healthy_writes = mean(
        &hb,
        &ha,
        "etcd_request_duration_seconds",
        &["operation=\"update\""],
    );
    assert!(
        writes > 10.0 * healthy_writes,
        "etcd update {writes} vs {healthy_writes}"
    );
    // Requests that reach etcd slow down...
    let leases = mean(
        &b,
        &a,
        "apiserver_request_duration_seconds",
        &["resource=\"leases\"", "verb=\"PUT\""],
    );
    assert!(leases > 0.1, "lease PUT {leases}");
    // ...cache-served LISTs do not.
    let cached = ["verb=\"LIST\"", "resource=\"pods\"", "scope=\"namespace\""];
    let lists = mean(&b, &a, "apiserver_request_duration_seconds", &cached);
    let healthy_lists = mean(&hb, &ha, "apiserver_request_duration_seconds", &cached);
    assert!(
        lists < 1.5 * healthy_lists,
        "cached LIST {lists} vs {healthy_lists}"
    );
    assert!(
        increase(
            &b,
            &a,
            &["apiserver_cache_list_total{", "resource=\"pods\""]
        ) > 0.0
    );
}

#[test]
fn etcd_slow_shows_on_the_etcd_server_too() {
    let mut healthy = crate::common::sim("healthy", "1.34");
    let mut slow = crate::common::sim("etcd-slow", "1.34");
    healthy.advance(std::time::Duration::from_secs(60)).unwrap();
    slow.advance(std::time::Duration::from_secs(60)).unwrap();
    let fsync_mean = |text: &str| {
        let s = crate::common::samples(text);
        total(&s, &["etcd_disk_wal_fsync_duration_seconds_sum"])
            / total(&s, &["etcd_disk_wal_fsync_duration_seconds_count"])
    };
    let h = fsync_mean(&healthy.render_etcd_metrics());
    let s = fsync_mean(&slow.render_etcd_metrics());
    assert!(s > 0.05 && s > 20.0 * h, "fsync {s} vs {h}");
}

#[test]
fn apf_saturation_queues_rejects_and_delays_heartbeats() {
    let (hb, ha) = run("healthy");
    let (b, a) = run("apf-saturation");
    let rejected = increase(
        &b,
        &a,
        &[
            "apiserver_flowcontrol_rejected_requests_total",
            "priority_level=\"workload-low\"",
        ],
    );
    let code429 = increase(&b, &a, &["apiserver_request_total{", "code=\"429\""]);
    assert!(rejected > 1_000.0, "{rejected} rejections");
    assert_eq!(rejected, code429, "every APF rejection is a 429");
    let operator = increase(
        &b,
        &a,
        &["apiserver_request_total{", "resource=\"widgets\""],
    );
    assert!(
        code429 > 0.2 * operator,
        "{code429} of {operator} operator requests rejected"
    );
    let wait = mean(
        &b,
        &a,
        "apiserver_flowcontrol_request_wait_duration_seconds",
        &["priority_level=\"workload-low\""],
    );
    assert!(wait > 1.0, "workload-low wait {wait}");
    let other_wait = mean(
        &b,
        &a,
        "apiserver_flowcontrol_request_wait_duration_seconds",
        &["priority_level=\"node-high\""],
    );
    assert!(other_wait < 0.05, "node-high wait {other_wait}");
    let heartbeat = ["resource=\"leases\"", "verb=\"PUT\""];
    let leases = mean(&b, &a, "apiserver_request_duration_seconds", &heartbeat);
    let healthy_leases = mean(&hb, &ha, "apiserver_request_duration_seconds", &heartbeat);
    assert!(
        leases > 3.0 * healthy_leases,
        "heartbeat {leases} vs {healthy_leases}"
    );
    // The in-queue gauge is a per-second sample: requests stay queued in most seconds.
    let mut s = sim("apf-saturation", "1.34");
    s.advance(std::time::Duration::from_secs(WARMUP)).unwrap();
    let mut queued_seconds = Vec::new();
    for _ in 0..20 {
        s.advance(std::time::Duration::from_secs(1)).unwrap();
        queued_seconds.push(total(
            &all_replicas(&s),
            &[
                "apiserver_flowcontrol_current_inqueue_requests{",
                "priority_level=\"workload-low\"",
            ],
        ));
    }
    assert!(
        queued_seconds.iter().filter(|&&q| q > 10.0).count() >= 10,
        "requests in queue, second by second: {queued_seconds:?}"
    );
    // Borrowing: the saturated level runs above its nominal seats.
    let limit = total(
        &a,
        &[
            "apiserver_flowcontrol_current_limit_seats{",
            "priority_level=\"workload-low\"",
            "#replica=0",
        ],
    );
    assert!(limit > 245.0, "workload-low current limit {limit}");
}

#[test]
fn webhook_slow_adds_seconds_to_writes_only() {
    let (hb, ha) = run("healthy");
    let (b, a) = run("webhook-slow");
    let hook = mean(
        &b,
        &a,
        "apiserver_admission_webhook_admission_duration_seconds",
        &[],
    );
    assert!(hook > 1.5, "webhook mean {hook}");
    let creates = ["verb=\"PATCH\"", "resource=\"deployments\""];
    let w = mean(&b, &a, "apiserver_request_duration_seconds", &creates);
    let hw = mean(&hb, &ha, "apiserver_request_duration_seconds", &creates);
    assert!(w > 1.5 && w > 20.0 * hw, "deployment PATCH {w} vs {hw}");
    let reads = ["verb=\"GET\"", "resource=\"nodes\""];
    let r = mean(&b, &a, "apiserver_request_duration_seconds", &reads);
    let hr = mean(&hb, &ha, "apiserver_request_duration_seconds", &reads);
    assert!(r < 1.5 * hr, "node GET {r} vs {hr}");
    // The SLI histogram excludes webhook time.
    let sli = mean(&b, &a, "apiserver_request_sli_duration_seconds", &creates);
    assert!(sli < 0.2, "deployment PATCH SLI {sli}");
}

#[test]
fn upgrade_skew_loads_the_old_replicas() {
    let mut s = crate::common::sim("upgrade-skew", "1.34");
    assert_eq!(s.replica_version(0).unwrap().minor, 34);
    assert_eq!(s.replica_version(1).unwrap().minor, 33);
    let (b, a) = window(&mut s, WARMUP, WINDOW);
    let r0 = increase(&b, &a, &["apiserver_request_total{", "#replica=0"]);
    let r1 = increase(&b, &a, &["apiserver_request_total{", "#replica=1"]);
    assert!(r0 < 0.25 * r1, "replica 0 {r0} vs replica 1 {r1}");
    // The old replica speaks the old dialect: etcd latency by `type`, not group/resource.
    assert!(
        total(
            &a,
            &[
                "etcd_request_duration_seconds_count{",
                "type=\"pods\"",
                "#replica=1"
            ]
        ) > 0.0
    );
    assert!(
        total(
            &a,
            &[
                "etcd_request_duration_seconds_count{",
                "resource=\"pods\"",
                "#replica=0"
            ]
        ) > 0.0
    );
    assert!(
        total(
            &a,
            &["kubernetes_build_info{", "minor=\"33\"", "#replica=1"]
        ) == 1.0
    );
}

#[test]
fn healthy_fails_and_terminates_nothing() {
    let (b, a) = run("healthy");
    assert_eq!(
        increase(&b, &a, &["apiserver_request_total{", "code=\"5"]),
        0.0
    );
    assert_eq!(total(&a, &["apiserver_request_terminations_total{"]), 0.0);
}

#[test]
fn etcd_slow_stalls_fail_the_requests_that_reach_etcd() {
    // The first stall starts at minute 4 and lasts 12 s: requests that reach etcd in its first
    // 5 s wait out etcd's 7 s request timeout and fail; cached reads go on.
    let mut s = sim("etcd-slow", "1.34");
    let (b, a) = window(&mut s, 200, 120);
    let failed = increase(&b, &a, &["apiserver_request_total{", "code=\"500\""]);
    let heartbeats = increase(
        &b,
        &a,
        &[
            "apiserver_request_total{",
            "code=\"500\"",
            "resource=\"leases\"",
            "verb=\"PUT\"",
        ],
    );
    assert!(failed > 300.0, "{failed} answers 500");
    assert!(
        heartbeats > 0.5 * failed,
        "{heartbeats} of {failed} are node heartbeats"
    );
    let cached_failed = increase(
        &b,
        &a,
        &[
            "apiserver_request_total{",
            "code=\"500\"",
            "verb=\"LIST\"",
            "scope=\"namespace\"",
        ],
    );
    assert_eq!(cached_failed, 0.0, "LISTs served from the watch cache fail");
    // The failed requests waited out etcd's timeout.
    let lease_seconds = increase(
        &b,
        &a,
        &[
            "apiserver_request_duration_seconds_sum{",
            "resource=\"leases\"",
            "verb=\"PUT\"",
        ],
    );
    assert!(
        lease_seconds >= 7.0 * heartbeats,
        "{heartbeats} failed lease PUTs took {lease_seconds} s"
    );
    let etcd = s.render_etcd_metrics();
    let etcd = crate::common::samples(&etcd);
    assert!(
        total(
            &etcd,
            &["grpc_server_handled_total{", "grpc_code=\"Unavailable\""]
        ) > 0.0
    );
    assert!(total(&etcd, &["etcd_server_proposals_failed_total"]) > 0.0);
    assert!(total(&etcd, &["etcd_server_leader_changes_seen_total"]) >= 2.0);
    // etcd failures are not terminations: the handler answers.
    assert_eq!(
        increase(
            &b,
            &a,
            &["apiserver_request_terminations_total{", "code=\"500\""]
        ),
        0.0
    );
}

#[test]
fn apf_rejections_are_counted_as_terminations() {
    let (b, a) = run("apf-saturation");
    let code429 = increase(&b, &a, &["apiserver_request_total{", "code=\"429\""]);
    let terminated = increase(&b, &a, &["apiserver_request_terminations_total{"]);
    let terminated429 = increase(
        &b,
        &a,
        &["apiserver_request_terminations_total{", "code=\"429\""],
    );
    assert!(code429 > 1_000.0, "{code429} answers 429");
    assert_eq!(terminated429, code429, "every 429 is a termination");
    let timeouts = increase(&b, &a, &["apiserver_request_total{", "code=\"504\""]);
    assert_eq!(terminated, terminated429 + timeouts);
    assert!(
        increase(
            &b,
            &a,
            &[
                "apiserver_request_terminations_total{",
                "resource=\"widgets\"",
                "verb=\"LIST\"",
            ]
        ) > 0.0
    );
}

#[test]
fn webhook_slow_fails_writes_when_the_webhook_hangs() {
    let mut s = sim("webhook-slow", "1.34");
    let (b, a) = window(&mut s, WARMUP, 600);
    let hooked = |parts: &[&str]| {
        ["pods", "deployments", "configmaps"]
            .iter()
            .map(|r| {
                let resource = format!("resource=\"{r}\"");
                let mut all = vec!["apiserver_request_total{", &resource];
                all.extend_from_slice(parts);
                ["POST", "PUT", "PATCH", "DELETE"]
                    .iter()
                    .map(|v| {
                        let verb = format!("verb=\"{v}\"");
                        let mut with_verb = all.clone();
                        with_verb.push(&verb);
                        let any = increase(&b, &a, &with_verb);
                        // The webhook does not see subresources (empty labels are not written).
                        with_verb.push("subresource=");
                        any - increase(&b, &a, &with_verb)
                    })
                    .sum::<f64>()
            })
            .sum::<f64>()
    };
    let writes = hooked(&[]);
    let failed = hooked(&["code=\"500\""]);
    let all_failed = increase(&b, &a, &["apiserver_request_total{", "code=\"500\""]);
    assert_eq!(failed, all_failed, "only webhooked writes fail");
    let share = failed / writes;
    assert!(
        (0.01..0.04).contains(&share),
        "{failed} of {writes} writes failed"
    );
    let rejected = increase(
        &b,
        &a,
        &[
            "apiserver_admission_webhook_admission_duration_seconds_count",
            "rejected=\"true\"",
        ],
    );
    assert_eq!(
        rejected, failed,
        "each failed write is a rejected webhook call"
    );
    // The calls hang until the 10 s timeout.
    let hung_mean = mean(
        &b,
        &a,
        "apiserver_admission_webhook_admission_duration_seconds",
        &["rejected=\"true\""],
    );
    assert!(
        (10.0..10.1).contains(&hung_mean),
        "hung call mean {hung_mean}"
    );
}
