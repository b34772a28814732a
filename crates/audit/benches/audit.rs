//! Throughput over a synthetic audit log: the per-line decoder alone on one core, and one whole
//! scan with `top --by user` on one and on two worker threads.

use apilens_audit::{
    Filter, FilterSpec, Input, ScanOpts, SynthOpts, Top, TopKey, View, decode_record, scan,
    write_synthetic,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_decode(c: &mut Criterion) {
    let mut log = Vec::new();
    let stats = write_synthetic(
        &mut log,
        &SynthOpts {
            bytes: 32 << 20,
            ..SynthOpts::default()
        },
    )
    .expect("write");
    let text = String::from_utf8(log).expect("utf8");
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(stats.bytes));
    group.sample_size(10);
    group.bench_function("native_lines/1_core", |b| {
        b.iter(|| {
            let mut requests = 0u64;
            let mut bytes = 0usize;
            for line in text.lines() {
                decode_record(line, &mut |req| {
                    requests += 1;
                    bytes += req.user.len();
                })
                .expect("decode");
            }
            (requests, bytes)
        })
    });
    group.finish();
}

fn bench_scan(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let stats = write_synthetic(
        &mut file,
        &SynthOpts {
            bytes: 32 << 20,
            ..SynthOpts::default()
        },
    )
    .expect("write");
    drop(file);
    let inputs = [Input::Path(path)];
    let filter = Filter::new(&FilterSpec::default()).expect("filter");
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(stats.bytes));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("top_by_user/{threads}_threads"), |b| {
            b.iter(|| {
                let opts = ScanOpts {
                    threads,
                    ..ScanOpts::default()
                };
                let (top, summary) = scan(&inputs, &filter, &opts, || {
                    Top::new(&[TopKey::User], 20, 20_000)
                })
                .expect("scan");
                top.finish(&summary)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_scan);
criterion_main!(benches);
