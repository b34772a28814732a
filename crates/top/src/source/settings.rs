//! What every source of `top` reads the same way: the window, the scope, the audit logs and
//! the doctor's cadence; and the clock.

use std::path::PathBuf;
use std::time::Duration;

/// What every source reads the same way.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The window of every figure.
    pub window: Duration,
    /// Matchers scoping every query.
    pub selector: String,
    /// Audit logs for the clients screen.
    pub audit_logs: Vec<PathBuf>,
    /// Follow the audit logs as they grow instead of reading them whole at every refresh.
    pub follow: bool,
    /// End of the window instead of now, milliseconds since the epoch.
    pub until_ms: Option<i64>,
    /// Time between two runs of the doctor in the live view.
    pub doctor_interval: Duration,
}

impl Settings {
    /// End of the window `back` before the newest data (now, or `--until`).
    pub fn end_ms(&self, back: Duration) -> i64 {
        self.until_ms.unwrap_or_else(apilens_model::now_ms) - millis(back)
    }
}

/// `d` in milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
