//! Opening what a command reads: a file, standard input (`-`) or an http(s) URL, gzip by content.

use anyhow::{Context, bail};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

/// Credentials and trust for reading a URL.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpOpts {
    /// File holding a bearer token, sent as `Authorization: Bearer`.
    pub(crate) bearer_token_file: Option<PathBuf>,
    /// PEM file of the CA that signs the server's certificate, added to the system roots.
    pub(crate) ca_file: Option<PathBuf>,
}

/// An opened input: a name for messages, the byte stream and the HTTP content type if any.
pub(crate) struct Source {
    /// How messages name this input: the path, `<stdin>` or the URL.
    pub(crate) name: String,
    /// The bytes, gzip already undone.
    pub(crate) reader: Box<dyn Read>,
    /// The `Content-Type` of an HTTP response.
    pub(crate) content_type: Option<String>,
}

/// Opens `spec`: `-` for standard input, `http://` or `https://` for a URL, else a file path.
pub(crate) fn open(spec: &str, http: &HttpOpts) -> anyhow::Result<Source> {
    if spec == "-" {
        return Ok(Source {
            name: "<stdin>".to_owned(),
            reader: gunzip_if_needed(Box::new(io::stdin().lock()))?,
            content_type: None,
        });
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return fetch(spec, http);
    }
    let file = File::open(spec).with_context(|| format!("{spec}: cannot open"))?;
    Ok(Source {
        name: spec.to_owned(),
        reader: gunzip_if_needed(Box::new(file)).with_context(|| format!("{spec}: cannot read"))?,
        content_type: None,
    })
}

/// Wraps `reader` in a gzip decoder when its first bytes are the gzip magic number.
pub(crate) fn gunzip_if_needed(reader: Box<dyn Read>) -> io::Result<Box<dyn Read>> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(buffered)))
    } else {
        Ok(Box::new(buffered))
    }
}

fn fetch(url: &str, http: &HttpOpts) -> anyhow::Result<Source> {
    crate::tls::install_crypto_provider();
    let mut client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
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
    }
    let response = request
        .send()
        .map_err(|e| anyhow::anyhow!("{url}: {}", apilens_model::error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        bail!("{url}: server answered HTTP {status}");
    }
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok(Source {
        name: url.to_owned(),
        reader: gunzip_if_needed(Box::new(response))?,
        content_type,
    })
}
