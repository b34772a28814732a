//! Integration tests of the doctor: logs built to fool a naive ranking, the fixes it writes
//! (read back as Kubernetes objects and applied to the same log request by request), what-if,
//! and bad input.

mod adversarial;
mod bad_input;
mod fixes;
mod hostile;
mod scenarios;
mod whatif;

use apilens_audit::{Filter, Input, ScanOpts};
use apilens_doctor::synth::{Case, SynthOpts, Truth, write_case};
use apilens_doctor::{Diagnosis, DoctorInputs, diagnose};
use std::path::PathBuf;

/// A generated log in a temporary directory.
pub(crate) struct Log {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) truth: Truth,
}

/// Writes the log of `case` (150 nodes, `minutes` minutes).
pub(crate) fn log(case: Case, minutes: u32) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let truth = write_case(
        case,
        &SynthOpts {
            minutes,
            ..SynthOpts::default()
        },
        &mut f,
    )
    .unwrap();
    drop(f);
    Log {
        _dir: dir,
        path,
        truth,
    }
}

/// The doctor's inputs for an audit log alone, with the version given.
pub(crate) fn inputs(path: &std::path::Path, version: &str) -> DoctorInputs {
    DoctorInputs {
        audit: vec![Input::Path(path.to_owned())],
        filter: Filter::default(),
        scan: ScanOpts {
            threads: 2,
            ..ScanOpts::default()
        },
        version: Some((
            apilens_apf::KubeVersion::parse(version).unwrap(),
            "test".to_owned(),
        )),
        ..DoctorInputs::default()
    }
}

/// Diagnoses `case`.
pub(crate) fn run(case: Case, version: &str) -> (Diagnosis, Log) {
    let log = log(case, 10);
    let d = diagnose(&inputs(&log.path, version)).unwrap();
    (d, log)
}

/// The findings, one line each, for failure messages.
pub(crate) fn summary(d: &Diagnosis) -> String {
    d.findings
        .iter()
        .map(|f| {
            format!(
                "{:?} {} {} [{}]",
                f.severity,
                f.kind.slug(),
                f.title,
                f.culprit.as_ref().map_or("-", |c| c.user.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
