//! A scrape and a one-shot read of the same URL send the same request: one `Accept` header
//! (the Prometheus text format first) and the bearer token of the same options.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

use apilens_scrape::{
    DEFAULT_INPUT_TIMEOUT, Health, HttpOpts, MemorySink, ScrapeLoop, ScrapeOpts, Target, open_input,
};

/// The `Accept` and `Authorization` headers of one request.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    accept: String,
    authorization: String,
}

/// Answers every request with `up 1` and remembers its headers.
fn recording_target() -> (std::net::SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = Seen {
                accept: String::new(),
                authorization: String::new(),
            };
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                let value = line
                    .split_once(':')
                    .map_or("", |(_, v)| v.trim())
                    .to_owned();
                if lower.starts_with("accept:") {
                    request.accept = value;
                } else if lower.starts_with("authorization:") {
                    request.authorization = value;
                }
            }
            log.lock().unwrap().push(request);
            let body = "up 1\n";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

#[test]
fn a_scrape_and_a_one_shot_read_send_the_same_request() {
    let (addr, seen) = recording_target();
    let url = format!("http://{addr}/metrics");
    // A variable cargo sets for every test run, so the test changes no environment.
    let opts = HttpOpts {
        bearer_token_env: Some("CARGO_PKG_NAME".to_owned()),
        ..HttpOpts::default()
    };

    let target = Target::http("one", &url, &opts).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut scrape_loop = ScrapeLoop::new(
        target,
        ScrapeOpts::default(),
        Arc::new(MemorySink::new()),
        Health::new(),
    );
    let report = runtime.block_on(scrape_loop.scrape_once());
    assert!(report.up, "{:?}", report.error);

    let mut input = open_input(&url, &opts, DEFAULT_INPUT_TIMEOUT).unwrap();
    let mut body = String::new();
    input.reader.read_to_string(&mut body).unwrap();
    assert_eq!(body, "up 1\n");
    assert_eq!(input.name, url);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], seen[1], "the scrape and the read differ");
    assert!(
        seen[0].accept.starts_with("text/plain;version=0.0.4;q=1,"),
        "{}",
        seen[0].accept
    );
    assert_eq!(
        seen[0].authorization,
        format!("Bearer {}", env!("CARGO_PKG_NAME"))
    );
}

#[test]
fn a_missing_token_variable_is_named_and_nothing_is_sent() {
    let (addr, seen) = recording_target();
    let url = format!("http://{addr}/metrics");
    let opts = HttpOpts {
        bearer_token_env: Some("APILENS_TEST_TOKEN_THAT_IS_NEVER_SET".to_owned()),
        ..HttpOpts::default()
    };
    let err = open_input(&url, &opts, DEFAULT_INPUT_TIMEOUT)
        .err()
        .expect("a missing variable is an error")
        .to_string();
    assert_eq!(
        err,
        format!("{url}: environment variable APILENS_TEST_TOKEN_THAT_IS_NEVER_SET is not set")
    );
    assert!(seen.lock().unwrap().is_empty());
}
