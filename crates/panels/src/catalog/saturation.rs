//! Saturation: in-flight requests per server against the max-inflight limits, APF seats against the pool.

use super::{alt, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("inflight-vs-limit", Row::Saturation, "In-flight requests per API server", Unit::Count, Visualisation::Timeseries)
            .question("Is any API server close to its in-flight limit for reads or writes?")
            .description(
                "apiserver_current_inflight_requests is the highest number of requests executing in the last second, \
                 per server and kind (readOnly, mutating). Defaults: --max-requests-inflight=400 and \
                 --max-mutating-requests-inflight=200 per server; with APF on (1.20+) the two together size the \
                 600-seat pool that APF shares out, and a managed control plane may raise them. The reference \
                 troubleshooter summed the two kinds away and drew no limit; the label was requestKind up to 1.18. \
                 Where APF exposes its seat pool (nominal_limit_seats summed, 1.26+; request_concurrency_limit 1.20-1.30) \
                 the report reads the requests in flight against that real pool instead of the 400/200 defaults.",
            )
            .limit(400.0, "readOnly limit per server (--max-requests-inflight default)")
            .limit(200.0, "mutating limit per server (--max-mutating-requests-inflight default)")
            .query("inflight", "{{instance}} {{request_kind}}", vec![
                from(19, r#"max by (instance, request_kind) (apiserver_current_inflight_requests{${sel}})"#)
                    .needs_label("apiserver_current_inflight_requests", "request_kind"),
                alt(16, 18, r#"label_replace(max by (instance, requestKind) (apiserver_current_inflight_requests{${sel}}), "request_kind", "$1", "requestKind", "(.*)")"#)
                    .needs_label("apiserver_current_inflight_requests", "requestKind"),
            ])
            .query("pool", "{{instance}} APF seat pool", vec![
                from(26, r#"sum by (instance) (apiserver_flowcontrol_nominal_limit_seats{${sel}})"#),
                alt(20, 25, r#"sum by (instance) (apiserver_flowcontrol_request_concurrency_limit{${sel}})"#),
            ])
            .drill(&["instance"], &["apf-seats-vs-pool", "apf-priority-level-utilisation"], "A server near 400/200 while the others idle points at unbalanced long-lived connections: see replica-imbalance.")
            .build(),
        panel("apf-seats-vs-pool", Row::Saturation, "APF seats in use against the seat pool", Unit::Seats, Visualisation::Timeseries)
            .question("How much of each server's APF seat pool is occupied?")
            .description(
                "Seats, not requests: since the work estimator (1.23) a LIST may occupy up to 10 seats (100 from 1.34). \
                 In use is current_executing_seats (1.28+), request_concurrency_in_use (1.22-1.27) or executing \
                 requests (1.20-1.21); the pool is the sum of nominal_limit_seats (1.26+) or request_concurrency_limit \
                 (hidden from 1.31).",
            )
            .limit(600.0, "default pool per server (400 + 200)")
            .query("in-use", "{{instance}} seats in use", vec![
                from(28, r#"sum by (instance) (apiserver_flowcontrol_current_executing_seats{${sel}})"#),
                alt(22, 27, r#"sum by (instance) (apiserver_flowcontrol_request_concurrency_in_use{${sel}})"#),
                alt(20, 21, r#"sum by (instance) (apiserver_flowcontrol_current_executing_requests{${sel}})"#),
            ])
            .query("pool", "{{instance}} seat pool", vec![
                from(26, r#"sum by (instance) (apiserver_flowcontrol_nominal_limit_seats{${sel}})"#),
                alt(20, 25, r#"sum by (instance) (apiserver_flowcontrol_request_concurrency_limit{${sel}})"#),
            ])
            .drill(&["instance", "priority_level"], &["apf-priority-level-utilisation", "apf-top-flows"], "The pool is shared by priority levels; find the level that is full.")
            .build(),
    ]
}
