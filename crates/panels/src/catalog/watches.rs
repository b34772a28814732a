//! Long-running WATCH connections per server and by resource, and the events they fan out.

use super::{alt, always, from, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    vec![
        panel("watches-per-server", Row::Watches, "Open WATCH connections per API server", Unit::Count, Visualisation::Timeseries)
            .question("How many WATCH connections does each API server hold?")
            .description(
                "apiserver_longrunning_requests{verb=\"WATCH\"} (1.23+; apiserver_longrunning_gauge before, hidden in 1.24). \
                 The guide's figure names apiserver_longrunning_gauge and its dashboard apiserver_registered_watchers, \
                 both gone from 1.25. Other long-running verbs (exec, attach, port-forward, proxy, log) are excluded. \
                 What is normal grows with the cluster: the report and the WatchStorm rule flag a server above 20 \
                 watches per node of the cluster shared over the servers (at least 10,000), critical above 50 (at \
                 least 25,000).",
            )
            .query("watches", "{{instance}}", vec![
                from(23, r#"sum by (instance) (apiserver_longrunning_requests{${sel}, verb="WATCH"})"#),
                alt(16, 22, r#"sum by (instance) (apiserver_longrunning_gauge{${sel}, verb="WATCH"})"#),
            ])
            .drill(&["instance", "resource"], &["watches-by-resource", "replica-imbalance"], "Watches stay on the server they opened on: after a rolling restart one replica can hold most of them.")
            .build(),
        panel("watches-by-resource", Row::Watches, "Open WATCH connections by resource", Unit::Count, Visualisation::Bargauge)
            .question("Which resources are watched the most?")
            .description("Sum over servers of open WATCH connections per group and resource; a DaemonSet that watches from every node shows here as one resource with thousands of watchers.")
            .query("watches", "{{resource}} {{group}}", vec![
                from(23, r#"topk(15, sum by (group, resource) (apiserver_longrunning_requests{${sel}, verb="WATCH"}))"#),
                alt(16, 22, r#"topk(15, sum by (group, resource) (apiserver_longrunning_gauge{${sel}, verb="WATCH"}))"#),
            ])
            .drill(&["instance"], &["watch-events-by-resource"], "Name the watchers from the audit log (verb=watch, userAgent, user).")
            .build(),
        panel("watch-events-by-resource", Row::Watches, "WATCH events sent by resource", Unit::PerSecond, Visualisation::Timeseries)
            .question("Which resources fan out the most WATCH events?")
            .description("apiserver_watch_events_total is labelled by kind up to 1.33 and by resource from 1.34; older releases show the kind (ConfigMap) in the resource column.")
            .query("events", "{{resource}} {{group}}", vec![
                from(34, r#"topk(10, sum by (group, resource) (rate(apiserver_watch_events_total{${sel}}[${w}])))"#)
                    .needs_label("apiserver_watch_events_total", "resource"),
                alt(16, 33, r#"topk(10, label_replace(sum by (group, kind) (rate(apiserver_watch_events_total{${sel}}[${w}])), "resource", "$1", "kind", "(.*)"))"#)
                    .needs_label("apiserver_watch_events_total", "kind"),
            ])
            .drill(&["instance"], &["watches-by-resource"], "Events per second times watchers is the fan-out cost; a busy resource with many watchers is the usual culprit.")
            .build(),
        panel("watch-events-per-server", Row::Watches, "WATCH events sent per API server", Unit::PerSecond, Visualisation::Timeseries)
            .question("How many watch events does each API server encode and send?")
            .description(
                "Every write is sent to each watcher whose selector it matches: events per second per server is the fan-out \
                 cost, paid in CPU and memory by that server whatever the cluster's size. Hundreds of thousands per second \
                 mean watchers that see far more than they need (cluster-wide watches from every node).",
            )
            .warn(100_000.0)
            .crit(400_000.0)
            .query("events", "{{instance}}", vec![always(
                r#"sum by (instance) (rate(apiserver_watch_events_total{${sel}}[${w}]))"#,
            )])
            .drill(&["resource", "kind"], &["watch-events-by-resource", "watches-by-resource"], "Scope the watchers: a field or label selector (spec.nodeName for node agents) or a namespace.")
            .build(),
    ]
}
