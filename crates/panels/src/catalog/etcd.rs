//! etcd as the API server sees it: latency by operation and resource, and its share of API latency.

use super::{NOT_STREAMING, alt, always, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("etcd-latency-by-operation", Row::Etcd, "etcd request latency by operation and resource (p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("Which etcd operations, on which resources, are slow?")
            .description("etcd_request_duration_seconds is labelled operation and type up to 1.33 (type was a Go type such as *core.Pod up to 1.25, then pods or apiservices.apiregistration.k8s.io) and operation, group and resource from 1.34.")
            .warn(0.25)
            .crit(1.0)
            .query("p99", "{{operation}} {{resource}}", vec![
                from(34, r#"topk(10, histogram_quantile(0.99, sum by (le, operation, group, resource) (rate(etcd_request_duration_seconds_bucket{${sel}}[${w}]))) > 0)"#)
                    .needs_label("etcd_request_duration_seconds_bucket", "resource"),
                alt(16, 33, r#"topk(10, label_replace(histogram_quantile(0.99, sum by (le, operation, type) (rate(etcd_request_duration_seconds_bucket{${sel}}[${w}]))), "resource", "$1", "type", "(.*)") > 0)"#)
                    .needs_label("etcd_request_duration_seconds_bucket", "type"),
            ])
            .drill(&["instance"], &["etcd-share-of-latency", "heatmap-etcd"], "Slow everything: etcd disk (wal fsync) or network. Slow list on one resource: too many objects of it.")
            .build(),
        panel("etcd-share-of-latency", Row::Etcd, "Share of API latency spent in etcd", Unit::Percent, Visualisation::Timeseries)
            .question("How much of the time requests take is etcd's?")
            .description(
                "Seconds spent in etcd calls over seconds spent serving non-streaming requests, in total and per resource \
                 (1.26+, where etcd metrics name the resource). An approximation: one request makes zero (cache hit) to \
                 several etcd calls, and the watch cache's own LISTs count on the etcd side, so the share can pass 100 %. \
                 It explains rather than flags: most of a fast write's time is etcd's in a healthy cluster (80-90 %), so a \
                 high share only matters when requests are slow. Then near 100 %: etcd is the bottleneck; low: look at \
                 webhooks, APF waits, CPU.",
            )
            .query("all", "all requests", vec![always(&format!(
                r#"100 * sum(rate(etcd_request_duration_seconds_sum{{${{sel}}}}[${{w}}])) / sum(rate(apiserver_request_duration_seconds_sum{{${{sel}}, {NOT_STREAMING}}}[${{w}}]))"#
            ))])
            .query("by-resource", "{{resource}} {{group}}", vec![
                from(34, &format!(
                    r#"topk(10, 100 * sum by (group, resource) (rate(etcd_request_duration_seconds_sum{{${{sel}}}}[${{w}}])) / sum by (group, resource) (rate(apiserver_request_duration_seconds_sum{{${{sel}}, {NOT_STREAMING}}}[${{w}}])))"#
                ))
                .needs_label("etcd_request_duration_seconds_sum", "resource"),
                // Up to 1.25 `type` holds a Go type (*core.Pod) that names no resource: the filter
                // leaves those out, so this alternative is empty there rather than wrong.
                alt(16, 33, &format!(
                    r#"topk(10, 100 * sum by (group, resource) (label_replace(label_replace(rate(etcd_request_duration_seconds_sum{{${{sel}}, type!~"\\*.*"}}[${{w}}]), "resource", "$1", "type", "([^.]+).*"), "group", "$1", "type", "[^.]+\\.(.*)")) / sum by (group, resource) (rate(apiserver_request_duration_seconds_sum{{${{sel}}, {NOT_STREAMING}}}[${{w}}])))"#
                ))
                .needs_label("etcd_request_duration_seconds_sum", "type"),
            ])
            .drill(&["operation"], &["etcd-latency-by-operation", "slowest-calls"], "")
            .build(),
        panel("heatmap-etcd", Row::Etcd, "etcd request duration heatmap (the uncached leg)", Unit::Seconds, Visualisation::Heatmap)
            .question("How are etcd round trips distributed?")
            .description("Bucket layouts changed in 1.20, 1.21 and 1.25; the heatmap follows whatever buckets the server exposes.")
            .query("etcd", "{{le}}", vec![always(
                r#"sum by (le) (increase(etcd_request_duration_seconds_bucket{${sel}}[${w}]))"#,
            )])
            .drill(&["operation"], &["heatmap-reads", "heatmap-writes"], "")
            .build(),
        panel("etcd-request-rate", Row::Etcd, "etcd requests by operation", Unit::PerSecond, Visualisation::Timeseries)
            .question("How many etcd calls does the API server make, and of which kind?")
            .query("rate", "{{operation}}", vec![always(
                r#"sum by (operation) (rate(etcd_request_duration_seconds_count{${sel}}[${w}]))"#,
            )])
            .drill(&["instance"], &["lists-cache-vs-etcd"], "")
            .build(),
    ]
}
