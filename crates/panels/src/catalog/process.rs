//! The API server process: memory, CPU, goroutines, restarts, its own controllers' work queues
//! and its own client's requests.

use super::{APISERVERS_ONLY, always, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    let only = |expr: &str| format!("{expr} {APISERVERS_ONLY}");
    vec![
        panel("apiserver-memory", Row::Process, "API server resident memory", Unit::Bytes, Visualisation::Timeseries)
            .question("Is an API server's memory climbing towards an OOM kill?")
            .description(
                "process_resident_memory_bytes per API server. The watch cache holds every object, so memory follows the \
                 stored data; far more than that means objects in flight: unpaginated LISTs of large collections each hold \
                 their whole response (several copies while it is decoded and encoded). The report reads the peak against \
                 the server's lowest in the range and against the etcd database size.",
            )
            .query("rss", "{{instance}}", vec![always(&only(
                r#"max by (job, instance) (process_resident_memory_bytes{${sel}})"#,
            ))])
            .drill(&[], &["list-response-sizes", "apiserver-goroutines"], "Paginate the big LISTs (limit=500) or serve them from the watch cache (resourceVersion=0); set a memory limit with headroom above the peak.")
            .build(),
        panel("apiserver-cpu", Row::Process, "API server CPU (cores)", Unit::Count, Visualisation::Timeseries)
            .question("How much CPU does each API server burn?")
            .description("rate(process_cpu_seconds_total) per API server, in cores. Encoding large LISTs and fanning out watch events are the usual heavy users.")
            .query("cores", "{{instance}}", vec![always(&only(
                r#"sum by (job, instance) (rate(process_cpu_seconds_total{${sel}}[${w}]))"#,
            ))])
            .drill(&[], &["watch-events-per-server", "list-response-sizes"], "")
            .build(),
        panel("apiserver-goroutines", Row::Process, "Goroutines per API server", Unit::Count, Visualisation::Timeseries)
            .question("How many goroutines does each API server run?")
            .description("go_goroutines: about two per open WATCH plus one per request in flight; a climb without more watches points at requests piling up.")
            .query("goroutines", "{{instance}}", vec![always(&only(
                r#"max by (job, instance) (go_goroutines{${sel}})"#,
            ))])
            .drill(&[], &["watches-per-server", "inflight-vs-limit"], "")
            .build(),
        panel("apiserver-restarts", Row::Process, "API server restarts and uptime", Unit::Count, Visualisation::Table)
            .question("Did an API server restart (crash, OOM kill, upgrade) in this range?")
            .description("Changes of process_start_time_seconds over the range, and the time since the last start. A replica that restarted holds fewer long-lived connections than the others until clients reconnect.")
            .warn(1.0)
            .crit(3.0)
            .query("restarts", "restarts", vec![always(&only(
                r#"max by (job, instance) (changes(process_start_time_seconds{${sel}}[${range}]))"#,
            ))])
            .query_unit("uptime", "up for", Unit::Seconds, vec![always(&only(
                r#"max by (job, instance) (time() - process_start_time_seconds{${sel}})"#,
            ))])
            .table(&["instance"], "restarts", 10, None)
            .drill(&[], &["apiserver-memory", "replica-imbalance"], "An OOM kill restarts the process: compare with the memory panel.")
            .build(),
        panel("apiserver-workqueue-depth", Row::Process, "Work queue depth of the API server's own controllers", Unit::Count, Visualisation::Timeseries)
            .question("Are the API server's own controllers falling behind?")
            .description("workqueue_depth per queue (APIService registration, CRD naming and OpenAPI, autoregister, APF configuration, ...). These queues are usually empty; items piling up mean their work (often writes to etcd) is slow.")
            .warn(100.0)
            .crit(1000.0)
            .query("depth", "{{name}}", vec![always(&format!(
                "topk(10, max by (name) ({}))",
                only(r#"max by (job, instance, name) (workqueue_depth{${sel}})"#)
            ))])
            .drill(&["instance"], &["apiserver-workqueue-latency"], "")
            .build(),
        panel("apiserver-workqueue-latency", Row::Process, "Work queue latency of the API server's own controllers (p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("How long do the API server's own controllers take per item?")
            .description("p99 of workqueue_queue_duration_seconds (waiting) and workqueue_work_duration_seconds (processing) per queue. Processing that takes seconds usually waits on etcd.")
            .warn(1.0)
            .crit(10.0)
            .query("queue", "{{name}} waiting", vec![always(&format!(
                "topk(5, histogram_quantile(0.99, sum by (le, name) ({})) > 0)",
                only(r#"sum by (job, instance, le, name) (rate(workqueue_queue_duration_seconds_bucket{${sel}}[${w}]))"#)
            ))])
            .query("work", "{{name}} working", vec![always(&format!(
                "topk(5, histogram_quantile(0.99, sum by (le, name) ({})) > 0)",
                only(r#"sum by (job, instance, le, name) (rate(workqueue_work_duration_seconds_bucket{${sel}}[${w}]))"#)
            ))])
            .drill(&["instance"], &["apiserver-workqueue-depth", "etcd-latency-by-operation"], "")
            .build(),
        panel("apiserver-client-errors", Row::Process, "Requests the API server itself sent that failed", Unit::PerSecond, Visualisation::Timeseries)
            .question("Do the API server's own calls fail (its loopback client, aggregated APIs)?")
            .description(
                "rest_client_requests_total with a 5xx code or a transport error (<error>) per server: the API server's own \
                 outgoing client-go traffic, such as its controllers' loopback requests and calls to aggregated API servers. \
                 The reference troubleshooter plotted it as the clients' error rate, which it is not. 404 and 409 are normal \
                 controller traffic and left out.",
            )
            .warn(0.01)
            .crit(1.0)
            .query("errors", "{{instance}} {{code}} {{method}}", vec![always(&format!(
                "sum by (instance, code, method) ({}) > 0",
                only(r#"sum by (job, instance, code, method) (rate(rest_client_requests_total{${sel}, code=~"5..|<error>"}[${w}]))"#)
            ))])
            .drill(&["host"], &["aggregated-apis-unavailable", "etcd-latency-by-operation"], "")
            .build(),
    ]
}
