//! `--audit-log FILE --follow`: an audit log followed by name as it grows, as `tail -F` follows
//! it (a rotated file is read to its end before the new one is opened; a truncated one is read
//! again from its start), its new lines spooled into short segment files that the doctor reads,
//! the segments older than the window deleted.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Wall time one spool segment covers.
const SEGMENT: Duration = Duration::from_secs(30);

/// Bytes read from the log at a time.
const CHUNK: usize = 1 << 20;

/// The longest line kept, as `apilens audit` reads by default; a longer one is dropped.
const MAX_LINE: usize = 16 << 20;

/// One followed audit log.
pub(super) struct Follower {
    path: PathBuf,
    /// The open file, its device and inode, and how far it was read.
    open: Option<(File, (u64, u64), u64)>,
    /// The bytes after the last newline read.
    partial: Vec<u8>,
    /// True while the rest of an over-long line is skipped.
    skipping: bool,
    spool: PathBuf,
    segments: VecDeque<(Instant, PathBuf)>,
    writer: Option<BufWriter<File>>,
    keep: Duration,
    next_segment: u64,
    /// Lines dropped for being longer than [`MAX_LINE`].
    pub(super) dropped_lines: u64,
}

impl Follower {
    /// Follows `path` from its current end (a file that does not exist yet is followed from its
    /// start once it appears), spooling into `spool` what the last `window` needs.
    pub(super) fn new(path: &Path, spool: &Path, window: Duration) -> std::io::Result<Follower> {
        std::fs::create_dir_all(spool)?;
        let mut follower = Follower {
            path: path.to_owned(),
            open: None,
            partial: Vec::new(),
            skipping: false,
            spool: spool.to_owned(),
            segments: VecDeque::new(),
            writer: None,
            keep: window + SEGMENT,
            next_segment: 0,
            dropped_lines: 0,
        };
        if let Ok(file) = File::open(path) {
            let meta = file.metadata()?;
            follower.open = Some((file, (meta.dev(), meta.ino()), meta.len()));
        }
        Ok(follower)
    }

    /// The log followed.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what was appended since the last call, following a rotation or a truncation, and
    /// returns the spool segments that cover the window.
    ///
    /// # Errors
    ///
    /// When the log or the spool cannot be read or written; a log that is missing for now (in
    /// the middle of a rotation) is not an error.
    pub(super) fn poll(&mut self, now: Instant) -> std::io::Result<Vec<PathBuf>> {
        let current = std::fs::metadata(&self.path).ok();
        let rotated = match (&self.open, &current) {
            (Some((_, id, _)), Some(meta)) => *id != (meta.dev(), meta.ino()),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if let Some((mut file, id, mut offset)) = self.open.take() {
            if current
                .as_ref()
                .is_some_and(|m| !rotated && m.len() < offset)
            {
                // Truncated in place (copytruncate): start again from the top.
                offset = 0;
                self.partial.clear();
                self.skipping = false;
            }
            self.drain(&mut file, &mut offset, now)?;
            self.open = Some((file, id, offset));
        }
        if rotated {
            // The old file was read to its end above; the new one is read from its start.
            self.partial.clear();
            self.skipping = false;
            if let Ok(mut file) = File::open(&self.path) {
                let meta = file.metadata()?;
                let mut offset = 0;
                self.drain(&mut file, &mut offset, now)?;
                self.open = Some((file, (meta.dev(), meta.ino()), offset));
            }
        }
        if let Some(w) = &mut self.writer {
            w.flush()?;
        }
        while let Some((started, path)) = self.segments.front() {
            if now.duration_since(*started) <= self.keep || self.segments.len() == 1 {
                break;
            }
            let _ = std::fs::remove_file(path);
            self.segments.pop_front();
        }
        Ok(self.segments.iter().map(|(_, p)| p.clone()).collect())
    }

    /// Reads `file` from `offset` to its end a chunk at a time, spooling its lines.
    fn drain(&mut self, file: &mut File, offset: &mut u64, now: Instant) -> std::io::Result<()> {
        file.seek(SeekFrom::Start(*offset))?;
        let mut chunk = vec![0; CHUNK];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            *offset += n as u64;
            self.take(&chunk[..n], now)?;
        }
    }

    /// Spools the complete lines of `bytes`, keeping an unfinished last line for later.
    fn take(&mut self, bytes: &[u8], now: Instant) -> std::io::Result<()> {
        let mut rest = bytes;
        while let Some(nl) = memchr_newline(rest) {
            let (line, after) = rest.split_at(nl + 1);
            rest = after;
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.partial.len() + line.len() > MAX_LINE + 1 {
                self.partial.clear();
                self.dropped_lines += 1;
                continue;
            }
            if self.partial.is_empty() {
                self.writer_for(now)?.write_all(line)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.writer_for(now)?.write_all(&whole)?;
            }
        }
        if !self.skipping {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > MAX_LINE {
                self.partial.clear();
                self.skipping = true;
                self.dropped_lines += 1;
            }
        }
        Ok(())
    }

    /// The segment being written, a new one when the current one is [`SEGMENT`] old.
    fn writer_for(&mut self, now: Instant) -> std::io::Result<&mut BufWriter<File>> {
        let fresh = self
            .segments
            .back()
            .is_some_and(|(started, _)| now.duration_since(*started) < SEGMENT);
        if !fresh || self.writer.is_none() {
            if let Some(mut w) = self.writer.take() {
                w.flush()?;
            }
            let path = self.spool.join(format!("{:08}.log", self.next_segment));
            self.next_segment += 1;
            self.writer = Some(BufWriter::new(File::create(&path)?));
            self.segments.push_back((now, path));
        }
        Ok(self.writer.as_mut().expect("a writer was just set"))
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spooled(segments: &[PathBuf]) -> String {
        segments
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn follows_appends_rotation_and_truncation_like_tail_capital_f() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        append(&log, "old 1\n");
        let mut f =
            Follower::new(&log, &dir.path().join("spool"), Duration::from_secs(60)).unwrap();
        let t0 = Instant::now();
        // Starts at the end, as `tail -F -n 0`.
        assert_eq!(spooled(&f.poll(t0).unwrap()), "");
        append(&log, "a 1\na 2\nhalf");
        assert_eq!(spooled(&f.poll(t0).unwrap()), "a 1\na 2\n");
        append(&log, " line\n");
        assert_eq!(spooled(&f.poll(t0).unwrap()), "a 1\na 2\nhalf line\n");
        // Rotation: the old file gets a last line after the rename, then a new file appears.
        std::fs::rename(&log, dir.path().join("audit.log.1")).unwrap();
        append(&dir.path().join("audit.log.1"), "a 3\n");
        assert_eq!(f.poll(t0).unwrap().len(), 1, "nothing to reopen yet");
        append(&log, "b 1\n");
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(
            spooled(&f.poll(t1).unwrap()),
            "a 1\na 2\nhalf line\na 3\nb 1\n"
        );
        // Truncation in place (copytruncate), seen before the next line comes.
        std::fs::write(&log, "").unwrap();
        f.poll(t1).unwrap();
        append(&log, "c 1\n");
        assert!(spooled(&f.poll(t1).unwrap()).ends_with("b 1\nc 1\n"));
        // Segments older than the window and one segment are deleted.
        append(&log, "d 1\n");
        let later = t0 + Duration::from_secs(125);
        let segments = f.poll(later).unwrap();
        assert_eq!(spooled(&segments), "d 1\n");
        assert_eq!(
            std::fs::read_dir(dir.path().join("spool")).unwrap().count(),
            1
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_is_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        std::fs::write(&log, "").unwrap();
        let mut f =
            Follower::new(&log, &dir.path().join("spool"), Duration::from_secs(60)).unwrap();
        let t0 = Instant::now();
        append(&log, &"x".repeat(MAX_LINE + 10));
        f.poll(t0).unwrap();
        append(&log, "tail of it\nnext\n");
        assert_eq!(spooled(&f.poll(t0).unwrap()), "next\n");
        assert_eq!(f.dropped_lines, 1);
    }
}
