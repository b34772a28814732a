//! The remote writer: a [`Sink`] that queues each scrape on disk, and a sender thread that
//! posts the queue to the receiver with retries.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use apilens_model::{Batch, Sink, SinkError};
use apilens_sigv4::Signer;

use crate::error::Error;
use crate::prompb::{encode_batch, merge_chunks};
use crate::queue::{Peeked, Queue};

/// How to authenticate to the receiver. `Debug` never shows a secret.
#[derive(Clone, Default)]
pub enum WriteAuth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>`, the token read from this file before each request.
    BearerFile(PathBuf),
    /// HTTP basic auth, the password read from this file before each request.
    Basic {
        /// User name.
        user: String,
        /// File holding the password.
        password_file: PathBuf,
    },
    /// AWS SigV4 (Amazon Managed Service for Prometheus).
    SigV4(Signer),
}

impl std::fmt::Debug for WriteAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteAuth::None => f.write_str("None"),
            WriteAuth::BearerFile(p) => write!(f, "BearerFile({})", p.display()),
            WriteAuth::Basic {
                user,
                password_file,
            } => write!(f, "Basic({user}, {})", password_file.display()),
            WriteAuth::SigV4(s) => write!(f, "SigV4({}, {})", s.region(), s.service()),
        }
    }
}

/// Options of a [`RemoteWriter`].
#[derive(Debug, Clone)]
pub struct RemoteWriteOpts {
    /// The receiver, such as `http://127.0.0.1:9090/api/v1/write`.
    pub url: String,
    /// Credentials.
    pub auth: WriteAuth,
    /// Directory of the on-disk queue.
    pub queue_dir: PathBuf,
    /// Cap of the queue on disk in bytes; when full the oldest segment is dropped.
    pub max_queue_bytes: u64,
    /// Size at which a queue segment file is closed and a new one started.
    pub segment_bytes: u64,
    /// Most samples in one request.
    pub max_samples_per_send: usize,
    /// Timeout of one request.
    pub timeout: Duration,
    /// First retry delay; doubled on each failure up to `max_backoff`, with jitter.
    pub min_backoff: Duration,
    /// Longest retry delay (a `Retry-After` may ask for longer, up to five minutes).
    pub max_backoff: Duration,
}

impl RemoteWriteOpts {
    /// Defaults for `url` with the queue in `queue_dir`: 512 MiB cap, 16 MiB segments, 2000
    /// samples per request, 30 s timeout, back-off from 100 ms to 10 s.
    pub fn new(url: &str, queue_dir: PathBuf) -> Self {
        Self {
            url: url.to_owned(),
            auth: WriteAuth::None,
            queue_dir,
            max_queue_bytes: 512 << 20,
            segment_bytes: 16 << 20,
            max_samples_per_send: 2000,
            timeout: Duration::from_secs(30),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// Counters of a [`RemoteWriter`] since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteWriteStats {
    /// Samples the receiver accepted.
    pub samples_sent: u64,
    /// Requests the receiver accepted.
    pub requests_sent: u64,
    /// Requests that failed and were retried (5xx, 429, network errors).
    pub requests_retried: u64,
    /// Samples dropped: refused by the receiver with a 4xx status, or dropped by the queue
    /// cap before they were sent.
    pub samples_dropped: u64,
    /// Samples queued and not yet accepted.
    pub samples_pending: u64,
    /// Bytes of the queue on disk.
    pub queue_bytes: u64,
}

#[derive(Default)]
struct Counters {
    samples_sent: AtomicU64,
    requests_sent: AtomicU64,
    requests_retried: AtomicU64,
    samples_dropped: AtomicU64,
}

struct Shared {
    opts: RemoteWriteOpts,
    queue: Mutex<Queue>,
    wake: Condvar,
    stop: AtomicBool,
    counters: Counters,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sleeps up to `d`, waking early when stopped.
    fn sleep(&self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut q = self.queue();
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            q = self
                .wake
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// Forwards scraped samples to a remote-write receiver through a bounded on-disk queue.
///
/// [`Sink::append`] encodes a scrape into requests of at most `max_samples_per_send` samples
/// and appends them to the queue (fsynced) before returning; a sender thread posts them in
/// order. 2xx acknowledges a request; 5xx, 429 and network errors are retried with
/// exponential back-off and jitter (honouring `Retry-After`) while the data waits on disk;
/// any other 4xx drops the request with a warning naming the status and the start of the
/// body. The acknowledged position is persisted, so after a restart only what was not
/// acknowledged is sent.
pub struct RemoteWriter {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter")
            .field("url", &strip_query(&self.shared.opts.url))
            .field("stats", &self.stats())
            .finish()
    }
}

pub(crate) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

impl RemoteWriter {
    /// Opens the queue (sending what an earlier run left) and starts the sender thread.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not `http(s)://`, [`Error::Io`] when the queue
    /// cannot be opened.
    pub fn start(opts: RemoteWriteOpts) -> Result<Self, Error> {
        if !(opts.url.starts_with("http://") || opts.url.starts_with("https://")) {
            return Err(Error::Config {
                url: strip_query(&opts.url).to_owned(),
                message: "expected an http:// or https:// URL".into(),
            });
        }
        let queue = Queue::open(&opts.queue_dir, opts.max_queue_bytes, opts.segment_bytes)?;
        let pending = queue.pending_samples();
        if pending > 0 {
            tracing::info!(
                samples = pending,
                url = strip_query(&opts.url),
                "remote write: resending samples queued by an earlier run"
            );
        }
        let shared = Arc::new(Shared {
            opts,
            queue: Mutex::new(queue),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("remote-write".into())
            .spawn(move || send_loop(&s))
            .map_err(|e| Error::Config {
                url: strip_query(&shared.opts.url).to_owned(),
                message: format!("cannot start the sender thread: {e}"),
            })?;
        Ok(Self {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The counters now.
    pub fn stats(&self) -> RemoteWriteStats {
        let c = &self.shared.counters;
        let q = self.shared.queue();
        RemoteWriteStats {
            samples_sent: c.samples_sent.load(Ordering::Relaxed),
            requests_sent: c.requests_sent.load(Ordering::Relaxed),
            requests_retried: c.requests_retried.load(Ordering::Relaxed),
            samples_dropped: c.samples_dropped.load(Ordering::Relaxed),
            samples_pending: q.pending_samples(),
            queue_bytes: q.bytes(),
        }
    }

    /// Waits until every queued sample is acknowledged or dropped, or `timeout` passes;
    /// returns whether the queue is empty.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.shared.queue().pending_samples() == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the sender after its current request; what is not acknowledged stays on disk for
    /// the next start. Blocks until the thread ends.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            let _ = h.join();
            let s = self.stats();
            tracing::info!(
                sent = s.samples_sent,
                dropped = s.samples_dropped,
                pending = s.samples_pending,
                "remote write stopped"
            );
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Sink for RemoteWriter {
    fn append(&self, batch: &Batch) -> Result<(), SinkError> {
        let chunks = encode_batch(batch, self.shared.opts.max_samples_per_send)
            .map_err(|message| Box::new(Error::Encode { message }))?;
        let dropped = self.shared.queue().append(&chunks)?;
        if dropped.segments > 0 {
            self.shared
                .counters
                .samples_dropped
                .fetch_add(dropped.samples, Ordering::Relaxed);
            tracing::warn!(
                segments = dropped.segments,
                samples = dropped.samples,
                max_bytes = self.shared.opts.max_queue_bytes,
                "remote-write queue full: dropped the oldest unsent samples"
            );
        }
        self.shared.wake.notify_all();
        Ok(())
    }
}

/// What one attempt to send a request ended in.
enum Outcome {
    Sent,
    /// Refused for good (4xx other than 429).
    Refused {
        status: u16,
        body: String,
    },
    /// Worth retrying, after at least the given delay when the receiver asked for one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
}

fn send_loop(shared: &Shared) {
    apilens_model::install_crypto_provider();
    let opts = &shared.opts;
    let url = strip_query(&opts.url).to_owned();
    let http = match reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .user_agent(concat!("apilens/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(url, error = %e, "remote write: cannot build the HTTP client");
            return;
        }
    };
    let mut first_success = true;
    while !shared.stop.load(Ordering::SeqCst) {
        let peeked = {
            let mut q = shared.queue();
            match q.peek(opts.max_samples_per_send as u64) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    let _ = shared
                        .wake
                        .wait_timeout(q, Duration::from_secs(1))
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    continue;
                }
                Err(e) => {
                    drop(q);
                    tracing::error!(error = %e, "remote write: cannot read the queue");
                    shared.sleep(opts.max_backoff);
                    continue;
                }
            }
        };
        let body = match merge_chunks(&peeked.payloads) {
            Ok(b) => b,
            Err(message) => {
                tracing::error!(
                    url,
                    samples = peeked.samples,
                    message,
                    "remote write: dropping an unreadable request"
                );
                shared
                    .counters
                    .samples_dropped
                    .fetch_add(peeked.samples, Ordering::Relaxed);
                commit(shared, &peeked);
                continue;
            }
        };
        let mut attempt: u32 = 0;
        loop {
            match send_once(&http, opts, &body) {
                Outcome::Sent => {
                    let c = &shared.counters;
                    c.samples_sent.fetch_add(peeked.samples, Ordering::Relaxed);
                    c.requests_sent.fetch_add(1, Ordering::Relaxed);
                    if first_success || attempt > 0 {
                        tracing::info!(
                            url,
                            samples = peeked.samples,
                            attempts = attempt + 1,
                            "remote write: receiver accepted samples"
                        );
                        first_success = false;
                    }
                    commit(shared, &peeked);
                    break;
                }
                Outcome::Refused { status, body } => {
                    shared
                        .counters
                        .samples_dropped
                        .fetch_add(peeked.samples, Ordering::Relaxed);
                    tracing::warn!(
                        url,
                        status,
                        samples = peeked.samples,
                        body,
                        "remote write: receiver refused a request; dropped"
                    );
                    commit(shared, &peeked);
                    break;
                }
                Outcome::Retry { reason, after } => {
                    shared
                        .counters
                        .requests_retried
                        .fetch_add(1, Ordering::Relaxed);
                    let delay = backoff(opts, attempt, after);
                    if attempt == 0 || attempt.is_power_of_two() {
                        tracing::warn!(
                            url,
                            attempt = attempt + 1,
                            reason,
                            retry_in_ms = delay.as_millis() as u64,
                            "remote write failed; retrying"
                        );
                    }
                    attempt = attempt.saturating_add(1);
                    shared.sleep(delay);
                    if shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    if !shared.queue().is_current(&peeked) {
                        // The cap dropped the data of this request meanwhile.
                        break;
                    }
                }
            }
        }
    }
}

fn commit(shared: &Shared, peeked: &Peeked) {
    if let Err(e) = shared.queue().commit(peeked) {
        tracing::error!(error = %e, "remote write: cannot record the acknowledged position");
    }
}

/// Exponential back-off with full jitter between `min_backoff` and the doubled delay, at
/// least what `Retry-After` asked for (capped at five minutes).
fn backoff(opts: &RemoteWriteOpts, attempt: u32, after: Option<Duration>) -> Duration {
    let cap = opts.max_backoff.max(opts.min_backoff);
    let exp = opts
        .min_backoff
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(cap);
    let lo = opts.min_backoff.as_millis() as u64;
    let hi = (exp.as_millis() as u64).max(lo);
    let jittered = Duration::from_millis(fastrand::u64(lo..=hi));
    match after {
        Some(a) => jittered.max(a.min(Duration::from_secs(300))),
        None => jittered,
    }
}

fn send_once(http: &reqwest::blocking::Client, opts: &RemoteWriteOpts, body: &[u8]) -> Outcome {
    const HEADERS: [(&str, &str); 3] = [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ];
    let mut req = http.post(&opts.url);
    for (k, v) in HEADERS {
        req = req.header(k, v);
    }
    // What was sent that a receiver's error body must not show.
    let mut sent: Vec<String> = Vec::new();
    let secret = |path: &PathBuf, what: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))
    };
    req = match &opts.auth {
        WriteAuth::None => req,
        WriteAuth::BearerFile(path) => match secret(path, "bearer token") {
            Ok(t) => {
                let req = req.bearer_auth(&t);
                sent.push(t);
                req
            }
            Err(reason) => {
                return Outcome::Retry {
                    reason,
                    after: None,
                };
            }
        },
        WriteAuth::Basic {
            user,
            password_file,
        } => match secret(password_file, "password") {
            Ok(p) => {
                let req = req.basic_auth(user, Some(&p));
                sent.push(p);
                req
            }
            Err(reason) => {
                return Outcome::Retry {
                    reason,
                    after: None,
                };
            }
        },
        WriteAuth::SigV4(signer) => match signer.sign("POST", &opts.url, &HEADERS, body) {
            Ok(headers) => {
                sent.extend(apilens_sigv4::credential_values(&headers));
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                req
            }
            Err(e) => {
                return Outcome::Retry {
                    reason: e.to_string(),
                    after: None,
                };
            }
        },
    };
    let resp = match req.body(body.to_vec()).send() {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Retry {
                reason: apilens_model::error_chain(&e.without_url()),
                after: None,
            };
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Sent;
    }
    let after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    // Only the start of the body is read, and it is shown without the credentials sent.
    let mut head = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::Read::take(resp, 4096), &mut head);
    let sent: Vec<&str> = sent.iter().map(String::as_str).collect();
    let text = apilens_model::body_excerpt(&head, &sent);
    if status.as_u16() == 429 || status.is_server_error() {
        Outcome::Retry {
            reason: format!("status {}: {}", status.as_u16(), text.trim()),
            after,
        }
    } else {
        Outcome::Refused {
            status: status.as_u16(),
            body: text,
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let d = when.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(d).unwrap_or(Duration::ZERO))
}

/// Sends every batch to each of several sinks in turn, such as the embedded store and a
/// remote writer.
pub struct Tee {
    sinks: Vec<Arc<dyn Sink>>,
}

impl Tee {
    /// A sink feeding all of `sinks`, in order.
    pub fn new(sinks: Vec<Arc<dyn Sink>>) -> Self {
        Self { sinks }
    }

    /// `store` alone, or `store` first and then `writer`.
    pub fn store_then(store: Arc<dyn Sink>, writer: Option<&Arc<RemoteWriter>>) -> Arc<dyn Sink> {
        match writer {
            Some(w) => Arc::new(Tee::new(vec![store, Arc::clone(w) as Arc<dyn Sink>])),
            None => store,
        }
    }
}

impl std::fmt::Debug for Tee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tee({} sinks)", self.sinks.len())
    }
}

impl Sink for Tee {
    /// Appends to every sink even when one fails; returns the first error.
    fn append(&self, batch: &Batch) -> Result<(), SinkError> {
        let mut first = None;
        for s in &self.sinks {
            if let Err(e) = s.append(batch) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_and_backoff() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let opts = RemoteWriteOpts::new("http://x", PathBuf::new());
        for attempt in 0..40 {
            let d = backoff(&opts, attempt, None);
            assert!(d >= opts.min_backoff && d <= opts.max_backoff, "{d:?}");
        }
        let spread: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(&opts, 6, None)).collect();
        assert!(spread.len() > 1, "jitter");
        assert_eq!(
            backoff(&opts, 0, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            backoff(&opts, 0, Some(Duration::from_secs(3600))),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = WriteAuth::Basic {
            user: "u".into(),
            password_file: "/run/secret/pw".into(),
        };
        assert_eq!(format!("{a:?}"), "Basic(u, /run/secret/pw)");
    }
}
