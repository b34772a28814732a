//! A forwarding HTTP/1.1 proxy on loopback that can answer, drop or pass each request: faults
//! (throttling, a dead endpoint) in front of a real peer that has none.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum ProxyAction {
    /// Send it to the upstream and relay the answer.
    Forward,
    /// Answer it here: a status line such as `400 Bad Request`, headers, and a body.
    Respond {
        /// The status code and reason.
        status: &'static str,
        /// Headers besides `content-length` and `connection`.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// Send it to the upstream, relay the head and only the first `body_bytes` of the body,
    /// then close: a connection that breaks part-way through an answer.
    ForwardCut {
        /// How much of the body gets through.
        body_bytes: usize,
    },
    /// Close the connection without an answer.
    Close,
}

/// One request the proxy received.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// Its position among every request the proxy received, from 0.
    pub index: usize,
    /// When it arrived.
    pub at: Instant,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ProxyRequest {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

type Decide = dyn Fn(&ProxyRequest) -> ProxyAction + Send + Sync;

/// A proxy in front of `127.0.0.1:<upstream>`, on its own threads until the process ends; each
/// request is decided by a function of the request (its index counts every request received).
pub struct FaultProxy {
    port: u16,
    log: Arc<Mutex<Vec<ProxyRequest>>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .finish()
    }
}

impl FaultProxy {
    /// Starts the proxy on a free loopback port.
    pub fn start(
        upstream: u16,
        decide: impl Fn(&ProxyRequest) -> ProxyAction + Send + Sync + 'static,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let log: Arc<Mutex<Vec<ProxyRequest>>> = Arc::default();
        let decide: Arc<Decide> = Arc::new(decide);
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, decide) = (Arc::clone(&shared), Arc::clone(&decide));
                std::thread::spawn(move || serve(stream, upstream, &log, decide.as_ref()));
            }
        });
        FaultProxy { port, log }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Handles the requests of one client connection, each answered with `connection: close`.
fn serve(stream: TcpStream, upstream: u16, log: &Mutex<Vec<ProxyRequest>>, decide: &Decide) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut client = stream;
    let Some(Head {
        method,
        target,
        headers,
        raw: raw_head,
    }) = read_head(&mut reader)
    else {
        return;
    };
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = {
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        let request = ProxyRequest {
            index: log.len(),
            at: Instant::now(),
            method,
            target,
            headers,
            body,
        };
        log.push(request.clone());
        request
    };
    match decide(&request) {
        ProxyAction::Close => {}
        ProxyAction::Respond {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status}\r\n");
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            ));
            let _ = client.write_all(head.as_bytes());
            let _ = client.write_all(&body);
        }
        action @ (ProxyAction::Forward | ProxyAction::ForwardCut { .. }) => {
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let _ = up.write_all(&raw_head);
            let _ = up.write_all(&request.body);
            let mut answer = Vec::new();
            if up.read_to_end(&mut answer).is_err() || answer.is_empty() {
                return;
            }
            let mut answer = close_delimited(&answer);
            if let ProxyAction::ForwardCut { body_bytes } = action
                && let Some(head) = answer.windows(4).position(|w| w == b"\r\n\r\n")
            {
                answer.truncate((head + 4 + body_bytes).min(answer.len()));
            }
            let _ = client.write_all(&answer);
        }
    }
    let _ = client.flush();
}

/// A request head as read, and as sent upstream.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// The head to send upstream (with `connection: close`).
    raw: Vec<u8>,
}

/// Reads a request head.
fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Head> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut raw = format!("{method} {target} HTTP/1.1\r\n");
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_owned();
        if k != "connection" {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        headers.push((k, v));
    }
    raw.push_str("connection: close\r\n\r\n");
    Some(Head {
        method,
        target,
        headers,
        raw: raw.into_bytes(),
    })
}

/// The upstream's answer with its `connection` header replaced by `connection: close`.
fn close_delimited(answer: &[u8]) -> Vec<u8> {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return answer.to_vec();
    };
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer[end + 4..]);
    bytes
}
