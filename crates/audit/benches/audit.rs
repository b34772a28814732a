//! Throughput of one scan over a synthetic audit log: decoding and `top --by user`, on one and
//! on two worker threads.

use apilens_audit::{
    Filter, FilterSpec, Input, ScanOpts, SynthOpts, Top, TopKey, View, scan, write_synthetic,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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

criterion_group!(benches, bench_scan);
criterion_main!(benches);
