//! What kube-apiserver metrics are called in each Kubernetes release, and what one scrape says.
//!
//! # Brief overview
//!
//! - [`Catalog`] ([`catalog()`] is the built-in one): every metric family apilens reads, with
//!   the releases that expose it ([`Family::releases`], a [`KubeRange`]), the renames between
//!   them ([`Family::replaced_by`]) and the [`Signal`]s, each a question with every family that
//!   has answered it, preferred first (`apiserver_longrunning_gauge` →
//!   `apiserver_longrunning_requests`; `etcd_object_counts` → `apiserver_storage_objects` →
//!   `apiserver_resource_objects`). A new Kubernetes minor is one change to `builtin.rs`.
//! - The detector: [`Catalog::detect`] reads `kubernetes_build_info`, otherwise bounds the
//!   release by which families exist; [`version_from_build_info`] reads one series' labels.
//! - [`Inventory`]: the families and labels a target exposes.
//! - [`read_apf_seats`]: the APF nominal seats and release one replica's scrape reports.
//! - [`inspect`](inspect::inspect): one scrape streamed in bounded memory into counts,
//!   coverage and the state now and since start ([`inspect::Summary`]).
//!
//! ```
//! use apilens_kubemetrics::catalog;
//! let c = catalog();
//! assert_eq!(
//!     c.family("apiserver_longrunning_gauge").unwrap().replaced_by,
//!     Some("apiserver_longrunning_requests")
//! );
//! let d = c.detect(None, |n| n == "apiserver_resource_objects");
//! assert_eq!(d.version.as_deref(), Some(">=1.34"));
//! ```
#![deny(missing_docs)]

mod apf_seats;
mod builtin;
mod catalog;
mod detect;
mod error;
pub mod inspect;
mod inventory;

pub use crate::{
    apf_seats::{ApfSeats, read_apf_seats},
    builtin::catalog,
    catalog::{Catalog, Family, Kind, Presence, Signal, SignalName},
    detect::{Detected, version_from_build_info},
    error::InspectError,
    inventory::Inventory,
};
pub use apilens_model::{KubeRange, KubeVersion};
