//! The live APF state for `doctor --kubeconfig` and `top`: the cluster's FlowSchemas and
//! PriorityLevelConfigurations, its version, and the debug dumps of every API server replica.

use anyhow::Context as _;
use apilens_apf::{KubeVersion, load_objects, parse_priority_levels, parse_queues, parse_requests};
use apilens_doctor::{ApfObjects, ReplicaDumps};
use apilens_kube::{ApfDump, ApiServer, Cluster, ClusterOpts};
use std::path::PathBuf;
use std::time::Duration;

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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
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
    let mut notes = Vec::new();
    let server = cluster.server();
    let version = match tokio::time::timeout(TIMEOUT, server.version()).await {
        Ok(Ok(v)) => KubeVersion::parse(&v.git_version).ok(),
        Ok(Err(e)) => {
            notes.push(e.to_string());
            None
        }
        Err(_) => {
            notes.push(format!("GET /version from {}: timed out", server.name()));
            None
        }
    };
    let objects = match tokio::time::timeout(TIMEOUT, server.apf_objects()).await {
        Ok(Ok(raw)) => {
            let src = format!("cluster {} ({})", cluster.context(), raw.api_version);
            // An empty list is no error: the server re-adds its mandatory objects.
            let load = |body: &[u8], what: &str| match load_objects(
                &String::from_utf8_lossy(body),
                &format!("{src} {what}"),
            ) {
                Err(apilens_apf::ApfError::Empty { .. }) => {
                    Ok((Vec::new(), Vec::new(), Vec::new()))
                }
                other => other,
            };
            match (
                load(&raw.flow_schemas, "flowschemas"),
                load(&raw.priority_levels, "prioritylevelconfigurations"),
            ) {
                (Ok((schemas, _, mut n1)), Ok((_, levels, n2))) => {
                    n1.extend(n2);
                    Some(ApfObjects {
                        source: src,
                        schemas,
                        levels,
                        notes: n1,
                        over_defaults: false,
                    })
                }
                (Err(e), _) | (_, Err(e)) => {
                    notes.push(e.to_string());
                    None
                }
            }
        }
        Ok(Err(e)) => {
            notes.push(e.to_string());
            None
        }
        Err(_) => {
            notes.push(format!(
                "listing APF objects from {}: timed out",
                server.name()
            ));
            None
        }
    };
    let mut dumps = Vec::new();
    match tokio::time::timeout(TIMEOUT, cluster.discover()).await {
        Ok(Ok(endpoints)) => {
            for endpoint in endpoints {
                match cluster.replica(&endpoint) {
                    Ok(replica) => dumps.push(dumps_of(&replica).await),
                    Err(e) => notes.push(e.to_string()),
                }
            }
        }
        Ok(Err(e)) => {
            notes.push(format!(
                "{e}; reading the dumps through the service URL instead"
            ));
            dumps.push(dumps_of(server).await);
        }
        Err(_) => {
            notes.push(format!(
                "discovering the API server replicas of {}: timed out; reading the dumps through the service URL instead",
                server.name()
            ));
            dumps.push(dumps_of(server).await);
        }
    }
    LiveState {
        context: cluster.context().to_owned(),
        version,
        objects,
        dumps,
        notes,
    }
}

/// The three dumps of one replica; each failure is kept as an error naming it.
async fn dumps_of(replica: &ApiServer) -> ReplicaDumps {
    let mut out = ReplicaDumps {
        replica: replica.name().to_owned(),
        ..ReplicaDumps::default()
    };
    for kind in [ApfDump::PriorityLevels, ApfDump::Queues, ApfDump::Requests] {
        let text = match tokio::time::timeout(TIMEOUT, replica.apf_dump(kind)).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                out.errors.push(e.to_string());
                continue;
            }
            Err(_) => {
                out.errors.push(format!(
                    "GET {} from {}: timed out",
                    kind.path(),
                    replica.name()
                ));
                continue;
            }
        };
        let source = format!("{} {}", replica.name(), kind.path());
        let parsed = match kind {
            ApfDump::PriorityLevels => {
                parse_priority_levels(&text, &source).map(|d| out.priority_levels = Some(d))
            }
            ApfDump::Queues => parse_queues(&text, &source).map(|d| out.queues = Some(d)),
            ApfDump::Requests => parse_requests(&text, &source).map(|d| out.requests = Some(d)),
        };
        if let Err(e) = parsed {
            out.errors.push(e.to_string());
        }
    }
    out
}
