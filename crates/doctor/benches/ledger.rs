//! The cost ledger (every request classified and costed) and the whole doctor, over a
//! busy-cluster audit log in the page cache.

use apilens_audit::{Filter, Input, ScanOpts};
use apilens_doctor::synth::{Case, SynthOpts, write_case};
use apilens_doctor::{DoctorInputs, costs, diagnose};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write_case(
        Case::VictimOf429s,
        &SynthOpts {
            minutes: 3,
            ..SynthOpts::default()
        },
        &mut f,
    )
    .unwrap();
    drop(f);
    let bytes = std::fs::metadata(&path).unwrap().len();
    let inputs = DoctorInputs {
        audit: vec![Input::Path(path)],
        filter: Filter::default(),
        scan: ScanOpts {
            threads: 1,
            ..ScanOpts::default()
        },
        version: Some((apilens_apf::KubeVersion::minor(1, 34), "bench".to_owned())),
        ..DoctorInputs::default()
    };
    let mut g = c.benchmark_group("doctor");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("cost-ledger-one-thread", |b| {
        b.iter(|| costs(&inputs).unwrap())
    });
    g.bench_function("diagnose-one-thread", |b| {
        b.iter(|| diagnose(&inputs).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
