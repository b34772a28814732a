//! Kubernetes versions, as read from `kubernetes_build_info` or typed by a user.

use crate::PanelsError;
use apilens_model::Labels;
use std::fmt;

/// A Kubernetes minor release, such as 1.31. Patch levels do not change metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct KubeVersion {
    /// The major version (always 1 so far).
    pub major: u32,
    /// The minor version.
    pub minor: u32,
}

impl KubeVersion {
    /// The newest release the catalog knows; chosen when nothing else tells the version.
    pub const LATEST: KubeVersion = KubeVersion {
        major: 1,
        minor: 35,
    };

    /// Builds a version from its major and minor numbers.
    pub const fn new(major: u32, minor: u32) -> Self {
        KubeVersion { major, minor }
    }

    /// Parses `1.31`, `v1.31.0`, `v1.31.4-eks-8a1b2c3` or `1.31+`.
    ///
    /// # Errors
    ///
    /// [`PanelsError::Version`] naming the input when it has no `major.minor` prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// use apilens_panels::KubeVersion;
    /// assert_eq!(KubeVersion::parse("v1.29.5-eks-1")?, KubeVersion::new(1, 29));
    /// assert!(KubeVersion::parse("latest").is_err());
    /// # Ok::<(), apilens_panels::PanelsError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, PanelsError> {
        let bad = || PanelsError::Version(text.to_owned());
        let rest = text.trim().trim_start_matches('v');
        let mut parts = rest.splitn(3, '.');
        let major = leading_number(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let minor = leading_number(parts.next().ok_or_else(bad)?).ok_or_else(bad)?;
        Ok(KubeVersion { major, minor })
    }

    /// Reads the version from the labels of one `kubernetes_build_info` series.
    ///
    /// The labels are `major` and `minor` (a managed control plane may report `minor="31+"`), and
    /// `git_version` (`gitVersion` up to 1.19). Returns `None` when none of them can be read.
    pub fn from_build_info(labels: &Labels) -> Option<Self> {
        let from_parts = labels
            .get("major")
            .and_then(leading_number)
            .and_then(|major| {
                let minor = labels.get("minor").and_then(leading_number)?;
                Some(KubeVersion { major, minor })
            });
        from_parts.or_else(|| {
            let git = labels
                .get("git_version")
                .or_else(|| labels.get("gitVersion"))?;
            KubeVersion::parse(git).ok()
        })
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl std::str::FromStr for KubeVersion {
    type Err = PanelsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KubeVersion::parse(s)
    }
}

fn leading_number(text: &str) -> Option<u32> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_clusters_report() {
        for (text, minor) in [
            ("1.31", 31),
            ("v1.20.15", 20),
            ("v1.29.5-eks-5e0fdde", 29),
            ("1.31+", 31),
        ] {
            assert_eq!(
                KubeVersion::parse(text).unwrap(),
                KubeVersion::new(1, minor),
                "{text}"
            );
        }
        let err = KubeVersion::parse("one.two").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"expected a kubernetes version like 1.31 or v1.31.0-eks-1, got "one.two""#
        );
    }

    #[test]
    fn reads_build_info_labels_of_both_spellings() {
        let eks = Labels::from_pairs([
            ("major", "1"),
            ("minor", "31+"),
            ("git_version", "v1.31.2-eks-1"),
        ]);
        assert_eq!(
            KubeVersion::from_build_info(&eks),
            Some(KubeVersion::new(1, 31))
        );
        let old = Labels::from_pairs([("gitVersion", "v1.16.15")]);
        assert_eq!(
            KubeVersion::from_build_info(&old),
            Some(KubeVersion::new(1, 16))
        );
        assert_eq!(KubeVersion::from_build_info(&Labels::new()), None);
    }
}
