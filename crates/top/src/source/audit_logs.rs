//! The audit logs of a store, remote or cluster source: read whole at every refresh, or
//! followed as they grow (`--follow`).

use super::follow::Follower;
use super::scratch::ScratchDir;
use super::settings::Settings;
use crate::error::TopError;
use std::path::PathBuf;

/// The audit logs of a store, remote or cluster source: read whole at every refresh (the
/// window's requests kept), or followed as they grow.
pub(crate) struct AuditLogs {
    paths: Vec<PathBuf>,
    followers: Vec<Follower>,
    // Dropped last: the followers' spool lives in it.
    _spool: Option<ScratchDir>,
}

impl AuditLogs {
    /// The logs of `settings`, followed when it says so.
    pub(crate) fn new(settings: &Settings) -> Result<AuditLogs, TopError> {
        if !settings.follow {
            return Ok(AuditLogs {
                paths: settings.audit_logs.clone(),
                followers: Vec::new(),
                _spool: None,
            });
        }
        let spool = ScratchDir::new("apilens-top-follow-")?;
        let mut followers = Vec::new();
        for (i, path) in settings.audit_logs.iter().enumerate() {
            if path.is_dir() {
                return Err(TopError::Source(format!(
                    "--follow follows files, not directories: {} is a directory",
                    path.display()
                )));
            }
            followers.push(
                Follower::new(path, &spool.path().join(i.to_string()), settings.window)
                    .map_err(TopError::file(format!("following {}", path.display())))?,
            );
        }
        Ok(AuditLogs {
            paths: Vec::new(),
            followers,
            _spool: Some(spool),
        })
    }

    /// The files to read for this refresh.
    pub(crate) fn current(&mut self) -> Result<Vec<PathBuf>, String> {
        if self.followers.is_empty() {
            return Ok(self.paths.clone());
        }
        let now = std::time::Instant::now();
        let mut out = Vec::new();
        for f in &mut self.followers {
            let segments = f
                .poll(now)
                .map_err(|e| format!("following {}: {e}", f.path().display()))?;
            out.extend(segments);
        }
        Ok(out)
    }
}
