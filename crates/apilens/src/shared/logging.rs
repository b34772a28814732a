//! Log output on standard error, for the commands that log.

/// Sets up `tracing` output on standard error; `RUST_LOG` overrides the default level.
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // kube-rs logs each failed request itself; apilens reports it once, with its cause.
        tracing_subscriber::EnvFilter::new(
            "info,kube=warn,kube_client::client::builder=off,hyper=warn,rustls=warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
