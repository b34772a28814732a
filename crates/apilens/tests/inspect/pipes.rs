//! Pipes, FIFOs, process substitution and `-` read like the file; empty or foreign input says
//! what it is; a URL that never answers times out; what Prometheus refuses is refused.

use super::{apilens, apiserver};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The report without its `source`, which names the input.
fn report(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    doc["source"] = Value::Null;
    doc
}

/// `data` written from a thread in pieces of `step` bytes, each flushed: the reader sees many
/// short reads, and pipe-buffer boundaries fall everywhere.
fn feed(
    mut into: impl Write + Send + 'static,
    data: Vec<u8>,
    step: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for (i, piece) in data.chunks(step).enumerate() {
            if into.write_all(piece).is_err() {
                return;
            }
            let _ = into.flush();
            if i % 64 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success());
}

#[test]
fn pipes_fifos_and_process_substitution_read_like_the_file() {
    // See: issue 16, "kubectl apilens inspect <(kubectl get --raw /metrics) fails on every
    // real scrape at the 64 KiB pipe boundary".
    let file = apiserver("1.34.0");
    let raw = std::fs::read(&file).unwrap();
    assert!(raw.len() > 40 * 65536);
    let want = report(&apilens(&[
        "inspect",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(want["series"], 24311);

    // Process substitution, as the README's plugin example runs it.
    let out = Command::new("bash")
        .args([
            "-c",
            "\"$0\" inspect <(cat \"$1\") --format json",
            env!("CARGO_BIN_EXE_apilens"),
            file.to_str().unwrap(),
        ])
        .output()
        .expect("bash");
    assert_eq!(report(&out), want, "<(cat file)");

    // /dev/stdin and `-`, fed in small writes.
    for (source, step) in [("/dev/stdin", 4093), ("-", 1000), ("-", 65537)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
            .args(["inspect", source, "--format", "json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let writer = feed(child.stdin.take().unwrap(), raw.clone(), step);
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert_eq!(report(&out), want, "{source} in writes of {step}");
    }

    // A FIFO fed slowly, plain and gzip (one byte first: the gzip magic spans two reads).
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    for (name, data, step) in [("plain.fifo", raw.clone(), 3001), ("gzip.fifo", gz, 1)] {
        let fifo = dir.path().join(name);
        mkfifo(&fifo);
        let path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let out = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            // One byte at a time would take long for 3 MB: only the first write is one byte.
            let (first, rest) = data.split_at(1);
            let mut out = out;
            out.write_all(first).unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            feed(out, rest.to_vec(), step.max(4096)).join().unwrap();
        });
        let out = apilens(&["inspect", fifo.to_str().unwrap(), "--format", "json"]);
        writer.join().unwrap();
        assert_eq!(report(&out), want, "{name}");
    }
}

#[test]
fn empty_input_says_so_and_fails() {
    // See: issue 16, "empty input (kubectl failed upstream) must say so and exit non-zero".
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let out = apilens(&["inspect", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: empty input (0 bytes): nothing to inspect\n",
            empty.display()
        )
    );
    assert!(out.stdout.is_empty());

    let out = Command::new("bash")
        .args([
            "-c",
            "\"$0\" inspect <(exit 1)",
            env!("CARGO_BIN_EXE_apilens"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: /dev/fd/")
            && err.ends_with(": empty input (0 bytes): nothing to inspect\n"),
        "{err}"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["inspect", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: <stdin>: empty input (0 bytes): nothing to inspect\n"
    );

    // Comments only: no sample, nothing to inspect either.
    let comments = dir.path().join("comments.txt");
    std::fs::write(
        &comments,
        "# HELP up Whether the target is up.\n# TYPE up gauge\n",
    )
    .unwrap();
    let out = apilens(&["inspect", comments.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: no samples in 52 bytes: nothing to inspect\n",
            comments.display()
        )
    );
}

#[test]
fn html_and_json_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    for (body, what) in [
        (
            "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>...</body></html>\n",
            "an HTML page titled \"Sign in\"",
        ),
        (
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/metrics\"","reason":"Forbidden","details":{},"code":403}"#,
            "a Kubernetes Status: 403 Forbidden: forbidden: User \"system:anonymous\" cannot get path \"/metrics\"",
        ),
        ("[{\"a\": 1}]", "a JSON document"),
    ] {
        let path = dir.path().join("body");
        std::fs::write(&path, body).unwrap();
        let out = apilens(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: {}: not the Prometheus text format: {what}\n",
                path.display()
            )
        );
    }
}

#[test]
fn a_url_that_never_answers_times_out() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let out = apilens(&["inspect", &url, "--timeout", "1s"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {url}: timed out after 1s (--timeout)\n")
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );

    // A server that sends its headers and the start of the body, then stalls.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nup 1\n",
            );
            held.push(stream);
        }
    });
    let out = apilens(&["inspect", &url, "--timeout", "1500ms"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {url}: "))
            && err.contains("timed out after 1500ms (--timeout)"),
        "{err}"
    );

    // The default is 10 s, and the flag says so.
    let help = apilens(&["inspect", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--timeout <DURATION>") && help.contains("[default: 10s]"),
        "{help}"
    );
}

#[test]
fn what_prometheus_refuses_is_refused() {
    // See: issue 15, "Prometheus rejects each of these, and apilens accepts them with exit 0".
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        (
            "x{a=\"b\",a=\"c\"} 1\n",
            "1:9: label name \"a\" is not unique",
        ),
        (
            "# TYPE x counter\n# TYPE x counter\nx 1\n",
            "2:8: second TYPE line for metric \"x\" (the first is on line 1)",
        ),
        (
            "x 1e999999\n",
            "1:3: value \"1e999999\" is out of the range of a 64-bit float",
        ),
    ] {
        let path = dir.path().join("scrape.txt");
        std::fs::write(&path, text).unwrap();
        let out = apilens(&["inspect", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {}:{want}\n", path.display())
        );
    }
}
