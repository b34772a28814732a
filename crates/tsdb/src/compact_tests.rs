//! Commits never compact: the background thread persists blocks after the commit has returned,
//! and a query sees the same samples before and after.

#[path = "../examples/common/replay.rs"]
mod replay;

use crate::db::lock;
use crate::{Db, DbOptions};
use apilens_model::{Labels, Queryable, Sample, SelectHints};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

const START: i64 = 1_700_000_000_000;

fn options() -> DbOptions {
    DbOptions {
        block_duration: Duration::from_secs(600),
        ..DbOptions::default()
    }
}

fn select_all(db: &Db) -> BTreeMap<Labels, Vec<(i64, u64)>> {
    db.select(&[], i64::MIN, i64::MAX, SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| {
            let samples = s.samples.iter().map(|x: &Sample| (x.t, x.v.to_bits()));
            (s.labels, samples.collect())
        })
        .collect()
}

/// Commits `scrapes` replayed scrapes of 300 series of a real kube-apiserver scrape on another
/// thread and returns how many commits were made, or `None` when they did not all return within
/// `timeout`.
fn commit_on_thread(db: &Arc<Db>, scrapes: usize, timeout: Duration) -> Option<usize> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt",
    );
    let db = db.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut series = replay::load(&fixture, 300);
        let mut rng = replay::Rng::new(1);
        let mut commits = 0;
        for t in replay::timestamps(START, scrapes) {
            let mut app = db.appender();
            for s in &series {
                app.append(&s.labels, t, s.value).unwrap();
            }
            app.commit().unwrap();
            commits += 1;
            replay::step(&mut series, &mut rng);
        }
        let _ = tx.send(commits);
    });
    rx.recv_timeout(timeout).ok()
}

#[test]
fn commits_return_while_compaction_waits_and_blocks_appear_soon_after() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), options()).unwrap());
    // Holding the compaction lock stalls the background thread: a commit that compacted (or
    // waited for compaction) would never return.
    let guard = lock(&db.inner.compaction);
    // 40 minutes of 15-second scrapes with 10-minute blocks: the head is due for compaction
    // from the 61st scrape on, and every later commit wakes the compactor.
    let commits = commit_on_thread(&db, 160, Duration::from_secs(30));
    assert_eq!(commits, Some(160), "a commit waited for compaction");
    assert!(
        db.blocks().is_empty(),
        "a block was written on the commit path"
    );
    let wal_only = select_all(&db);
    assert_eq!(wal_only.len(), 300);
    assert!(wal_only.values().all(|s| s.len() == 160));
    drop(guard);

    let deadline = Instant::now() + Duration::from_secs(30);
    while db.blocks().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let blocks = db.blocks();
    assert!(
        blocks.len() >= 2,
        "the background thread persisted no blocks: {blocks:?}"
    );
    let head_min = blocks.iter().map(|b| b.maxt).max().unwrap();
    assert!(
        read_head_min(&db) >= head_min,
        "the head still holds what the blocks hold"
    );
    assert_eq!(
        select_all(&db),
        wal_only,
        "compaction changed what a query sees"
    );

    // Dropping the store stops the thread and frees the lock at once; nothing is lost.
    drop(Arc::into_inner(db).expect("the only handle"));
    let reopened = Db::open(dir.path(), options()).unwrap();
    assert_eq!(select_all(&reopened), wal_only, "a reopen lost samples");
}

fn read_head_min(db: &Db) -> i64 {
    crate::db::read(&db.inner.head)
        .time_range()
        .map_or(i64::MAX, |r| r.0)
}
