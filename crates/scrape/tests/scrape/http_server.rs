//! A hand-written HTTP/1.1 server whose routes misbehave on purpose: garbage, truncation,
//! hanging, 100 MB bodies, HTTP 429, gzip.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The server's address and how often each path was requested.
pub struct Server {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    pub gzip_requests: Arc<AtomicUsize>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Starts the server; `good` is served on `/good` and, gzip-compressed, on `/gzip`.
pub async fn start(good: Vec<u8>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(Mutex::new(HashMap::new()));
    let gzip_requests = Arc::new(AtomicUsize::new(0));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&good).unwrap();
    let gzipped = Arc::new(gz.finish().unwrap());
    let good = Arc::new(good);
    let (h, g) = (Arc::clone(&hits), Arc::clone(&gzip_requests));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (good, gzipped, hits, gzip_requests) = (
                Arc::clone(&good),
                Arc::clone(&gzipped),
                Arc::clone(&h),
                Arc::clone(&g),
            );
            tokio::spawn(async move {
                let _ = serve(stream, &good, &gzipped, &hits, &gzip_requests).await;
            });
        }
    });
    Server {
        addr,
        hits,
        gzip_requests,
    }
}

async fn serve(
    mut stream: TcpStream,
    good: &[u8],
    gzipped: &[u8],
    hits: &Mutex<HashMap<String, usize>>,
    gzip_requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let count = {
        let mut hits = hits.lock().unwrap();
        let c = hits.entry(path.clone()).or_insert(0);
        *c += 1;
        *c
    };
    let ok = |len: usize, extra: &str| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {len}\r\n{extra}connection: close\r\n\r\n"
        )
    };
    match path.as_str() {
        "/good" => {
            stream.write_all(ok(good.len(), "").as_bytes()).await?;
            stream.write_all(good).await?;
        }
        "/gzip" => {
            if head.to_ascii_lowercase().contains("accept-encoding: gzip") {
                gzip_requests.fetch_add(1, Ordering::SeqCst);
            }
            stream
                .write_all(ok(gzipped.len(), "content-encoding: gzip\r\n").as_bytes())
                .await?;
            stream.write_all(gzipped).await?;
        }
        "/garbage" => {
            let body = b"<html><body>502 Bad Gateway</body></html>\n";
            stream.write_all(ok(body.len(), "").as_bytes()).await?;
            stream.write_all(body).await?;
        }
        "/truncated" => {
            // Promise the whole fixture, send a third, hang up.
            stream.write_all(ok(good.len(), "").as_bytes()).await?;
            stream.write_all(&good[..good.len() / 3]).await?;
            stream.shutdown().await?;
        }
        "/hang" => {
            stream.write_all(ok(good.len(), "").as_bytes()).await?;
            stream.write_all(&good[..1000]).await?;
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        "/huge" => {
            // 100 MB of valid samples, streamed until the client gives up.
            let total = 100usize << 20;
            stream.write_all(ok(total, "").as_bytes()).await?;
            let mut chunk = Vec::with_capacity(64 << 10);
            let mut sent = 0usize;
            let mut i = 0u64;
            while sent < total {
                chunk.clear();
                while chunk.len() < (64 << 10) - 64 {
                    writeln!(chunk, "huge_series{{i=\"{i}\"}} 1").unwrap();
                    i += 1;
                }
                let n = chunk.len().min(total - sent);
                stream.write_all(&chunk[..n]).await?;
                sent += n;
            }
        }
        "/throttle" => {
            let body = b"too many requests, please try again later\n";
            let resp = format!(
                "HTTP/1.1 429 Too Many Requests\r\nretry-after: 30\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(resp.as_bytes()).await?;
            stream.write_all(body).await?;
        }
        "/changing" => {
            let body: &[u8] = if count == 1 { b"a 1\nb 1\n" } else { b"a 2\n" };
            stream.write_all(ok(body.len(), "").as_bytes()).await?;
            stream.write_all(body).await?;
        }
        _ => {
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 10\r\nconnection: close\r\n\r\nnot found\n")
                .await?;
        }
    }
    stream.flush().await
}
