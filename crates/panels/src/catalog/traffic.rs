//! Traffic: request rate by verb and code, errors, 429s, terminations.

use super::{always, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("request-rate", Row::Traffic, "Request rate by verb and code", Unit::PerSecond, Visualisation::Timeseries)
            .question("What is the API server being asked to do?")
            .query("rate", "{{verb}} {{code}}", vec![always(
                r#"sum by (verb, code) (rate(apiserver_request_total{${sel}}[${w}]))"#,
            )])
            .drill(&["resource", "instance"], &["error-ratio", "throttled-429"], "")
            .build(),
        panel("error-ratio", Row::Traffic, "Server errors (5xx) by verb and resource", Unit::Percent, Visualisation::Timeseries)
            .question("Which calls fail with a server error?")
            .description("5xx answers over all answers to the same verb and resource. The reference troubleshooter's \"client error rate\" read rest_client_requests_total, which is the API server's own outgoing traffic.")
            .warn(1.0)
            .crit(5.0)
            .query("errors", "{{verb}} {{resource}}", vec![always(
                r#"100 * sum by (verb, resource) (rate(apiserver_request_total{${sel}, code=~"5.."}[${w}])) / sum by (verb, resource) (rate(apiserver_request_total{${sel}}[${w}]))"#,
            )])
            .drill(&["code", "instance"], &["terminations"], "")
            .build(),
        panel("throttled-429", Row::Traffic, "Requests answered 429 (too many requests)", Unit::PerSecond, Visualisation::Timeseries)
            .question("Are clients being throttled, on which server and for which calls?")
            .warn(0.01)
            .crit(1.0)
            .query("throttled", "{{instance}} {{verb}} {{resource}}", vec![always(
                r#"sum by (instance, verb, resource) (rate(apiserver_request_total{${sel}, code="429"}[${w}]))"#,
            )])
            .drill(&["scope"], &["apf-rejections"], "429s come from APF (see its rejections) or, without APF, from the max-inflight limits.")
            .build(),
        panel("terminations", Row::Traffic, "Requests terminated or aborted by the server", Unit::PerSecond, Visualisation::Timeseries)
            .question("Is the server cutting requests short in self-defence or on timeout?")
            .description("apiserver_request_terminations_total (dropped in self-defence, usually 429/504) and apiserver_request_aborts_total (1.20+, handler timeouts). Series appear only after the first one.")
            .warn(0.01)
            .crit(1.0)
            .query("terminated", "terminated {{instance}} {{verb}} {{resource}} {{code}}", vec![always(
                r#"sum by (instance, verb, resource, code) (rate(apiserver_request_terminations_total{${sel}}[${w}]))"#,
            )])
            .query("aborted", "aborted {{instance}} {{verb}} {{resource}}", vec![from(20,
                r#"sum by (instance, verb, resource) (rate(apiserver_request_aborts_total{${sel}}[${w}]))"#,
            )])
            .drill(&["scope"], &["slowest-calls"], "")
            .build(),
    ]
}
