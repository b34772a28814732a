//! The patch release the simulator simulates, and what it changes in the audit log. The version
//! type, its parsing and its ordering are `apilens_model::KubeVersion`.

use apilens_model::KubeVersion;

/// The patch release simulated: the one given, else a release without the audit
/// latency-annotation regression of 1.34.0–1.34.6 and 1.35.0–1.35.3 (kubernetes#135684).
pub(crate) fn effective_patch(v: KubeVersion) -> u32 {
    v.patch.unwrap_or(match (v.major, v.minor) {
        (1, 34) => 7,
        (1, 35) => 4,
        _ => 0,
    })
}

/// True when this release drops the `apiserver.latency.k8s.io/*` audit annotations.
pub(crate) fn drops_latency_annotations(v: KubeVersion) -> bool {
    let p = effective_patch(v);
    (v.major, v.minor) == (1, 34) && p < 7 || (v.major, v.minor) == (1, 35) && p < 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_and_the_annotation_regression() {
        assert_eq!(effective_patch(KubeVersion::minor(1, 34)), 7);
        assert_eq!(effective_patch(KubeVersion::new(1, 34, 2)), 2);
        assert!(drops_latency_annotations(KubeVersion::new(1, 35, 3)));
        assert!(!drops_latency_annotations(KubeVersion::minor(1, 35)));
        assert!(!drops_latency_annotations(KubeVersion::new(1, 33, 0)));
    }
}
