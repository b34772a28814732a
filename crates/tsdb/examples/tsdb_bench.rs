//! Drives `bench/tsdb.sh`: generates replayed real scrapes, imports them, ingests them live.
//!
//! ```text
//! tsdb_bench gen FIXTURE SCRAPES START_MS OUT.om     replayed scrapes as OpenMetrics
//! tsdb_bench import DIR FILE.om                      backfill into a store, print block figures
//! tsdb_bench ingest FIXTURE SCRAPES DIR              live ingest, print samples/s and memory
//! ```

#[path = "common/replay.rs"]
mod replay;

use apilens_model::{Sample, Series};
use apilens_tsdb::{Db, DbOptions, import_openmetrics, write_openmetrics};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") if args.len() == 6 => {
            let mut series = replay::load(Path::new(&args[2]), usize::MAX);
            let scrapes: usize = args[3].parse().expect("SCRAPES");
            let start: i64 = args[4].parse().expect("START_MS");
            let mut rng = replay::Rng::new(1);
            let mut all: Vec<Series> = series
                .iter()
                .map(|s| Series {
                    labels: s.labels.clone(),
                    samples: Vec::with_capacity(scrapes),
                })
                .collect();
            for t in replay::timestamps(start, scrapes) {
                for (out, s) in all.iter_mut().zip(&series) {
                    out.samples.push(Sample { t, v: s.value });
                }
                replay::step(&mut series, &mut rng);
            }
            let f = std::fs::File::create(&args[5]).expect("create");
            let mut w = std::io::BufWriter::new(f);
            write_openmetrics(&all, &mut w).expect("write");
            w.flush().expect("flush");
            println!("series={} samples={}", all.len(), all.len() * scrapes);
        }
        Some("import") if args.len() == 4 => {
            let db = Db::open(Path::new(&args[2]), DbOptions::default()).expect("open");
            let t0 = Instant::now();
            let stats = import_openmetrics(&db, Path::new(&args[3])).expect("import");
            let secs = t0.elapsed().as_secs_f64();
            let st = db.stats();
            println!(
                "series={} samples={} blocks={} block_bytes={} seconds={secs:.2}",
                stats.series, st.block_samples, st.blocks, st.block_bytes
            );
        }
        Some("ingest") if args.len() == 5 => {
            let mut series = replay::load(Path::new(&args[2]), usize::MAX);
            let scrapes: usize = args[3].parse().expect("SCRAPES");
            let before = rss_kib();
            let db = Db::open(Path::new(&args[4]), DbOptions::default()).expect("open");
            let mut rng = replay::Rng::new(1);
            let t0 = Instant::now();
            let mut n = 0usize;
            // How long each commit (WAL record, fsync, head) kept the scrape waiting.
            let mut commit_ms: Vec<f64> = Vec::with_capacity(scrapes);
            for t in replay::timestamps(1_700_000_000_000, scrapes) {
                let mut app = db.appender();
                for s in &series {
                    app.append(&s.labels, t, s.value).expect("append");
                }
                n += app.len();
                let c0 = Instant::now();
                app.commit().expect("commit");
                commit_ms.push(c0.elapsed().as_secs_f64() * 1e3);
                replay::step(&mut series, &mut rng);
            }
            let secs = t0.elapsed().as_secs_f64();
            commit_ms.sort_by(f64::total_cmp);
            let p99 = commit_ms
                .get(commit_ms.len().saturating_sub(1) * 99 / 100)
                .copied()
                .unwrap_or(0.0);
            let max = commit_ms.last().copied().unwrap_or(0.0);
            let after = rss_kib();
            let st = db.stats();
            println!(
                "series={} samples={n} seconds={secs:.2} samples_per_sec={:.0} rss_delta_kib={} bytes_per_series={:.0} head_chunk_bytes={} wal_bytes={} blocks={} commit_p99_ms={p99:.1} commit_max_ms={max:.1}",
                st.head_series,
                n as f64 / secs,
                after.saturating_sub(before),
                (after.saturating_sub(before) * 1024) as f64 / st.head_series.max(1) as f64,
                st.head_chunk_bytes,
                st.wal_bytes,
                st.blocks
            );
        }
        _ => {
            eprintln!(
                "usage: tsdb_bench gen FIXTURE SCRAPES START_MS OUT.om | import DIR FILE.om | ingest FIXTURE SCRAPES DIR"
            );
            std::process::exit(2);
        }
    }
}
