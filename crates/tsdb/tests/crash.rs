//! Crash safety: a child process ingests scrape batches and is killed with SIGKILL at a random
//! moment, three times over; after each kill the store must open cleanly and hold every sample of
//! every batch the child reported as committed, and the batch in flight either whole or not at
//! all.
//!
//! The test binary is its own child (custom harness): with `APILENS_TSDB_CRASH_CHILD=DIR` it runs
//! the writer, otherwise it runs the test.

use apilens_model::{Labels, Matcher, Queryable, STALE_NAN, SelectHints, is_stale_nan};
use apilens_tsdb::{Db, DbOptions};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const START: i64 = 1_700_000_000_000;
const SERIES: u64 = 300;
const CHILD_ENV: &str = "APILENS_TSDB_CRASH_CHILD";

fn options() -> DbOptions {
    // Small blocks and segments so that kills also land in block writes, WAL rolls and
    // segment deletions.
    DbOptions {
        block_duration: Duration::from_secs(60),
        wal_segment_bytes: 32 << 10,
        ..DbOptions::default()
    }
}

fn labels(k: u64) -> Labels {
    Labels::from_pairs([
        (
            "__name__".to_string(),
            "apiserver_request_total".to_string(),
        ),
        ("resource".to_string(), format!("r{}", k % 37)),
        ("code".to_string(), format!("{}", 200 + k % 5)),
        ("instance".to_string(), format!("i{k}")),
    ])
}

fn value(batch: u64, k: u64) -> f64 {
    if k == 0 && batch % 7 == 6 {
        STALE_NAN
    } else {
        (batch * 1000 + k) as f64
    }
}

/// Batch number → series count found, and checks each value.
fn batches(db: &Db) -> BTreeMap<u64, u64> {
    let all = db
        .select(
            &[Matcher::equal("__name__", "apiserver_request_total")],
            i64::MIN,
            i64::MAX,
            SelectHints::default(),
        )
        .expect("select");
    let mut out = BTreeMap::new();
    for s in all {
        let k: u64 = s
            .labels
            .get("instance")
            .and_then(|i| i[1..].parse().ok())
            .expect("instance");
        assert_eq!(s.labels, labels(k));
        for sample in s.samples {
            let batch = ((sample.t - START) / 15_000) as u64;
            assert_eq!(sample.t, START + batch as i64 * 15_000);
            let want = value(batch, k);
            assert!(
                sample.v.to_bits() == want.to_bits()
                    || (is_stale_nan(want) && is_stale_nan(sample.v)),
                "batch {batch} series {k}: {} != {want}",
                sample.v
            );
            *out.entry(batch).or_insert(0) += 1;
        }
    }
    out
}

fn child(dir: &Path) {
    let db = Db::open(dir, options()).expect("child open");
    let next = batches(&db).keys().next_back().map_or(0, |b| b + 1);
    let mut stdout = std::io::stdout().lock();
    for batch in next.. {
        let mut app = db.appender();
        for k in 0..SERIES {
            app.append(&labels(k), START + batch as i64 * 15_000, value(batch, k))
                .expect("append");
        }
        app.commit().expect("commit");
        writeln!(stdout, "{batch}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}

fn main() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut last_committed: Option<u64> = None;
    for round in 0..3u64 {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let target = last_committed.map_or(0, |b| b + 1) + 25 + round * 7;
        for line in lines.by_ref() {
            let batch: u64 = line.expect("line").parse().expect("batch number");
            last_committed = Some(batch);
            if batch >= target {
                break;
            }
        }
        // Land the kill somewhere inside the next commits.
        std::thread::sleep(Duration::from_micros(300 + round * 1700));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        assert!(!status.success(), "the child was killed");
        for line in lines {
            last_committed = Some(line.expect("line").parse().expect("batch number"));
        }
        let last = last_committed.expect("the child committed batches");

        let db = Db::open(dir.path(), options()).expect("the store opens cleanly after SIGKILL");
        let found = batches(&db);
        for b in 0..=last {
            assert_eq!(
                found.get(&b),
                Some(&SERIES),
                "round {round}: committed batch {b} is incomplete"
            );
        }
        for (b, n) in found.range(last + 1..) {
            assert!(
                *b == last + 1 && *n == SERIES,
                "round {round}: batch {b} is partial ({n} series)"
            );
        }
        println!(
            "round {round}: killed after batch {last}; {} batches on disk, {} blocks",
            found.len(),
            db.blocks().len()
        );
        assert!(
            round == 0 || !db.blocks().is_empty(),
            "kills also cover persisted blocks"
        );
    }
    println!("test crash_safety ... ok");
}
