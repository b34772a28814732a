//! One-shot reads of an exposition or a dump: a file, a pipe or FIFO, standard input (`-`) or an
//! http(s) URL fetched by the same request as a scrape, gzip by content.
//!
//! Every input is read once, front to back, through the one reader returned here, so a pipe, a
//! FIFO, `/dev/stdin` or a bash process substitution (`<(kubectl get --raw /metrics)`) reads
//! exactly like a file: nothing opens the path a second time (a second open of a pipe would steal
//! bytes from the first), and every read loops over short reads until end of input. A URL's body
//! is streamed, never held whole, and the whole read (connecting included) keeps to one deadline.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::time::Duration;

use apilens_textparse::Format;
use bytes::Bytes;
use flate2::read::MultiGzDecoder;

use crate::fetch::{SendError, send_get};
use crate::target::http_client;
use crate::{HttpOpts, ScrapeError};

/// How long reading a URL may take when the caller has no deadline of its own.
pub const DEFAULT_INPUT_TIMEOUT: Duration = Duration::from_secs(10);

/// An opened input: a name for messages, the byte stream and the format it is in.
pub struct Input {
    /// How messages name this input: the path, `<stdin>` or the URL.
    pub name: String,
    /// The bytes, gzip already undone.
    pub reader: Box<dyn Read>,
    /// The exposition format: from the HTTP `Content-Type`, from the `# EOF` that ends an
    /// OpenMetrics file, else the Prometheus text format (a stream cannot be seen to its end
    /// first).
    pub format: Format,
}

/// Opens `spec` to be read once: `-` for standard input, `http://` or `https://` for a URL (one
/// GET with `opts`' trust and bearer token, the whole read within `timeout`), else a path (a
/// regular file, a FIFO, `/dev/stdin` or `/dev/fd/N`).
///
/// Must not be called on an async runtime's thread (a URL is read on a runtime of its own).
///
/// # Errors
///
/// [`ScrapeError::Input`] naming `spec`: a file that cannot be opened or read, a URL that
/// cannot be reached, answers a non-2xx status or passes `timeout`, an unusable CA file or
/// token. A read of the returned reader past the deadline fails with [`io::ErrorKind::TimedOut`].
pub fn open_input(spec: &str, opts: &HttpOpts, timeout: Duration) -> Result<Input, ScrapeError> {
    let input_err = |name: &str, reason: String| ScrapeError::Input {
        name: name.to_owned(),
        reason,
    };
    if spec == "-" {
        let name = "<stdin>";
        return Ok(Input {
            name: name.to_owned(),
            reader: gunzip_if_needed(Box::new(io::stdin().lock()))
                .map_err(|e| input_err(name, format!("cannot read: {e}")))?,
            format: Format::PrometheusText,
        });
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return fetch_url(spec, opts, timeout);
    }
    let file = File::open(spec).map_err(|e| input_err(spec, format!("cannot open: {e}")))?;
    let format = sniff_format(&file);
    Ok(Input {
        name: spec.to_owned(),
        reader: gunzip_if_needed(Box::new(file))
            .map_err(|e| input_err(spec, format!("cannot read: {e}")))?,
        format,
    })
}

/// OpenMetrics when a regular, uncompressed file ends with `# EOF`; the Prometheus text format
/// for anything else. Reads with positioned reads on the handle already open, so the reader's
/// position is untouched, and never looks into a pipe or FIFO (whose bytes can be read once).
fn sniff_format(file: &File) -> Format {
    use std::os::unix::fs::FileExt;
    let Ok(meta) = file.metadata() else {
        return Format::PrometheusText;
    };
    if !meta.is_file() {
        return Format::PrometheusText;
    }
    let mut head = [0u8; 2];
    if file.read_at(&mut head, 0).is_ok_and(|n| n == 2) && head == [0x1f, 0x8b] {
        return Format::PrometheusText;
    }
    let start = meta.len().saturating_sub(64);
    let mut tail = [0u8; 64];
    let mut filled = 0;
    while filled < tail.len() {
        match file.read_at(&mut tail[filled..], start + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Format::PrometheusText,
        }
    }
    Format::detect(&tail[..filled])
}

/// Reads into `buf` until it is full or the input ends, looping over short reads (a pipe may
/// hand over one byte at a time); returns how many bytes were read.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Wraps `reader` in a gzip decoder when its first two bytes are the gzip magic number. The
/// bytes looked at are put back in front of the stream, and a short first read is not taken
/// for the whole head.
fn gunzip_if_needed(mut reader: Box<dyn Read>) -> io::Result<Box<dyn Read>> {
    let mut magic = [0u8; 2];
    let n = read_full(&mut reader, &mut magic)?;
    let whole = io::Cursor::new(magic).take(n as u64).chain(reader);
    if magic[..n] == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            1 << 16,
            whole,
        ))))
    } else {
        Ok(Box::new(whole))
    }
}

/// `10s`, `1500ms`: a duration as a `--timeout` flag takes it.
fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The reason of a read that passed its deadline.
fn timed_out(timeout: Duration) -> String {
    format!("timed out after {} (--timeout)", show_duration(timeout))
}

fn fetch_url(url: &str, opts: &HttpOpts, timeout: Duration) -> Result<Input, ScrapeError> {
    let input_err = |reason: String| ScrapeError::Input {
        name: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| input_err(format!("invalid URL: {e}")))?;
    let client = http_client(opts).map_err(input_err)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| input_err(format!("cannot start the HTTP runtime: {e}")))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let sent = runtime.block_on(async {
        tokio::time::timeout_at(deadline, send_get(&client, &parsed, opts)).await
    });
    let (response, _token) = match sent {
        Err(_) => return Err(input_err(timed_out(timeout))),
        Ok(Err(SendError::Token(reason))) => return Err(input_err(reason)),
        Ok(Err(SendError::Request(e))) if e.is_timeout() => {
            return Err(input_err(timed_out(timeout)));
        }
        Ok(Err(SendError::Request(e))) => return Err(input_err(apilens_model::error_chain(&e))),
        Ok(Ok(sent)) => sent,
    };
    let status = response.status();
    if !status.is_success() {
        return Err(input_err(format!("server answered HTTP {status}")));
    }
    let format = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::PrometheusText, Format::from_content_type);
    let body = HttpBody {
        response,
        pending: Bytes::new(),
        runtime,
        deadline,
        timeout,
    };
    let reader = gunzip_if_needed(Box::new(body)).map_err(|e| {
        if e.kind() == io::ErrorKind::TimedOut {
            input_err(timed_out(timeout))
        } else {
            input_err(apilens_model::error_chain(&e))
        }
    })?;
    Ok(Input {
        name: url.to_owned(),
        reader,
        format,
    })
}

/// A response body read chunk by chunk on its own runtime; it ends with a timed-out error once
/// the request's deadline has passed, so a server that sends slowly cannot keep a read going.
struct HttpBody {
    response: reqwest::Response,
    pending: Bytes,
    runtime: tokio::runtime::Runtime,
    deadline: tokio::time::Instant,
    timeout: Duration,
}

impl Read for HttpBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pending.is_empty() {
            let HttpBody {
                response,
                runtime,
                deadline,
                timeout,
                ..
            } = self;
            let timed_out = || io::Error::new(io::ErrorKind::TimedOut, timed_out(*timeout));
            let deadline = *deadline;
            let next = runtime
                .block_on(async { tokio::time::timeout_at(deadline, response.chunk()).await });
            match next {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
                Ok(Err(e)) => return Err(io::Error::other(apilens_model::error_chain(&e))),
                Ok(Ok(None)) => return Ok(0),
                Ok(Ok(Some(chunk))) => self.pending = chunk,
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands over at most `step` bytes per read, as a pipe fed in small writes does.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn trickle(data: &[u8], step: usize) -> Box<dyn Read> {
        Box::new(Trickle {
            data: data.to_vec(),
            pos: 0,
            step,
        })
    }

    fn read_all(reader: Box<dyn Read>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = reader;
        reader.read_to_end(&mut out).expect("read");
        out
    }

    #[test]
    fn gzip_is_seen_even_when_the_first_read_is_one_byte() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let text = b"up 1\n".repeat(1000);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&text).expect("compress");
        let gz = gz.finish().expect("compress");
        for step in [1, 2, 3, 4096] {
            let reader = gunzip_if_needed(trickle(&gz, step)).expect("open");
            assert_eq!(read_all(reader), text, "step {step}");
            let plain = gunzip_if_needed(trickle(&text, step)).expect("open");
            assert_eq!(read_all(plain), text, "step {step}");
        }
        for tiny in [&b""[..], b"u", b"\x1f"] {
            let reader = gunzip_if_needed(trickle(tiny, 1)).expect("open");
            assert_eq!(read_all(reader), tiny);
        }
    }

    #[test]
    fn durations_are_shown_as_the_flag_takes_them() {
        assert_eq!(show_duration(Duration::from_secs(10)), "10s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1500ms");
    }
}
