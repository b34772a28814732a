//! The live APF state for `doctor --kubeconfig` and `top`: the cluster's state read by kube
//! (`Cluster::read_apf_state`) and parsed by apf and doctor.

use apilens_apf::{DumpKind, KubeVersion};
use apilens_doctor::{ApfObjects, ReplicaDumps};
use apilens_kube::{ApfDump, Cluster, ClusterOpts};
use std::path::PathBuf;
use std::time::Duration;

use crate::shared::runtime::{Workers, async_runtime};

/// How long one request to the cluster may take.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What the cluster told.
#[derive(Clone)]
pub(crate) struct LiveState {
    pub(crate) context: String,
    pub(crate) version: Option<KubeVersion>,
    pub(crate) objects: Option<ApfObjects>,
    pub(crate) dumps: Vec<ReplicaDumps>,
    /// What could not be read, each naming the server and path.
    pub(crate) notes: Vec<String>,
}

/// Reads the live state; a kubeconfig that cannot be loaded is an error, anything the cluster
/// refuses afterwards is a note.
pub(crate) fn read(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
) -> anyhow::Result<LiveState> {
    async_runtime(Workers::Two)?.block_on(async move {
        let cluster = Cluster::connect(&ClusterOpts {
            kubeconfig,
            context,
        })
        .await?;
        Ok(read_cluster(&cluster).await)
    })
}

/// Reads the live state of `cluster`; everything it refuses is a note naming the server and
/// path.
pub(crate) async fn read_cluster(cluster: &Cluster) -> LiveState {
    let state = cluster.read_apf_state(TIMEOUT).await;
    let mut notes = state.notes;
    let objects = state.objects.and_then(|raw| {
        let source = format!("cluster {} ({})", state.context, raw.api_version);
        ApfObjects::from_lists(source, &raw.flow_schemas, &raw.priority_levels)
            .map_err(|e| notes.push(e.to_string()))
            .ok()
    });
    let dumps = state
        .replicas
        .into_iter()
        .map(|replica| {
            let mut out = ReplicaDumps {
                replica: replica.replica,
                ..ReplicaDumps::default()
            };
            for (kind, text) in replica.dumps {
                match text {
                    Ok(text) => {
                        let source = format!("{} {}", out.replica, kind.path());
                        out.add(dump_kind(kind), &text, &source);
                    }
                    Err(e) => out.errors.push(e),
                }
            }
            out
        })
        .collect();
    LiveState {
        context: state.context,
        version: state.git_version.and_then(|v| KubeVersion::parse(&v).ok()),
        objects,
        dumps,
        notes,
    }
}

/// The dump a path of kube's names.
fn dump_kind(dump: ApfDump) -> DumpKind {
    match dump {
        ApfDump::PriorityLevels => DumpKind::PriorityLevels,
        ApfDump::Queues => DumpKind::Queues,
        ApfDump::Requests => DumpKind::Requests,
    }
}
