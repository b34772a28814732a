//! The flags and glue several commands share. A command imports these and the libraries, never
//! another command.

pub(crate) mod aws_audit;
pub(crate) mod logging;
pub(crate) mod remote;
pub(crate) mod remote_write;
pub(crate) mod report_print;
pub(crate) mod runtime;
pub(crate) mod store;
pub(crate) mod targets;
pub(crate) mod web;
