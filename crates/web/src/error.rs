//! The one error type of the HTTP layer.

/// Why the server could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The web configuration file is unreadable or wrong; names the file and the field.
    #[error("web config file {path}: {}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Config {
        /// The file.
        path: String,
        /// The field at fault, dotted (`tls_server_config.cert_file`), empty for the file.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The server's address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// An allowed origin or host given on the command line is not usable.
    #[error("{0}")]
    Allow(String),
}
