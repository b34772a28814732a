//! The HTTP server: plain or TLS connections, HTTP/1.1 and HTTP/2, a graceful stop, and answers
//! (never a dropped connection) to requests that are too large.
//!
//! A request head up to [`MAX_HEAD_BYTES`] is read whole, so a URI over hyper's 64 KiB limit is
//! answered 414 and a larger head 431. Before a connection is closed, what the client is still
//! sending is read and dropped for a moment (a "lingering close", as nginx does): closing a
//! socket with unread data makes the kernel reset the connection, and the client would lose the
//! answer.

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read before answering 431; a URI over 64 KiB within it gets 414.
pub const MAX_HEAD_BYTES: usize = 2 << 20;
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request head may take to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long, and how much, a closing connection keeps reading what the client still sends.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 8 << 20;
/// How long a graceful stop waits for requests in flight.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener`, over TLS when `tls` is given, until `stop` completes; then
/// finishes the requests in flight (at most 10 s) and returns.
///
/// # Errors
///
/// Never for a single connection (its errors are logged at debug level); only when the
/// listener itself fails for good.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    stop: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(MAX_HEAD_BYTES)
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let builder = Arc::new(builder);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, _peer) = tokio::select! {
            res = listener.accept() => match res {
                Ok(v) => v,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let stream = Lingering::new(stream);
            match acceptor {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "HTTP connection ended with an error");
                    }
                }
                Some(acceptor) => {
                    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), svc);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "HTTPS connection ended with an error");
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(STOP_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {STOP_GRACE:?}; stopping anyway");
    }
    Ok(())
}

/// A TCP stream that, when shut down, reads and drops what the client still sends (for at most
/// [`LINGER_TIME`] and [`LINGER_BYTES`]) before it is closed.
struct Lingering {
    stream: TcpStream,
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    drained: usize,
}

impl Lingering {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            linger: None,
            drained: 0,
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER_TIME)));
        }
        let mut scratch = [0u8; 16 * 1024];
        loop {
            if this.drained >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            if let Some(sleep) = this.linger.as_mut()
                && sleep.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.drained += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The one-line warning for a server that listens beyond loopback without TLS or without
/// passwords, saying what is exposed and how to protect it; `None` on loopback or when both are
/// configured.
pub fn exposure_warning(listen: std::net::SocketAddr, web: &crate::WebConfig) -> Option<String> {
    if listen.ip().is_loopback() {
        return None;
    }
    let missing = match (web.tls.is_some(), !web.basic_auth_users.is_empty()) {
        (true, true) => return None,
        (true, false) => "without passwords",
        (false, true) => "without TLS (passwords travel in clear)",
        (false, false) => "without TLS or passwords",
    };
    Some(format!(
        "warning: listening on {listen}, beyond this machine, {missing}: anyone who can reach it can read every stored series and run queries; protect it with --web.config.file (tls_server_config, basic_auth_users) or listen on 127.0.0.1"
    ))
}
