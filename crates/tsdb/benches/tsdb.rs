//! Criterion benches: chunk encode/decode, ingest through the WAL and head, select latency, and
//! the block paths (reading every sample back from blocks; writing and merging blocks).
//!
//! All inputs come from a real kube-apiserver scrape replayed with realistic counter growth
//! (`examples/common/replay.rs`), the same data `bench/tsdb.sh` measures on disk.

#[path = "../examples/common/replay.rs"]
mod replay;

use apilens_model::{Labels, MatchOp, Matcher, Queryable, Sample, SelectHints};
use apilens_tsdb::{Db, DbOptions, XorChunk, decode_chunk};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

const START: i64 = 1_700_000_000_000;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver/newrelic-nri-kubernetes-apiserver-1.35.0-minikube.txt")
}

/// 120-sample series of the replayed scrape, as (t, v) columns per series.
fn chunk_inputs(n_series: usize) -> Vec<Vec<(i64, f64)>> {
    let mut series = replay::load(&fixture(), n_series);
    let mut rng = replay::Rng::new(1);
    let mut cols = vec![Vec::with_capacity(120); series.len()];
    for t in replay::timestamps(START, 120) {
        for (col, s) in cols.iter_mut().zip(&series) {
            col.push((t, s.value));
        }
        replay::step(&mut series, &mut rng);
    }
    cols
}

fn chunks(c: &mut Criterion) {
    let inputs = chunk_inputs(2000);
    let n_samples: usize = inputs.iter().map(Vec::len).sum();
    let encoded: Vec<XorChunk> = inputs
        .iter()
        .map(|col| {
            let mut ch = XorChunk::new();
            for &(t, v) in col {
                ch.append(t, v);
            }
            ch
        })
        .collect();
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Elements(n_samples as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            for col in &inputs {
                let mut ch = XorChunk::new();
                for &(t, v) in col {
                    ch.append(t, v);
                }
                black_box(ch.bytes().len());
            }
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for ch in &encoded {
                black_box(ch.iter().fold(0.0, |acc, s| acc + s.v));
            }
        })
    });
    g.bench_function("decode_to_vec", |b| {
        b.iter(|| {
            for ch in &encoded {
                black_box(decode_chunk(ch.bytes()).map(|v| v.len()).unwrap_or(0));
            }
        })
    });
    g.finish();
}

fn ingest(c: &mut Criterion) {
    let base = replay::load(&fixture(), usize::MAX);
    let n = base.len();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut series = base;
    let mut rng = replay::Rng::new(1);
    let mut t = START;
    // One iteration is one whole scrape of every series: append, WAL record, fsync, head.
    g.bench_function("scrape_commit", |b| {
        b.iter(|| {
            t += 15_000;
            let mut app = db.appender();
            for s in &series {
                app.append(&s.labels, t, s.value).unwrap();
            }
            app.commit().unwrap();
            replay::step(&mut series, &mut rng);
        })
    });
    g.finish();
}

fn select(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let mut series = replay::load(&fixture(), usize::MAX);
    let mut rng = replay::Rng::new(1);
    // One hour of scrapes in the head.
    for t in replay::timestamps(START, 240) {
        let mut app = db.appender();
        for s in &series {
            app.append(&s.labels, t, s.value).unwrap();
        }
        app.commit().unwrap();
        replay::step(&mut series, &mut rng);
    }
    let mut g = c.benchmark_group("select");
    let one_metric = [Matcher::equal(
        "__name__",
        "apiserver_request_duration_seconds_bucket",
    )];
    let regex = [
        Matcher::new(MatchOp::RegexMatch, "__name__", "apiserver_flowcontrol_.*").unwrap(),
        Matcher::new(MatchOp::NotEqual, "priority_level", "exempt").unwrap(),
    ];
    for (name, matchers) in [("equal_1h", &one_metric[..]), ("regex_1h", &regex[..])] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    db.select(matchers, START, START + 3_600_000, SelectHints::default())
                        .unwrap()
                        .len(),
                )
            })
        });
    }
    g.bench_function("equal_5m", |b| {
        b.iter(|| {
            black_box(
                db.select(
                    &one_metric,
                    START + 3_300_000,
                    START + 3_600_000,
                    SelectHints::default(),
                )
                .unwrap()
                .len(),
            )
        })
    });
    g.finish();
}

/// 2,000 series of the replayed scrape over 8 hours (1,920 scrapes, 3.84 M samples).
fn block_input() -> BTreeMap<Labels, Vec<Sample>> {
    let mut series = replay::load(&fixture(), 2000);
    let mut rng = replay::Rng::new(1);
    let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for t in replay::timestamps(START, 1920) {
        for s in &series {
            out.entry(s.labels.clone())
                .or_default()
                .push(Sample { t, v: s.value });
        }
        replay::step(&mut series, &mut rng);
    }
    out
}

/// The block paths, where checksums are computed and verified: `write` imports 8 hours into
/// four 2-hour blocks and merges the first three (what compaction does); `read_all` selects
/// every sample of the store back from its blocks.
fn blocks(c: &mut Criterion) {
    let input = block_input();
    let n_samples: usize = input.values().map(Vec::len).sum();
    let mut g = c.benchmark_group("blocks");
    g.throughput(Throughput::Elements(n_samples as u64));
    g.sample_size(10);
    g.bench_function("write", |b| {
        b.iter_batched(
            || (tempfile::tempdir().unwrap(), input.clone()),
            |(dir, input)| {
                let db = Db::open(dir.path(), DbOptions::default()).unwrap();
                black_box(db.import(input).unwrap());
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    db.import(input).unwrap();
    let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
    g.bench_function("read_all", |b| {
        b.iter(|| {
            let got = db
                .select(&all, i64::MIN, i64::MAX, SelectHints::default())
                .unwrap();
            black_box(got.iter().map(|s| s.samples.len()).sum::<usize>())
        })
    });
    g.finish();
}

criterion_group!(benches, chunks, ingest, select, blocks);
criterion_main!(benches);
