//! The error of this crate.

use std::path::PathBuf;

/// What went wrong in the remote writer. Never carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A queue file could not be read or written.
    #[error("remote-write queue {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A batch could not be encoded.
    #[error("cannot encode a remote-write request: {message}")]
    Encode {
        /// What failed.
        message: String,
    },
    /// One scrape is larger than the whole queue may hold.
    #[error(
        "a scrape of {samples} samples needs {bytes} bytes, more than the remote-write queue's cap of {max} bytes"
    )]
    TooLarge {
        /// Samples of the scrape.
        samples: u64,
        /// Bytes it needs on disk.
        bytes: u64,
        /// The queue's cap.
        max: u64,
    },
    /// The AWS settings of a signed receiver cannot be used.
    #[error(transparent)]
    Aws(#[from] apilens_sigv4::Error),
    /// The remote-write URL or options are not usable.
    #[error("remote write to {url}: {message}")]
    Config {
        /// The URL without its query string.
        url: String,
        /// What is wrong.
        message: String,
    },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
