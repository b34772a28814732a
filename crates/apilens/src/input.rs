//! Opening what a command reads: a file, a pipe or FIFO, standard input (`-`) or an http(s) URL,
//! gzip by content.
//!
//! Every input is read once, front to back, through the one reader returned here, so a pipe, a
//! FIFO, `/dev/stdin` or a bash process substitution (`<(kubectl get --raw /metrics)`) reads
//! exactly like a file: nothing opens the path a second time (a second open of a pipe would steal
//! bytes from the first), and every read loops over short reads until end of input.

use anyhow::{Context, bail};
use apilens_textparse::Format;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a URL may take when `--timeout` is not given.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Credentials, trust and patience for reading a URL.
#[derive(Debug, Clone)]
pub(crate) struct HttpOpts {
    /// File holding a bearer token, sent as `Authorization: Bearer`.
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// Environment variable holding a bearer token (when no file is given).
    pub(crate) bearer_token_env: Option<String>,
    /// PEM file of the CA that signs the server's certificate, added to the system roots.
    pub(crate) ca_file: Option<PathBuf>,
    /// The most the whole request may take, from connecting to the last byte of the body.
    pub(crate) timeout: Duration,
}

impl Default for HttpOpts {
    fn default() -> Self {
        HttpOpts {
            bearer_token_file: None,
            bearer_token_env: None,
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// An opened input: a name for messages, the byte stream and the format it is in.
pub(crate) struct Source {
    /// How messages name this input: the path, `<stdin>` or the URL.
    pub(crate) name: String,
    /// The bytes, gzip already undone.
    pub(crate) reader: Box<dyn Read>,
    /// The exposition format: from the HTTP `Content-Type`, from the `# EOF` that ends an
    /// OpenMetrics file, else the Prometheus text format (a stream cannot be seen to its end
    /// first).
    pub(crate) format: Format,
}

/// Opens `spec`: `-` for standard input, `http://` or `https://` for a URL, else a path (a
/// regular file, a FIFO, `/dev/stdin` or `/dev/fd/N`).
pub(crate) fn open(spec: &str, http: &HttpOpts) -> anyhow::Result<Source> {
    if spec == "-" {
        return Ok(Source {
            name: "<stdin>".to_owned(),
            reader: gunzip_if_needed(Box::new(io::stdin().lock()))
                .context("<stdin>: cannot read")?,
            format: Format::PrometheusText,
        });
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return fetch(spec, http);
    }
    let file = File::open(spec).with_context(|| format!("{spec}: cannot open"))?;
    let format = sniff_format(&file);
    Ok(Source {
        name: spec.to_owned(),
        reader: gunzip_if_needed(Box::new(file)).with_context(|| format!("{spec}: cannot read"))?,
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
pub(crate) fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
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
pub(crate) fn gunzip_if_needed(mut reader: Box<dyn Read>) -> io::Result<Box<dyn Read>> {
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

/// `10s`, `1500ms`: a duration as `--timeout` takes it.
pub(crate) fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn fetch(url: &str, http: &HttpOpts) -> anyhow::Result<Source> {
    let timed_out = || {
        anyhow::anyhow!(
            "{url}: timed out after {} (--timeout)",
            show_duration(http.timeout)
        )
    };
    let started = Instant::now();
    let mut client = reqwest::blocking::Client::builder()
        .timeout(http.timeout)
        .user_agent(concat!("apilens/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &http.ca_file {
        let pem =
            std::fs::read(ca).with_context(|| format!("{}: cannot read CA file", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("{}: not a PEM certificate bundle", ca.display()))?;
        for cert in certs {
            client = client.add_root_certificate(cert);
        }
    }
    let client = client.build().context("cannot build the HTTP client")?;
    let mut request = client.get(url).header(
        reqwest::header::ACCEPT,
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
    );
    if let Some(path) = &http.bearer_token_file {
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read bearer token file", path.display()))?;
        request = request.bearer_auth(token.trim());
    } else if let Some(var) = &http.bearer_token_env {
        let token =
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        request = request.bearer_auth(token.trim());
    }
    let response = request.send().map_err(|e| {
        if e.is_timeout() {
            timed_out()
        } else {
            anyhow::anyhow!("{url}: {}", apilens_model::error_chain(&e))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url}: server answered HTTP {status}");
    }
    let format = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or(Format::PrometheusText, Format::from_content_type);
    let body = Deadline {
        inner: response,
        deadline: started + http.timeout,
        timeout: http.timeout,
    };
    Ok(Source {
        name: url.to_owned(),
        reader: gunzip_if_needed(Box::new(body)).map_err(|e| {
            if e.kind() == io::ErrorKind::TimedOut {
                timed_out()
            } else {
                anyhow::anyhow!("{url}: {}", apilens_model::error_chain(&e))
            }
        })?,
        format,
    })
}

/// A response body that ends with a timed-out error once the request's deadline has passed, so
/// a server that sends slowly cannot keep a read going past `--timeout`.
struct Deadline<R> {
    inner: R,
    deadline: Instant,
    timeout: Duration,
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timed_out = || {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "timed out after {} (--timeout)",
                    show_duration(self.timeout)
                ),
            )
        };
        if Instant::now() >= self.deadline {
            return Err(timed_out());
        }
        self.inner.read(buf).map_err(|e| {
            let reqwest_timeout = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                .is_some_and(reqwest::Error::is_timeout);
            if reqwest_timeout || e.kind() == io::ErrorKind::TimedOut {
                timed_out()
            } else {
                e
            }
        })
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
