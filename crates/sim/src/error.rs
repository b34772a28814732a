//! The one error type of the simulator.

use std::path::PathBuf;

impl From<apilens_model::VersionError> for SimError {
    fn from(e: apilens_model::VersionError) -> SimError {
        SimError::InvalidVersion {
            input: e.input().to_string(),
        }
    }
}

/// Everything that can go wrong while building, running or serving a simulation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario name is not one of [`crate::scenario_names`].
    #[error("unknown scenario {name:?}, expected one of: {known}")]
    UnknownScenario {
        /// The name asked for.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
    /// A Kubernetes version string could not be read.
    #[error("invalid kubernetes version {input:?}: expected MAJOR.MINOR such as 1.34")]
    InvalidVersion {
        /// The text given.
        input: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {what}")]
    InvalidConfig {
        /// What is wrong, naming the setting.
        what: String,
    },
    /// A replica index beyond the configured replicas.
    #[error("no replica {index}: the simulation has {replicas} replica(s)")]
    NoSuchReplica {
        /// The index asked for.
        index: usize,
        /// How many replicas there are.
        replicas: usize,
    },
    /// A catalog file (embedded or generated) is malformed.
    #[error("catalog {source_name}:{line}: {message}")]
    Catalog {
        /// Catalog or fixture name.
        source_name: String,
        /// Line number, from 1 (0 when not tied to a line).
        line: usize,
        /// What was expected.
        message: String,
    },
    /// Writing the audit log failed.
    #[error("cannot write audit log: {0}")]
    AuditWrite(#[source] std::io::Error),
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
