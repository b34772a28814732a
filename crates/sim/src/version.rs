//! Kubernetes versions as the simulator needs them: major and minor, compared numerically.

use crate::SimError;
use std::fmt;

/// A Kubernetes `MAJOR.MINOR[.PATCH]` version; the patch is kept for display only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KubeVersion {
    /// Major version (always 1 so far).
    pub major: u32,
    /// Minor version, such as 34.
    pub minor: u32,
    /// Patch version, `None` when only `MAJOR.MINOR` was given.
    pub patch: Option<u32>,
}

impl KubeVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch: Some(patch),
        }
    }

    /// The patch release simulated: the one given, else a release without the audit
    /// latency-annotation regression of 1.34.0–1.34.6 and 1.35.0–1.35.3 (kubernetes#135684).
    pub fn effective_patch(&self) -> u32 {
        self.patch.unwrap_or(match (self.major, self.minor) {
            (1, 34) => 7,
            (1, 35) => 4,
            _ => 0,
        })
    }

    /// True when this release drops the `apiserver.latency.k8s.io/*` audit annotations.
    pub(crate) fn drops_latency_annotations(&self) -> bool {
        let p = self.effective_patch();
        (self.major, self.minor) == (1, 34) && p < 7 || (self.major, self.minor) == (1, 35) && p < 4
    }

    /// Parses `1.34`, `1.34.0` or `v1.34.0`.
    ///
    /// # Errors
    /// [`SimError::InvalidVersion`] naming the input when it is not of that form.
    ///
    /// ```
    /// use apilens_sim::KubeVersion;
    /// assert_eq!(KubeVersion::parse("v1.34.2")?, KubeVersion::new(1, 34, 2));
    /// assert_eq!(KubeVersion::parse("1.34")?.to_string(), "1.34");
    /// assert!(KubeVersion::parse("latest").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, SimError> {
        let bad = || SimError::InvalidVersion {
            input: input.to_string(),
        };
        let s = input.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let mut parts = s.split('.');
        let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let patch = match parts.next() {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None => None,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self {
            major,
            minor,
            patch,
        })
    }

    /// True when this version is at least `major.minor` (patch ignored).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// Minor-version distance, used to pick the nearest catalog.
    pub(crate) fn distance(&self, other: &KubeVersion) -> u32 {
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
