//! The one way a command builds its async runtime.

use anyhow::Context as _;
use tokio::runtime::Runtime;

/// How many worker threads a runtime gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Workers {
    /// One per core: a server or scraper whose load grows with its targets and clients.
    PerCore,
    /// Two: a command that waits on a few requests at a time.
    Two,
}

/// A multi-threaded runtime with I/O and timers.
pub(crate) fn async_runtime(workers: Workers) -> anyhow::Result<Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Workers::Two = workers {
        builder.worker_threads(2);
    }
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
