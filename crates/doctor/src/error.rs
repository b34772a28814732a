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
    /// `--what-if` needs an audit log to replay.
    #[error("--what-if needs an audit log to replay (--audit-log)")]
    WhatIfWithoutAudit,
}
