//! Process-wide TLS set-up: one crypto provider (ring) for every client and server.

/// Installs ring as rustls's process-wide crypto provider; later calls do nothing.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
