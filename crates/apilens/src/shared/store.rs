//! The embedded store as reading commands open it: read-only, behind a query engine.

use crate::shared::logging::init_logging;
use crate::shared::remote::RemoteArgs;
use anyhow::{Context as _, bail};
use apilens_promapi::{LocalEngine, QueryEngine, RemoteEngine};
use apilens_promql::{Engine, EngineOpts};
use apilens_tsdb::Db;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The store in `dir`, opened read-only; `missing` and `busy` end the errors of a directory
/// that does not exist and of a store that cannot be opened with what to do instead.
pub(crate) fn open_read_only(dir: &Path, missing: &str, busy: &str) -> anyhow::Result<Db> {
    if !dir.is_dir() {
        bail!("store directory {} does not exist{missing}", dir.display());
    }
    Db::open_read_only(dir).with_context(|| format!("opening store {}{busy}", dir.display()))
}

/// The engine a command reads metrics through: the remote engine `remote` names (its requests
/// time out after `timeout`), else the embedded engine with `opts` over the store in `dir`,
/// opened read-only as [`open_read_only`] opens it; the command's queries share the
/// aggregations they have in common (the store does not change under a reading command).
pub(crate) fn reading_engine(
    remote: &RemoteArgs,
    timeout: Duration,
    (dir, opts): (&Path, EngineOpts),
    (missing, busy): (&str, &str),
) -> anyhow::Result<Box<dyn QueryEngine>> {
    if let Some(client) = remote.client(timeout)? {
        return Ok(Box::new(RemoteEngine::new(client)));
    }
    init_logging();
    let db = Arc::new(open_read_only(dir, missing, busy)?);
    let name = format!("store {}", dir.display());
    Ok(Box::new(LocalEngine::shared(
        Engine::remembering(opts),
        db,
        &name,
    )))
}
