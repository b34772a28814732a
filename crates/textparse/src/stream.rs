//! Parsing from a reader in bounded memory: whole lines are handed to a [`Parser`] chunk by chunk.

use crate::rules::FamilyState;
use crate::{Entry, Format, ParseError, Parser};
use std::io::{self, Read};
use std::ops::ControlFlow;

/// Bytes read per chunk.
const CHUNK: usize = 1 << 20;

/// The longest line accepted; a longer one is an error rather than an unbounded allocation.
pub const MAX_LINE: usize = 16 << 20;

/// Why a streaming parse stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Reading the input failed.
    #[error("read: {0}")]
    Io(#[from] io::Error),
    /// A line exceeded [`MAX_LINE`] bytes.
    #[error("{line}:1: line longer than {max} bytes", max = MAX_LINE)]
    LineTooLong {
        /// The line number.
        line: usize,
    },
}

/// Totals of a streaming parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: usize,
}

/// Parses everything `reader` yields, calling `visit` with each entry or error in order.
///
/// Memory stays at about one chunk (1 MiB) plus the longest line, whatever the input size: the
/// entries handed to `visit` borrow from the current chunk and must not be kept. `visit` returns
/// [`ControlFlow::Break`] to stop early.
///
/// # Errors
///
/// [`StreamError`] when reading fails or a line is longer than [`MAX_LINE`].
pub fn parse_reader<R: Read>(
    mut reader: R,
    format: Format,
    mut visit: impl FnMut(Result<Entry<'_>, ParseError>) -> ControlFlow<()>,
) -> Result<StreamStats, StreamError> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut stats = StreamStats::default();
    let mut eof_seen = false;
    let mut at_end = false;
    let mut families = FamilyState::default();
    while !at_end {
        // Fill up to one more chunk.
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let mut filled = start;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        buf.truncate(filled);
        stats.bytes += (filled - start) as u64;
        let cut = if at_end {
            buf.len()
        } else {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => i + 1,
                None if buf.len() > MAX_LINE => {
                    return Err(StreamError::LineTooLong {
                        line: stats.lines + 1,
                    });
                }
                None => continue,
            }
        };
        let chunk = &buf[..cut];
        if eof_seen {
            if let Some(at) = chunk.iter().position(|b| !b.is_ascii_whitespace()) {
                let line = stats.lines + 1 + chunk[..at].iter().filter(|&&b| b == b'\n').count();
                let _ = visit(Err(ParseError::new(line, 1, "unexpected data after # EOF")));
                return Ok(stats);
            }
        } else {
            let mut parser = Parser::for_chunk(
                chunk,
                format,
                stats.lines,
                at_end,
                std::mem::take(&mut families),
            );
            for entry in parser.by_ref() {
                if visit(entry).is_break() {
                    return Ok(stats);
                }
            }
            eof_seen = parser.saw_eof();
            families = parser.into_families();
        }
        stats.lines += memchr::memchr_iter(b'\n', chunk).count();
        if at_end && !chunk.ends_with(b"\n") && !chunk.is_empty() {
            stats.lines += 1;
        }
        buf.drain(..cut);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_join_lines_across_reads() {
        // A reader that returns 7 bytes at a time splits lines in the middle.
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(7).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"# TYPE a counter\na{x=\"1\"} 1\na{x=\"2\"} 2\nbad line\n";
        let mut seen = Vec::new();
        parse_reader(Slow(text), Format::PrometheusText, |e| {
            seen.push(match e {
                Ok(Entry::Series(s)) => format!("{}:{}", s.line, s.value),
                Ok(_) => "meta".into(),
                Err(e) => e.to_string(),
            });
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "meta",
                "2:1",
                "3:2",
                "4:5: expected a number as value, got \"line\""
            ]
        );
    }
}
