//! What the API server calls out to or serves for others: admission webhooks, aggregated APIs,
//! deprecated API versions.

use super::{always, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("admission-webhook-latency", Row::Extensions, "Admission webhook latency (p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("Is an admission webhook slowing writes down?")
            .description(
                "Only exists once a webhook has been called. The default webhook timeout is 10 s; a failing webhook with \
                 failurePolicy=Fail blocks the writes it matches. The histogram's buckets jump from 10 s to 25 s (1.27+), so \
                 calls that time out at 10 s read as a p99 between 10 and 25 s by interpolation: the report shows them as \
                 \"above 10 s\".",
            )
            .warn(0.5)
            .crit(2.0)
            .limit(10.0, "default webhook timeout (10 s)")
            .ceiling(10.0, 25.0, "the default webhook timeout")
            .query("p99", "{{name}} {{type}}", vec![always(
                r#"histogram_quantile(0.99, sum by (le, name, type) (rate(apiserver_admission_webhook_admission_duration_seconds_bucket{${sel}}[${w}]))) > 0"#,
            )])
            .drill(&["operation", "instance"], &["heatmap-writes", "admission-webhook-failures"], "")
            .build(),
        panel("admission-webhook-failures", Row::Extensions, "Admission webhook calls that failed or failed open", Unit::PerSecond, Visualisation::Timeseries)
            .question("Is a webhook failing: rejecting writes because it cannot be called, or being skipped?")
            .description(
                "webhook_rejection_count with an error type (calling_webhook_error: timeout, connection refused, TLS; \
                 apiserver_internal_error) rejects the write when failurePolicy is Fail; webhook_fail_open_count (1.24+) counts \
                 calls skipped under failurePolicy Ignore, so the policy was not applied. Policy denials (error_type \
                 no_error) are the webhook doing its job and are left out. Series exist only after the first one.",
            )
            .warn(0.01)
            .crit(1.0)
            .query("rejected", "{{name}} {{error_type}} rejected", vec![always(
                r#"sum by (name, error_type) (rate(apiserver_admission_webhook_rejection_count{${sel}, error_type!="no_error"}[${w}])) > 0"#,
            )])
            .query("fail-open", "{{name}} failed open", vec![from(24,
                r#"sum by (name) (rate(apiserver_admission_webhook_fail_open_count{${sel}}[${w}])) > 0"#,
            )])
            .drill(&["operation", "instance"], &["admission-webhook-latency", "error-ratio"], "Fix or scale the webhook's backend; give it a namespaceSelector or objectSelector so it sees only what it must.")
            .build(),
        panel("aggregated-apis-unavailable", Row::Extensions, "Aggregated APIServices unavailable", Unit::Count, Visualisation::Timeseries)
            .question("Is an aggregated API (metrics-server, a custom API server) down?")
            .description(
                "aggregator_unavailable_apiservice is 1 while an APIService's backend fails its availability check. An \
                 unavailable aggregated API breaks discovery for every client (kubectl warnings, controllers that cannot \
                 sync) and namespace deletion; v1beta1.metrics.k8s.io down stops autoscaling.",
            )
            .warn(1.0)
            .query("unavailable", "{{name}}", vec![always(
                r#"max by (name) (aggregator_unavailable_apiservice{${sel}}) > 0"#,
            )])
            .drill(&["instance"], &[], "kubectl get apiservices shows the reason; the backing Service and its endpoints usually tell why.")
            .build(),
        panel("deprecated-apis", Row::Extensions, "Deprecated API versions requested", Unit::Count, Visualisation::Table)
            .question("Which deprecated API versions do clients still use, and when are they removed?")
            .description(
                "apiserver_requested_deprecated_apis (1.19+) is 1 for every deprecated group/version/resource requested \
                 since the server started; removed_release says in which release it stops being served (empty: no removal \
                 planned). Not a cause of slowness: an upgrade to the removal release breaks these clients. The audit log \
                 names them (annotation k8s.io/deprecated).",
            )
            .query("requested", "{{group}} {{version}} {{resource}}", vec![from(19,
                r#"max by (group, version, resource, subresource, removed_release) (apiserver_requested_deprecated_apis{${sel}})"#,
            )])
            .table(&["group", "version", "resource", "subresource", "removed_release"], "requested", 20, None)
            .drill(&["instance"], &[], "Find the clients: apilens audit top --by client on the audit events with k8s.io/deprecated=true.")
            .build(),
    ]
}
