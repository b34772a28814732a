//! Inputs: files, directories (walked recursively), and `-` for stdin; gzip detected by content.

use crate::error::AuditError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file (plain or gzip, decided by its first bytes).
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// The name used in messages (`-` for stdin).
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
        }
    }

    /// The size on disk in bytes (compressed size for gzip files), when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Path(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        }
    }

    /// Opens the input, decompressing gzip when the content starts with the gzip magic bytes
    /// (whatever the file name). `read_bytes` counts the bytes read from the underlying file or
    /// stream, for progress.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`] when the file cannot be opened or its first bytes cannot be read.
    pub fn open(
        &self,
        read_bytes: Option<Arc<AtomicU64>>,
    ) -> Result<Box<dyn Read + Send>, AuditError> {
        let io = |error| AuditError::Io {
            path: PathBuf::from(self.name()),
            error,
        };
        let raw: Box<dyn Read + Send> = match self {
            Input::Path(p) => Box::new(File::open(p).map_err(io)?),
            Input::Stdin => Box::new(std::io::stdin()),
        };
        let counted = CountingReader {
            inner: raw,
            counter: read_bytes,
        };
        let mut buffered = BufReader::with_capacity(1 << 16, counted);
        let head = buffered.fill_buf().map_err(io)?;
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Box::new(MultiGzDecoder::new(buffered)))
        } else {
            Ok(Box::new(buffered))
        }
    }
}

struct CountingReader {
    inner: Box<dyn Read + Send>,
    counter: Option<Arc<AtomicU64>>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.counter {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
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
