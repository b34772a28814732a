//! Access to Kubernetes API servers: authentication, replica discovery and raw GETs.
//!
//! # Brief overview
//!
//! - [`Cluster::connect`] loads a kubeconfig (a named file or context, `KUBECONFIG`,
//!   `~/.kube/config`) or the in-cluster service account, through kube-rs. Bearer tokens, token
//!   files, client certificates and exec plugins such as `aws eks get-token` all work, with the
//!   token refresh kube-rs provides.
//! - [`Cluster::discover`] lists every API server replica from the `kubernetes` EndpointSlices in
//!   `default` (falling back to the `kubernetes` Endpoints), and [`Cluster::replica`] builds an
//!   [`ApiServer`] pinned to one replica: it connects to the endpoint's IP but verifies TLS
//!   against the cluster CA with the name from the kubeconfig, so each replica can be scraped
//!   on its own and per-replica imbalance shows.
//! - [`ApiServer::get`] performs a raw GET (`/metrics`, `/version`,
//!   `/debug/api_priority_and_fairness/dump_*`) with a cap on the body size, and returns the
//!   status, the headers a scraper needs and the (decompressed) body.
//! - [`Cluster::read_apf_state`] reads the cluster's APF objects and every replica's debug
//!   dumps raw, each failure kept as a note.
//!
//! Errors name the API server and the path, never a credential.
//!
//! ```no_run
//! use apilens_kube::{Cluster, ClusterOpts};
//!
//! # async fn doc() -> Result<(), apilens_kube::KubeError> {
//! let cluster = Cluster::connect(&ClusterOpts::default()).await?;
//! for endpoint in cluster.discover().await? {
//!     let replica = cluster.replica(&endpoint)?;
//!     let metrics = replica.get("/metrics", 64 << 20).await?;
//!     println!("{}: {} bytes", replica.name(), metrics.body.len());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Kubernetes types
//!
//! The crate reads EndpointSlices, Endpoints and `/version` through small serde structs of its
//! own, so it does not choose a `k8s-openapi` version feature: the binary does (kube-rs itself
//! needs one).
#![deny(missing_docs)]

mod apf_state;
mod cluster;
mod discovery;
mod error;
mod raw;

pub use crate::{
    apf_state::{ApfState, ReplicaApfDumps},
    cluster::{Cluster, ClusterOpts},
    discovery::{Endpoint, parse_endpoint_slices, parse_endpoints},
    error::KubeError,
    raw::{ApfDump, ApfObjects, ApiServer, RawResponse, VersionInfo},
};
