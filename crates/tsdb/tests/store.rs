//! The store end to end on replayed real kube-apiserver scrapes: select across head and blocks,
//! WAL replay, a corrupt WAL tail, compaction, retention, import and export.

#[path = "../examples/common/replay.rs"]
mod replay;

use apilens_model::{
    Labels, MatchOp, Matcher, Queryable, STALE_NAN, Sample, SelectHints, Series, is_stale_nan,
};
use apilens_tsdb::{Db, DbOptions, Error, parse_openmetrics, write_openmetrics};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const START: i64 = 1_700_000_000_000;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver")
        .join(name)
}

fn small_blocks() -> DbOptions {
    DbOptions {
        block_duration: Duration::from_secs(600),
        ..DbOptions::default()
    }
}

/// Ingests `scrapes` replayed scrapes of the first `limit` series of a real fixture, one commit
/// per scrape, and returns what was written.
fn ingest(db: &Db, limit: usize, scrapes: usize, start: i64) -> BTreeMap<Labels, Vec<Sample>> {
    let mut series = replay::load(
        &fixture("newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt"),
        limit,
    );
    let mut rng = replay::Rng::new(1);
    let mut expected: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for t in replay::timestamps(start, scrapes) {
        let mut app = db.appender();
        for s in &series {
            app.append(&s.labels, t, s.value).unwrap();
            expected
                .entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        app.commit().unwrap();
        replay::step(&mut series, &mut rng);
    }
    expected
}

fn select_all(db: &Db, matchers: &[Matcher]) -> BTreeMap<Labels, Vec<Sample>> {
    db.select(matchers, i64::MIN, i64::MAX, SelectHints::default())
        .unwrap()
        .into_iter()
        .map(|s| (s.labels, s.samples))
        .collect()
}

fn assert_same(got: &BTreeMap<Labels, Vec<Sample>>, expected: &BTreeMap<Labels, Vec<Sample>>) {
    assert_eq!(got.len(), expected.len(), "number of series");
    for (labels, samples) in expected {
        let g = got
            .get(labels)
            .unwrap_or_else(|| panic!("missing {labels}"));
        assert_eq!(g.len(), samples.len(), "samples of {labels}");
        for (a, b) in g.iter().zip(samples) {
            assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()), "{labels}");
        }
    }
}

fn brute_force(
    expected: &BTreeMap<Labels, Vec<Sample>>,
    matchers: &[Matcher],
) -> BTreeMap<Labels, Vec<Sample>> {
    expected
        .iter()
        .filter(|(l, _)| {
            matchers
                .iter()
                .all(|m| m.matches(l.get(&m.name).unwrap_or("")))
        })
        .map(|(l, s)| (l.clone(), s.clone()))
        .collect()
}

#[test]
fn real_scrapes_read_back_from_head_blocks_and_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        // 160 scrapes of 15 s = 40 minutes: several 10-minute blocks plus a head.
        let expected = ingest(&db, 1500, 160, START);
        db.compact().unwrap();
        assert!(db.blocks().len() >= 2, "blocks: {:?}", db.blocks());
        assert!(db.stats().head_series > 0);
        assert_same(&select_all(&db, &[]), &expected);
        expected
    };
    let db = Db::open(dir.path(), small_blocks()).unwrap();
    assert_same(&select_all(&db, &[]), &expected);

    let re = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    for matchers in [
        vec![Matcher::equal("__name__", "apiserver_cache_list_total")],
        vec![
            re(MatchOp::RegexMatch, "__name__", "apiserver_.*"),
            re(MatchOp::NotEqual, "priority_level", "workload-low"),
        ],
        vec![
            re(MatchOp::RegexMatch, "__name__", ".+_bucket"),
            re(MatchOp::RegexNoMatch, "le", "0\\..*|\\+Inf"),
        ],
        vec![
            Matcher::equal("resource", ""),
            re(MatchOp::RegexMatch, "__name__", "aggregator_.*"),
        ],
        vec![Matcher::equal("__name__", "no_such_metric")],
    ] {
        let got = select_all(&db, &matchers);
        let want = brute_force(&expected, &matchers);
        let none_expected = matchers[0].value == "no_such_metric";
        assert_eq!(
            want.is_empty(),
            none_expected,
            "{matchers:?} selects something in the fixture"
        );
        assert_same(&got, &want);
    }

    // A time range cut through a block and the head returns exactly the samples inside.
    let (mint, maxt) = (START + 7 * 60_000, START + 31 * 60_000);
    let got = db
        .select(
            &[re(MatchOp::RegexMatch, "__name__", "apiserver_.*")],
            mint,
            maxt,
            SelectHints::default(),
        )
        .unwrap();
    assert!(!got.is_empty());
    for Series { labels, samples } in got {
        let want: Vec<i64> = expected[&labels]
            .iter()
            .map(|s| s.t)
            .filter(|t| (mint..=maxt).contains(t))
            .collect();
        assert_eq!(samples.iter().map(|s| s.t).collect::<Vec<_>>(), want);
    }

    let names = db.label_names().unwrap();
    assert!(
        names.contains(&"__name__".to_string()) && names.contains(&"priority_level".to_string())
    );
    let metric_names = db.label_values("__name__").unwrap();
    let want: std::collections::BTreeSet<&str> =
        expected.keys().filter_map(|l| l.metric_name()).collect();
    assert_eq!(
        metric_names
            .iter()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        want
    );
}

#[test]
fn staleness_markers_survive_wal_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let up = Labels::from_pairs([("__name__", "up"), ("instance", "a")]);
    {
        let db = Db::open(dir.path(), small_blocks()).unwrap();
        for i in 0..200i64 {
            let mut app = db.appender();
            app.append(
                &up,
                START + i * 15_000,
                if i % 50 == 49 { STALE_NAN } else { 1.0 },
            )
            .unwrap();
            app.commit().unwrap();
        }
        db.compact().unwrap();
        assert!(!db.blocks().is_empty());
    }
    let db = Db::open(dir.path(), small_blocks()).unwrap();
    let got = select_all(&db, &[Matcher::equal("instance", "a")]);
    let samples = &got[&up];
    assert_eq!(samples.len(), 200);
    let stale: Vec<usize> = (0..200).filter(|&i| is_stale_nan(samples[i].v)).collect();
    assert_eq!(stale, [49, 99, 149, 199]);
}

#[test]
fn corrupt_wal_tail_is_truncated_and_earlier_batches_stay() {
    let dir = tempfile::tempdir().unwrap();
    let up = Labels::from_pairs([("__name__", "up")]);
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        for i in 0..10 {
            let mut app = db.appender();
            app.append(&up, START + i * 15_000, i as f64).unwrap();
            app.commit().unwrap();
        }
    }
    let wal_dir = dir.path().join("wal");
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let last = segs.last().unwrap().clone();
    let mut bytes = std::fs::read(&last).unwrap();
    let len = bytes.len();
    // Flip a byte inside the last record: its checksum no longer matches.
    bytes[len - 3] ^= 0xff;
    std::fs::write(&last, &bytes).unwrap();
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        let got = select_all(&db, &[]);
        assert_eq!(
            got[&up].len(),
            9,
            "the corrupted batch is gone, the others stay"
        );
        assert!(std::fs::metadata(&last).unwrap().len() < len as u64);
        let mut app = db.appender();
        app.append(&up, START + 20 * 15_000, 20.0).unwrap();
        app.commit().unwrap();
    }
    // A torn write: half a record header and garbage at the end of the newest segment.
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&wal_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let newest = segs.last().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(newest)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0x40, 0, 0, 0, 1, 2, 3, 4, 5, 6]).unwrap();
    drop(f);
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let got = select_all(&db, &[]);
    assert_eq!(got[&up].len(), 10);
    assert_eq!(got[&up].last().unwrap().v, 20.0);
}

#[test]
fn appends_are_checked_and_batches_are_invisible_until_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let up = Labels::from_pairs([("__name__", "up")]);
    let mut app = db.appender();
    app.append(&up, 2000, 1.0).unwrap();
    assert!(select_all(&db, &[]).is_empty(), "not visible before commit");
    app.commit().unwrap();
    assert_eq!(select_all(&db, &[]).len(), 1);
    let mut app = db.appender();
    let err = app.append(&up, 1000, 1.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "out-of-order sample for up: 1000 ms is not after 2000 ms"
    );
    app.append(&up, 2000, 1.0).unwrap();
    assert!(app.is_empty(), "an identical resend is ignored");
    assert!(matches!(
        app.append(&up, 2000, 5.0),
        Err(Error::OutOfOrder { .. })
    ));
    assert!(matches!(
        app.append(&Labels::new(), 1, 1.0),
        Err(Error::EmptyLabels { .. })
    ));
    // A second handle on the same directory is refused.
    let err = Db::open(dir.path(), DbOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

#[test]
fn blocks_are_compacted_and_old_ones_removed_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DbOptions {
        block_duration: Duration::from_secs(300),
        retention: Duration::from_secs(3600),
        max_block_duration: Some(Duration::from_secs(2700)),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    // Two hours of scrapes with 5-minute blocks, merged into 15- and 45-minute blocks.
    let expected = ingest(&db, 200, 480, START);
    db.compact().unwrap();
    let blocks = db.blocks();
    assert!(blocks.iter().any(|b| b.level >= 2), "{blocks:?}");
    let newest = expected
        .values()
        .flat_map(|s| s.iter().map(|x| x.t))
        .max()
        .unwrap();
    for b in &blocks {
        assert!(
            b.maxt > newest - 3_600_000,
            "block past retention kept: {b:?}"
        );
    }
    let files = std::fs::read_dir(dir.path().join("blocks"))
        .unwrap()
        .count();
    assert_eq!(
        files,
        blocks.len(),
        "merged and expired block files are deleted"
    );
    // What is kept is exactly the expected samples in the kept range.
    let mint = blocks.first().unwrap().mint;
    let kept: BTreeMap<Labels, Vec<Sample>> = expected
        .iter()
        .map(|(l, s)| {
            (
                l.clone(),
                s.iter()
                    .copied()
                    .filter(|x| x.t >= mint)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    assert_same(&select_all(&db, &[]), &kept);
    drop(db);

    // A size limit removes the oldest blocks until the store fits.
    let limit = 200_000;
    let db = Db::open(
        dir.path(),
        DbOptions {
            max_bytes: Some(limit),
            ..opts
        },
    )
    .unwrap();
    db.compact().unwrap();
    let st = db.stats();
    assert!(
        st.block_bytes + st.wal_bytes <= limit || st.blocks == 0,
        "{st:?}"
    );
    assert!(st.blocks < blocks.len());
}

#[test]
fn import_then_export_round_trips_and_merges_with_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut series = replay::load(
        &fixture("newrelic-nri-kubernetes-apiserver-1.28.3-minikube.txt"),
        400,
    );
    let mut rng = replay::Rng::new(3);
    let mut om = Vec::new();
    let mut expected: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for t in replay::timestamps(START, 100) {
        for s in &series {
            expected
                .entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        replay::step(&mut series, &mut rng);
    }
    let as_series: Vec<Series> = expected
        .iter()
        .map(|(l, s)| Series {
            labels: l.clone(),
            samples: s.clone(),
        })
        .collect();
    write_openmetrics(&as_series, &mut om).unwrap();
    let file = dir.path().join("in.om");
    std::fs::write(&file, &om).unwrap();
    let stats = apilens_tsdb::import_openmetrics(&db, &file).unwrap();
    assert_eq!(stats.series, expected.len());
    assert_eq!(stats.samples, expected.len() * 100);
    assert_same(&select_all(&db, &[]), &expected);

    // Live data after the imported range lands in the head and reads together with it.
    let up = Labels::from_pairs([("__name__", "up")]);
    let mut app = db.appender();
    app.append(&up, START + 3_600_000, 1.0).unwrap();
    app.commit().unwrap();
    assert_eq!(select_all(&db, &[]).len(), expected.len() + 1);

    let exported: Vec<Series> = db
        .select(
            &[Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()],
            START - 1000,
            START + 3_000_000,
            SelectHints::default(),
        )
        .unwrap();
    let mut out = Vec::new();
    write_openmetrics(&exported, &mut out).unwrap();
    assert_eq!(
        out, om,
        "export of the imported range is byte-identical to the input"
    );
    let back = parse_openmetrics(&file, &out).unwrap();
    assert_same(&back, &expected);
}

/// `promtool tsdb create-blocks-from openmetrics` takes the export and counts the same samples.
/// Fails when `CI` is set and promtool (Debian package `prometheus`) is missing.
#[test]
fn promtool_accepts_the_export() {
    let promtool = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    let Some(promtool) = promtool else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing (install the prometheus package)"
        );
        eprintln!("note: promtool not found; skipping the Prometheus acceptance check outside CI");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("store"), small_blocks()).unwrap();
    let expected = ingest(&db, 800, 60, START);
    let mut series = db
        .select(&[], i64::MIN, i64::MAX, SelectHints::default())
        .unwrap();
    // A staleness marker is left out of the export, as Prometheus's own export would not carry it.
    let stale = Labels::from_pairs([("__name__", "up"), ("job", "gone")]);
    series.push(Series {
        labels: stale,
        samples: vec![
            Sample { t: START, v: 1.0 },
            Sample {
                t: START + 15_000,
                v: STALE_NAN,
            },
        ],
    });
    let file = dir.path().join("export.om");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    write_openmetrics(&series, &mut w).unwrap();
    std::io::Write::flush(&mut w).unwrap();
    drop(w);
    let out = dir.path().join("prom");
    let status = std::process::Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "promtool rejected the export: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut num_samples = 0u64;
    for entry in std::fs::read_dir(&out).unwrap() {
        let meta = entry.unwrap().path().join("meta.json");
        if let Ok(text) = std::fs::read_to_string(&meta) {
            let at = text
                .find("\"numSamples\"")
                .expect("numSamples in meta.json");
            let digits: String = text[at + 12..]
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            num_samples += digits.parse::<u64>().unwrap();
        }
    }
    let want: usize = expected.values().map(Vec::len).sum::<usize>() + 1;
    assert_eq!(num_samples, want as u64);
}

/// A store written before checksums (block format 2, WAL segment format 1) still opens, reads
/// back exactly, and `check_store` says its block is unchecked rather than damaged.
#[test]
fn stores_written_before_checksums_still_read_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/format2-store");
    let dir = tempfile::tempdir().unwrap();
    for sub in ["blocks", "wal"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut expected: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for k in 0..3i64 {
        let l = Labels::from_pairs([("__name__", "old_block_total"), ("k", &k.to_string())]);
        let s = (0..8).map(|i| Sample {
            t: START + i * 15_000,
            v: (k * 100 + i) as f64,
        });
        expected.insert(l, s.collect());
    }
    for k in 0..2i64 {
        let l = Labels::from_pairs([("__name__", "old_wal"), ("k", &k.to_string())]);
        let s = (0..4).map(|i| Sample {
            t: 1_700_010_000_000 + i * 15_000,
            v: (k * 10 + i) as f64,
        });
        expected.insert(l, s.collect());
    }
    let report = apilens_tsdb::check_store(dir.path()).unwrap();
    assert!(!report.damaged(), "{report:?}");
    let meta = report.blocks[0].meta.unwrap();
    assert_eq!((meta.version, meta.has_checksums()), (2, false));
    assert_eq!(report.blocks[0].samples, 24);
    assert_eq!(report.segments[0].version, 1);
    {
        let db = Db::open_read_only(dir.path()).unwrap();
        assert_same(&select_all(&db, &[]), &expected);
    }
    let up = Labels::from_pairs([("__name__", "up")]);
    {
        let db = Db::open(dir.path(), DbOptions::default()).unwrap();
        assert_eq!(db.damage(), []);
        assert_same(&select_all(&db, &[]), &expected);
        let mut app = db.appender();
        app.append(&up, 1_700_020_000_000, 1.0).unwrap();
        app.commit().unwrap();
    }
    expected.insert(
        up,
        vec![Sample {
            t: 1_700_020_000_000,
            v: 1.0,
        }],
    );
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    assert_same(&select_all(&db, &[]), &expected);
}
