//! Parser throughput on the real kube-apiserver scrapes: raw entries, and with label decoding.
//! Each scrape is parsed on its own, as one exposition (joined, their families would repeat).

use apilens_textparse::{Entry, Format, Parser};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/real/metrics-apiserver");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("newrelic"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| std::fs::read(p).expect("fixture"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = corpus();
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("textparse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("entries", |b| {
        b.iter(|| {
            let mut n = 0usize;
            let mut sum = 0.0;
            for input in &inputs {
                for e in Parser::new(black_box(input), Format::PrometheusText) {
                    if let Ok(Entry::Series(s)) = e {
                        n += 1;
                        sum += s.value;
                    }
                }
            }
            black_box((n, sum))
        })
    });
    group.bench_function("entries+labels", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for input in &inputs {
                for e in Parser::new(black_box(input), Format::PrometheusText) {
                    if let Ok(Entry::Series(s)) = e {
                        for (name, value) in s.labels() {
                            n += name.len() + value.len();
                        }
                    }
                }
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
