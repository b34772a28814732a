//! Remote write as a command line asks for it: the receiver, the queue, the credentials.

use crate::{Error, RemoteWriteOpts, RemoteWriter, WriteAuth};
use apilens_sigv4::Signer;
use std::path::PathBuf;

/// What `apilens serve --remote-write` is given; at most one kind of credential (the flags
/// exclude the others).
#[derive(Debug, Clone)]
pub struct RemoteWriteSpec {
    /// The receiver, such as `http://prometheus:9090/api/v1/write`.
    pub url: String,
    /// Directory of the on-disk queue.
    pub queue_dir: PathBuf,
    /// Cap of the queue on disk in bytes; segments are an eighth of it, from 64 KiB to 16 MiB.
    pub max_queue_bytes: u64,
    /// Most samples in one request (at least 1).
    pub max_samples_per_send: usize,
    /// File holding a bearer token, re-read on every request.
    pub bearer_token_file: Option<PathBuf>,
    /// Basic-auth user and the file holding the password, re-read on every request.
    pub basic_auth: Option<(String, PathBuf)>,
    /// Sign requests with AWS SigV4 (Amazon Managed Service for Prometheus).
    pub sigv4: bool,
    /// The AWS region of the signature (default: read from the URL, else `AWS_REGION`).
    pub sigv4_region: Option<String>,
}

impl RemoteWriteSpec {
    /// The writer's options.
    ///
    /// # Errors
    ///
    /// [`Error::Aws`] when `sigv4` is asked for and no region can be found.
    pub fn opts(&self) -> Result<RemoteWriteOpts, Error> {
        let mut opts = RemoteWriteOpts::new(&self.url, self.queue_dir.clone());
        opts.max_queue_bytes = self.max_queue_bytes;
        opts.segment_bytes = (opts.max_queue_bytes / 8).clamp(64 << 10, 16 << 20);
        opts.max_samples_per_send = self.max_samples_per_send.max(1);
        opts.auth = if self.sigv4 {
            WriteAuth::SigV4(Signer::for_amp(&self.url, self.sigv4_region.as_deref())?)
        } else if let Some(file) = &self.bearer_token_file {
            WriteAuth::BearerFile(file.clone())
        } else if let Some((user, file)) = &self.basic_auth {
            WriteAuth::Basic {
                user: user.clone(),
                password_file: file.clone(),
            }
        } else {
            WriteAuth::None
        };
        Ok(opts)
    }

    /// Starts the writer (logging where it sends, its queue and its credentials' kind).
    ///
    /// # Errors
    ///
    /// As [`RemoteWriteSpec::opts`] and [`RemoteWriter::start`].
    pub fn start(&self) -> Result<RemoteWriter, Error> {
        let opts = self.opts()?;
        tracing::info!(
            url = crate::writer::strip_query(&self.url),
            queue_dir = %opts.queue_dir.display(),
            max_queue_bytes = opts.max_queue_bytes,
            auth = ?opts.auth,
            "remote write"
        );
        RemoteWriter::start(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max_queue_bytes: u64) -> RemoteWriteSpec {
        RemoteWriteSpec {
            url: "http://127.0.0.1:9090/api/v1/write".to_owned(),
            queue_dir: PathBuf::from("q"),
            max_queue_bytes,
            max_samples_per_send: 0,
            bearer_token_file: None,
            basic_auth: None,
            sigv4: false,
            sigv4_region: None,
        }
    }

    #[test]
    fn segments_are_an_eighth_of_the_queue_within_bounds() {
        let seg = |max| spec(max).opts().unwrap().segment_bytes;
        assert_eq!(seg(512 << 20), 16 << 20);
        assert_eq!(seg(8 << 20), 1 << 20);
        assert_eq!(seg(100 << 10), 64 << 10);
        assert_eq!(spec(1 << 30).opts().unwrap().max_samples_per_send, 1);
    }

    #[test]
    fn the_credentials_given_are_the_ones_used() {
        let mut s = spec(512 << 20);
        assert!(matches!(s.opts().unwrap().auth, WriteAuth::None));
        s.basic_auth = Some(("u".to_owned(), PathBuf::from("pw")));
        assert!(matches!(s.opts().unwrap().auth, WriteAuth::Basic { ref user, .. } if user == "u"));
        s.basic_auth = None;
        s.bearer_token_file = Some(PathBuf::from("token"));
        assert!(
            matches!(s.opts().unwrap().auth, WriteAuth::BearerFile(ref p) if p == &PathBuf::from("token"))
        );
        s.sigv4 = true;
        s.sigv4_region = Some("eu-west-1".to_owned());
        s.url =
            "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"
                .to_owned();
        assert!(matches!(s.opts().unwrap().auth, WriteAuth::SigV4(_)));
    }
}
