//! Ranges of Kubernetes minor releases: `>=1.17`, `<1.29`, `1.20-1.35`, as catalogs write them.

use crate::KubeVersion;
use std::fmt;

/// A range of Kubernetes minor releases, both ends inclusive, either end open.
///
/// Patches are not compared: a metric name or a rule changes with the minor release, so
/// `1.20-1.35` contains 1.35.4. Displayed as `1.20-1.35`, `>=1.17`, `<=1.16`, `1.34` (one
/// release) or `any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KubeRange {
    /// The first release of the range; `None` for every earlier one.
    pub since: Option<KubeVersion>,
    /// The last release of the range; `None` for every later one.
    pub until: Option<KubeVersion>,
}

/// A range string that is not one of the forms [`KubeRange::parse`] reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid kubernetes version range {input:?}: expected >=1.17, >1.16, <1.29, <=1.28, 1.23+, 1.20-1.35 or 1.34"
)]
pub struct RangeError {
    input: String,
}

impl RangeError {
    /// The text that was not a range.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl KubeRange {
    /// Every release.
    pub const ANY: KubeRange = KubeRange {
        since: None,
        until: None,
    };

    /// Minor release `1.since` and every later one.
    pub const fn from_minor(since: u32) -> KubeRange {
        KubeRange {
            since: Some(KubeVersion::minor(1, since)),
            until: None,
        }
    }

    /// Minor releases `1.since` to `1.until`, both included.
    pub const fn minors(since: u32, until: u32) -> KubeRange {
        KubeRange {
            since: Some(KubeVersion::minor(1, since)),
            until: Some(KubeVersion::minor(1, until)),
        }
    }

    /// Every release up to minor `1.until`, included.
    pub const fn up_to_minor(until: u32) -> KubeRange {
        KubeRange {
            since: None,
            until: Some(KubeVersion::minor(1, until)),
        }
    }

    /// Reads `>=1.17`, `>1.16`, `1.23+`, `<1.29`, `<=1.28`, `1.20-1.35` (or with an en dash,
    /// `1.20–1.35`) and `1.34` (that release only). Patches are dropped: `<1.29.3` is `<1.29`.
    ///
    /// # Errors
    /// [`RangeError`] naming the input when it is none of those forms, or when it is empty
    /// (`<1.0`, `1.30-1.20`).
    ///
    /// ```
    /// use apilens_model::{KubeRange, KubeVersion};
    /// let r = KubeRange::parse("1.20–1.35")?;
    /// assert!(r.contains(KubeVersion::new(1, 35, 4)));
    /// assert!(!KubeRange::parse("<1.29")?.contains(KubeVersion::minor(1, 29)));
    /// assert_eq!(KubeRange::parse("1.23+")?.to_string(), ">=1.23");
    /// # Ok::<(), apilens_model::RangeError>(())
    /// ```
    pub fn parse(text: &str) -> Result<KubeRange, RangeError> {
        let bad = || RangeError {
            input: text.to_string(),
        };
        let version = |s: &str| {
            KubeVersion::parse(s)
                .map(KubeVersion::without_patch)
                .map_err(|_| bad())
        };
        let s = text.trim();
        let range = if let Some(rest) = s.strip_prefix(">=") {
            KubeRange {
                since: Some(version(rest)?),
                until: None,
            }
        } else if let Some(rest) = s.strip_prefix("<=") {
            KubeRange {
                since: None,
                until: Some(version(rest)?),
            }
        } else if let Some(rest) = s.strip_prefix('>') {
            let v = version(rest)?;
            KubeRange {
                since: Some(KubeVersion::minor(v.major, v.minor + 1)),
                until: None,
            }
        } else if let Some(rest) = s.strip_prefix('<') {
            let v = version(rest)?;
            let minor = v.minor.checked_sub(1).ok_or_else(bad)?;
            KubeRange {
                since: None,
                until: Some(KubeVersion::minor(v.major, minor)),
            }
        } else if let Some(rest) = s.strip_suffix('+') {
            KubeRange {
                since: Some(version(rest)?),
                until: None,
            }
        } else if let Some((a, b)) = s.split_once(['–', '-']).filter(|(_, b)| {
            // `1.34.0-eks-1` is one version with a provider suffix, not a range.
            b.trim_start()
                .starts_with(|c: char| c.is_ascii_digit() || c == 'v')
        }) {
            KubeRange {
                since: Some(version(a)?),
                until: Some(version(b)?),
            }
        } else {
            let v = version(s)?;
            KubeRange {
                since: Some(v),
                until: Some(v),
            }
        };
        if let (Some(a), Some(b)) = (range.since, range.until)
            && a > b
        {
            return Err(bad());
        }
        Ok(range)
    }

    /// True when `version`'s minor release is in the range.
    pub fn contains(self, version: KubeVersion) -> bool {
        let v = version.without_patch();
        self.since.is_none_or(|s| v >= s) && self.until.is_none_or(|u| v <= u)
    }
}

impl fmt::Display for KubeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.since, self.until) {
            (Some(a), Some(b)) if a == b => write!(f, "{a}"),
            (Some(a), Some(b)) => write!(f, "{a}-{b}"),
            (Some(a), None) => write!(f, ">={a}"),
            (None, Some(b)) => write!(f, "<={b}"),
            (None, None) => f.write_str("any"),
        }
    }
}

impl std::str::FromStr for KubeRange {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<KubeRange, RangeError> {
        KubeRange::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_and_prints_back() {
        let cases = [
            (">=1.17", ">=1.17"),
            (">1.16", ">=1.17"),
            ("1.23+", ">=1.23"),
            ("<1.29", "<=1.28"),
            ("<=1.16", "<=1.16"),
            ("1.20-1.35", "1.20-1.35"),
            ("1.20–1.35", "1.20-1.35"),
            ("v1.20 - v1.35.2", "1.20-1.35"),
            ("1.34", "1.34"),
            ("1.34.0-eks-113cf36", "1.34"),
        ];
        for (text, shown) in cases {
            let r = KubeRange::parse(text).unwrap();
            assert_eq!(r.to_string(), shown, "{text}");
            assert_eq!(KubeRange::parse(shown), Ok(r), "{shown}");
        }
        for bad in ["", ">=", "<1.0", "1.30-1.20", "latest", "1.2x-1.3"] {
            assert_eq!(KubeRange::parse(bad).unwrap_err().input(), bad);
        }
    }

    #[test]
    fn containment_ignores_patches() {
        let r = KubeRange::minors(20, 20);
        assert!(r.contains(KubeVersion::new(1, 20, 9)));
        let r = KubeRange::parse("1.20-1.35").unwrap();
        assert!(r.contains(KubeVersion::new(1, 35, 4)));
        assert!(!r.contains(KubeVersion::minor(1, 19)));
        assert!(!r.contains(KubeVersion::minor(1, 36)));
        assert!(KubeRange::ANY.contains(KubeVersion::minor(1, 9)));
        assert!(KubeRange::up_to_minor(16).contains(KubeVersion::new(1, 16, 15)));
        assert!(!KubeRange::from_minor(17).contains(KubeVersion::new(1, 16, 15)));
    }
}
