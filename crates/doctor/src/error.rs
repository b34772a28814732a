//! The doctor's errors.

/// What can stop the doctor; everything else becomes a note in its output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// An audit input could not be read at all.
    #[error(transparent)]
    Audit(#[from] apilens_audit::AuditError),
    /// A `--what-if` file holds no APF object or cannot be read as APF objects.
    #[error(transparent)]
    Apf(#[from] apilens_apf::ApfError),
    /// An `--apf-config` file that holds no APF object or a malformed one.
    #[error("--apf-config {name}: {error}{hint}")]
    ApfConfig {
        /// The file.
        name: String,
        /// What apf found wrong.
        error: apilens_apf::ApfError,
        /// What to give instead, when the file is not APF objects at all.
        hint: &'static str,
    },
    /// A `--kubernetes-version` that is no Kubernetes release.
    #[error("--kubernetes-version {text}")]
    KubernetesVersion {
        /// The text given.
        text: String,
        /// Why it is no release.
        source: apilens_model::VersionError,
    },
    /// An `--apf-config` file that cannot be read.
    #[error("cannot read --apf-config {name}")]
    ReadApfConfig {
        /// The file.
        name: String,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// `--what-if` needs an audit log to replay.
    #[error("--what-if needs an audit log to replay (--audit-log)")]
    WhatIfWithoutAudit,
}
