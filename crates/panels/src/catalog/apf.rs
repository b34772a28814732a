//! API Priority and Fairness: priority-level utilisation, queue wait, flows, execution, rejections, queues.

use super::{alt, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    let wait = |q: &str| {
        format!(
            r#"histogram_quantile({q}, sum by (le, priority_level) (rate(apiserver_flowcontrol_request_wait_duration_seconds_bucket{{${{sel}}, execute="true"}}[${{w}}]))) > 0"#
        )
    };
    let exec = |q: &str| {
        format!(
            r#"histogram_quantile({q}, sum by (le, priority_level) (rate(apiserver_flowcontrol_request_execution_seconds_bucket{{${{sel}}}}[${{w}}]))) > 0"#
        )
    };
    vec![
        panel("apf-priority-level-utilisation", Row::PriorityAndFairness, "Share of each priority level's seats in use", Unit::Percent, Visualisation::Timeseries)
            .question("Which priority level is running out of seats?")
            .description(
                "Seats in use over the level's current seat limit, per server. The reference dashboards divide executing \
                 requests by request_concurrency_limit: requests are not seats (a LIST can take 10, or 100 from 1.34), the \
                 limit moves with borrowing since 1.26 (current_limit_seats), and request_concurrency_limit is hidden \
                 from 1.31, which left their whole APF row empty. Exempt has no limit and is left out.",
            )
            .warn(80.0)
            .crit(100.0)
            .limit(100.0, "level full: further requests queue")
            .query("utilisation", "{{priority_level}} {{instance}}", vec![
                from(28, r#"100 * sum by (instance, priority_level) (apiserver_flowcontrol_current_executing_seats{${sel}}) / max by (instance, priority_level) (apiserver_flowcontrol_current_limit_seats{${sel}} > 0)"#),
                alt(26, 27, r#"100 * sum by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_in_use{${sel}}) / max by (instance, priority_level) (apiserver_flowcontrol_current_limit_seats{${sel}} > 0)"#),
                alt(22, 25, r#"100 * sum by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_in_use{${sel}}) / max by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_limit{${sel}} > 0)"#),
                alt(20, 21, r#"100 * sum by (instance, priority_level) (apiserver_flowcontrol_current_executing_requests{${sel}}) / max by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_limit{${sel}} > 0)"#),
            ])
            .drill(&["flow_schema"], &["apf-top-flows", "apf-queue-wait", "apf-rejections"], "A full level queues, then rejects with 429: find the flow schema that fills it and give that client its own level or fix its LISTs.")
            .build(),
        panel("apf-seats", Row::PriorityAndFairness, "Seats in use, seat limit and borrowing per priority level", Unit::Seats, Visualisation::Timeseries)
            .question("How many seats does each priority level use against its limit, and how many has it borrowed or lent?")
            .description(
                "Per server and priority level: seats executing (current_executing_seats, 1.28+; request_concurrency_in_use \
                 before), the current seat limit (current_limit_seats, 1.26+; request_concurrency_limit before), what the \
                 level borrowed from the others (current_limit_seats minus nominal_limit_seats: negative when it lent \
                 seats), and the bounds borrowing moves the limit within (lower_limit_seats, upper_limit_seats).",
            )
            .query("in-use", "{{priority_level}} {{instance}}", vec![
                from(28, r#"sum by (instance, priority_level) (apiserver_flowcontrol_current_executing_seats{${sel}})"#),
                alt(22, 27, r#"sum by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_in_use{${sel}})"#),
                alt(20, 21, r#"sum by (instance, priority_level) (apiserver_flowcontrol_current_executing_requests{${sel}})"#),
            ])
            .query("limit", "{{priority_level}} {{instance}}", vec![
                from(26, r#"max by (instance, priority_level) (apiserver_flowcontrol_current_limit_seats{${sel}})"#),
                alt(20, 25, r#"max by (instance, priority_level) (apiserver_flowcontrol_request_concurrency_limit{${sel}})"#),
            ])
            .query("borrowed", "{{priority_level}} {{instance}}", vec![
                from(26, r#"max by (instance, priority_level) (apiserver_flowcontrol_current_limit_seats{${sel}}) - max by (instance, priority_level) (apiserver_flowcontrol_nominal_limit_seats{${sel}})"#),
            ])
            .query("lower", "{{priority_level}} {{instance}}", vec![
                from(26, r#"max by (instance, priority_level) (apiserver_flowcontrol_lower_limit_seats{${sel}})"#),
            ])
            .query("upper", "{{priority_level}} {{instance}}", vec![
                from(26, r#"max by (instance, priority_level) (apiserver_flowcontrol_upper_limit_seats{${sel}})"#),
            ])
            .drill(&["flow_schema"], &["apf-priority-level-utilisation", "apf-top-flows"], "A level at its limit that cannot borrow more (the limit at its upper bound, or the others busy) queues, then rejects.")
            .build(),
        panel("apf-queue-wait", Row::PriorityAndFairness, "Time waited in APF queues (p90, p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("How long do requests wait in a priority level's queues before they run?")
            .description("Quantiles of request_wait_duration_seconds for requests that went on to execute (execute=\"true\"), summed over servers before the quantile; the reference dashboards took the max of bucket counters across servers, which is not a quantile, and split each flow by the execute label.")
            .warn(0.5)
            .crit(5.0)
            .query("p90", "p90 {{priority_level}}", vec![from(20, &wait("0.9")).needs_label("apiserver_flowcontrol_request_wait_duration_seconds_bucket", "execute")])
            .query("p99", "p99 {{priority_level}}", vec![from(20, &wait("0.99")).needs_label("apiserver_flowcontrol_request_wait_duration_seconds_bucket", "execute")])
            .drill(&["flow_schema", "instance"], &["apf-queue-length", "apf-priority-level-utilisation"], "Waiting is the first sign of a full level; rejections follow when queues fill or waits time out.")
            .build(),
        panel("apf-top-flows", Row::PriorityAndFairness, "Top flows by executing seats and requests", Unit::Seats, Visualisation::Table)
            .question("Which flow schemas occupy the most seats?")
            .description(
                "Peak over the time range of seats (1.28+) and requests executing per flow schema and priority level on the \
                 busiest server: the largest per-server peak, comparable with one server's seat pool. Summing per-server \
                 peaks taken at different times over the servers gives a number no server ever carried (734 seats on a \
                 602-seat pool).",
            )
            .query("seats", "{{flow_schema}} {{priority_level}}", vec![
                from(28, r#"topk(10, max by (flow_schema, priority_level) (max_over_time(apiserver_flowcontrol_current_executing_seats{${sel}}[${range}])))"#),
            ])
            .query_unit("requests", "{{flow_schema}} {{priority_level}}", Unit::Count, vec![
                from(20, r#"topk(10, max by (flow_schema, priority_level) (max_over_time(apiserver_flowcontrol_current_executing_requests{${sel}}[${range}])))"#),
            ])
            .table(&["flow_schema", "priority_level"], "seats", 10, None)
            .drill(&["instance"], &["apf-priority-level-utilisation"], "A flow schema names a class of clients, not one client: the audit log's user and userAgent name it.")
            .build(),
        panel("apf-queue-wait-by-flow", Row::PriorityAndFairness, "Time waited in APF queues by flow schema (p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("Which flow schemas wait in the queues?")
            .description("The p99 of request_wait_duration_seconds per flow schema and priority level for requests that went on to execute, summed over servers before the quantile. Requests wait at most a quarter of the request timeout (15 s by default) before they are rejected with reason time-out.")
            .warn(0.5)
            .crit(5.0)
            .limit(15.0, "most a request waits: --request-timeout / 4")
            .query("p99", "{{flow_schema}} ({{priority_level}})", vec![from(20,
                r#"topk(10, histogram_quantile(0.99, sum by (le, flow_schema, priority_level) (rate(apiserver_flowcontrol_request_wait_duration_seconds_bucket{${sel}, execute="true"}[${w}]))) > 0)"#,
            ).needs_label("apiserver_flowcontrol_request_wait_duration_seconds_bucket", "execute")])
            .drill(&["instance"], &["apf-top-flows", "apf-enqueue-rate"], "The flow schema names the class of client; the audit log names the client (apilens audit top --by flow).")
            .build(),
        panel("apf-enqueue-rate", Row::PriorityAndFairness, "Requests queued per second, by priority level and flow schema", Unit::PerSecond, Visualisation::Timeseries)
            .question("How many requests have to queue, and in which flows?")
            .description("The rate of request_queue_length_after_enqueue's count: one observation per request that was put in a queue (the reference dashboards plotted it as a queue length). A flow that queues while others do not is the one filling its level.")
            .query("level", "{{priority_level}}", vec![from(20,
                r#"sum by (priority_level) (rate(apiserver_flowcontrol_request_queue_length_after_enqueue_count{${sel}}[${w}])) > 0"#,
            )])
            .query("flow", "{{flow_schema}} ({{priority_level}})", vec![from(20,
                r#"topk(10, sum by (flow_schema, priority_level) (rate(apiserver_flowcontrol_request_queue_length_after_enqueue_count{${sel}}[${w}])) > 0)"#,
            )])
            .drill(&["instance"], &["apf-queue-wait-by-flow"], "")
            .build(),
        panel("apf-execution-time", Row::PriorityAndFairness, "APF execution time (p90, p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("How long do requests hold their seats once they run?")
            .description("request_execution_seconds per priority level; long execution with few requests usually means expensive LISTs or slow webhooks holding seats.")
            .warn(1.0)
            .crit(10.0)
            .query("p90", "p90 {{priority_level}}", vec![from(20, &exec("0.9"))])
            .query("p99", "p99 {{priority_level}}", vec![from(20, &exec("0.99"))])
            .drill(&["flow_schema"], &["slowest-calls", "apf-seat-cost"], "Match the level's slow executions with the slowest calls.")
            .build(),
        panel("apf-rejections", Row::PriorityAndFairness, "APF rejections by reason", Unit::PerSecond, Visualisation::Timeseries)
            .question("Is APF rejecting requests with 429, and why?")
            .description("rejected_requests_total by priority level, flow schema and reason (queue-full, concurrency-limit, time-out, cancelled). The series only exist after the first rejection; none means none.")
            .warn(0.01)
            .crit(1.0)
            .query("rejections", "{{priority_level}} {{flow_schema}} {{reason}}", vec![
                from(20, r#"sum by (priority_level, flow_schema, reason) (rate(apiserver_flowcontrol_rejected_requests_total{${sel}}[${w}]))"#),
            ])
            .drill(&["instance"], &["apf-priority-level-utilisation", "throttled-429"], "queue-full and time-out mean the level is too small for its load or one flow floods it.")
            .build(),
        panel("apf-queue-length", Row::PriorityAndFairness, "Requests waiting in APF queues", Unit::Count, Visualisation::Timeseries)
            .question("How many requests are queued, per priority level?")
            .description("current_inqueue_requests now, and the p99 queue length a request found when it was enqueued. The reference dashboards plotted the rate of the enqueue histogram's _count, which is the enqueue rate, not a length.")
            .query("in-queue", "{{priority_level}} queued", vec![
                from(20, r#"sum by (priority_level) (apiserver_flowcontrol_current_inqueue_requests{${sel}})"#),
            ])
            .query("after-enqueue-p99", "{{priority_level}} p99 length at enqueue", vec![
                from(20, r#"histogram_quantile(0.99, sum by (le, priority_level) (rate(apiserver_flowcontrol_request_queue_length_after_enqueue_bucket{${sel}}[${w}]))) > 0"#),
            ])
            .drill(&["flow_schema", "instance"], &["apf-queue-wait"], "Queues longer than the level's queue length limit (50 by default) reject.")
            .build(),
        panel("apf-dispatch-rate", Row::PriorityAndFairness, "Requests dispatched per priority level", Unit::PerSecond, Visualisation::Timeseries)
            .question("How much traffic does each priority level carry?")
            .query("dispatched", "{{priority_level}}", vec![
                from(20, r#"sum by (priority_level) (rate(apiserver_flowcontrol_dispatched_requests_total{${sel}}[${w}]))"#),
            ])
            .drill(&["flow_schema", "instance"], &["apf-top-flows"], "")
            .build(),
        panel("apf-seat-cost", Row::PriorityAndFairness, "Seats a request is estimated to cost (p99)", Unit::Seats, Visualisation::Timeseries)
            .question("Are expensive requests (large LISTs) taking many seats each?")
            .description("work_estimated_seats (1.24+): a LIST costs more seats the more objects it may return, up to 10 (100 from 1.34 with SizeBasedListCostEstimate). A p99 at the top bucket means unpaginated LISTs of large collections.")
            .warn(8.0)
            .query("p99", "{{priority_level}}", vec![
                from(24, r#"histogram_quantile(0.99, sum by (le, priority_level) (rate(apiserver_flowcontrol_work_estimated_seats_bucket{${sel}}[${w}]))) > 0"#),
            ])
            .drill(&["flow_schema"], &["list-objects-returned", "list-response-sizes"], "Paginate (limit=500) or use a watch-backed informer instead of repeated full LISTs.")
            .build(),
    ]
}
