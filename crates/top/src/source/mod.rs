//! Where `top` reads its frames: the simulator in-process, a store directory, a remote engine,
//! a live cluster; each through the report and the doctor, as `report` and `doctor` read them,
//! with the audit logs read whole or followed as they grow.

mod audit_logs;
mod cluster;
mod follow;
mod pick;
mod recent;
mod refresh;
mod scratch;
mod settings;
mod sim;
mod store;

pub use cluster::{ClusterFuture, ClusterSettings, ClusterSource};
pub use pick::{SourceChoice, SourceFlags, check_cadence, choose_source};
pub use scratch::remove_scratch_dirs;
pub use settings::Settings;
pub use sim::{SimSource, SimStart, Simulation};
pub use store::{RemoteStoreSource, StoreSource};
