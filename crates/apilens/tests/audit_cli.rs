//! `apilens audit` end to end: every view on the real audit fixtures, formats, stdin, bad input.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real/audit")
}

fn apilens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .output()
        .expect("run apilens")
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = apilens(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn row<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key}: {doc:#}"))
}

#[test]
fn every_view_runs_on_the_fixture_directory() {
    let dir = fixtures();
    let dir = dir.to_str().unwrap();
    // 51 native events, 2 AKS records, 1 GKE entry (see crates/audit/tests/audit.rs).
    for view in ["top", "lists", "watches", "throttled", "slow", "timeline"] {
        let doc = json(&["audit", view, dir]);
        assert_eq!(doc["view"], view);
        assert_eq!(doc["events"], 54, "{view}");
        assert_eq!(doc["malformed"]["count"], 0, "{view}");
        assert!(doc["rows"].is_array(), "{view}");
    }
    // jq -r '.user.username' liggitt-audit2rbac-demo.log | sort | uniq -c  ->  37 system:admin
    let top = json(&["audit", "top", "--by", "user", dir]);
    assert_eq!(row(&top, "system:admin")["count"], 37);
    assert_eq!(row(&top, "system:admin")["errors"], 11);
    // Every request has one verb: the verb rows add up to the 54 requests.
    let verbs = json(&["audit", "top", "--by", "verb", dir]);
    let total: u64 = verbs["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 54);
    // 14 LISTs in liggitt-audit2rbac-demo.log: jq 'select(.verb=="list")' | grep -c auditID
    let lists = json(&["audit", "lists", dir]);
    let n_lists: u64 = lists["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(n_lists, 14);
}

#[test]
fn filters_and_several_keys() {
    let dir = fixtures();
    let doc = json(&[
        "audit",
        "top",
        "--by",
        "user,verb",
        "--verb",
        "list",
        "--code",
        "-403",
        dir.to_str().unwrap(),
    ]);
    // jq 'select(.verb=="list" and .responseStatus.code!=403)' liggitt-audit2rbac-demo.log -> 3
    assert_eq!(doc["events"], 3);
    assert_eq!(row(&doc, "system:admin | list")["count"], 3);
}

#[test]
fn stdin_and_text_formats() {
    let log = std::fs::read(fixtures().join("liggitt-audit2rbac-demo.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apilens"))
        .args(["audit", "top", "--by", "verb", "--format", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&log).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("verb,count,share_pct,"), "{csv}");
    assert!(csv.contains("\nget,23,"), "{csv}");
    assert!(csv.contains("\nlist,14,"), "{csv}");
    // No progress bar and no ANSI codes when stderr is not a terminal.
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));

    let path = fixtures().join("liggitt-audit2rbac-demo.log");
    let out = apilens(&[
        "audit",
        "timeline",
        "--step",
        "5m",
        "--format",
        "markdown",
        path.to_str().unwrap(),
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("| time | count | - (system:admin) | other |"),
        "{md}"
    );
    // jq -r '.timestamp' liggitt-audit2rbac-demo.log | cut -c12-16 | sort | uniq -c: 2 at 19:55,
    // 1 at 19:58, 1 at 19:59, so 4 in the 19:55 step.
    assert!(md.contains("| 2017-09-11T19:55:00Z | 4 | 4 | 0 |"), "{md}");
}

#[test]
fn relative_and_absolute_time_filters() {
    let dir = fixtures();
    let dir = dir.to_str().unwrap();
    // The fixtures were logged between 2017-09-11 and 2025-09-30: all older than an hour, all
    // younger than 10 years before this test runs (the machine clock is past 2026).
    let events = |args: &[&str]| {
        let mut all = vec!["audit", "top"];
        all.extend(args);
        all.push(dir);
        json(&all)["events"].as_u64().unwrap()
    };
    assert_eq!(events(&["--since", "1h"]), 0);
    assert_eq!(events(&["--until", "30m"]), 54);
    assert_eq!(events(&["--since", "87600h", "--until", "1m"]), 54);
    // Native events of the audit2rbac demo (2017) and nothing later.
    assert_eq!(events(&["--until", "2018-01-01T00:00:00Z"]), 37);
    assert_eq!(events(&["--since", "2018-01-01T00:00:00+00:00"]) + 37, 54);
}

#[test]
fn bad_input_names_the_problem() {
    let out = apilens(&["audit", "top", "/nonexistent/audit.log"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/audit.log: No such file or directory"),
        "{err}"
    );
    let out = apilens(&[
        "audit",
        "top",
        "--since",
        "yesterday",
        fixtures().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --since \"yesterday\""));
    let out = apilens(&[
        "audit",
        "top",
        "--by",
        "color",
        fixtures().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key \"color\""));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.log");
    let good =
        std::fs::read_to_string(fixtures().join("falco-k8s_audit-create_secret.json")).unwrap();
    std::fs::write(&path, format!("{}\nnot json at all\n", good.trim())).unwrap();
    let doc = json(&["audit", "top", path.to_str().unwrap()]);
    assert_eq!(doc["events"], 1);
    assert_eq!(doc["malformed"]["count"], 1);
    let example = doc["malformed"]["examples"][0].as_str().unwrap();
    assert_eq!(
        example,
        format!(
            "{}:2: expected a JSON object or `prefix {{json}}` (line starts \"not json at all\")",
            path.display()
        )
    );
}

/// Runs `apilens` under GNU time; returns its output and its peak resident memory in KiB.
fn apilens_peak(args: &[&str], stdin: Stdio) -> (Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("time.txt");
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_apilens"))
        .args(args)
        .stdin(stdin)
        .output()
        .expect("run apilens under /usr/bin/time");
    let text = std::fs::read_to_string(&log).unwrap();
    // GNU time writes "Command exited with non-zero status N" first when the command fails.
    let kib = text.lines().last().unwrap().trim().parse().unwrap();
    (out, kib)
}

/// The peak resident memory allowed for a scan with two threads, whatever the input: the
/// binary itself, the chunks in flight and the longest line's buffers.
const PEAK_KIB: u64 = 160 << 10;

#[test]
fn endless_lines_stay_in_bounded_memory() {
    // See: issue 15, "a 2 GB-of-zeros gzip (9.4 MB) took 6.3 GB of memory and exited 0;
    // /dev/zero grew without end".
    if !apilens_testkit::peers_available(&["/usr/bin/time"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 2 GiB of zeros as 128 copies of one 16 MiB gzip member (members concatenate): 2 MB.
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    member.write_all(&vec![0u8; 16 << 20]).unwrap();
    let member = member.finish().unwrap();
    let gz = dir.path().join("zeros.gz");
    std::fs::write(&gz, member.repeat(128)).unwrap();
    // A sparse 1 GiB file of zeros: large and plain, so it is read through memory maps.
    let sparse = dir.path().join("zeros.log");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    for path in [&gz, &sparse] {
        let name = path.to_str().unwrap();
        one_endless_line(name, Stdio::null());
    }
    // /dev/zero through a pipe, 1 GiB of it.
    let mut head = Command::new("head")
        .args(["-c", "1073741824", "/dev/zero"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    one_endless_line("-", Stdio::from(head.stdout.take().unwrap()));
    assert!(head.wait().unwrap().success());
}

/// `apilens audit top` over `source`, one line of zeros without end: one malformed line, exit 0,
/// peak memory under the bound.
fn one_endless_line(source: &str, stdin: Stdio) {
    let (out, kib) = apilens_peak(
        &["audit", "top", "--threads", "2", "--format", "json", source],
        stdin,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (doc["lines"].as_u64(), doc["events"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(doc["malformed"]["count"], 1);
    assert_eq!(
        doc["malformed"]["examples"][0],
        format!("{source}:1: line longer than 16777216 bytes")
    );
    assert!(kib < PEAK_KIB, "{source}: peak {} MiB", kib >> 10);
}

#[test]
fn the_line_limit_is_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let good =
        std::fs::read_to_string(fixtures().join("falco-k8s_audit-create_secret.json")).unwrap();
    let good = good.trim();
    assert!(good.len() > 512 && good.len() < 1024);
    std::fs::write(&path, format!("{good}\n{}\n{good}\n", "y".repeat(5000))).unwrap();
    let file = path.to_str().unwrap();
    let doc = json(&["audit", "top", "--max-line-bytes", "1KiB", file]);
    assert_eq!(doc["events"], 2);
    assert_eq!(
        doc["malformed"]["examples"][0],
        format!("{file}:2: line longer than 1024 bytes")
    );
    let doc = json(&["audit", "top", "--max-line-bytes", "512", file]);
    assert_eq!(doc["events"], 0);
    assert_eq!(doc["malformed"]["count"], 3);
    let out = apilens(&["audit", "top", "--max-line-bytes", "lots", file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid size \"lots\""));
}

#[test]
fn a_truncated_gzip_is_a_partial_result_and_exits_2() {
    // See: issue 15, "a gzip truncated halfway counted 0 of 990 recoverable lines, printed the
    // read error on stdout and exited 0".
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(fixtures().join("falco-k8s_audit-create_secret.json")).unwrap();
    let text: String = (0..990)
        .map(|i| good.trim().replace("55a81824", &format!("{i:08}")) + "\n")
        .collect();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let path = dir.path().join("audit.log.gz");
    std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
    let mut recovered = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz[..gz.len() / 2]),
        &mut recovered,
    );
    let complete = recovered.iter().filter(|&&b| b == b'\n').count();
    assert!(complete > 300, "{complete}");
    let file = path.to_str().unwrap();

    let out = apilens(&["audit", "top", file]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("PARTIAL RESULT: 1 input could not be read to the end"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{complete} requests counted")),
        "{stdout}"
    );
    let want = format!(
        "error: {file}: read failed after {} bytes of decompressed data ({} bytes of the gzip file read): ",
        recovered.len(),
        gz.len() / 2
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    assert!(
        stderr.ends_with(
            "error: the result is partial: it covers what was read before the errors above\n"
        ),
        "{stderr}"
    );
    for (format, head) in [
        ("json", "{"),
        ("csv", "# partial: 1 input"),
        ("markdown", "**Partial result:** 1 input"),
    ] {
        let out = apilens(&["audit", "top", "--format", format, file]);
        assert_eq!(out.status.code(), Some(2), "{format}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with(head), "{format}: {stdout}");
        if format == "json" {
            let doc: Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(doc["partial"], true);
            assert_eq!(doc["events"], complete);
        }
    }
}
