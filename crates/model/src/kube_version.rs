//! Kubernetes release versions: `MAJOR.MINOR[.PATCH]`, read from what servers and providers print.

use std::fmt;

/// A Kubernetes release, such as 1.34 or 1.34.2.
///
/// Ordered by major, minor, then patch (a version without a patch sorts before every patch of
/// its minor). Displayed as `1.34` or `1.34.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    /// Major version (1 so far).
    pub major: u32,
    /// Minor version, such as 34.
    pub minor: u32,
    /// Patch version; `None` when only `MAJOR.MINOR` is known.
    pub patch: Option<u32>,
}

/// A version string that is not `[v]MAJOR.MINOR[.PATCH][-suffix|+suffix]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid kubernetes version {input:?}: expected MAJOR.MINOR[.PATCH] such as 1.34 or v1.34.2"
)]
pub struct VersionError {
    input: String,
}

impl VersionError {
    /// The text that was not a version.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl KubeVersion {
    /// A version from its three parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> KubeVersion {
        KubeVersion {
            major,
            minor,
            patch: Some(patch),
        }
    }

    /// A version known only to its minor release.
    pub const fn minor(major: u32, minor: u32) -> KubeVersion {
        KubeVersion {
            major,
            minor,
            patch: None,
        }
    }

    /// Reads a version as servers and providers print it: `v1.34.2`, `1.34`,
    /// `1.34.0-eks-113cf36`, `v1.29.5+k3s1`, `1.34.2-gke.1`. A provider suffix after `-` or `+`
    /// is dropped; a `+` right after the minor (`1.29+`, as `kubectl version` prints for some
    /// providers) is accepted too.
    ///
    /// # Errors
    /// [`VersionError`] naming the input when it is not of that form.
    ///
    /// ```
    /// use apilens_model::KubeVersion;
    /// assert_eq!(KubeVersion::parse("v1.29.5+k3s1")?, KubeVersion::new(1, 29, 5));
    /// assert_eq!(KubeVersion::parse("1.34.0-eks-113cf36")?, KubeVersion::new(1, 34, 0));
    /// assert_eq!(KubeVersion::parse("1.34")?.to_string(), "1.34");
    /// assert!(KubeVersion::parse("latest").is_err());
    /// # Ok::<(), apilens_model::VersionError>(())
    /// ```
    pub fn parse(text: &str) -> Result<KubeVersion, VersionError> {
        let bad = || VersionError {
            input: text.to_string(),
        };
        let s = text.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        let core = s.split(['-', '+']).next().unwrap_or("");
        let mut parts = core.split('.');
        let number = |p: Option<&str>| -> Option<u32> {
            let p = p?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let major = number(parts.next()).ok_or_else(bad)?;
        let minor = number(parts.next()).ok_or_else(bad)?;
        let patch = match parts.next() {
            Some(p) => Some(number(Some(p)).ok_or_else(bad)?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(KubeVersion {
            major,
            minor,
            patch,
        })
    }

    /// True when this version is at least `major.minor` (the patch is not compared).
    pub fn at_least(self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// This version without its patch.
    pub fn without_patch(self) -> KubeVersion {
        KubeVersion::minor(self.major, self.minor)
    }

    /// How many minor releases lie between two versions (patches ignored): 1.20 and 1.34.1 are
    /// 14 apart.
    pub fn minor_distance(self, other: KubeVersion) -> u32 {
        let a = self.major * 1000 + self.minor;
        let b = other.major * 1000 + other.minor;
        a.abs_diff(b)
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

impl std::str::FromStr for KubeVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<KubeVersion, VersionError> {
        KubeVersion::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_versions_parse() {
        let cases = [
            ("v1.34.2", KubeVersion::new(1, 34, 2)),
            ("1.34", KubeVersion::minor(1, 34)),
            ("1.34.0-eks-113cf36", KubeVersion::new(1, 34, 0)),
            ("v1.29.5+k3s1", KubeVersion::new(1, 29, 5)),
            ("1.34.2-gke.1", KubeVersion::new(1, 34, 2)),
            ("1.29+", KubeVersion::minor(1, 29)),
            (" v1.20.0 ", KubeVersion::new(1, 20, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(KubeVersion::parse(text), Ok(want), "{text}");
        }
        for bad in [
            "", "latest", "1", "1.", "1.x", "1.34.2.1", "-1.34", "1.-3", "v",
        ] {
            let err = KubeVersion::parse(bad).unwrap_err();
            assert_eq!(err.input(), bad);
        }
    }

    #[test]
    fn order_and_display() {
        let a = KubeVersion::parse("1.9").unwrap();
        let b = KubeVersion::parse("1.10").unwrap();
        assert!(a < b, "numeric, not lexical");
        assert!(KubeVersion::minor(1, 34) < KubeVersion::new(1, 34, 0));
        assert!(KubeVersion::new(1, 34, 2).at_least(1, 34));
        assert!(!KubeVersion::new(1, 33, 9).at_least(1, 34));
        assert_eq!(KubeVersion::new(1, 34, 2).to_string(), "1.34.2");
        assert_eq!(
            KubeVersion::new(1, 34, 2).without_patch().to_string(),
            "1.34"
        );
        assert_eq!(
            KubeVersion::minor(1, 20).minor_distance(KubeVersion::new(1, 34, 1)),
            14
        );
    }
}
