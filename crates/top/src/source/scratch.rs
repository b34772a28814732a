//! Temporary directories (a simulated or scraped store, a follow spool) that are removed when
//! their source is dropped, and by [`remove_scratch_dirs`] when a signal ends the process
//! before that (Ctrl-C during `--once`).

use crate::error::TopError;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Every scratch directory alive now.
static ALIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A temporary directory, removed on drop and registered for [`remove_scratch_dirs`].
pub(crate) struct ScratchDir(tempfile::TempDir);

impl ScratchDir {
    /// Creates a directory named `prefix…` in the system's temporary directory.
    pub(crate) fn new(prefix: &str) -> Result<ScratchDir, TopError> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(TopError::file(format!(
                "creating a temporary directory {prefix}* in {}",
                std::env::temp_dir().display()
            )))?;
        alive().push(dir.path().to_owned());
        Ok(ScratchDir(dir))
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        alive().retain(|p| p != self.0.path());
    }
}

fn alive() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    ALIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every temporary directory a source holds now, for a signal handler about to end the
/// process without dropping the sources (the stores in them are not closed: the process must
/// exit right after).
pub fn remove_scratch_dirs() {
    let dirs = std::mem::take(&mut *alive());
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_dir_is_removed_on_drop_and_by_the_signal_path() {
        let dropped = ScratchDir::new("apilens-top-test-").unwrap();
        let path = dropped.path().to_owned();
        assert!(path.is_dir());
        drop(dropped);
        assert!(!path.exists());
        assert!(!alive().contains(&path));

        let kept = ScratchDir::new("apilens-top-test-").unwrap();
        std::fs::write(kept.path().join("store"), b"x").unwrap();
        let path = kept.path().to_owned();
        remove_scratch_dirs();
        assert!(!path.exists(), "removed while its owner still holds it");
        drop(kept);
    }
}
