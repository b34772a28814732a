//! Inputs: files, directories (walked recursively), `-` for stdin, and streams of event lines
//! from elsewhere (a log service, an object store); gzip detected by content.

use crate::error::AuditError;
use flate2::read::MultiGzDecoder;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One input to read.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file (plain or gzip, decided by its first bytes).
    Path(PathBuf),
    /// Standard input.
    Stdin,
    /// Event lines from elsewhere, such as a CloudWatch log stream or an S3 object.
    Source(Arc<dyn LineSource>),
}

/// A stream of audit event lines that is not a file: opened when a reader thread takes it, read
/// once to its end. A failure part-way comes out of `read` as an I/O error whose message names
/// the source and the cause; the scan reports it and keeps what was read before.
pub trait LineSource: Send + Sync + fmt::Debug {
    /// The name used in messages, such as `cloudwatch:/aws/eks/prod/cluster/kube-apiserver-audit-1`.
    fn name(&self) -> String;

    /// Opens the stream (plain or gzip, decided by its first bytes).
    ///
    /// # Errors
    ///
    /// When the stream cannot be opened at all.
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>>;
}

impl PartialEq for Input {
    /// Files by path, stdin to stdin, sources by identity.
    fn eq(&self, other: &Input) -> bool {
        match (self, other) {
            (Input::Path(a), Input::Path(b)) => a == b,
            (Input::Stdin, Input::Stdin) => true,
            (Input::Source(a), Input::Source(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Input {}

impl Input {
    /// The name used in messages (`-` for stdin).
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
            Input::Source(s) => s.name(),
        }
    }

    /// The size on disk in bytes (compressed size for gzip files), when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin | Input::Source(_) => None,
        }
    }

    /// Opens the input, decompressing gzip when the content starts with the gzip magic bytes
    /// (whatever the file name). `read_bytes` counts the bytes read from the underlying file or
    /// stream, for progress.
    ///
    /// A pipe, a FIFO or stdin reads like a file: the magic bytes are read with a loop over short
    /// reads (a pipe may hand over one byte first) and put back in front of the stream.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`] when the file cannot be opened or its first bytes cannot be read.
    pub fn open(
        &self,
        read_bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Box<dyn Read + Send>, AuditError> {
        self.open_counted(read_bytes).map(|o| o.reader)
    }

    /// [`Input::open`], also returning how many bytes of the file itself have been read (the
    /// compressed bytes of gzip), for error messages.
    pub(crate) fn open_counted(
        &self,
        read_bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Opened, AuditError> {
        let raw: Box<dyn Read + Send> = match self {
            Input::Path(p) => Box::new(File::open(p).map_err(|error| AuditError::Io {
                path: p.clone(),
                error,
            })?),
            Input::Stdin => Box::new(std::io::stdin()),
            Input::Source(s) => s.open().map_err(|error| AuditError::Io {
                path: PathBuf::from(s.name()),
                error,
            })?,
        };
        self.wrap(raw, read_bytes)
    }

    /// Reads an already opened stream of this input (gzip undone), so a FIFO or pipe is opened
    /// once only: a second open of a FIFO waits for a writer that has already come and gone.
    pub(crate) fn wrap(
        &self,
        raw: Box<dyn Read + Send>,
        read_bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Opened, AuditError> {
        let io = |error| AuditError::Io {
            path: PathBuf::from(self.name()),
            error,
        };
        let file_bytes = Arc::new(AtomicU64::new(0));
        let mut counted = CountingReader {
            inner: raw,
            progress: read_bytes,
            file_bytes: Arc::clone(&file_bytes),
        };
        let mut magic = [0u8; 2];
        let mut n = 0;
        while n < magic.len() {
            match counted.read(&mut magic[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        let whole = std::io::Cursor::new(magic).take(n as u64).chain(counted);
        let gzip = magic[..n] == [0x1f, 0x8b];
        let reader: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                whole,
            )))
        } else {
            Box::new(whole)
        };
        Ok(Opened {
            reader,
            file_bytes,
            gzip,
        })
    }
}

/// An opened input.
pub(crate) struct Opened {
    /// The content, gzip undone.
    pub(crate) reader: Box<dyn Read + Send>,
    /// Bytes read from the file or stream itself so far.
    pub(crate) file_bytes: Arc<AtomicU64>,
    /// Whether the content is gzip.
    pub(crate) gzip: bool,
}

struct CountingReader {
    inner: Box<dyn Read + Send>,
    progress: Option<Arc<AtomicU64>>,
    file_bytes: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.progress {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        self.file_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Expands command-line arguments into inputs: `-` is stdin, a directory contributes every file
/// below it (sorted, recursively), a file is itself.
///
/// # Errors
///
/// [`AuditError::NoInput`] for an empty list, [`AuditError::Io`] for a path that cannot be read.
pub fn collect_inputs<S: AsRef<str>>(args: &[S]) -> Result<Vec<Input>, AuditError> {
    if args.is_empty() {
        return Err(AuditError::NoInput);
    }
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = Path::new(arg);
        let meta = std::fs::metadata(path).map_err(|error| AuditError::Io {
            path: path.to_owned(),
            error,
        })?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(Input::Path(path.to_owned()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<(), AuditError> {
    let io = |error| AuditError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        let meta = std::fs::metadata(&path).map_err(|error| AuditError::Io {
            path: path.clone(),
            error,
        })?;
        if meta.is_dir() {
            walk(&path, out)?;
        } else if meta.is_file() {
            out.push(Input::Path(path));
        }
    }
    Ok(())
}
