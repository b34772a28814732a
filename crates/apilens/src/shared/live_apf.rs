//! The live APF state for `doctor --kubeconfig`: doctor's `read_live_apf` over the cluster of a
//! kubeconfig.

use crate::shared::runtime::{Workers, async_runtime};
use apilens_kube::{Cluster, ClusterOpts};
use std::path::PathBuf;

/// What the cluster told, parsed.
pub(crate) type LiveState = apilens_doctor::LiveApf;

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
        Ok(apilens_doctor::read_live_apf(&cluster).await)
    })
}
