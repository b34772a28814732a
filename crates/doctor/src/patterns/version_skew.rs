//! `version-skew`: the API server replicas run different minor versions, as mid-upgrade. Skew of
//! one minor is supported and harms nothing by itself, so this is information: it explains
//! per-replica differences (metric names, APF defaults, cache rules) and reminds that the
//! upgrade is not finished.

use super::Candidate;
use crate::analysis::Analysis;
use crate::finding::{Evidence, Kind, Severity};
use crate::metrics::panel;
use apilens_apf::KubeVersion;
use std::collections::BTreeSet;

pub(crate) fn detect(a: &Analysis<'_>) -> Vec<Candidate> {
    let Some(f) = a.facts else { return Vec::new() };
    let minors: BTreeSet<(u32, u32)> = f
        .versions
        .iter()
        .filter_map(|v| KubeVersion::parse(v).ok())
        .map(|v| (v.major, v.minor))
        .collect();
    if minors.len() < 2 {
        return Vec::new();
    }
    let (lo, hi) = (
        *minors.first().expect("two versions"),
        *minors.last().expect("two versions"),
    );
    let mut c = Candidate::server(
        Kind::VersionSkew,
        format!(
            "API server replicas run different versions ({}): an upgrade in progress",
            f.versions.join(", ")
        ),
        Severity::Info,
    );
    c.evidence.push(Evidence::Panels {
        ids: vec![panel::REPLICA_IMBALANCE.to_owned()],
        text: format!(
            "kubernetes_build_info reports {}; a newly upgraded replica usually carries less load until clients reconnect",
            f.versions.join(" and ")
        ),
    });
    c.note(format!(
        "a skew of {} minor version{} between API servers is {}",
        hi.1 - lo.1,
        if hi.1 - lo.1 == 1 { "" } else { "s" },
        if hi.0 == lo.0 && hi.1 - lo.1 <= 1 {
            "within the supported skew: nothing is harmed by it"
        } else {
            "beyond the supported one-minor skew"
        }
    ));
    c.advice.push(
        "finish the upgrade; until then each replica follows its own version's rules (APF defaults, cache-or-etcd), so compare replicas with that in mind".to_owned(),
    );
    vec![c]
}
