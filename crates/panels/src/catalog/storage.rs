//! Storage and cost: object counts, etcd database size, LIST sizes, replica balance.

use super::{NOT_STREAMING, alt, always, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

fn share(expr: &str) -> String {
    format!("{expr} / scalar(avg({expr}))")
}

pub(super) fn panels() -> Vec<Panel> {
    let requests = format!(
        r#"sum by (instance) (rate(apiserver_request_total{{${{sel}}, {NOT_STREAMING}}}[${{w}}]))"#
    );
    let watches_new = r#"sum by (instance) (apiserver_longrunning_requests{${sel}, verb="WATCH"})"#;
    let watches_old = r#"sum by (instance) (apiserver_longrunning_gauge{${sel}, verb="WATCH"})"#;
    vec![
        panel("object-counts", Row::Storage, "Objects stored, by resource", Unit::Count, Visualisation::Bargauge)
            .question("Which resources have the most objects (and so the most expensive LISTs)?")
            .description(
                "apiserver_resource_objects (1.34+), apiserver_storage_objects (1.21-1.33, deprecated 1.34) or etcd_object_counts \
                 (up to 1.20, removed 1.25). A count explains other findings (the cost of a LIST, the database size) rather \
                 than being one: 30,000 pods are normal at 1,000 nodes. The colours mark the sig-scalability envelope \
                 (150,000 pods in a cluster).",
            )
            .warn(150000.0)
            .query("objects", "{{resource}} {{group}}", vec![
                from(34, r#"topk(15, max by (group, resource) (apiserver_resource_objects{${sel}}))"#),
                alt(21, 33, r#"topk(15, max by (resource) (apiserver_storage_objects{${sel}}))"#),
                alt(16, 20, r#"topk(15, max by (resource) (etcd_object_counts{${sel}}))"#),
            ])
            .drill(&["instance"], &["list-objects-returned", "etcd-db-size"], "Many objects of a kind nobody deletes (events, old ReplicaSets, completed Jobs) grow LIST cost and the database.")
            .build(),
        panel("etcd-db-size", Row::Storage, "etcd database size", Unit::Bytes, Visualisation::Timeseries)
            .question("How close is the etcd database to its quota?")
            .description("apiserver_storage_size_bytes (1.28+), apiserver_storage_db_total_size_in_bytes (1.26-1.28, hidden 1.29) or etcd_db_total_size_in_bytes (1.19-1.25), as the API server measures it. At the quota etcd raises NOSPACE and only reads and deletes work.")
            .warn(6.0 * 1024.0 * 1024.0 * 1024.0)
            .crit(7.5 * 1024.0 * 1024.0 * 1024.0)
            .limit(2.0 * 1024.0 * 1024.0 * 1024.0, "etcd default quota (--quota-backend-bytes, 2 GiB)")
            .limit(8.0 * 1024.0 * 1024.0 * 1024.0, "EKS quota and etcd's suggested maximum (8 GiB)")
            .query("size", "{{instance}}", vec![
                from(28, r#"max by (instance) (apiserver_storage_size_bytes{${sel}})"#),
                alt(26, 27, r#"max by (instance) (apiserver_storage_db_total_size_in_bytes{${sel}})"#),
                alt(19, 25, r#"max by (instance) (etcd_db_total_size_in_bytes{${sel}})"#),
            ])
            .drill(&[], &["object-counts"], "")
            .build(),
        panel("list-response-sizes", Row::Storage, "LIST response size (p99) by resource", Unit::Bytes, Visualisation::Timeseries)
            .question("Which LISTs return the largest responses?")
            .description("p99 of apiserver_response_sizes for LIST per resource and scope. Each response is held in memory while it is encoded; tens of MiB per call repeated by many clients is the classic API server OOM.")
            .warn(10.0 * 1024.0 * 1024.0)
            .crit(100.0 * 1024.0 * 1024.0)
            .query("p99", "{{resource}} {{scope}}", vec![always(
                r#"topk(10, histogram_quantile(0.99, sum by (le, resource, scope) (rate(apiserver_response_sizes_bucket{${sel}, verb="LIST"}[${w}]))) > 0)"#,
            )])
            .drill(&["instance"], &["list-objects-returned", "apf-seat-cost"], "Responses of tens of MB are unpaginated LISTs; each one also costs memory on the server.")
            .build(),
        panel("list-objects-returned", Row::Storage, "Objects returned per LIST from etcd", Unit::Count, Visualisation::Timeseries)
            .question("Are clients LISTing whole collections (unbounded LISTs)?")
            .description("apiserver_storage_list_returned_objects_total over apiserver_storage_list_total per resource (1.23+): the mean objects per LIST served from etcd.")
            .warn(500.0)
            .crit(5000.0)
            .query("objects", "{{resource}}", vec![from(23,
                r#"topk(10, sum by (resource) (rate(apiserver_storage_list_returned_objects_total{${sel}}[${w}])) / sum by (resource) (rate(apiserver_storage_list_total{${sel}}[${w}])) > 0)"#,
            )])
            .drill(&["instance"], &["lists-cache-vs-etcd", "object-counts"], "")
            .build(),
        panel("replica-imbalance", Row::Storage, "Per-replica load against the mean", Unit::Ratio, Visualisation::Timeseries)
            .question("Is one API server doing much more than the others?")
            .description("Each server's request rate, open WATCHes and in-flight requests over the mean of all servers (1 = balanced). Long-lived connections (HTTP/2, watches) stick to the server they opened on, so a replica that restarted last stays light and the others heavy.")
            .warn(1.5)
            .crit(2.0)
            .limit(1.0, "balanced")
            .query("requests", "{{instance}} requests", vec![always(&share(&requests))])
            .query("watches", "{{instance}} watches", vec![
                from(23, &share(watches_new)),
                alt(16, 22, &share(watches_old)),
            ])
            .query("inflight", "{{instance}} in flight", vec![always(&share(
                r#"sum by (instance) (apiserver_current_inflight_requests{${sel}})"#,
            ))])
            .drill(&[], &["watches-per-server", "inflight-vs-limit"], "")
            .build(),
    ]
}
