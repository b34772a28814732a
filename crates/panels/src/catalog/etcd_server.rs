//! etcd from its own `/metrics`: disk latency, leader changes, failed proposals, database size
//! against the quota.
//!
//! These metrics exist only on etcd (the `etcd` job of `apilens serve --etcd`); managed control
//! planes (EKS, GKE, AKS) do not expose them, and the panels read "no data" there.

use super::{always, panel};
use crate::{Panel, Row, Unit, Visualisation};

pub(super) fn panels() -> Vec<Panel> {
    let p99 = |metric: &str| {
        format!(
            r#"histogram_quantile(0.99, sum by (le, instance) (rate({metric}_bucket{{${{sel}}}}[${{w}}]))) > 0"#
        )
    };
    vec![
        panel("etcd-disk-latency", Row::EtcdServer, "etcd WAL fsync and backend commit latency (p99)", Unit::Seconds, Visualisation::Timeseries)
            .question("Is etcd's disk slow?")
            .description(
                "etcd_disk_wal_fsync_duration_seconds (every write waits for it) and etcd_disk_backend_commit_duration_seconds. \
                 etcd's tuning guide asks for a fsync p99 under 10 ms and a commit p99 under 25 ms; seconds mean a disk that \
                 stalls, and every write of the cluster waits with it (leader elections follow).",
            )
            .warn(0.025)
            .crit(0.25)
            .query("fsync", "{{instance}} WAL fsync", vec![always(&p99("etcd_disk_wal_fsync_duration_seconds"))])
            .query("commit", "{{instance}} backend commit", vec![always(&p99("etcd_disk_backend_commit_duration_seconds"))])
            .drill(&[], &["etcd-latency-by-operation", "etcd-leader-and-proposals"], "Give etcd a dedicated SSD (no noisy neighbours, no burst-credit volumes); defragment a large database.")
            .build(),
        panel("etcd-leader-and-proposals", Row::EtcdServer, "etcd leader changes and failed proposals", Unit::Count, Visualisation::Timeseries)
            .question("Is etcd losing its leader or failing writes?")
            .description(
                "Increase over the rate window of etcd_server_leader_changes_seen_total and etcd_server_proposals_failed_total. \
                 A leader change stalls writes for an election; failed proposals are writes that never committed (the API \
                 server answers them 500 etcdserver: request timed out).",
            )
            .warn(1.0)
            .crit(3.0)
            .query("leader-changes", "{{instance}} leader changes", vec![always(
                r#"sum by (instance) (increase(etcd_server_leader_changes_seen_total{${sel}}[${w}]))"#,
            )])
            .query("proposals-failed", "{{instance}} failed proposals", vec![always(
                r#"sum by (instance) (increase(etcd_server_proposals_failed_total{${sel}}[${w}]))"#,
            )])
            .drill(&[], &["etcd-disk-latency"], "Leader changes without a restart point at a slow disk or network between members.")
            .build(),
        panel("etcd-db-vs-quota", Row::EtcdServer, "etcd database size against its quota", Unit::Percent, Visualisation::Timeseries)
            .question("How close is etcd to its space quota (after which it only reads and deletes)?")
            .description(
                "etcd_mvcc_db_total_size_in_bytes over etcd_server_quota_backend_bytes (--quota-backend-bytes, 2 GiB by \
                 default, 8 GiB on EKS). At 100 % etcd raises a NOSPACE alarm and refuses writes until compaction, \
                 defragmentation and disarming.",
            )
            .warn(80.0)
            .crit(95.0)
            .limit(100.0, "quota: NOSPACE alarm")
            .query("used", "{{instance}}", vec![always(
                r#"100 * max by (instance) (etcd_mvcc_db_total_size_in_bytes{${sel}}) / max by (instance) (etcd_server_quota_backend_bytes{${sel}})"#,
            )])
            .drill(&[], &["etcd-db-size", "object-counts"], "Compact and defragment, delete what nobody needs (old events, completed Jobs), or raise the quota.")
            .build(),
    ]
}
