//! Which Kubernetes release a server runs: from `kubernetes_build_info`, otherwise from which
//! families exist (the renames bound the release from both sides).

use crate::{Catalog, Inventory};
use apilens_model::{KubeRange, KubeVersion, Labels};
use serde::Serialize;

/// The release read from one `kubernetes_build_info` series: its `git_version` (`gitVersion` up
/// to 1.19), else its `major` and `minor` labels (a managed control plane may report
/// `minor="31+"`). `None` when none of them can be read.
///
/// ```
/// use apilens_kubemetrics::version_from_build_info;
/// use apilens_model::{KubeVersion, Labels};
/// let eks = Labels::from_pairs([("major", "1"), ("minor", "31+"), ("git_version", "v1.31.2-eks-1")]);
/// assert_eq!(version_from_build_info(&eks), Some(KubeVersion::new(1, 31, 2)));
/// ```
pub fn version_from_build_info(labels: &Labels) -> Option<KubeVersion> {
    let git = labels
        .get("git_version")
        .or_else(|| labels.get("gitVersion"))
        .and_then(|v| KubeVersion::parse(v).ok());
    git.or_else(|| {
        let major = labels.get("major")?;
        let minor = labels.get("minor")?;
        KubeVersion::parse(&format!("{major}.{minor}")).ok()
    })
}

/// The detected release and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detected {
    /// As shown: the `git_version` of `kubernetes_build_info` (`v1.34.0`), or the inferred range
    /// (`>=1.31`, `1.18-1.22`, `<=1.16`); `None` when nothing tells.
    pub version: Option<String>,
    /// The releases the server can be (one release when read from `kubernetes_build_info`).
    #[serde(skip)]
    pub range: Option<KubeRange>,
    /// `kubernetes_build_info`, the families the inference rests on (joined with ` and `), or
    /// `none`.
    pub source: String,
}

impl Detected {
    /// The one release to pick names for: the exact one, else the newest the range allows (the
    /// catalog's newest when open).
    pub fn release(&self, catalog: &Catalog) -> Option<KubeVersion> {
        let range = self.range?;
        Some(range.until.unwrap_or(catalog.newest))
    }
}

impl Catalog {
    /// Detects the release from `kubernetes_build_info`'s labels when given, else infers the
    /// range from the families present: the newest first release among the families that mark
    /// theirs, and the oldest last release among the families that were hidden or removed.
    ///
    /// ```
    /// use apilens_kubemetrics::catalog;
    /// let present = ["apiserver_storage_objects", "apiserver_longrunning_gauge"];
    /// let d = catalog().detect(None, |n| present.contains(&n));
    /// assert_eq!(d.version.as_deref(), Some("1.21-1.23"));
    /// ```
    pub fn detect(
        &self,
        build_info: Option<&Labels>,
        has_family: impl Fn(&str) -> bool,
    ) -> Detected {
        if let Some(labels) = build_info
            && let Some(text) = labels
                .get("git_version")
                .or_else(|| labels.get("gitVersion"))
        {
            let version = KubeVersion::parse(text).ok();
            return Detected {
                version: Some(text.to_owned()),
                range: version.map(|v| KubeRange {
                    since: Some(v.without_patch()),
                    until: Some(v.without_patch()),
                }),
                source: "kubernetes_build_info".to_owned(),
            };
        }
        let present: Vec<_> = self
            .families
            .iter()
            .filter(|f| has_family(f.name))
            .collect();
        let lower = present
            .iter()
            .filter(|f| f.marks_since)
            .filter_map(|f| f.releases.since.map(|s| (s, f.name)))
            .max();
        let upper = present
            .iter()
            .filter_map(|f| f.releases.until.map(|u| (u, f.name)))
            .min();
        let (range, sources) = match (lower, upper) {
            (Some((s, a)), Some((u, b))) if s <= u => (
                KubeRange {
                    since: Some(s),
                    until: Some(u),
                },
                vec![a, b],
            ),
            // Contradicting evidence (a server showing hidden metrics): the lower bound holds.
            (Some((s, a)), _) => (
                KubeRange {
                    since: Some(s),
                    until: None,
                },
                vec![a],
            ),
            (None, Some((u, b))) => (
                KubeRange {
                    since: None,
                    until: Some(u),
                },
                vec![b],
            ),
            (None, None) => {
                return Detected {
                    version: None,
                    range: None,
                    source: "none".to_owned(),
                };
            }
        };
        Detected {
            version: Some(range.to_string()),
            range: Some(range),
            source: sources.join(" and "),
        }
    }

    /// [`Catalog::detect`] over an inventory of series (a store's or a scrape's), reading its
    /// `kubernetes_build_info` labels when it recorded them.
    pub fn detect_inventory(&self, inventory: &Inventory, build_info: Option<&Labels>) -> Detected {
        self.detect(build_info, |name| {
            self.family(name).is_some_and(|f| {
                f.series_names()
                    .iter()
                    .any(|series| inventory.has_metric(series))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog;
    use apilens_model::{KubeVersion, Labels};

    #[test]
    fn build_info_wins_and_keeps_its_text() {
        let labels = Labels::from_pairs([("git_version", "v1.29.5-eks-5e0fdde")]);
        let d = catalog().detect(Some(&labels), |_| true);
        assert_eq!(d.version.as_deref(), Some("v1.29.5-eks-5e0fdde"));
        assert_eq!(d.source, "kubernetes_build_info");
        assert_eq!(d.release(catalog()), Some(KubeVersion::minor(1, 29)));
        let old = Labels::from_pairs([("gitVersion", "v1.16.15")]);
        assert_eq!(
            crate::version_from_build_info(&old),
            Some(KubeVersion::new(1, 16, 15))
        );
        let parts = Labels::from_pairs([("major", "1"), ("minor", "31+")]);
        assert_eq!(
            crate::version_from_build_info(&parts),
            Some(KubeVersion::minor(1, 31))
        );
        assert_eq!(crate::version_from_build_info(&Labels::new()), None);
    }

    #[test]
    fn inference_takes_the_newest_marker_and_the_oldest_removal() {
        let d = catalog().detect(None, |n| {
            n == "apiserver_storage_objects" || n == "apiserver_request_total"
        });
        assert_eq!(d.version.as_deref(), Some(">=1.21"));
        assert_eq!(d.source, "apiserver_storage_objects");
        let d = catalog().detect(None, |n| {
            n == "apiserver_request_count" || n == "apiserver_request_total"
        });
        assert_eq!(d.version.as_deref(), Some("<=1.16"));
        assert_eq!(catalog().detect(None, |_| false).source, "none");
    }
}
