//! The process's one rustls crypto provider (ring), installed once for every client and server.

use std::sync::Once;

/// Installs ring as rustls's process-wide crypto provider; later calls do nothing.
///
/// reqwest is built without a provider of its own so that the binary carries one, ring, shared
/// with kube-rs; every crate that builds an HTTP client calls this first, and so does the binary
/// at start-up.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
