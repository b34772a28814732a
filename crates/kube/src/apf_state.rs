//! Everything a cluster shows of its API Priority and Fairness, read raw: its release, its
//! FlowSchemas and PriorityLevelConfigurations, and the three debug dumps of every API server
//! replica. What it refuses or does not answer in time is a note naming the server and path,
//! never an error: a partial answer is still worth reading.

use std::time::Duration;

use crate::{ApfDump, ApfObjects, ApiServer, Cluster};

/// What a cluster told of its APF state, unparsed.
#[derive(Debug, Clone)]
pub struct ApfState {
    /// The kubeconfig context.
    pub context: String,
    /// `/version`'s `gitVersion`, when it answered.
    pub git_version: Option<String>,
    /// The FlowSchema and PriorityLevelConfiguration lists, when they could be listed.
    pub objects: Option<ApfObjects>,
    /// The dumps of every replica (of the service URL when the replicas cannot be found).
    pub replicas: Vec<ReplicaApfDumps>,
    /// What could not be read, each naming the server and path.
    pub notes: Vec<String>,
}

/// The three APF debug dumps of one replica, each its text or why it could not be read.
#[derive(Debug, Clone)]
pub struct ReplicaApfDumps {
    /// The replica (`10.0.0.1:6443`) or the service URL.
    pub replica: String,
    /// Each dump in the order of [`ApfDump`]'s variants.
    pub dumps: Vec<(ApfDump, Result<String, String>)>,
}

impl Cluster {
    /// Reads the APF state: `/version`, the APF objects, then the dumps of every replica found
    /// by [`Cluster::discover`] (of the service URL when discovery fails). Each request may take
    /// `timeout`.
    pub async fn read_apf_state(&self, timeout: Duration) -> ApfState {
        let mut notes = Vec::new();
        let server = self.server();
        let git_version = match tokio::time::timeout(timeout, server.version()).await {
            Ok(Ok(v)) => Some(v.git_version),
            Ok(Err(e)) => {
                notes.push(e.to_string());
                None
            }
            Err(_) => {
                notes.push(format!("GET /version from {}: timed out", server.name()));
                None
            }
        };
        let objects = match tokio::time::timeout(timeout, server.apf_objects()).await {
            Ok(Ok(raw)) => Some(raw),
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
        let mut replicas = Vec::new();
        match tokio::time::timeout(timeout, self.discover()).await {
            Ok(Ok(endpoints)) => {
                for endpoint in endpoints {
                    match self.replica(&endpoint) {
                        Ok(replica) => replicas.push(dumps_of(&replica, timeout).await),
                        Err(e) => notes.push(e.to_string()),
                    }
                }
            }
            Ok(Err(e)) => {
                notes.push(format!(
                    "{e}; reading the dumps through the service URL instead"
                ));
                replicas.push(dumps_of(server, timeout).await);
            }
            Err(_) => {
                notes.push(format!(
                    "discovering the API server replicas of {}: timed out; reading the dumps through the service URL instead",
                    server.name()
                ));
                replicas.push(dumps_of(server, timeout).await);
            }
        }
        ApfState {
            context: self.context().to_owned(),
            git_version,
            objects,
            replicas,
            notes,
        }
    }
}

/// The three dumps of one replica; each failure is kept as a reason naming it.
async fn dumps_of(replica: &ApiServer, timeout: Duration) -> ReplicaApfDumps {
    let mut dumps = Vec::new();
    for kind in [ApfDump::PriorityLevels, ApfDump::Queues, ApfDump::Requests] {
        let text = match tokio::time::timeout(timeout, replica.apf_dump(kind)).await {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "GET {} from {}: timed out",
                kind.path(),
                replica.name()
            )),
        };
        dumps.push((kind, text));
    }
    ReplicaApfDumps {
        replica: replica.name().to_owned(),
        dumps,
    }
}
