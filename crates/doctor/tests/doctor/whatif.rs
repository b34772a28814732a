//! `--what-if`: the window replayed with and without the fix.

use super::{inputs, log};
use apilens_doctor::synth::Case;
use apilens_doctor::{DoctorError, diagnose, render_what_if, what_if};

#[test]
fn the_culprits_fix_ends_the_victims_429s_and_moves_only_the_culprit() {
    let log = log(Case::VictimOf429s, 6);
    let inputs = inputs(&log.path, "1.34");
    let d = diagnose(&inputs).unwrap();
    let fix = &d.findings[0].fix;
    let w = what_if(&inputs, &fix.yaml, "fix.yaml").unwrap();
    let text = render_what_if(&w);
    assert_eq!(
        w.moved_clients,
        vec!["system:serviceaccount:reporting:report-builder | report-builder".to_owned()],
        "{text}"
    );
    // Today the others are rejected or wait behind the culprit; with the fix neither.
    assert!(
        w.others_before.rejected > 0 || w.others_before.wait_total_s > 60.0,
        "{text}"
    );
    assert_eq!(w.others_after.rejected, 0, "{text}");
    assert!(
        w.others_after.wait_total_s < w.others_before.wait_total_s / 10.0,
        "{text}"
    );
    assert!(text.contains("others, with the fix"), "{text}");
}

#[test]
fn a_fix_file_without_apf_objects_is_an_error_naming_it() {
    let log = log(Case::Healthy, 1);
    let inputs = inputs(&log.path, "1.34");
    let err = what_if(
        &inputs,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        "cm.yaml",
    )
    .unwrap_err();
    assert!(matches!(err, DoctorError::Apf(_)), "{err}");
    assert!(err.to_string().contains("cm.yaml"), "{err}");
}
