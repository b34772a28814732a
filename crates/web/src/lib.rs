//! apilens HTTP.
#![deny(missing_docs)]

mod dashboard;

pub use crate::dashboard::{dashboard_router, panels_json};
