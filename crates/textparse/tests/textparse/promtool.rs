//! The parser against the real `promtool check metrics` (Prometheus's `expfmt` text parser) on
//! the same inputs: the strictness tables and every real scrape.

use crate::errors::{STRICT_ACCEPTS, STRICT_REJECTS};
use apilens_textparse::{Format, Parser};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Inputs on which promtool 2.42 and we disagree on purpose: we follow Prometheus 3's own parser
/// (`model/textparse/promparse.go`), which is what decides whether a scrape is stored.
const DIVERGENCES: &[(&str, &str)] = &[
    (
        "{\"x\"} 1\n",
        "Prometheus 3 reads UTF-8 metric names quoted inside the braces; promtool 2.42 predates them",
    ),
    (
        "{\"x.y\", \"a.b\"=\"c\"} 1\n",
        "Prometheus 3 reads quoted UTF-8 metric and label names; promtool 2.42 predates them",
    ),
    (
        "x{a=\"\\q\"} 1\n",
        "Prometheus keeps an unknown escape in a label value with its backslash; expfmt rejects it",
    ),
    (
        "# TYPE x histogram\nx_bucket{le=\"abc\"} 1\n",
        "Prometheus's scrape loop stores classic buckets without reading `le`; expfmt parses it",
    ),
    (
        "# TYPE x summary\nx{quantile=\"abc\"} 1\n",
        "Prometheus's scrape loop stores quantiles without reading `quantile`; expfmt parses it",
    ),
    (
        "x 1",
        "Prometheus's parser reads a last line without a newline; expfmt reports the end of input",
    ),
    (
        "# TYPE x COUNTER\nx 1\n",
        "Prometheus's parser takes lower-case type words only; expfmt upper-cases them first",
    ),
];

/// Whether promtool reports a syntax error (exit status 1 with "parsing error"), as opposed to
/// accepting the input (status 0, or 3 for lint findings such as a missing HELP).
fn promtool_rejects(input: &[u8]) -> bool {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("promtool output");
    writer.join().expect("writer").expect("write to promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0 | 3) => false,
        Some(1) if text.contains("parsing error") => true,
        other => panic!("promtool exited with {other:?}: {text}"),
    }
}

fn we_reject(input: &[u8]) -> bool {
    Parser::new(input, Format::PrometheusText).any(|e| e.is_err())
}

#[test]
fn strictness_tables_agree_with_promtool() {
    if !apilens_testkit::peers_available(&["promtool"]) {
        return;
    }
    let inputs = STRICT_REJECTS
        .iter()
        .map(|(input, _)| *input)
        .chain(STRICT_ACCEPTS.iter().copied())
        .chain(DIVERGENCES.iter().map(|(input, _)| *input));
    let mut checked = 0;
    for input in inputs {
        let ours = we_reject(input.as_bytes());
        let theirs = promtool_rejects(input.as_bytes());
        match DIVERGENCES.iter().find(|(i, _)| *i == input) {
            Some((_, why)) => assert_ne!(
                ours, theirs,
                "listed divergence no longer holds ({why}): {input:?}"
            ),
            None => assert_eq!(
                ours, theirs,
                "we reject: {ours}, promtool rejects: {theirs}: {input:?}"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 70, "{checked}");
}

#[test]
fn every_real_scrape_reads_as_promtool_reads_it() {
    if !apilens_testkit::peers_available(&["promtool"]) {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real");
    let mut checked = 0;
    for kind in ["metrics-apiserver", "metrics-etcd"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(kind))
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for path in files {
            let mut input = std::fs::read(&path).expect("fixture");
            assert!(!we_reject(&input), "{}", path.display());
            if !input.ends_with(b"\n") {
                // The divergence listed above: promtool wants the last newline.
                assert!(promtool_rejects(&input), "{}", path.display());
                input.push(b'\n');
            }
            assert!(!promtool_rejects(&input), "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}
