//! Faults on disk, as a bad day brings them: flipped bytes, cut, zeroed and deleted files in WAL
//! segments and blocks, a full file system that recovers, a read-only directory. Each test
//! damages a store filled with replayed real scrapes and asserts that every sample that was not
//! damaged is still served, value for value, that nothing damaged comes back changed, and that
//! the damage is reported naming the file.
//!
//! The full-disk and read-only tests mount a tmpfs, which needs root (as the tests run here and
//! in CI); without it they return with a note.
//!
//! See: issue 15.

#[path = "../examples/common/replay.rs"]
mod replay;

use apilens_model::{Labels, MatchOp, Matcher, Queryable, Sample, SelectHints};
use apilens_tsdb::{Damage, DamageAction, Db, DbOptions, XorChunk, check_store};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const START: i64 = 1_700_000_000_000;
const N_SERIES: usize = 150;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt",
    )
}

/// Small WAL segments, so that a store of a few hundred scrapes has many.
fn wal_opts() -> DbOptions {
    DbOptions {
        wal_segment_bytes: 32 << 10,
        ..DbOptions::default()
    }
}

type Samples = BTreeMap<Labels, Vec<Sample>>;

/// What a test wrote: every sample, and which WAL segment each scrape (one commit) went to.
struct Written {
    expected: Samples,
    segment_of: BTreeMap<i64, u64>,
}

fn segments(dir: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(dir.join("wal"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_unstable();
    out
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join("wal").join(format!("{seq:08}"))
}

/// Commits `scrapes` scrapes of the first [`N_SERIES`] series of a real scrape, one commit each.
fn ingest(db: &Db, scrapes: usize, start: i64) -> Written {
    let mut series = replay::load(&fixture(), N_SERIES);
    let mut rng = replay::Rng::new(7);
    let mut w = Written {
        expected: BTreeMap::new(),
        segment_of: BTreeMap::new(),
    };
    for t in replay::timestamps(start, scrapes) {
        // The record goes to the newest segment as the commit starts.
        let seq = *segments(db.dir()).last().expect("a segment");
        let mut app = db.appender();
        for s in &series {
            app.append(&s.labels, t, s.value).unwrap();
            w.expected
                .entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        app.commit().unwrap();
        w.segment_of.insert(t, seq);
        replay::step(&mut series, &mut rng);
    }
    w
}

fn select(db: &Db, matchers: &[Matcher]) -> Result<Samples, String> {
    db.select(matchers, i64::MIN, i64::MAX, SelectHints::default())
        .map(|v| v.into_iter().map(|s| (s.labels, s.samples)).collect())
        .map_err(|e| e.to_string())
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()]
}

/// Asserts that `got` holds exactly the expected samples except whole scrapes, which may be
/// missing only when `may_lose` allows their time; returns the times of the scrapes missing.
fn lost_scrapes(got: &Samples, expected: &Samples, may_lose: impl Fn(i64) -> bool) -> Vec<i64> {
    let mut missing: BTreeMap<i64, usize> = BTreeMap::new();
    for (labels, want) in expected {
        let have: BTreeMap<i64, u64> = got
            .get(labels)
            .map(|v| v.iter().map(|s| (s.t, s.v.to_bits())).collect())
            .unwrap_or_default();
        for s in want {
            match have.get(&s.t) {
                Some(bits) => assert_eq!(*bits, s.v.to_bits(), "{labels} at {} changed", s.t),
                None => *missing.entry(s.t).or_default() += 1,
            }
        }
        assert!(
            have.len() <= want.len(),
            "{labels} has samples that were never written"
        );
    }
    assert!(
        got.keys().all(|l| expected.contains_key(l)),
        "a series that was never written"
    );
    for (&t, &n) in &missing {
        assert!(
            may_lose(t),
            "the scrape at {t} was not damaged, yet {n} of its samples are missing"
        );
        assert_eq!(n, expected.len(), "the scrape at {t} is partly there");
    }
    missing.into_keys().collect()
}

fn only_damage_in<'d>(damage: &'d [Damage], path: &Path) -> &'d [Damage] {
    assert!(!damage.is_empty(), "no damage reported");
    for d in damage {
        assert_eq!(d.path, path, "damage reported in another file: {d}");
        assert!(d.to_string().contains(&path.display().to_string()));
    }
    damage
}

/// See: issue 15 ("one flipped byte in a middle WAL segment made a read-only `apilens query`
/// delete 72 of 74 segments").
#[test]
fn a_flipped_byte_in_a_middle_wal_segment_costs_one_scrape_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let w = {
        let db = Db::open(dir.path(), wal_opts()).unwrap();
        ingest(&db, 200, START)
    };
    let segs = segments(dir.path());
    assert!(segs.len() >= 6, "segments: {segs:?}");
    let target = segs[segs.len() / 2];
    let path = segment_path(dir.path(), target);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let in_target = |t: i64| w.segment_of[&t] == target;

    // Read-only: served minus one scrape, reported, and not one byte on disk changed.
    let before = apilens_testkit::dir_snapshot(dir.path());
    {
        let db = Db::open_read_only(dir.path()).unwrap();
        let lost = lost_scrapes(&select(&db, &all()).unwrap(), &w.expected, in_target);
        assert_eq!(lost.len(), 1, "lost scrapes: {lost:?}");
        let damage = db.damage();
        let d = &only_damage_in(&damage, &path)[0];
        assert!(d.offset.is_some_and(|o| o as usize <= at), "{d}");
        assert_eq!(d.action, DamageAction::Skipped);
        assert!(d.to_string().contains("lost"), "{d}");
        let report = check_store(dir.path()).unwrap();
        assert!(report.damaged());
    }
    assert_eq!(
        apilens_testkit::dir_snapshot(dir.path()),
        before,
        "a read-only open changed the store"
    );

    // Writable: the same, the damaged file kept aside, every later segment kept.
    {
        let db = Db::open(dir.path(), wal_opts()).unwrap();
        let lost = lost_scrapes(&select(&db, &all()).unwrap(), &w.expected, in_target);
        assert_eq!(lost.len(), 1);
        let damage = db.damage();
        let d = &only_damage_in(&damage, &path)[0];
        let DamageAction::MovedAside(aside) = &d.action else {
            panic!("{d}")
        };
        assert_eq!(
            std::fs::read(aside).unwrap(),
            bytes,
            "the damaged file is kept"
        );
        for s in &segs {
            assert!(segment_path(dir.path(), *s).exists(), "segment {s} deleted");
        }
    }
    // Repaired: the next open finds nothing new and serves the same.
    let db = Db::open(dir.path(), wal_opts()).unwrap();
    assert_eq!(db.damage(), []);
    assert_eq!(
        lost_scrapes(&select(&db, &all()).unwrap(), &w.expected, in_target).len(),
        1
    );
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The last sixth of the file is gone.
    Truncate,
    /// 300 bytes three quarters in are zeros.
    Zero,
    /// The file is gone.
    Delete,
}

#[test]
fn cut_zeroed_and_deleted_wal_segments_cost_only_their_own_records() {
    for fault in [Fault::Truncate, Fault::Zero, Fault::Delete] {
        let dir = tempfile::tempdir().unwrap();
        let w = {
            let db = Db::open(dir.path(), wal_opts()).unwrap();
            ingest(&db, 160, START)
        };
        let segs = segments(dir.path());
        let target = segs[segs.len() / 2];
        let path = segment_path(dir.path(), target);
        let bytes = std::fs::read(&path).unwrap();
        match fault {
            Fault::Truncate => std::fs::write(&path, &bytes[..bytes.len() * 5 / 6]).unwrap(),
            Fault::Zero => {
                let mut b = bytes.clone();
                let at = b.len() * 3 / 4;
                b[at..at + 300].fill(0);
                std::fs::write(&path, &b).unwrap();
            }
            Fault::Delete => std::fs::remove_file(&path).unwrap(),
        }
        let in_target = |t: i64| w.segment_of[&t] == target;
        let n_in_target = w.segment_of.values().filter(|s| **s == target).count();
        for read_only in [true, false] {
            let db = if read_only {
                Db::open_read_only(dir.path()).unwrap()
            } else {
                Db::open(dir.path(), wal_opts()).unwrap()
            };
            let lost = lost_scrapes(&select(&db, &all()).unwrap(), &w.expected, in_target);
            match fault {
                Fault::Delete => assert_eq!(lost.len(), n_in_target, "{fault:?}"),
                Fault::Truncate => {
                    assert!(
                        !lost.is_empty() && lost.len() < n_in_target,
                        "{fault:?} {lost:?}"
                    );
                    // What is lost is the end of the segment.
                    let last = w.segment_of.iter().rfind(|(_, s)| **s == target);
                    assert_eq!(lost.last(), last.map(|(t, _)| t), "{fault:?}");
                }
                Fault::Zero => assert!(matches!(lost.len(), 1..=2), "{fault:?} {lost:?}"),
            }
            if read_only {
                only_damage_in(&db.damage(), &path);
            } else if !matches!(fault, Fault::Delete) {
                // The writable open before repaired what the read-only one reported.
                assert!(db.damage().iter().all(|d| d.path == path), "{fault:?}");
            }
        }
    }
}

/// The block of `dir` that holds time `t`.
fn block_holding(db: &Db, t: i64) -> PathBuf {
    let metas = db.blocks();
    let i = metas
        .iter()
        .position(|m| m.mint <= t && t < m.maxt)
        .expect("a block");
    db.block_paths()[i].clone()
}

fn import_store(dir: &Path, hours: usize) -> Samples {
    let mut series = replay::load(&fixture(), N_SERIES);
    let mut rng = replay::Rng::new(11);
    let mut expected: Samples = BTreeMap::new();
    for t in replay::timestamps(START, hours * 240) {
        for s in &series {
            expected
                .entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        replay::step(&mut series, &mut rng);
    }
    let db = Db::open(dir, DbOptions::default()).unwrap();
    db.import(expected.clone()).unwrap();
    expected
}

/// See: issue 15 ("one flipped bit silently changed 417 exported samples").
#[test]
fn a_flipped_bit_in_a_block_chunk_is_an_error_naming_block_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let expected = import_store(dir.path(), 3);
    let (victim, samples) = expected.iter().nth(40).unwrap();
    let (victim, samples) = (victim.clone(), samples.clone());
    let db = Db::open_read_only(dir.path()).unwrap();
    let t0 = samples[0].t;
    let block = block_holding(&db, t0);
    let meta = db.blocks()[db.block_paths().iter().position(|p| *p == block).unwrap()];
    drop(db);
    // The victim's chunk in that block, found by its bytes.
    let mut chunk = XorChunk::new();
    for s in samples
        .iter()
        .filter(|s| s.t >= meta.mint && s.t < meta.maxt)
    {
        chunk.append(s.t, s.v);
    }
    let mut file = std::fs::read(&block).unwrap();
    let at = file
        .windows(chunk.bytes().len())
        .position(|w| w == chunk.bytes())
        .expect("the chunk is in the block file");
    file[at + chunk.bytes().len() / 2] ^= 0x04;
    std::fs::write(&block, &file).unwrap();

    let db = Db::open_read_only(dir.path()).unwrap();
    let name = victim.metric_name().unwrap();
    let err = select(&db, &[Matcher::equal("__name__", name)]).unwrap_err();
    assert!(
        err.contains(&block.display().to_string()) && err.contains(&victim.to_string()),
        "{err}"
    );
    assert!(err.contains("checksum mismatch"), "{err}");
    // Everything else reads back exactly.
    let others = select(
        &db,
        &[Matcher::new(MatchOp::NotEqual, "__name__", name).unwrap()],
    )
    .unwrap();
    let want: Samples = expected
        .iter()
        .filter(|(l, _)| l.metric_name() != Some(name))
        .map(|(l, s)| (l.clone(), s.clone()))
        .collect();
    assert!(lost_scrapes(&others, &want, |_| false).is_empty());
    let report = check_store(dir.path()).unwrap();
    assert!(report.damaged());
    let b = report.blocks.iter().find(|b| b.path == block).unwrap();
    assert!(
        b.problems.iter().any(|p| p.contains(&victim.to_string())),
        "{:?}",
        b.problems
    );
}

/// Flips a byte in every 4 KiB page of a block file (and zeroes whole pages): whatever it hits,
/// the block is quarantined, or a read fails naming it, or every sample reads back exactly.
#[test]
fn any_damaged_page_of_a_block_is_an_error_or_a_quarantine_never_a_changed_value() {
    let pristine = tempfile::tempdir().unwrap();
    let expected = import_store(pristine.path(), 1);
    let block = {
        let db = Db::open_read_only(pristine.path()).unwrap();
        db.block_paths()[0].clone()
    };
    let original = std::fs::read(&block).unwrap();
    let name = block.file_name().unwrap().to_owned();
    let (mut quarantined, mut errors, mut intact) = (0, 0, 0);
    let pages = original.len() / 4096;
    for (page, zero) in (0..pages).flat_map(|p| [(p, false), (p, true)]) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("blocks")).unwrap();
        let path = dir.path().join("blocks").join(&name);
        let mut bytes = original.clone();
        if zero {
            bytes[page * 4096..(page + 1) * 4096].fill(0);
        } else {
            bytes[page * 4096 + 1000] ^= 0x55;
        }
        if bytes == original {
            continue;
        }
        std::fs::write(&path, &bytes).unwrap();
        let db = Db::open_read_only(dir.path()).unwrap();
        if !db.damage().is_empty() {
            only_damage_in(&db.damage(), &path);
            quarantined += 1;
            continue;
        }
        match select(&db, &all()) {
            Err(e) => {
                assert!(e.contains(&path.display().to_string()), "{e}");
                errors += 1;
            }
            Ok(got) => {
                assert!(
                    lost_scrapes(&got, &expected, |_| false).is_empty(),
                    "page {page}"
                );
                intact += 1;
            }
        }
    }
    println!("{pages} pages: {quarantined} quarantined, {errors} read errors, {intact} intact");
    assert!(quarantined > 0 && errors > 0, "the faults hit something");
}

#[test]
fn a_cut_block_is_quarantined_and_a_deleted_one_costs_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let expected = import_store(dir.path(), 4);
    let (first, second) = {
        let db = Db::open_read_only(dir.path()).unwrap();
        let paths = db.block_paths();
        assert!(paths.len() >= 3, "{paths:?}");
        (paths[0].clone(), paths[1].clone())
    };
    let metas = Db::open_read_only(dir.path()).unwrap().blocks();
    let in_block = |i: usize| {
        let (mint, maxt) = (metas[i].mint, metas[i].maxt);
        move |t: i64| mint <= t && t < maxt
    };
    let bytes = std::fs::read(&first).unwrap();
    std::fs::write(&first, &bytes[..bytes.len() / 2]).unwrap();
    {
        let db = Db::open_read_only(dir.path()).unwrap();
        only_damage_in(&db.damage(), &first);
        let lost = lost_scrapes(&select(&db, &all()).unwrap(), &expected, in_block(0));
        assert_eq!(lost.len() as i64, metas[0].num_samples / N_SERIES as i64);
        assert!(first.exists(), "a read-only open moved nothing");
    }
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let damage = db.damage();
        let d = &only_damage_in(&damage, &first)[0];
        let DamageAction::Quarantined(q) = &d.action else {
            panic!("{d}")
        };
        assert!(q.starts_with(dir.path().join("quarantine")) && q.exists() && !first.exists());
    }
    // A deleted block leaves no trace to name; what it held is gone and nothing else is.
    std::fs::remove_file(&second).unwrap();
    let db = Db::open_read_only(dir.path()).unwrap();
    let (b0, b1) = (in_block(0), in_block(1));
    lost_scrapes(&select(&db, &all()).unwrap(), &expected, |t| b0(t) || b1(t));
    let report = check_store(dir.path()).unwrap();
    assert!(report.damaged() && report.quarantined.len() == 1);
}

/// A chunk flipped in a block that compaction later merges: the merge quarantines that block
/// (instead of failing again every minute) and merges the others.
#[test]
fn compaction_quarantines_a_damaged_source_and_merges_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut series = replay::load(&fixture(), N_SERIES);
    let mut rng = replay::Rng::new(5);
    // 8 hours from a 6-hour boundary, imported as hours 0-4, then 4-8.
    let start = 1_699_999_200_000 - 7_200_000 * 2;
    let mut halves: [Samples; 2] = [BTreeMap::new(), BTreeMap::new()];
    for t in replay::timestamps(start, 8 * 240) {
        let half = usize::from(t >= start + 4 * 3_600_000);
        for s in &series {
            halves[half]
                .entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        replay::step(&mut series, &mut rng);
    }
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.import(halves[0].clone()).unwrap();
    let first = db.block_paths()[0].clone();
    let first_meta = db.blocks()[0];
    let mut file = std::fs::read(&first).unwrap();
    // Flip one byte in the middle of the first block's chunks region.
    let (victim, samples) = halves[0].iter().nth(7).unwrap();
    let mut chunk = XorChunk::new();
    for s in samples.iter().filter(|s| s.t < first_meta.maxt) {
        chunk.append(s.t, s.v);
    }
    let at = file
        .windows(chunk.bytes().len())
        .position(|w| w == chunk.bytes())
        .expect("chunk found");
    file[at + 10] ^= 0x10;
    std::fs::write(&first, &file).unwrap();
    db.import(halves[1].clone()).unwrap();
    let damage = db.damage();
    let d = &only_damage_in(&damage, &first)[0];
    assert!(d.detail.contains(&victim.to_string()), "{d}");
    assert!(matches!(d.action, DamageAction::Quarantined(_)), "{d}");
    assert!(
        db.blocks().iter().any(|b| b.level == 2),
        "{:?}",
        db.blocks()
    );
    let mut expected = halves[0].clone();
    for (l, s) in &halves[1] {
        expected
            .entry(l.clone())
            .or_default()
            .extend(s.iter().copied());
    }
    let in_first = |t: i64| first_meta.mint <= t && t < first_meta.maxt;
    let lost = lost_scrapes(&select(&db, &all()).unwrap(), &expected, in_first);
    assert_eq!(lost.len(), 480, "the quarantined block's two hours");
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`) on `dir`, or returns `None` with a note
    /// when this process may not mount (not root). Under `CI` as root it must work.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let root = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("Uid:"))
                        .map(|l| l.split_whitespace().nth(2) == Some("0"))
                })
                .unwrap_or(false);
            assert!(
                !(root && std::env::var_os("CI").is_some()),
                "cannot mount a tmpfs as root under CI"
            );
            eprintln!("note: cannot mount a tmpfs here (root needed); skipping");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn remount_read_only(&self) {
        let st = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// See: issue 15 ("a full disk that later recovers loses everything written after recovery, at
/// the next open").
#[test]
fn a_full_disk_that_recovers_loses_nothing_acknowledged() {
    let mnt = tempfile::tempdir().unwrap();
    let Some(_fs) = Tmpfs::mount(mnt.path(), "3m") else {
        return;
    };
    let dir = mnt.path().join("store");
    let opts = DbOptions {
        wal_segment_bytes: 64 << 10,
        ..DbOptions::default()
    };
    let mut series = replay::load(&fixture(), N_SERIES);
    let mut rng = replay::Rng::new(3);
    let mut expected: Samples = BTreeMap::new();
    let (mut acked, mut failed) = (BTreeSet::new(), BTreeSet::new());
    {
        let db = Db::open(&dir, opts.clone()).unwrap();
        let filler = mnt.path().join("filler");
        for (i, t) in replay::timestamps(START, 300).into_iter().enumerate() {
            if i == 100 {
                // The disk fills up.
                let mut f = std::fs::File::create(&filler).unwrap();
                let chunk = vec![1u8; 64 << 10];
                while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
                let _ = std::io::Write::write_all(&mut f, &[1u8; 4096]);
            }
            if i == 160 {
                // Space is freed.
                std::fs::remove_file(&filler).unwrap();
            }
            let mut app = db.appender();
            for s in &series {
                app.append(&s.labels, t, s.value).unwrap();
            }
            match app.commit() {
                Ok(()) => {
                    acked.insert(t);
                    for s in &series {
                        expected
                            .entry(s.labels.clone())
                            .or_default()
                            .push(Sample { t, v: s.value });
                    }
                }
                Err(e) => {
                    assert!(
                        e.to_string()
                            .contains(&dir.join("wal").display().to_string())
                            && e.to_string().contains("No space left"),
                        "{e}"
                    );
                    assert!((100..160).contains(&i), "commit {i} failed: {e}");
                    failed.insert(t);
                }
            }
            replay::step(&mut series, &mut rng);
        }
    }
    assert!(
        failed.len() >= 30,
        "the full disk failed commits: {failed:?}"
    );
    assert_eq!(acked.len() + failed.len(), 300);
    let db = Db::open(&dir, opts).unwrap();
    let got = select(&db, &all()).unwrap();
    let lost = lost_scrapes(&got, &expected, |_| false);
    assert!(lost.is_empty());
    for s in got.values() {
        assert!(
            s.iter().all(|x| !failed.contains(&x.t)),
            "a failed commit came back"
        );
    }
    assert!(
        db.damage().iter().all(|d| d.torn_write),
        "{:?}",
        db.damage()
    );
}

/// See: issue 15 (read-only commands must work on a read-only directory and change nothing).
#[test]
fn a_read_only_directory_is_served_whole_and_never_written() {
    let mnt = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(mnt.path(), "64m");
    let dir = mnt.path().join("store");
    let (w, imported) = {
        let imported = import_store(&dir, 2);
        let db = Db::open(&dir, wal_opts()).unwrap();
        let w = ingest(&db, 120, START + 3 * 3_600_000);
        (w, imported)
    };
    // A damaged WAL record too: skipped, not repaired, on a directory that cannot be written.
    let segs = segments(&dir);
    let target = segs[segs.len() / 2];
    let path = segment_path(&dir, target);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() * 2 / 3;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    match &fs {
        Some(fs) => fs.remount_read_only(),
        None => {
            let st = Command::new("chmod")
                .args(["-R", "a-w"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    assert!(
        std::fs::File::create(dir.join("probe")).is_err(),
        "the directory is really read-only"
    );
    let before = apilens_testkit::dir_snapshot(&dir);
    let mut expected = imported;
    for (l, s) in w.expected {
        expected.entry(l).or_default().extend(s);
    }
    {
        let db = Db::open_read_only(&dir).unwrap();
        let got = select(&db, &all()).unwrap();
        let lost = lost_scrapes(&got, &expected, |t| w.segment_of.get(&t) == Some(&target));
        assert_eq!(lost.len(), 1);
        only_damage_in(&db.damage(), &path);
        let mut app = db.appender();
        app.append(&Labels::from_pairs([("__name__", "up")]), START, 1.0)
            .unwrap();
        assert!(matches!(
            app.commit(),
            Err(apilens_tsdb::Error::ReadOnly { .. })
        ));
        assert!(check_store(&dir).unwrap().damaged());
    }
    let err = Db::open(&dir, DbOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert_eq!(apilens_testkit::dir_snapshot(&dir), before);
    if fs.is_none() {
        let _ = Command::new("chmod").args(["-R", "u+w"]).arg(&dir).status();
    }
}
