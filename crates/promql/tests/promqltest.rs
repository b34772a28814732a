//! Runs Prometheus v3.5.0's promqltest files through the engine.
//!
//! Every evaluation must pass, be skipped by the runner (native histograms), or be listed in
//! `known_failures.txt` (`file:line reason`), the one place that names what the engine does not
//! do yet. A listed case that starts passing fails the test too, so the list stays exact.

use apilens_promql::promqltest::{Outcome, run_script};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn anchors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/anchors/promqltest/v3.5.0")
}

#[test]
fn prometheus_v3_5_0_test_files() {
    let dir = anchors();
    let known_text = include_str!("known_failures.txt");
    let known: BTreeMap<String, String> = known_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, reason) = l.split_once(' ').unwrap_or((l, ""));
            (k.to_owned(), reason.to_owned())
        })
        .collect();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 10,
        "expected the promqltest files in {}",
        dir.display()
    );
    let (mut pass, mut fail, mut skip, mut known_fail) = (0, 0, 0, 0);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let script = std::fs::read_to_string(path).unwrap();
        let results = run_script(&script).unwrap_or_else(|e| panic!("{name}: {e}"));
        for r in results {
            let key = format!("{name}:{}", r.line);
            match (&r.outcome, known.contains_key(&key)) {
                (Outcome::Pass, false) => pass += 1,
                (Outcome::Pass, true) => now_passing.push(key),
                (Outcome::Skip(_), _) => skip += 1,
                (Outcome::Fail(_), true) => known_fail += 1,
                (Outcome::Fail(m), false) => {
                    fail += 1;
                    unexpected.push(format!("{key} {} -- {m}", r.query));
                }
            }
        }
    }
    println!(
        "promqltest v3.5.0: {pass} passed, {known_fail} known failures, {skip} skipped (native histograms)"
    );
    for u in &unexpected {
        println!("FAIL {u}");
    }
    assert!(
        unexpected.is_empty(),
        "{fail} unexpected failures (see output)"
    );
    assert!(
        now_passing.is_empty(),
        "listed as known failures but passing now: {now_passing:?}"
    );
}
